"""Mismatch rate per base-quality value on the real capture reads over the ALK panel contig.

Would a noise model by base quality lower the background enough for 2-3 alt fragments at 1%
VAF? Sites whose mismatch fraction (BQ >= 25) is above 0.5% are left out, as the caller's
background fit leaves them out (variants, systematically bad sites). Usage:

    .venv/bin/python bench/snv/bq_noise.py ../shared/realdata/DNAfusion/H3122_EML4.bam
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

import pysam

REPO = Path(__file__).resolve().parents[2]
CONTIG = "chr2_29196228_29226309"  # the panel contig of ALK: chr2:29196228-29226309 (1-based)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bam", help="hg38 BAM (contig chr2)")
    args = ap.parse_args()
    seq = pysam.FastaFile(str(REPO / "resources/reference/panel_GRCh38.fa")).fetch(CONTIG).upper()
    start = int(CONTIG.split("_")[1]) - 1
    bases: collections.Counter[int] = collections.Counter()
    wrong: collections.Counter[int] = collections.Counter()
    with pysam.AlignmentFile(args.bam) as bam:
        columns = bam.pileup(
            "chr2", start, start + len(seq), truncate=True, min_base_quality=0,
            min_mapping_quality=20, stepper="nofilter", max_depth=100000,
        )  # fmt: skip
        for col in columns:
            ref = seq[col.reference_pos - start]
            if ref not in "ACGT":
                continue
            n, k = collections.Counter(), collections.Counter()
            for read in col.pileups:
                aln = read.alignment
                if read.query_position is None or aln.is_duplicate or aln.is_supplementary:
                    continue
                q = min(aln.query_qualities[read.query_position], 40)
                n[q] += 1
                k[q] += aln.query_sequence[read.query_position] not in (ref, "N")
            depth = sum(v for q, v in n.items() if q >= 25)
            if depth >= 20 and sum(v for q, v in k.items() if q >= 25) <= 0.005 * depth:
                bases.update(n)
                wrong.update(k)
    print("| BQ | bases | mismatches | per specific allele |\n|---:|---:|---:|---:|")
    for q in sorted(bases):
        if bases[q] >= 10000:
            label = "40+" if q == 40 else str(q)  # 0: an overlapping mate (pysam zeroes it)
            print(f"| {label} | {bases[q]:,} | {wrong[q]:,} | {wrong[q] / bases[q] / 3:.1e} |")
    n25 = sum(v for q, v in bases.items() if q >= 25)
    k25 = sum(v for q, v in wrong.items() if q >= 25)
    print(f"| >= 25 | {n25:,} | {k25:,} | {k25 / n25 / 3:.1e} |")


if __name__ == "__main__":
    main()
