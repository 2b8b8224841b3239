"""Configuration and sample-sheet loading: JSON-schema plus cross-row validation.

A sequencing core's sheet is the first thing that can go wrong, and the cheapest place to
stop. Everything here collects *all* problems (file, 1-based line, column) and raises them
together as one :class:`SheetError`, so a user fixes a sheet in one pass and nothing runs
until it is clean. Cheap checks (schema, names, pairing, files exist, first FASTQ record,
BAM header and EOF block) run at load; the deep per-unit check (:func:`check_input`: full
decompression, record shape, R1/R2 pairing, BAM read-through) runs as a workflow rule before
alignment because it reads every byte.

The schemas live in ``workflow/schemas/`` (JSON Schema written in YAML) so Snakemake's
``validate`` and this module read the same rules; each property carries an ``errorMessage``
(the text a user sees), in the style of nf-core/sarek.
"""

from __future__ import annotations

import argparse
import csv
import functools
import gzip
import logging
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice, repeat
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd
import pysam
import yaml

from resistcall.errors import UserError
from resistcall.outputs import write_text
from resistcall.reference import check_bam_matches_reference, contig_offset

log = logging.getLogger(__name__)

#: Names that end up in file names: letters, digits, '.', '_' and '-', not starting with a dot.
SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
CONDITIONS = ("parental", "resistant")
#: The 28-byte empty BGZF block that ends every complete BAM (SAM spec, section 4.1.2).
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
_GZIP_MAGIC = b"\x1f\x8b"
_SEQ_CHARS = b"ACGTNacgtnRYSWKMBDHVryswkmbdhv.-"
_QUAL_CHARS = bytes(range(33, 127))


# --------------------------------------------------------------------------- problems


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located as precisely as the input allows."""

    file: str
    line: int | None
    field: str | None
    message: str
    kind: str = "column"  # "column" for sheets, "key" for the YAML config

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
        if self.field:
            where += f", {self.kind} {self.field}"
        return f"{where}: {self.message}"


class SheetError(UserError):
    """Every problem found in the config and sheets, reported together."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the input; nothing was run:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


# --------------------------------------------------------------------------- schemas


def schema_dir() -> Path:
    """Folder holding the JSON schemas (the repo's ``workflow/schemas``, or package data)."""
    candidates = (
        Path(__file__).resolve().parents[2] / "workflow" / "schemas",
        Path(__file__).resolve().parent / "schemas",
    )
    for folder in candidates:
        if (folder / "config.schema.yaml").is_file():
            return folder
    raise RuntimeError(f"resistcall schemas not found in {', '.join(map(str, candidates))}")


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """``name`` is ``config``, ``samples`` or ``units``."""
    with open(schema_dir() / f"{name}.schema.yaml") as handle:
        return yaml.safe_load(handle)


def _with_defaults(cls: type) -> type:
    """Validator that also fills ``default`` values (as snakemake.utils.validate does)."""
    validate_properties = cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(name, sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(cls, {"properties": set_defaults})


_DefaultingValidator = _with_defaults(jsonschema.Draft202012Validator)


def _custom_message(error: jsonschema.ValidationError) -> str | None:
    custom = error.schema.get("errorMessage") if isinstance(error.schema, dict) else None
    if isinstance(custom, dict):
        custom = custom.get(error.validator)
    return " ".join(custom.split()) if isinstance(custom, str) else None


def _schema_problems(
    error: jsonschema.ValidationError, missing_text: str
) -> list[tuple[str | None, str]]:
    """(field, message) pairs for one jsonschema error; dotted field paths for nested keys."""
    path = ".".join(str(p) for p in error.absolute_path)
    prefix = f"{path}." if path else ""
    instance = error.instance
    if error.validator == "required":
        missing = [p for p in error.validator_value if p not in instance]
        custom = _custom_message(error)
        return [(f"{prefix}{p}", custom or missing_text) for p in missing]
    if error.validator == "dependentRequired":
        out = []
        for given, needed in error.validator_value.items():
            for dep in needed:
                if given in instance and dep not in instance:
                    msg = _custom_message(error) or f"{dep} is required when {given} is given"
                    out.append((f"{prefix}{dep}", f"{msg} ({given} is given, {dep} is empty)"))
        return out
    if error.validator == "additionalProperties":
        allowed = ", ".join(error.schema.get("properties", {}))
        extra = sorted(set(instance) - set(error.schema.get("properties", {})))
        return [(f"{prefix}{k}", f"unknown key (known keys: {allowed})") for k in extra]
    message = _custom_message(error) or error.message
    if isinstance(instance, str | int | float | bool):
        message += f" (found {instance!r})"
    return [(path or None, message)]


def _validate(
    instance: dict[str, Any],
    schema: dict[str, Any],
    defaults: bool,
    missing_text: str = "required value is missing or empty",
) -> list[tuple[str | None, str]]:
    cls = _DefaultingValidator if defaults else jsonschema.Draft202012Validator
    validator = cls(schema)
    out: list[tuple[str | None, str]] = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        for item in _schema_problems(error, missing_text):
            if item not in out:
                out.append(item)
    return out


# --------------------------------------------------------------------------- config


def _yaml_key_lines(text: str) -> dict[tuple[str, ...], int]:
    """1-based line of every mapping key in a YAML document, by key path."""
    lines: dict[tuple[str, ...], int] = {}

    duplicates: list[tuple[tuple[str, ...], int]] = []

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, str(key.value))
                if sub in lines:
                    duplicates.append((sub, key.start_mark.line + 1))
                    continue
                lines[sub] = key.start_mark.line + 1
                walk(value, sub)

    root = yaml.compose(text)
    if root is not None:
        walk(root, ())
    if duplicates:
        # YAML keeps the last value silently; a pasted second `panel:` block must not win
        # unnoticed.
        raise _DuplicateKeys([(".".join(k), line, lines[k]) for k, line in duplicates])
    return lines


class _DuplicateKeys(Exception):
    def __init__(self, keys: list[tuple[str, int, int]]):
        self.keys = keys


def check_config(
    config: dict[str, Any], source: str = "config", key_lines: dict | None = None
) -> dict[str, Any]:
    """Validate a config mapping against the schema in place (filling defaults) and return it.

    For use when the config is already loaded (Snakemake's ``config``, possibly overridden
    on the command line). Raises :class:`SheetError` listing every problem.
    """
    if not isinstance(config, dict):
        raise SheetError([Problem(source, None, None, "the config must be a YAML mapping")])
    problems = []
    for key, message in _validate(config, load_schema("config"), defaults=True):
        line = None
        if key_lines and key:
            parts = tuple(key.split("."))
            while parts and parts not in key_lines:
                parts = parts[:-1]
            line = key_lines.get(parts)
        problems.append(Problem(source, line, key, message, kind="key"))
    problems.sort(key=lambda p: p.line or 0)
    if problems:
        raise SheetError(problems)
    panel = config["panel"]
    panel.setdefault("snv_regions", panel["targets"])
    return config


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config, validate it against ``config.schema.yaml`` and fill defaults."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SheetError([Problem(str(path), None, None, "config file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SheetError([Problem(str(path), None, None, f"cannot read: {exc}")]) from None
    try:
        config = yaml.safe_load(text)
        key_lines = _yaml_key_lines(text)
    except _DuplicateKeys as exc:
        raise SheetError(
            [
                Problem(
                    str(path),
                    line,
                    key,
                    f"key appears twice (first on line {first}); YAML "
                    "would silently keep only the last one",
                    kind="key",
                )
                for key, line, first in exc.keys
            ]
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        detail = getattr(exc, "problem", None) or str(exc)
        raise SheetError([Problem(str(path), line, None, f"not valid YAML: {detail}")]) from None
    if config is None:
        raise SheetError([Problem(str(path), None, None, "config file is empty")])
    return check_config(config, str(path), key_lines)


# --------------------------------------------------------------------------- files


def _resolve(base_dir: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else Path(os.path.normpath(base_dir / p))


def _where(base_dir: Path, value: str) -> str:
    """Path as written, plus where it was looked for when relative (the usual confusion)."""
    if Path(value).is_absolute():
        return value
    return f"{value} (looked for {Path(base_dir).resolve() / value})"


def _file_problem(path: Path) -> str | None:
    """Why a file cannot be used as input (short reason), or None."""
    if not path.exists():
        return "file not found"
    if not path.is_file():
        return "not a regular file"
    if not os.access(path, os.R_OK):
        return "file is not readable (permissions)"
    if path.stat().st_size == 0:
        return "file is empty"
    return None


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def _record_problem(record: tuple[bytes, ...], number: int) -> str | None:
    """Shape of one FASTQ record (4 lines); None when fine."""
    header, seq, plus, qual = (line.rstrip(b"\n") for line in record)
    if not header.startswith(b"@") or len(header) < 2:
        return f"record {number}: header line does not start with '@' (found {header[:40]!r})"
    if not plus.startswith(b"+"):
        return f"record {number}: third line does not start with '+' (found {plus[:40]!r})"
    if len(seq) != len(qual):
        return (
            f"record {number}: sequence has {len(seq)} bases but quality has {len(qual)} characters"
        )
    bad = seq.translate(None, _SEQ_CHARS)
    if bad:
        return f"record {number}: sequence contains invalid character {bad[:1]!r}"
    bad = qual.translate(None, _QUAL_CHARS)
    if bad:
        return f"record {number}: quality contains invalid character {bad[:1]!r}"
    return None


def _fastq_head(path: Path) -> tuple[str | None, bytes]:
    """Cheap look at a FASTQ: compression matches the name, first record is FASTQ-shaped.

    Returns (problem or None, first header line).
    """
    gz = _is_gzip(path)
    if path.name.endswith(".gz") and not gz:
        return "file name ends in .gz but the file is not gzip-compressed", b""
    try:
        with gzip.open(path, "rb") if gz else path.open("rb") as handle:
            record = tuple(handle.readline() for _ in range(4))
    except (OSError, EOFError, zlib.error) as exc:
        return f"cannot be decompressed ({exc})", b""
    if not record[0]:
        return "contains no reads", b""
    if not record[3]:
        return "ends inside the first FASTQ record (truncated?)", b""
    problem = _record_problem(record, 1)
    return (f"not FASTQ: {problem}" if problem else None), record[0].rstrip()


def _mate_problem(head1: bytes, head2: bytes, fq1: str) -> str | None:
    """First records of fq1/fq2 must be mates: same name, and not R2-then-R1 (Illumina)."""
    name1, name2 = (_strip_mate(_names([h]))[0][1:] for h in (head1, head2))
    if name1 != name2:
        return (
            f"first read name {name2.decode(errors='replace')!r} differs from "
            f"{name1.decode(errors='replace')!r} in {fq1}: the files are not mates"
        )
    read1, read2 = (
        h.split(None, 1)[1][:2] if len(h.split(None, 1)) > 1 else b"" for h in (head1, head2)
    )
    if (read1, read2) == (b"2:", b"1:") or (head1.endswith(b"/2") and head2.endswith(b"/1")):
        return "fq1 holds read 2 and fq2 holds read 1 (from the read headers): swap them"
    return None


def bgzf_eof_present(path: str | Path) -> bool:
    """True when the file ends with the BGZF EOF block (a BAM that was written completely)."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() < len(BGZF_EOF):
            return False
        handle.seek(-len(BGZF_EOF), os.SEEK_END)
        return handle.read() == BGZF_EOF


def _bam_head_problems(path: Path, fasta: Path | None, fasta_shown: str = "") -> list[str]:
    """Cheap BAM checks: not truncated, header readable, @SQ lines match the reference."""
    if not bgzf_eof_present(path):
        return ["BAM is truncated or not BGZF-compressed (the BGZF end-of-file block is missing)"]
    try:
        with pysam.AlignmentFile(str(path), "rb", check_sq=False) as bam:
            n_sq = len(bam.references)
            sm = sorted({rg["SM"] for rg in bam.header.to_dict().get("RG", []) if "SM" in rg})
            flags = [read.flag for read in islice(bam.fetch(until_eof=True), 1000)]
    except (ValueError, OSError) as exc:
        return [f"cannot be opened as BAM ({exc})"]
    if len(sm) > 1:
        # the workflow relabels a unit's reads with the sheet's sample: several samples in one
        # BAM would silently be merged into one
        return [
            f"BAM holds reads of {len(sm)} samples (@RG SM: {', '.join(sm[:5])}); give one "
            "BAM per sample (samtools split splits it by read group)"
        ]
    if n_sq == 0:
        return ["BAM has no @SQ lines (unaligned BAM?): give the reads as FASTQ instead"]
    if flags and not any(flag & 0x1 for flag in flags):
        return [
            "BAM holds single-end reads (no read among the first 1000 is paired); "
            "resistcall needs paired-end reads"
        ]
    if fasta is None:
        return []
    problems = check_bam_matches_reference(path, fasta)
    if not problems:
        return []
    with pysam.AlignmentFile(str(path), "rb", check_sq=False) as bam:
        names = list(bam.references)
    with pysam.FastaFile(str(fasta)) as fa:
        # chromosomes behind panel contigs (chr2 for chr2_29196228_29226309)
        chromosomes = {contig_offset(c)[0] for c in fa.references} - set(fa.references)
    shown = ", ".join(names[:3]) + (", ..." if n_sq > 3 else "")
    genome = [name for name in names if name in chromosomes]
    fix = (
        "it looks aligned to a whole genome (it has "
        + ", ".join(genome[:3])
        + "): turn it back into FASTQ (samtools collate -O -u in.bam | samtools fastq -1 "
        "R1.fastq.gz -2 R2.fastq.gz -0 /dev/null -s /dev/null -n -) and give fq1/fq2"
        if genome
        else "realign it or give the reads as FASTQ"
    )
    return [
        f"BAM was not aligned to the configured reference {fasta_shown or fasta}: "
        f"{'; '.join(problems)} (the BAM has {n_sq} contigs: {shown}); {fix}"
    ]


def _reference_problems(config: dict[str, Any], base_dir: Path) -> tuple[list[tuple], bool]:
    """(key, message) problems for the files the config names; second value: FASTA usable."""
    out: list[tuple[str, str]] = []
    keys = [
        ("reference.fasta", config["reference"]["fasta"]),
        ("reference.gtf", config["reference"]["gtf"]),
        ("panel.targets", config["panel"]["targets"]),
        ("panel.snv_regions", config["panel"].get("snv_regions", config["panel"]["targets"])),
        ("known_resistance", config["known_resistance"]),
    ]
    if config["panel"]["assay"] == "amplicon":
        keys.append(("panel.primers", config["panel"]["primers"]))
    if "resources_config" in config:
        keys.append(("resources_config", config["resources_config"]))
    fasta_ok = True
    for key, value in keys:
        problem = _file_problem(_resolve(base_dir, value))
        if problem:
            out.append((key, f"{problem}: {_where(base_dir, value)}"))
            fasta_ok = fasta_ok and key != "reference.fasta"
    if fasta_ok:
        fasta = _resolve(base_dir, config["reference"]["fasta"])
        fai = Path(f"{fasta}.fai")
        if not fai.is_file():
            out.append(
                (
                    "reference.fasta",
                    f"the FASTA has no index {fai.name}: create it with `samtools faidx {fasta}`",
                )
            )
            fasta_ok = False
        else:
            try:
                index = pd.read_csv(
                    fai,
                    sep="\t",
                    header=None,
                    usecols=[0, 1, 2],
                    names=["name", "length", "offset"],
                )
                stale = int(index["offset"].max()) >= fasta.stat().st_size
            except (ValueError, pd.errors.ParserError):
                stale = True
            if stale:
                out.append(
                    (
                        "reference.fasta",
                        f"the index {fai.name} does not fit the FASTA (stale or corrupt): "
                        f"re-create it with `samtools faidx {fasta}`",
                    )
                )
                fasta_ok = False
    return out, fasta_ok


# --------------------------------------------------------------------------- sheets


def _unquote(cell: str) -> str:
    cell = cell.strip()
    if len(cell) >= 2 and cell[0] == cell[-1] == '"':
        cell = cell[1:-1].replace('""', '"').strip()
    return cell


def _read_table(
    path: Path, shown: str, schema: dict[str, Any], problems: list[Problem]
) -> pd.DataFrame | None:
    """Read a TSV sheet into strings, keeping each row's 1-based line number (``sheet_line``).

    Blank lines and lines starting with '#' are skipped; cells are stripped; trailing empty
    cells may be omitted. Header problems are added to ``problems``; unknown columns are
    dropped after being reported.
    """
    problem = _file_problem(path)
    if problem:
        problems.append(Problem(shown, None, None, f"{problem} (looked for {path.resolve()})"))
        return None
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(
            Problem(
                shown, None, None, f"not UTF-8 text (byte {exc.start}); save the sheet as UTF-8 TSV"
            )
        )
        return None
    # QUOTE_NONE: an unmatched quote in a notes cell must not swallow the rest of the file;
    # cells that a spreadsheet wrapped in quotes are unwrapped below.
    reader = csv.reader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
    rows = [
        (number, [_unquote(c) for c in cells])
        for number, cells in enumerate(reader, 1)
        if cells and any(c.strip() for c in cells) and not cells[0].lstrip().startswith("#")
    ]
    if not rows:
        problems.append(Problem(shown, None, None, "sheet has no header line (file is blank)"))
        return None
    header_line, header = rows[0]
    header = [c.strip() for c in header]
    allowed = list(schema["properties"])
    required = list(schema["required"])
    if len(header) == 1 and "," in header[0]:
        problems.append(
            Problem(
                shown,
                header_line,
                None,
                "header has no tab: the sheet looks comma-separated; resistcall "
                "reads tab-separated sheets (TSV)",
            )
        )
        return None
    bad_header = False
    seen: dict[str, int] = {}
    for i, name in enumerate(header, 1):
        if not name:
            if any(len(cells) >= i and cells[i - 1].strip() for _, cells in rows[1:]):
                problems.append(
                    Problem(shown, header_line, None, f"column {i} has values but no header name")
                )
            continue
        if name in seen:
            problems.append(
                Problem(
                    shown,
                    header_line,
                    name,
                    f"column name appears twice (columns {seen[name]} and {i})",
                )
            )
            bad_header = True
        seen[name] = i
        if name not in allowed:
            problems.append(
                Problem(
                    shown,
                    header_line,
                    name,
                    f"unknown column (allowed columns: {', '.join(allowed)})",
                )
            )
    for name in required:
        if name not in seen:
            problems.append(
                Problem(
                    shown,
                    header_line,
                    name,
                    f"required column is missing (required: {', '.join(required)})",
                )
            )
            bad_header = True
    if bad_header:
        return None
    if len(rows) == 1:
        problems.append(Problem(shown, None, None, "sheet has a header but no rows"))
        return None
    records = []
    keep = {name: i for name, i in seen.items() if name in allowed}
    for number, cells in rows[1:]:
        cells = [c.strip() for c in cells]
        if len(cells) > len(header) and any(cells[len(header) :]):
            problems.append(
                Problem(
                    shown,
                    number,
                    None,
                    f"row has {len(cells)} cells but the header has {len(header)} columns",
                )
            )
        cells += [""] * (len(header) - len(cells))
        record = {name: cells[i - 1] for name, i in keep.items()}
        filled = {k: v for k, v in record.items() if v}
        for col, message in _validate(filled, schema, False, "required cell is empty"):
            problems.append(Problem(shown, number, col, message))
        records.append({**{name: "" for name in allowed}, **record, "sheet_line": number})
    return pd.DataFrame.from_records(records, columns=[*allowed, "sheet_line"])


@dataclass(frozen=True)
class Sheets:
    """Validated sheets. Empty optional cells are ``""`` (never NaN), so ``if row["bam"]`` works.

    ``samples``: index ``sample``; columns line, condition (categorical), drug, notes,
    sheet_line. ``units``: index (sample, unit); columns fq1, fq2, bam (paths resolved against
    the base directory), kind (``fastq`` or ``bam``), sheet_line. ``sheet_line`` is the 1-based
    line in the sheet file (header = 1), the number every message uses.
    """

    samples: pd.DataFrame
    units: pd.DataFrame
    samples_file: str = "config/samples.tsv"
    units_file: str = "config/units.tsv"
    warnings: tuple[str, ...] = field(default=())

    def lines(self) -> list[str]:
        """Lines in the order they first appear in the samples sheet."""
        return list(dict.fromkeys(self.samples["line"]))

    def _of_line(self, line: str) -> pd.DataFrame:
        rows = self.samples[self.samples["line"] == line]
        if rows.empty:
            raise KeyError(f"line {line!r} is not in {self.samples_file}")
        return rows

    def parental(self, line: str) -> str:
        rows = self._of_line(line)
        return str(rows.index[rows["condition"] == "parental"][0])

    def resistant(self, line: str) -> list[str]:
        """Resistant samples of a line in sheet order (may be several, e.g. CR1, CR2, CR3)."""
        rows = self._of_line(line)
        return [str(s) for s in rows.index[rows["condition"] == "resistant"]]

    def samples_of(self, line: str) -> list[str]:
        """Parental first, then the resistant samples (the column order of per-line outputs)."""
        return [self.parental(line), *self.resistant(line)]

    def line_of(self, sample: str) -> str:
        return str(self.samples.loc[sample, "line"])

    def units_of(self, sample: str) -> pd.DataFrame:
        return self.units.xs(sample, level="sample")

    def unit_label(self, sample: str, unit: str) -> str:
        """How messages (and ``check-input --label``) name a unit."""
        row = self.units.loc[(sample, unit)]
        return f"{self.units_file} line {row['sheet_line']} (sample {sample}, unit {unit})"


def _cross_sample_checks(
    samples: pd.DataFrame, shown: str, problems: list[Problem], warnings: list[str]
) -> None:
    first: dict[str, int] = {}
    folded: dict[str, tuple[str, int]] = {}
    for row in samples.itertuples(index=False):
        name = row.sample
        if not name:
            continue
        if name in first:
            problems.append(
                Problem(
                    shown,
                    row.sheet_line,
                    "sample",
                    f"duplicate sample name {name!r} (first on line "
                    f"{first[name]}); sample names must be unique",
                )
            )
            continue
        first[name] = row.sheet_line
        other = folded.get(name.lower())
        if other is not None:
            problems.append(
                Problem(
                    shown,
                    row.sheet_line,
                    "sample",
                    f"sample name {name!r} differs from {other[0]!r} (line "
                    f"{other[1]}) only in letter case; their output files would "
                    "collide on case-insensitive file systems",
                )
            )
        folded.setdefault(name.lower(), (name, row.sheet_line))
    valid = samples[samples["line"].ne("") & samples["condition"].isin(CONDITIONS)]
    for line, rows in valid.groupby("line", sort=False):
        parentals = rows[rows["condition"] == "parental"]
        resistant = rows[rows["condition"] == "resistant"]
        if parentals.empty:
            for row in resistant.itertuples(index=False):
                problems.append(
                    Problem(
                        shown,
                        row.sheet_line,
                        "line",
                        f"resistant sample {row.sample!r} has no parental sample "
                        f"in line {line!r}: add a row with line {line} and "
                        "condition parental",
                    )
                )
        for row in parentals.iloc[1:].itertuples(index=False):
            p0 = parentals.iloc[0]
            problems.append(
                Problem(
                    shown,
                    row.sheet_line,
                    "condition",
                    f"line {line!r} already has the parental sample "
                    f"{p0['sample']!r} (line {p0['sheet_line']}); a line has "
                    "exactly one parental (its resistant derivatives share it): "
                    "give this sample its own line or mark it resistant",
                )
            )
        if resistant.empty and not parentals.empty:
            warnings.append(
                f"{shown}: line {line!r} has only the parental sample "
                f"{parentals.iloc[0]['sample']!r}: it is aligned and QC'd but there is "
                "no resistant sample to compare it with"
            )


def _unit_checks(
    units: pd.DataFrame,
    samples: pd.DataFrame | None,
    shown: str,
    samples_shown: str,
    base_dir: Path,
    fasta: Path | None,
    fasta_shown: str,
    problems: list[Problem],
    check_files: bool = True,
) -> None:
    seen_units: dict[tuple[str, str], int] = {}
    seen_stems: dict[str, tuple[int, str, str]] = {}
    used: dict[Path, tuple[int, str]] = {}
    known = set(samples["sample"]) if samples is not None else None
    for row in units.itertuples(index=False):
        key = (row.sample, row.unit)
        if row.sample and row.unit:
            if key in seen_units:
                problems.append(
                    Problem(
                        shown,
                        row.sheet_line,
                        "unit",
                        f"unit {row.unit!r} of sample {row.sample!r} is listed "
                        f"twice (first on line {seen_units[key]})",
                    )
                )
            else:
                seen_units[key] = row.sheet_line
                stem = f"{row.sample}.{row.unit}"
                prev = seen_stems.setdefault(stem, (row.sheet_line, row.sample, row.unit))
                if prev[0] != row.sheet_line:
                    problems.append(
                        Problem(
                            shown,
                            row.sheet_line,
                            "unit",
                            f"sample {row.sample!r} unit {row.unit!r} and sample "
                            f"{prev[1]!r} unit {prev[2]!r} (line {prev[0]}) give "
                            f"the same file stem {stem!r}; rename a unit",
                        )
                    )
        if known is not None and row.sample and row.sample not in known:
            problems.append(
                Problem(
                    shown,
                    row.sheet_line,
                    "sample",
                    f"sample {row.sample!r} is not in {samples_shown}",
                )
            )
        if not check_files or (row.bam and (row.fq1 or row.fq2)):
            continue  # (both: reported by the schema; do not pile file errors on top)
        heads: dict[str, bytes] = {}
        for col in ("fq1", "fq2", "bam"):
            value = getattr(row, col)
            if not value:
                continue
            path = _resolve(base_dir, value)
            problem = _file_problem(path)
            if problem is not None:
                problem = f"{problem}: {_where(base_dir, value)}"
            else:
                real = path.resolve()
                if real in used:
                    line, other = used[real]
                    same = line == row.sheet_line
                    problem = (
                        f"{value} is the same file as {other} of this unit"
                        if same
                        else f"{value} is also used on line {line} (column {other}); each "
                        "file belongs to one unit"
                    )
                else:
                    used[real] = (row.sheet_line, col)
            if problem is None:
                if col == "bam":
                    found = _bam_head_problems(path, fasta, fasta_shown)
                    problem = "; ".join(found) if found else None
                else:
                    problem, heads[col] = _fastq_head(path)
                    problem = f"{value}: {problem}" if problem else None
            if problem:
                problems.append(Problem(shown, row.sheet_line, col, problem))
        if heads.get("fq1") and heads.get("fq2"):
            problem = _mate_problem(heads["fq1"], heads["fq2"], row.fq1)
            if problem:
                problems.append(Problem(shown, row.sheet_line, "fq2", problem))


def load_sheets(
    config: dict[str, Any],
    base_dir: Path = Path("."),
    config_label: str = "config",
    check_files: bool = True,
) -> Sheets:
    """Load and validate the samples and units sheets named by ``config``.

    Relative paths (in the config and in the sheets) resolve against ``base_dir``, the working
    directory of the run. Also checks the files the config names (reference FASTA + .fai,
    GTF, BEDs, known-resistance table). Raises :class:`SheetError` with every problem.
    ``check_files=False`` checks only the sheets' content, not the data files they name (for
    ``snakemake --lint`` on a checkout without data); the sheets themselves must exist.
    """
    base_dir = Path(base_dir)
    check_config(config, config_label)
    problems: list[Problem] = []
    warnings: list[str] = []
    ref_problems, fasta_ok = _reference_problems(config, base_dir) if check_files else ([], False)
    problems += [Problem(config_label, None, key, msg, kind="key") for key, msg in ref_problems]
    fasta = _resolve(base_dir, config["reference"]["fasta"]) if fasta_ok else None

    s_shown, u_shown = str(config["samples"]), str(config["units"])
    s_problems: list[Problem] = []
    u_problems: list[Problem] = []
    samples = _read_table(_resolve(base_dir, s_shown), s_shown, load_schema("samples"), s_problems)
    units = _read_table(_resolve(base_dir, u_shown), u_shown, load_schema("units"), u_problems)
    if samples is not None:
        _cross_sample_checks(samples, s_shown, s_problems, warnings)
    if units is not None:
        _unit_checks(
            units,
            samples,
            u_shown,
            s_shown,
            base_dir,
            fasta,
            str(config["reference"]["fasta"]),
            u_problems,
            check_files,
        )
    if samples is not None and units is not None:
        with_units = set(units["sample"])
        for row in samples.itertuples(index=False):
            if row.sample and row.sample not in with_units:
                s_problems.append(
                    Problem(
                        s_shown,
                        row.sheet_line,
                        "sample",
                        f"sample {row.sample!r} has no units in {u_shown}",
                    )
                )
    by_line = functools.cmp_to_key(lambda a, b: (a.line or 0) - (b.line or 0))
    problems += sorted(s_problems, key=by_line) + sorted(u_problems, key=by_line)
    if problems:
        raise SheetError(problems)
    for message in warnings:
        log.warning(message)
    return Sheets(
        _typed_samples(samples), _typed_units(units, base_dir), s_shown, u_shown, tuple(warnings)
    )


def _typed_samples(samples: pd.DataFrame) -> pd.DataFrame:
    out = samples.astype({c: "string" for c in ("sample", "line", "drug", "notes")})
    out["condition"] = pd.Categorical(out["condition"], categories=list(CONDITIONS))
    out["sheet_line"] = out["sheet_line"].astype("int64")
    return out.set_index("sample")[["line", "condition", "drug", "notes", "sheet_line"]]


def _typed_units(units: pd.DataFrame, base_dir: Path) -> pd.DataFrame:
    out = units.copy()
    for col in ("fq1", "fq2", "bam"):
        out[col] = [str(_resolve(base_dir, v)) if v else "" for v in out[col]]
    out["kind"] = ["bam" if b else "fastq" for b in out["bam"]]
    out = out.astype({c: "string" for c in ("sample", "unit", "fq1", "fq2", "bam", "kind")})
    out["sheet_line"] = out["sheet_line"].astype("int64")
    return out.set_index(["sample", "unit"])[["fq1", "fq2", "bam", "kind", "sheet_line"]]


# --------------------------------------------------------------------------- deep check


class _InputError(Exception):
    """A problem in one input file, raised from inside a streaming reader."""

    def __init__(self, path: str | Path, message: str):
        super().__init__(f"{path}: {message}")


#: Records per chunk of the deep FASTQ check (~20 MB of 150 bp reads in memory per file).
CHUNK_RECORDS = 50_000
_BLOCK = 1 << 20


def _decompressed_blocks(path: Path) -> Iterator[bytes]:
    """Raw blocks of a plain or gzip file; multi-member gzip (bgzip, ``cat a.gz b.gz``) works.

    zlib verifies each member's CRC and length; a stream that stops inside a member raises
    EOFError, which is how a truncated upload shows.
    """
    gz = _is_gzip(path)
    with path.open("rb") as handle:
        if not gz:
            while block := handle.read(_BLOCK):
                yield block
            return
        inflater, in_member = zlib.decompressobj(31), False
        while raw := handle.read(_BLOCK):
            while raw:
                in_member = True
                out = inflater.decompress(raw)
                if out:
                    yield out
                if inflater.eof:
                    raw, in_member = inflater.unused_data, False
                    inflater = zlib.decompressobj(31)
                else:
                    raw = b""
        if in_member:
            raise EOFError("the gzip stream ends before its end-of-stream marker")


class _FastqReader:
    """Reads a FASTQ (gzip or plain) in chunks of whole records, checking each chunk.

    The checks run over a whole chunk at C speed (``bytes.translate`` over the joined
    sequences, ``map(len, ...)``); only a chunk that fails is walked record by record to name
    the first bad record. That keeps a full read of a 10^7-pair sample in the minutes range.
    """

    def __init__(self, path: Path):
        self.path, self.records = path, 0
        self._blocks = _decompressed_blocks(path)
        self._pending: list[bytes] = []
        self._carry, self._eof = b"", False

    def _fill(self) -> None:
        while len(self._pending) < 4 * CHUNK_RECORDS and not self._eof:
            try:
                block = next(self._blocks)
            except StopIteration:
                self._eof = True
                if self._carry:
                    self._pending.append(self._carry)
                while self._pending and not self._pending[-1].strip():
                    self._pending.pop()  # blank lines at the very end are harmless
                return
            except (OSError, EOFError, zlib.error) as exc:
                done = self.records + len(self._pending) // 4
                raise _InputError(
                    self.path,
                    f"decompression failed after {done} records, the "
                    f"file is truncated or corrupt ({exc})",
                ) from None
            parts = (self._carry + block).split(b"\n")
            self._carry = parts.pop()
            self._pending.extend(parts)

    def chunk(self) -> list[bytes]:
        """Next <= CHUNK_RECORDS checked records as a flat list of lines (no newlines)."""
        self._fill()
        take = min(len(self._pending), 4 * CHUNK_RECORDS)
        lines = self._pending[:take]
        del self._pending[:take]
        first = self.records + 1
        if len(lines) % 4:
            raise _InputError(
                self.path, f"file ends inside record {first + len(lines) // 4} (truncated?)"
            )
        heads, seqs, quals = lines[0::4], lines[1::4], lines[3::4]
        ok = (
            all(map(bytes.startswith, heads, repeat(b"@")))
            and all(map(bytes.startswith, lines[2::4], repeat(b"+")))
            and min(map(len, heads), default=2) > 1
            and list(map(len, seqs)) == list(map(len, quals))
            and not b"".join(seqs).translate(None, _SEQ_CHARS)
            and not b"".join(quals).translate(None, _QUAL_CHARS)
        )
        if not ok:
            for i in range(len(heads)):
                problem = _record_problem(tuple(lines[4 * i : 4 * i + 4]), first + i)
                if problem:
                    raise _InputError(self.path, problem)
        self.records += len(heads)
        return lines

    def count_rest(self) -> int:
        n = 0
        while lines := self.chunk():
            n += len(lines) // 4
        return n


def _names(heads: list[bytes]) -> list[bytes]:
    """Read names: text after '@' up to the first whitespace (the comment is ignored)."""
    return [h.split(None, 1)[0] for h in heads]


def _strip_mate(names: list[bytes]) -> list[bytes]:
    return [n[:-2] if n.endswith((b"/1", b"/2")) else n for n in names]


def check_fastq_pair(fq1: str | Path, fq2: str | Path) -> int:
    """Read both FASTQs to the end; return the number of read pairs.

    Raises ``_InputError`` on truncation, a malformed record, different record counts or a
    read-name mismatch (mates out of order).
    """
    fq1, fq2 = Path(fq1), Path(fq2)
    r1, r2 = _FastqReader(fq1), _FastqReader(fq2)
    while True:
        done = r1.records
        c1, c2 = r1.chunk(), r2.chunk()
        if len(c1) != len(c2):
            short, long_, other = (r1, r2, fq2) if len(c1) < len(c2) else (r2, r1, fq1)
            total = long_.records + long_.count_rest()
            raise _InputError(
                short.path,
                f"has {short.records} records but its mate file "
                f"{other} has {total}: R1 and R2 must hold the "
                "same reads",
            )
        if not c1:
            break
        n1, n2 = _names(c1[0::4]), _names(c2[0::4])
        if n1 != n2:
            n1, n2 = _strip_mate(n1), _strip_mate(n2)
            bad = next((i for i, (a, b) in enumerate(zip(n1, n2, strict=True)) if a != b), None)
            if bad is not None:
                a, b = (n[bad][1:].decode(errors="replace") for n in (n1, n2))
                raise _InputError(
                    fq2,
                    f"record {done + bad + 1}: read name {b!r} differs "
                    f"from {a!r} in {fq1}: mates are out of order or the "
                    "files do not belong together",
                )
    if r1.records == 0:
        raise _InputError(fq1, "contains no reads")
    return r1.records


def check_bam(bam: str | Path, reference: str | Path | None = None) -> int:
    """Read a BAM to the end (detects truncation mid-file); return the number of records."""
    bam = Path(bam)
    if reference and not Path(f"{reference}.fai").is_file():
        raise _InputError(
            reference, f"the reference has no index: run `samtools faidx {reference}`"
        )
    problems = _bam_head_problems(bam, Path(reference) if reference else None)
    if problems:
        raise _InputError(bam, "; ".join(problems))
    try:
        with pysam.AlignmentFile(str(bam), "rb", check_sq=False) as handle:
            n = handle.count(until_eof=True, read_callback="nofilter")
    except OSError:
        raise _InputError(
            bam,
            "reading failed part-way: the BAM is truncated or corrupt "
            "(htslib's message is in the log above)",
        ) from None
    except ValueError as exc:
        raise _InputError(bam, f"reading failed: the BAM is corrupt ({exc})") from None
    if n == 0:
        raise _InputError(bam, "BAM has no reads")
    return n


def _check_unit(fq1, fq2, bam, reference) -> str:
    """Deep check of one unit's files; summary on success, ``_InputError`` otherwise."""
    for path in (p for p in (fq1, fq2, bam) if p):
        problem = _file_problem(Path(path))
        if problem:
            raise _InputError(path, problem)
    if bam:
        return f"BAM {bam} OK, {check_bam(bam, reference)} records"
    if Path(fq1).resolve() == Path(fq2).resolve():
        raise _InputError(fq2, "is the same file as fq1; fq2 must hold the mates of fq1")
    return f"FASTQ pair OK, {check_fastq_pair(fq1, fq2)} read pairs"


def check_input(
    label: str,
    fq1: str | Path | None = None,
    fq2: str | Path | None = None,
    bam: str | Path | None = None,
    reference: str | Path | None = None,
) -> str:
    """Deep check of one unit; returns a one-line summary or raises UserError naming ``label``."""
    if bam and (fq1 or fq2):
        raise UserError(f"{label}: give either --fq1/--fq2 or --bam, not both")
    if not bam and not (fq1 and fq2):
        raise UserError(f"{label}: give --bam, or both --fq1 and --fq2 (paired-end reads)")
    try:
        return f"{label}: {_check_unit(fq1, fq2, bam, reference)}"
    except _InputError as exc:
        raise UserError(f"{label}: {exc}") from None


# --------------------------------------------------------------------------- CLI


def _cmd_validate(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    if args.samples:
        config["samples"] = args.samples
    if args.units:
        config["units"] = args.units
    sheets = load_sheets(config, Path(args.base_dir), config_label=str(args.config))
    if args.deep:
        reference = _resolve(Path(args.base_dir), config["reference"]["fasta"])
        failures = []
        for (sample, unit), row in sheets.units.iterrows():
            try:
                summary = _check_unit(row["fq1"], row["fq2"], row["bam"], reference)
                log.info("%s: %s", sheets.unit_label(sample, unit), summary)
            except _InputError as exc:
                failures.append(
                    Problem(
                        sheets.units_file,
                        int(row["sheet_line"]),
                        "bam" if row["bam"] else "fq1/fq2",
                        str(exc),
                    )
                )
        if failures:
            raise SheetError(failures)
    n_fq = int((sheets.units["kind"] == "fastq").sum())
    print(
        f"{sheets.samples_file}, {sheets.units_file}: OK: {len(sheets.samples)} samples in "
        f"{len(sheets.lines())} line(s), {len(sheets.units)} units ({n_fq} FASTQ pairs, "
        f"{len(sheets.units) - n_fq} BAMs), assay {config['panel']['assay']}"
        f"{', files read to the end' if args.deep else ''}"
    )
    for line in sheets.lines():
        resistant = ", ".join(sheets.resistant(line)) or "none"
        print(f"  {line}: parental {sheets.parental(line)}; resistant {resistant}")


def _cmd_check_input(args: argparse.Namespace) -> None:
    summary = check_input(args.label, args.fq1, args.fq2, args.bam, args.reference)
    log.info(summary)
    if args.ok_marker:
        write_text(args.ok_marker, summary + "\n")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "validate",
        help="check config and sample sheets; list every problem (file, line, column)",
        description="Validate config.yaml, the samples and units sheets and the files they "
        "name. Exit 0 when clean, 2 with every problem listed otherwise.",
    )
    p.add_argument("--config", default="config/config.yaml", help="config YAML [%(default)s]")
    p.add_argument("--samples", help="samples sheet (overrides the config's `samples`)")
    p.add_argument("--units", help="units sheet (overrides the config's `units`)")
    p.add_argument(
        "--base-dir",
        default=".",
        help="directory relative paths resolve against, i.e. the run's working "
        "directory [%(default)s]",
    )
    p.add_argument(
        "--deep",
        action="store_true",
        help="also read every FASTQ/BAM to the end (what check-input does per unit)",
    )
    p.set_defaults(func=_cmd_validate)

    p = subparsers.add_parser(
        "check-input",
        help="read one unit's FASTQ pair or BAM to the end (truncation, pairing, format)",
        description="Deep check of one sequencing unit before alignment: decompress FASTQs "
        "fully (truncated gzip, malformed records, R1/R2 count or read-name mismatch) or read a "
        "BAM through (truncation, @SQ vs reference). Exit 2 with one message naming --label.",
    )
    p.add_argument(
        "--label",
        required=True,
        help="how to name the unit in messages, e.g. 'config/units.tsv line 3 "
        "(sample H3122_P, unit lane1)'",
    )
    p.add_argument("--fq1", help="read 1 FASTQ (.gz or plain)")
    p.add_argument("--fq2", help="read 2 FASTQ")
    p.add_argument("--bam", help="aligned BAM (instead of --fq1/--fq2)")
    p.add_argument("--reference", help="reference FASTA (with .fai) the BAM must match")
    p.add_argument("--ok-marker", help="write a one-line OK summary here on success")
    p.set_defaults(func=_cmd_check_input)
