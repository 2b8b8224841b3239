"""Per-sample QC: read counts from `samtools stats`, on-target fraction and per-target depth.

Depth is the number of aligned A/C/G/T bases per position from primary, non-duplicate,
non-QC-fail reads with no base-quality threshold (``coverage.base_depths``, what pysam's
``count_coverage`` with ``read_callback="all"`` gives), so it is the depth a pileup could use
before its own base/mapping-quality filters.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from resistcall.contracts import QC_TARGET_COLUMNS
from resistcall.coverage import base_depths
from resistcall.duplicates import duplicate_status
from resistcall.errors import UserError
from resistcall.inputs.files import open_alignments
from resistcall.options import add_options, from_args, option
from resistcall.outputs import write_texts
from resistcall.reference import preflight_bams, read_bed

STAGES = ("snv", "cnv", "fusion")


@dataclass(frozen=True)
class QcOptions:
    """Thresholds of the per-sample QC verdict: the ``qc:`` config keys and ``resistcall qc``
    options (:mod:`resistcall.options`); each value and why it is there: docs/qc.md.
    ``fail_*``: below it the sample's verdicts are not assessable; ``warn_*``: results are
    shown with a caveat."""

    fail_mapped_fraction: float = option(
        0.50, "fail below this fraction of reads mapped", ge=0, le=1
    )
    warn_mapped_fraction: float = option(
        0.90, "warn below this fraction of reads mapped", ge=0, le=1
    )
    fail_on_target_reads: int = option(2000, "fail below this many mapped reads on target", ge=0)
    warn_on_target_reads: int = option(20000, "warn below this many mapped reads on target", ge=0)
    warn_on_target_fraction: float = option(
        0.50, "warn below this fraction of unique mapped reads on target", ge=0, le=1
    )
    fail_median_depth: float = option(20.0, "fail below this median target depth", ge=0)
    warn_median_depth: float = option(200.0, "warn below this median target depth", ge=0)
    warn_duplicate_fraction: float = option(
        0.50, "warn above this fraction of duplicate reads", ge=0, le=1
    )
    fail_read_length: float = option(36.0, "fail below this mean read length (bp)", ge=0)
    fusion_min_read_length: float = option(
        50.0, "fusion not assessable below this mean read length (bp)", ge=0
    )
    warn_read_length: float = option(75.0, "warn below this mean read length (bp)", ge=0)
    warn_min_insert: float = option(100.0, "warn below this mean insert size (bp)", ge=0)
    warn_max_insert: float = option(1000.0, "warn above this mean insert size (bp)", ge=0)


DEPTH_LEVEL = 100  # fraction of targets with mean depth >= this is reported
#: Targets closer than this are merged before counting reads so a read is counted once.
MERGE_GAP = 300


def parse_samtools_stats(path: str | Path) -> dict[str, float]:
    """The summary numbers (SN section) of a `samtools stats` report, keyed by their label."""
    numbers: dict[str, float] = {}
    with open(path) as handle:
        for line in handle:
            if line.startswith("SN\t"):
                _, label, value, *_ = line.rstrip("\n").split("\t")
                numbers[label.rstrip(":")] = float(value)
    if "raw total sequences" not in numbers:
        raise UserError(f"{path}: not a samtools stats report (no SN raw total sequences)")
    return numbers


def target_depths(
    bam_path: Path, targets: pd.DataFrame, reference: Path | None = None
) -> tuple[pd.DataFrame, int]:
    """Mean, minimum and median depth per target, and the reads on target (each read once:
    targets closer than ``MERGE_GAP`` are read together; ``coverage.base_depths``; a CRAM is
    decoded with ``reference``)."""
    depths, on_target = base_depths(bam_path, targets, MERGE_GAP, reference)
    rows = [(d.mean(), d.min(), float(np.median(d))) for d in depths]
    table = pd.DataFrame(rows, columns=["mean_depth", "min_depth", "median_depth"])
    return pd.concat([targets.reset_index(drop=True), table], axis=1), on_target


def gate(m: dict[str, float], gates: QcOptions) -> tuple[str, list[str], list[str], dict]:
    """(status, fail reasons, warn reasons, stage -> reason it cannot use the sample).

    ``m`` holds the sample's metrics (mapped_fraction, on_target_reads, on_target_fraction,
    median_target_depth, duplicate_fraction, read_length, insert_size)."""
    fail, warn = [], []
    if m["mapped_fraction"] < gates.fail_mapped_fraction:
        fail.append(
            f"only {m['mapped_fraction']:.0%} of reads mapped to the reference (fail below "
            f"{gates.fail_mapped_fraction:.0%}): wrong reference or sample?"
        )
    elif m["mapped_fraction"] < gates.warn_mapped_fraction:
        warn.append(f"only {m['mapped_fraction']:.0%} of reads mapped (expected >= 90%)")
    if m["on_target_reads"] < gates.fail_on_target_reads:
        fail.append(
            f"{m['on_target_reads']} mapped reads on target (fail below "
            f"{gates.fail_on_target_reads})"
        )
    elif m["on_target_reads"] < gates.warn_on_target_reads:
        warn.append(
            f"{m['on_target_reads']} mapped reads on target (warn below "
            f"{gates.warn_on_target_reads})"
        )
    if m["mapped_fraction"] >= gates.fail_mapped_fraction and (
        m["on_target_fraction"] < gates.warn_on_target_fraction
    ):
        warn.append(f"only {m['on_target_fraction']:.0%} of unique mapped reads on target")
    if m["median_target_depth"] < gates.fail_median_depth:
        fail.append(
            f"median target depth {m['median_target_depth']:.0f}x (fail below "
            f"{gates.fail_median_depth:.0f}x)"
        )
    elif m["median_target_depth"] < gates.warn_median_depth:
        warn.append(
            f"median target depth {m['median_target_depth']:.0f}x is below "
            f"{gates.warn_median_depth:.0f}x"
        )
    if m["duplicate_fraction"] > gates.warn_duplicate_fraction:
        warn.append(f"{m['duplicate_fraction']:.0%} duplicate reads: low library complexity")
    length, insert = m["read_length"], m["insert_size"]
    stages: dict[str, str] = {}
    if length and length < gates.fail_read_length:
        fail.append(
            f"reads are {length:.0f} bp on average: too short to align and call variants "
            f"reliably (fail below {gates.fail_read_length:.0f} bp)"
        )
    elif length and length < gates.fusion_min_read_length:
        stages["fusion"] = (
            f"reads are {length:.0f} bp on average; fusion detection needs >= "
            f"{gates.fusion_min_read_length:.0f} bp (an aligned anchor plus a placeable clip)"
        )
        warn.append(stages["fusion"])
    elif length and length < gates.warn_read_length:
        warn.append(
            f"reads are {length:.0f} bp on average (warn below {gates.warn_read_length:.0f})"
        )
    if insert and not gates.warn_min_insert <= insert <= gates.warn_max_insert:
        warn.append(
            f"mean insert size {insert:.0f} bp is outside {gates.warn_min_insert:.0f}-"
            f"{gates.warn_max_insert:.0f} bp"
        )
    if fail:
        reason = "sample failed QC: " + "; ".join(fail)
        stages = dict.fromkeys(STAGES, reason)
    status = "fail" if fail else "warn" if warn else "pass"
    return status, fail, warn, stages


def summarise(
    stats: dict[str, float],
    depths: pd.DataFrame,
    on_target: int,
    sample: str,
    gates: QcOptions = QcOptions(),
) -> dict:
    """QC summary, verdict (pass / warn / fail with reasons) and warnings for one sample."""
    total = stats["raw total sequences"]
    mapped = stats.get("reads mapped", 0.0)
    dups = stats.get("reads duplicated", 0.0)
    mapped_fraction = mapped / total if total else 0.0
    # capture efficiency among unique reads (as Picard's HsMetrics): duplicates are out of the
    # numerator, so out of the denominator too, else a duplicate-rich library reads off-target
    unique = mapped - dups
    on_target_fraction = min(1.0, on_target / unique) if unique > 0 else 0.0
    dup_fraction = dups / mapped if mapped else 0.0
    mean_depths = depths["mean_depth"].to_numpy()
    median_depth = float(np.median(mean_depths)) if len(mean_depths) else 0.0
    read_length = stats.get("average length", 0.0)
    insert_size = stats.get("insert size average", 0.0)
    status, fail, warn, stages = gate(
        {
            "mapped_fraction": mapped_fraction,
            "on_target_reads": on_target,
            "on_target_fraction": on_target_fraction,
            "median_target_depth": median_depth,
            "duplicate_fraction": dup_fraction,
            "read_length": read_length,
            "insert_size": insert_size,
        },
        gates,
    )
    warnings = fail + warn
    low = depths.loc[depths["mean_depth"] < DEPTH_LEVEL, "gene"]
    if len(low):
        genes = ", ".join(sorted(set(low)))
        warnings.append(f"{len(low)} target(s) below {DEPTH_LEVEL}x mean depth ({genes})")
    quantiles = {
        f"p{q}": float(np.percentile(mean_depths, q)) if len(mean_depths) else 0.0
        for q in (5, 25, 50, 75, 95)
    }
    return {
        "sample": sample,
        "status": status,
        "reasons": fail or warn,
        "not_assessable": stages,
        "total_reads": int(total),
        "mapped_reads": int(mapped),
        "mapped_fraction": round(mapped_fraction, 4),
        "duplicate_fraction": round(dup_fraction, 4),
        "on_target_reads": int(on_target),
        "on_target_fraction": round(on_target_fraction, 4),
        "mean_target_depth": round(float(mean_depths.mean()) if len(mean_depths) else 0.0, 1),
        "median_target_depth": round(median_depth, 1),
        f"fraction_targets_{DEPTH_LEVEL}x": round(float((mean_depths >= DEPTH_LEVEL).mean()), 4)
        if len(mean_depths)
        else 0.0,
        "depth_quantiles": {k: round(v, 1) for k, v in quantiles.items()},
        "read_length": round(float(read_length), 1),
        "insert_size": round(float(insert_size), 1),
        "n_targets": int(len(depths)),
        "gates": asdict(gates),
        "warnings": warnings,
    }


def run_qc(
    bam_path: Path,
    stats_path: Path,
    targets_path: Path,
    gates: QcOptions = QcOptions(),
    reference: Path | None = None,
) -> tuple[dict, pd.DataFrame]:
    """QC summary and per-target depths of one BAM (a CRAM: decoded with ``reference``)."""
    targets = read_bed(targets_path, names=("chrom", "start", "end", "gene"))
    sample = preflight_bams([bam_path], reference)[0]
    with open_alignments(bam_path, reference) as bam:
        absent = sorted(set(targets["chrom"]) - set(bam.references))
        if absent:
            raise UserError(
                f"{targets_path}: contig {absent[0]} is not in {bam_path}: "
                "targets and BAM use different references"
            )
    depths, on_target = target_depths(bam_path, targets, reference)
    summary = summarise(parse_samtools_stats(stats_path), depths, on_target, sample, gates)
    depths.insert(0, "sample", sample)
    return summary, depths


def duplicates(mode: str, as_given: list[Path]) -> tuple[str, list[str]]:
    """(how duplicates were handled, warnings): reads the headers of the units used as given
    (resistcall.duplicates; docs/qc.md)."""
    headers = {}
    for path in as_given:
        with open_alignments(path) as unit:
            headers[Path(path).name] = unit.header.to_dict()
    return duplicate_status(mode, headers)


def _cmd_qc(args: argparse.Namespace) -> None:
    gates = from_args(QcOptions, args)
    summary, depths = run_qc(args.bam, args.stats, args.targets, gates, args.reference)
    summary["assay"] = args.assay
    summary["duplicates"], warnings = duplicates(args.duplicates, args.as_given)
    summary["warnings"] += warnings
    write_texts(
        [
            (
                args.targets_out,
                depths[list(QC_TARGET_COLUMNS)].round(1).to_csv(sep="\t", index=False),
            ),
            (args.out, json.dumps(summary, indent=2) + "\n"),
        ]
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("qc", help="per-sample read, on-target and depth QC")
    p.add_argument("--bam", type=Path, required=True)
    p.add_argument("--reference", type=Path, help="FASTA a CRAM is decoded with")
    p.add_argument("--stats", type=Path, required=True, help="samtools stats output")
    p.add_argument("--targets", type=Path, required=True, help="targets BED (gene in column 4)")
    p.add_argument("--assay", choices=("capture", "amplicon"), default="capture")
    p.add_argument(
        "--duplicates",
        choices=("marked", "as-given", "never"),
        default="marked",
        help="duplicates marked in this run, kept as the units had them, or never (amplicon)",
    )
    p.add_argument(
        "--as-given",
        nargs="*",
        type=Path,
        default=[],
        metavar="BAM",
        help="the sample's aligned units used as given: a warning when no header names a "
        "duplicate-marking program",
    )
    p.add_argument("--out", type=Path, required=True, help="QC summary JSON")
    p.add_argument("--targets-out", type=Path, required=True, help="per-target depth TSV")
    add_options(p, QcOptions)
    p.set_defaults(func=_cmd_qc)
