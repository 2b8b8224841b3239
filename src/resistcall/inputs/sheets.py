"""Samples and units sheets: TSV reading with line numbers, schema and cross-row checks, and
the typed :class:`Sheets` the workflow reads."""

from __future__ import annotations

import csv
import difflib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from resistcall.duplicates import normal_duplicates
from resistcall.inputs.beds import config_file_problems, primer_warnings
from resistcall.inputs.config import check_config
from resistcall.inputs.files import (
    bam_head_problems,
    fastq_head,
    file_problem,
    has_index,
    mate_problem,
    open_alignments,
    read_fingerprint,
    reference_problems,
    resolve,
    where,
)
from resistcall.inputs.problems import Problem, SheetError
from resistcall.inputs.schemas import load_schema, validate
from resistcall.reference import bam_sample

log = logging.getLogger(__name__)

CONDITIONS = ("parental", "resistant")


def _unquote(cell: str) -> str:
    cell = cell.strip()
    if len(cell) >= 2 and cell[0] == cell[-1] == '"':
        cell = cell[1:-1].replace('""', '"').strip()
    return cell


#: Share of sampled reads two units of different samples may have in common before they are
#: called the same reads (independent libraries share none: read names carry flowcell, tile
#: and position, and the sequence must match too).
SHARED_READS = 0.9
#: Fewest sampled reads in both units for the comparison to mean anything.
MIN_SHARED_SAMPLE = 20
SPACES = "header has no tab: its cells are separated by spaces; use tabs (the sheet is TSV)"


def _space_separated(cells: list[str], n_columns: int) -> bool:
    """A row typed with spaces between cells: one filled cell holding as many words as the
    header has columns (a notes cell with spaces sits beside other filled cells)."""
    filled = [c for c in cells if c.strip()]
    return len(filled) == 1 and len(cells[0].split()) >= min(n_columns, 3)


def _read_table(
    path: Path, shown: str, schema: dict[str, Any], problems: list[Problem]
) -> pd.DataFrame | None:
    """Read a TSV sheet into strings, keeping each row's 1-based line number (``sheet_line``).

    Blank lines and lines starting with '#' are skipped; cells are stripped; trailing empty
    cells may be omitted. Header problems are added to ``problems``; unknown columns are
    dropped after being reported.
    """
    problem = file_problem(path)
    if problem:
        problems.append(Problem(shown, None, None, f"{problem} (looked for {path.resolve()})"))
        return None
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        problems.append(
            Problem(
                shown,
                None,
                None,
                "UTF-16 text (Excel's 'Unicode Text' export); save the sheet as UTF-8 TSV",
            )
        )
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # name the line and column, as every other message does (a spreadsheet's "ANSI" export
        # writes e.g. the micro sign of "1 uM" as one byte 0xB5)
        line = raw[: exc.start].count(b"\n") + 1
        before = raw[: exc.start].rsplit(b"\n", 1)[-1]
        heads = [
            (n, t)
            for n, t in enumerate(raw.decode("utf-8-sig", "replace").splitlines(), 1)
            if t.strip() and not t.lstrip().startswith("#")
        ]
        header = heads[0][1].split("\t") if heads else []
        cell = before.count(b"\t")
        after_header = bool(heads) and line > heads[0][0]
        column = header[cell].strip() if after_header and cell < len(header) else None
        problems.append(
            Problem(
                shown,
                line,
                column or None,
                f"not UTF-8 text (byte 0x{raw[exc.start]:02X}, character {len(before) + 1} of "
                "the line); save the sheet as UTF-8 TSV",
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
    if len(header) == 1 and len(header[0].split()) > 1:
        problems.append(Problem(shown, header_line, None, SPACES))
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
    spaced = [n for n, cells in rows[1:] if _space_separated(cells, len(header))]
    if spaced:
        problems.extend(Problem(shown, n, None, SPACES.replace("header", "row")) for n in spaced)
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
        for col, message in validate(filled, schema, False, "required cell is empty"):
            problems.append(Problem(shown, number, col, message))
        records.append({**{name: "" for name in allowed}, **record, "sheet_line": number})
    return pd.DataFrame.from_records(records, columns=[*allowed, "sheet_line"])


@dataclass(frozen=True)
class Sheets:
    """Validated sheets. Empty optional cells are ``""`` (never NaN), so ``if row["bam"]`` works.

    ``samples``: index ``sample``; columns line, condition (categorical), drug, purity
    (float in (0, 1], 1.0 when the optional column or cell is empty), notes, sheet_line.
    ``units``: index (sample, unit); columns fq1, fq2, bam (paths resolved against the base
    directory), kind (``fastq`` or ``bam``), sheet_line. ``sheet_line`` is the 1-based
    line in the sheet file (header = 1), the number every message uses. ``normals``: the
    panel of normals' BAMs (``pon.normals``), checked like aligned units and against the run.
    """

    samples: pd.DataFrame
    units: pd.DataFrame
    samples_file: str = "config/samples.tsv"
    units_file: str = "config/units.tsv"
    warnings: tuple[str, ...] = field(default=())
    #: BAM/CRAM paths of the panel of normals (config ``pon.normals``), resolved; () without
    normals: tuple[str, ...] = field(default=())

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


def _drug_warnings(samples: pd.DataFrame, known: Path, shown: str, warnings: list[str]) -> None:
    """A ``drug`` the known-resistance table does not name gets no per-drug verdict (and a
    misspelled one, e.g. crizotnib, silently loses the selected-on phenotype): say so."""
    from resistcall.knowledge import load_known

    drugs = sorted(set(load_known(known)["drug"].astype(str).str.lower()))
    for row in samples.itertuples(index=False):
        drug = str(row.drug).strip()
        if not drug or drug.lower() in drugs:
            continue
        close = difflib.get_close_matches(drug.lower(), drugs, n=1, cutoff=0.8)
        hint = f"did you mean {close[0]!r}?" if close else f"it names {', '.join(drugs)}"
        warnings.append(
            str(
                Problem(
                    shown,
                    row.sheet_line,
                    "drug",
                    f"{drug!r} is not a drug of the known-resistance table ({hint}): the "
                    "report gives it no per-drug verdict",
                )
            )
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
    prints: list[tuple] = []
    schema_flagged = {(p.line, p.field) for p in problems}
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
        before = len(problems)
        heads: dict[str, bytes] = {}
        for col in ("fq1", "fq2", "bam"):
            value = getattr(row, col)
            if not value or (row.sheet_line, col) in schema_flagged:
                continue  # (a cell the schema refused: one problem per cell)
            path = resolve(base_dir, value)
            problem = file_problem(path)
            if problem is not None:
                problem = f"{problem}: {where(base_dir, value)}"
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
                    found = bam_head_problems(path, fasta, fasta_shown)
                    problem = "; ".join(found) if found else None
                else:
                    problem, heads[col] = fastq_head(path)
                    problem = f"{value}: {problem}" if problem else None
            if problem:
                problems.append(Problem(shown, row.sheet_line, col, problem))
        if heads.get("fq1") and heads.get("fq2"):
            problem = mate_problem(heads["fq1"], heads["fq2"], row.fq1)
            if problem:
                problems.append(Problem(shown, row.sheet_line, "fq2", problem))
        if len(problems) == before and row.sample:
            col = "bam" if row.bam else "fq1"
            keys = read_fingerprint(resolve(base_dir, getattr(row, col)), col == "bam", fasta)
            prints.append((row.sheet_line, row.sample, row.unit, col, keys))
    problems += _shared_reads(prints, shown)


def _normal_rows(
    config: dict[str, Any], base_dir: Path, config_label: str, problems: list[Problem]
) -> list[tuple[str, int | None, str, str]]:
    """(file, line, column, path as written) of every normal of ``pon.normals``: rows of a
    normals sheet (TSV, ``normals.schema.yaml``) or items of a YAML list."""
    normals = (config.get("pon") or {}).get("normals")
    if isinstance(normals, list):
        return [(config_label, None, f"pon.normals[{i}]", str(v)) for i, v in enumerate(normals)]
    if not normals:
        return []
    table = _read_table(resolve(base_dir, normals), normals, load_schema("normals"), problems)
    if table is None:
        return []
    return [(normals, int(r.sheet_line), "bam", r.bam) for r in table.itertuples() if r.bam]


def _normal_checks(
    rows: list[tuple[str, int | None, str, str]],
    samples: pd.DataFrame | None,
    units: pd.DataFrame | None,
    base_dir: Path,
    fasta: Path | None,
    fasta_shown: str,
    assay: str,
    problems: list[Problem],
    warnings: list[str],
) -> tuple[str, ...]:
    """Each normal exists, is indexed and fits the FASTA (the check of aligned units), is listed
    once, and is not a sample of the run (same file as a unit, or same @RG SM / file name as a
    sample): a parental in its own panel would teach the caller that its variants are noise.
    A capture normal whose header names no duplicate-marking program is warned about before
    anything runs (resistcall.duplicates: the rule of the run's samples used as given).
    Returns the normals' paths."""
    run_files = {}
    if units is not None:
        for u in units.itertuples():
            if u.bam:
                run_files[resolve(base_dir, u.bam).resolve()] = (u.sheet_line, u.sample)
    run_samples = set(samples["sample"]) if samples is not None else set()
    seen: dict[Path, str] = {}
    paths = []
    for shown, line, col, value in rows:
        path = resolve(base_dir, value)
        paths.append(str(path))
        here = f"{shown} line {line}" if line else f"{shown} {col}"
        problem = file_problem(path)
        if problem:
            problems.append(Problem(shown, line, col, f"{problem}: {where(base_dir, value)}"))
            continue
        real = path.resolve()
        if real in seen:
            problems.append(Problem(shown, line, col, f"{value} is listed twice ({seen[real]})"))
            continue
        seen[real] = here
        if real in run_files:
            sheet_line, sample = run_files[real]
            problems.append(
                Problem(
                    shown,
                    line,
                    col,
                    f"{value} is the BAM of unit line {sheet_line} (sample {sample!r}) of this "
                    "run; the panel of normals takes unrelated samples only (a sample in its own "
                    "panel would hide its variants)",
                )
            )
            continue
        found = bam_head_problems(path, fasta, fasta_shown)
        if not found and not has_index(path, fasta):
            found = [f"{value} has no index (.bai/.csi/.crai): run samtools index {value}"]
        if not found:
            name = bam_sample(path)
            if name in run_samples:
                found = [
                    f"{value} holds sample {name!r} (its @RG SM, or its file name without @RG), "
                    "a sample of this run; the panel of normals takes unrelated samples only (a "
                    "sample in its own panel would hide its variants)"
                ]
        if not found:
            with open_alignments(path, fasta) as bam:
                _, warning = normal_duplicates(assay, bam.header.to_dict())
            if warning:
                warnings.append(str(Problem(shown, line, col, f"{value}: {warning}")))
        problems.extend(Problem(shown, line, col, msg) for msg in found)
    return tuple(paths)


def _shared_reads(prints: list[tuple], shown: str) -> list[Problem]:
    """Units of different samples holding the same reads (a copied file, or the same library
    filed under two names): comparing them would report no change, or nonsense."""
    out = []
    for i, (line, sample, unit, col, keys) in enumerate(prints):
        for line0, sample0, unit0, _, keys0 in prints[:i]:
            if sample0 == sample or min(len(keys), len(keys0)) < MIN_SHARED_SAMPLE:
                continue  # too few reads to tell (a placeholder file of one read)
            shared = len(keys & keys0) / min(len(keys), len(keys0))
            if shared >= SHARED_READS:
                out.append(
                    Problem(
                        shown,
                        line,
                        col,
                        f"sample {sample!r} unit {unit!r} holds the same reads as sample "
                        f"{sample0!r} unit {unit0!r} (line {line0}): {shared:.0%} of the first "
                        f"{min(len(keys), len(keys0))} reads are shared; one library filed under "
                        "two sample names?",
                    )
                )
                break
    return out


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
    ref_problems, fasta_ok = reference_problems(config, base_dir) if check_files else ([], False)
    problems += [Problem(config_label, None, key, msg, kind="key") for key, msg in ref_problems]
    fasta = resolve(base_dir, config["reference"]["fasta"]) if fasta_ok else None
    if check_files:
        problems += config_file_problems(config, base_dir, fasta)
        if not problems and config["panel"]["assay"] == "amplicon":
            warnings += primer_warnings(config, base_dir)

    s_shown, u_shown = str(config["samples"]), str(config["units"])
    s_problems: list[Problem] = []
    u_problems: list[Problem] = []
    samples = _read_table(resolve(base_dir, s_shown), s_shown, load_schema("samples"), s_problems)
    units = _read_table(resolve(base_dir, u_shown), u_shown, load_schema("units"), u_problems)
    if samples is not None:
        _cross_sample_checks(samples, s_shown, s_problems, warnings)
        known = resolve(base_dir, config["known_resistance"])
        if check_files and known.is_file() and not problems:
            _drug_warnings(samples, known, s_shown, warnings)
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

    n_problems: list[Problem] = []
    rows = _normal_rows(config, base_dir, config_label, n_problems)
    normals = tuple(str(resolve(base_dir, r[3])) for r in rows)
    if check_files:
        normals = _normal_checks(
            rows,
            samples,
            units,
            base_dir,
            fasta,
            str(config["reference"]["fasta"]),
            config["panel"]["assay"],
            n_problems,
            warnings,
        )

    def by_line(p: Problem) -> int:
        return p.line or 0

    problems += sorted(s_problems, key=by_line) + sorted(u_problems, key=by_line) + n_problems
    if problems:
        raise SheetError(problems)
    return Sheets(
        _typed_samples(samples),
        _typed_units(units, base_dir),
        s_shown,
        u_shown,
        tuple(warnings),
        normals,
    )


def _typed_samples(samples: pd.DataFrame) -> pd.DataFrame:
    out = samples.astype({c: "string" for c in ("sample", "line", "drug", "notes")})
    out["condition"] = pd.Categorical(out["condition"], categories=list(CONDITIONS))
    out["purity"] = [float(v) if str(v).strip() else 1.0 for v in out["purity"]]
    out["sheet_line"] = out["sheet_line"].astype("int64")
    return out.set_index("sample")[["line", "condition", "drug", "purity", "notes", "sheet_line"]]


def _typed_units(units: pd.DataFrame, base_dir: Path) -> pd.DataFrame:
    out = units.copy()
    for col in ("fq1", "fq2", "bam"):
        out[col] = [str(resolve(base_dir, v)) if v else "" for v in out[col]]
    out["kind"] = ["bam" if b else "fastq" for b in out["bam"]]
    out = out.astype({c: "string" for c in ("sample", "unit", "fq1", "fq2", "bam", "kind")})
    out["sheet_line"] = out["sheet_line"].astype("int64")
    return out.set_index(["sample", "unit"])[["fq1", "fq2", "bam", "kind", "sheet_line"]]
