"""BED files the config names (targets, SNV regions, primers) checked before anything runs:
shape (columns, integer coordinates, start < end, primer strand) and contigs and coordinates
against the reference FASTA index, every problem with its file, line and column."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pandas as pd
import pyranges as pr

from resistcall.errors import UserError
from resistcall.inputs.files import resolve
from resistcall.inputs.problems import Problem
from resistcall.reference import contig_offset

#: Columns each BED must have (the first ones named as in messages). A target's column 4 (a
#: gene, probe or amplicon name) is optional: genes come from the GTF (resistcall annotation).
BED_COLUMNS = {
    "panel.targets": ("chrom", "start", "end"),
    "panel.snv_regions": ("chrom", "start", "end"),
    "panel.primers": ("chrom", "start", "end", "name", "score", "strand"),
}
#: Problems listed per file before the rest are counted (a wrong file would flood the screen).
MAX_PER_FILE = 10


def _rows(path: Path):
    """(1-based line, cells) of every data line; blank, '#', 'track' and 'browser' lines skipped."""
    text = path.read_text(errors="replace")
    for number, cells in enumerate(csv.reader(text.splitlines(), delimiter="\t"), 1):
        if not cells or not "".join(cells).strip():
            continue
        if cells[0].startswith(("#", "track", "browser")):
            continue
        yield number, cells


def _row_problem(
    cells: list[str], columns: tuple[str, ...], lengths: dict[str, int] | None
) -> tuple[str | None, str] | None:
    """(column, message) for the first thing wrong with one BED row, or None."""
    if len(cells) < len(columns):
        if len(cells) == 1 and len(cells[0].split()) >= len(columns):
            return None, "no tab between the columns (separated by spaces?); use tabs"
        return None, (
            f"{len(cells)} column(s); this BED needs {len(columns)} ({' '.join(columns)})"
        )
    chrom, start, end = (c.strip() for c in cells[:3])
    for name, value in (("start", start), ("end", end)):
        if not value.isdigit():
            if value.lower() in ("start", "chromstart", "end", "chromend"):
                return None, "a header line: BED has none (start it with '#' or remove it)"
            return name, f"{value!r} is not a whole number >= 0"
    if int(start) >= int(end):
        return "end", f"end {end} is not after start {start} (BED is 0-based, half-open)"
    if lengths is not None:
        if chrom not in lengths:
            shown = ", ".join(list(lengths)[:3]) + (", ..." if len(lengths) > 3 else "")
            hint = ""
            if chrom in {contig_offset(c)[0] for c in lengths}:
                hint = (
                    ": whole-chromosome coordinates, but the reference holds panel contigs "
                    "chrN_START_END (contig position = genomic position - START + 1)"
                )
            elif (other := chrom[3:] if chrom.startswith("chr") else f"chr{chrom}") in lengths:
                hint = f": the FASTA names it {other!r} (another contig naming: chr2 vs 2)"
            return "chrom", f"contig {chrom!r} is not in the reference FASTA ({shown}){hint}"
        if int(end) > lengths[chrom]:
            return "end", f"end {end} is beyond the end of {chrom} ({lengths[chrom]} bp)"
    if "strand" in columns and cells[5].strip() not in ("+", "-"):
        return "strand", f"{cells[5].strip()!r} is not + or -"
    return None


def bed_problems(key: str, path: Path, shown: str, lengths: dict[str, int] | None) -> list[Problem]:
    """Every problem of the BED configured under ``key`` (``lengths``: contig -> length from
    the FASTA index, or None when the FASTA is unusable)."""
    columns = BED_COLUMNS[key]
    problems: list[Problem] = []
    n = 0
    seen: dict[tuple[str, ...], int] = {}
    first: tuple[int, int] | None = None  # (line, columns) of the first data line
    for number, cells in _rows(path):
        n += 1
        found = _row_problem(cells, columns, lengths)
        first = first or (number, len(cells))
        if found is None and len(cells) != first[1]:
            found = (
                None,
                (
                    f"{len(cells)} column(s) where line {first[0]} has {first[1]}: every line of a "
                    "BED has the same columns"
                ),
            )
        interval = tuple(c.strip() for c in cells[:3])
        if found is None and key == "panel.targets" and interval in seen:
            found = None, f"the same interval as line {seen[interval]}: each target once"
        seen.setdefault(interval, number)
        if found is not None:
            column, message = found
            problems.append(Problem(shown, number, column, f"{message} ({key})"))
    if n == 0:
        return [Problem(shown, None, None, f"BED has no intervals ({key})")]
    if len(problems) > MAX_PER_FILE:
        rest = len(problems) - MAX_PER_FILE
        problems = problems[:MAX_PER_FILE]
        problems.append(Problem(shown, None, None, f"... and {rest} more line(s) like these"))
    return problems


def fai_lengths(fasta: Path) -> dict[str, int]:
    """Contig -> length from the FASTA's .fai (already checked to exist and fit)."""
    index = pd.read_csv(f"{fasta}.fai", sep="\t", header=None, usecols=[0, 1], dtype={0: str})
    return dict(zip(index[0], index[1].astype(int), strict=True))


def config_file_problems(
    config: dict[str, Any], base_dir: Path, fasta: Path | None
) -> list[Problem]:
    """BEDs and known-resistance table of ``config`` checked before alignment (their existence
    was checked already; only files that exist are read; the GTF naming is checked by
    :func:`resistcall.inputs.files.gtf_naming_problem`)."""
    from resistcall.knowledge import load_known  # the table's own schema and row rules

    lengths = fai_lengths(fasta) if fasta is not None else None
    panel = config["panel"]
    keys = ["panel.targets", "panel.snv_regions"]
    if panel["assay"] == "amplicon":
        keys.append("panel.primers")
    problems: list[Problem] = []
    for key in dict.fromkeys(keys):
        shown = str(panel[key.split(".", 1)[1]])
        path = resolve(base_dir, shown)
        if path.is_file() and (key != "panel.snv_regions" or shown != str(panel["targets"])):
            problems += bed_problems(key, path, shown, lengths)
    known = resolve(base_dir, config["known_resistance"])
    if known.is_file():
        try:
            load_known(known)
        except UserError as exc:
            problems.append(Problem(str(config["known_resistance"]), None, None, str(exc)))
    return problems


#: How far (bp) a primer may lie from the end of the amplicon insert it primes: vendor inserts
#: are flanked directly (0 bp) or include their primers (overlap); a primer this far from every
#: target belongs to no amplicon of the targets BED.
PRIMER_REACH = 40


def _table(path: Path, columns: list[str]) -> pd.DataFrame:
    """The BED's intervals (already checked) with their line numbers, in file order."""
    rows = [[n, *(c.strip() for c in cells[: len(columns)])] for n, cells in _rows(path)]
    frame = pd.DataFrame(rows, columns=["line", *columns])
    return frame.astype({"Start": "int64", "End": "int64"})


def _overlapping(query: pd.DataFrame, subject: pd.DataFrame, strandedness: str | None) -> set[int]:
    """Lines of ``query`` overlapping an interval of ``subject`` (pyranges, half-open; starts
    clipped at 0, which every BED interval ends after, so no overlap changes)."""
    if query.empty or subject.empty:
        return set()

    def ranges(frame: pd.DataFrame) -> pr.PyRanges:
        return pr.PyRanges(frame.assign(Start=frame["Start"].clip(lower=0)))

    hits = ranges(query).overlap(ranges(subject), strandedness=strandedness)
    return set(hits.df["line"]) if len(hits) else set()


def primer_warnings(config: dict[str, Any], base_dir: Path) -> list[str]:
    """Amplicon assay: warnings when the primer BED does not fit the targets BED (checked for
    shape already). ``samtools ampliconclip`` clips only the primers it is given and keeps every
    other read as it is, so an amplicon whose primers are missing (another panel version, a
    truncated file) keeps its primer bases, which carry the reference sequence and dilute a
    variant under them, with no error anywhere; primers near no target point at a primer BED of
    another panel or build (or a primer pool larger than the analysed targets)."""
    panel = config["panel"]
    t_shown, p_shown = str(panel["targets"]), str(panel["primers"])
    targets = _table(resolve(base_dir, t_shown), ["Chromosome", "Start", "End"])
    primers = _table(
        resolve(base_dir, p_shown), ["Chromosome", "Start", "End", "Name", "Score", "Strand"]
    )
    start, end = targets["Start"], targets["End"]
    left = targets.assign(Start=start - PRIMER_REACH, End=start + PRIMER_REACH, Strand="+")
    right = targets.assign(Start=end - PRIMER_REACH, End=end + PRIMER_REACH, Strand="-")
    primed = _overlapping(left, primers, "same") & _overlapping(right, primers, "same")
    unprimed = [
        (n, f"{chrom}:{s + 1}-{e}")
        for n, chrom, s, e in targets.itertuples(index=False)
        if n not in primed
    ]
    reach = targets.assign(Start=start - PRIMER_REACH, End=end + PRIMER_REACH)
    near = _overlapping(primers, reach, None)
    stray = [
        (n, name) for n, name in zip(primers["line"], primers["Name"], strict=True) if n not in near
    ]
    warnings = []
    if unprimed:
        line, where = unprimed[0]
        warnings.append(
            f"{t_shown}: {len(unprimed)} of {len(targets)} amplicon target(s) (first: line {line},"
            f" {where}) have no '+' primer of {p_shown} at their start or no '-' primer at their"
            f" end (within {PRIMER_REACH} bp): samtools ampliconclip leaves the primer bases of"
            " their reads unclipped (reference sequence that dilutes variants under the primers);"
            " give the primer BED of this panel (panel.primers)"
        )
    if stray:
        line, name = stray[0]
        warnings.append(
            f"{p_shown}: {len(stray)} of {len(primers)} primer(s) (first: line {line}, {name}) lie"
            f" within {PRIMER_REACH} bp of no target of {t_shown}: a primer BED of another panel"
            " or build, or a primer pool larger than the analysed targets (then ignore this)"
        )
    return warnings
