"""Per-sample QC: read counts from `samtools stats`, on-target fraction and per-target depth.

Depth is the number of aligned bases per position from primary, non-duplicate, non-QC-fail
reads (pysam ``count_coverage`` with ``read_callback="all"`` and no base-quality threshold),
so it is the depth a pileup could use before its own base/mapping-quality filters.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyranges as pr
import pysam

from resistcall.contracts import QC_TARGET_COLUMNS
from resistcall.errors import UserError
from resistcall.options import add_options
from resistcall.outputs import write_texts
from resistcall.reference import preflight_bams, read_bed

#: Thresholds that raise a per-sample warning in the report (documented in docs/qc.md).
WARN_MAPPED_FRACTION = 0.90
WARN_ON_TARGET_FRACTION = 0.50
WARN_MEDIAN_DEPTH = 200
WARN_DUPLICATE_FRACTION = 0.50
DEPTH_LEVEL = 100  # fraction of targets with mean depth >= this is reported
#: Targets closer than this are merged before counting reads so a read is counted once.
MERGE_GAP = 300


@dataclass(frozen=True)
class QcOptions:
    """The ``qc:`` config keys and ``resistcall qc`` options (:mod:`resistcall.options`);
    none yet: QC thresholds become fields here (made with ``options.option``)."""


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


def target_depths(bam: pysam.AlignmentFile, targets: pd.DataFrame) -> pd.DataFrame:
    """Mean, minimum and median depth per target."""
    rows = []
    for t in targets.itertuples(index=False):
        counts = np.asarray(
            bam.count_coverage(t.chrom, t.start, t.end, quality_threshold=0, read_callback="all")
        ).sum(axis=0)
        rows.append((counts.mean(), counts.min(), float(np.median(counts))))
    depth = pd.DataFrame(rows, columns=["mean_depth", "min_depth", "median_depth"])
    return pd.concat([targets.reset_index(drop=True), depth], axis=1)


def on_target_reads(bam: pysam.AlignmentFile, targets: pd.DataFrame) -> int:
    """Primary mapped reads overlapping (merged) targets."""
    merged = (
        pr.PyRanges(targets.rename(columns={"chrom": "Chromosome", "start": "Start", "end": "End"}))
        .merge(slack=MERGE_GAP)
        .df
    )
    return sum(
        bam.count(str(r.Chromosome), int(r.Start), int(r.End), read_callback="all")
        for r in merged.itertuples(index=False)
    )


def summarise(stats: dict[str, float], depths: pd.DataFrame, on_target: int, sample: str) -> dict:
    """QC summary and plain-language warnings for one sample."""
    total = stats["raw total sequences"]
    mapped = stats.get("reads mapped", 0.0)
    dups = stats.get("reads duplicated", 0.0)
    mapped_fraction = mapped / total if total else 0.0
    on_target_fraction = on_target / mapped if mapped else 0.0
    dup_fraction = dups / mapped if mapped else 0.0
    mean_depths = depths["mean_depth"].to_numpy()
    median_depth = float(np.median(mean_depths)) if len(mean_depths) else 0.0
    warnings = []
    if mapped_fraction < WARN_MAPPED_FRACTION:
        warnings.append(f"only {mapped_fraction:.0%} of reads mapped (expected >= 90%)")
    if on_target_fraction < WARN_ON_TARGET_FRACTION:
        warnings.append(f"only {on_target_fraction:.0%} of mapped reads on target")
    if dup_fraction > WARN_DUPLICATE_FRACTION:
        warnings.append(f"{dup_fraction:.0%} duplicate reads: low library complexity")
    if median_depth < WARN_MEDIAN_DEPTH:
        warnings.append(f"median target depth {median_depth:.0f}x is below {WARN_MEDIAN_DEPTH}x")
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
        "n_targets": int(len(depths)),
        "warnings": warnings,
    }


def run_qc(bam_path: Path, stats_path: Path, targets_path: Path) -> tuple[dict, pd.DataFrame]:
    targets = read_bed(targets_path, names=("chrom", "start", "end", "gene"))
    sample = preflight_bams([bam_path])[0]
    with pysam.AlignmentFile(str(bam_path)) as bam:
        absent = sorted(set(targets["chrom"]) - set(bam.references))
        if absent:
            raise UserError(
                f"{targets_path}: contig {absent[0]} is not in {bam_path}: "
                "targets and BAM use different references"
            )
        depths = target_depths(bam, targets)
        on_target = on_target_reads(bam, targets)
    summary = summarise(parse_samtools_stats(stats_path), depths, on_target, sample)
    depths.insert(0, "sample", sample)
    return summary, depths


def _cmd_qc(args: argparse.Namespace) -> None:
    summary, depths = run_qc(args.bam, args.stats, args.targets)
    summary["assay"] = args.assay
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
    p.add_argument("--stats", type=Path, required=True, help="samtools stats output")
    p.add_argument("--targets", type=Path, required=True, help="targets BED (gene in column 4)")
    p.add_argument("--assay", choices=("capture", "amplicon"), default="capture")
    p.add_argument("--out", type=Path, required=True, help="QC summary JSON")
    p.add_argument("--targets-out", type=Path, required=True, help="per-target depth TSV")
    add_options(p, QcOptions)
    p.set_defaults(func=_cmd_qc)
