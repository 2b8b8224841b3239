"""Mismatch rate per base quality, mate overlap and read mismatch burden on the real capture reads.

Would a noise model by base quality, by agreement of overlapping mates, or by how many other
mismatches the read carries lower the background enough for 2-3 alt fragments at 1% VAF?
Sites whose mismatch fraction (BQ >= 25) is above 0.5% are left out, as the caller's background
fit leaves them out (variants, systematically bad sites). Usage:

    .venv/bin/python bench/snv/bq_noise.py ../shared/realdata/DNAfusion/H3122_EML4.bam
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

import pysam

REPO = Path(__file__).resolve().parents[2]
CONTIG = "chr2_29196228_29226309"  # the panel contig of ALK: chr2:29196228-29226309 (1-based)
MAX_RAW_BQ = 36  # NextSeq bins; above this, pysam summed the qualities of two agreeing mates
MIN_BQ = 25  # the caller's floor


def other_mismatches(aln: pysam.AlignedSegment) -> int:
    """Mismatched bases of the read (NM without its inserted and deleted bases)."""
    indel = sum(n for op, n in aln.cigartuples or () if op in (1, 2))
    return int(aln.get_tag("NM")) - indel


def table(title: str, bases: collections.Counter, wrong: collections.Counter) -> None:
    """Rows with >= 10,000 bases, in key order."""
    total = sum(bases.values())
    print(f"\n| {title} | bases | share | mismatches | per specific allele |")
    print("|---|---:|---:|---:|---:|")
    for key in sorted(k for k, n in bases.items() if n >= 10000):
        label = "40+ (two agreeing mates)" if key == 40 else key
        share = bases[key] / total
        rate = wrong[key] / bases[key] / 3
        print(f"| {label} | {bases[key]:,} | {share:.3f} | {wrong[key]:,} | {rate:.1e} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bam", help="hg38 BAM (contig chr2)")
    args = ap.parse_args()
    seq = pysam.FastaFile(str(REPO / "resources/reference/panel_GRCh38.fa")).fetch(CONTIG).upper()
    start = int(CONTIG.split("_")[1]) - 1
    by_q: collections.Counter[int] = collections.Counter()  # 0: an overlapping mate (zeroed)
    wrong_q: collections.Counter[int] = collections.Counter()
    by_read: collections.Counter[str] = collections.Counter()
    wrong_read: collections.Counter[str] = collections.Counter()
    with pysam.AlignmentFile(args.bam) as bam:
        columns = bam.pileup(
            "chr2", start, start + len(seq), truncate=True, min_base_quality=0,
            min_mapping_quality=20, stepper="nofilter", max_depth=100000,
        )  # fmt: skip
        for col in columns:
            ref = seq[col.reference_pos - start]
            if ref not in "ACGT":
                continue
            obs = []  # (quality, mates agree, other mismatches of the read, mismatch)
            for read in col.pileups:
                aln = read.alignment
                if read.query_position is None or aln.is_duplicate or aln.is_supplementary:
                    continue
                q = aln.query_qualities[read.query_position]
                bad = aln.query_sequence[read.query_position] not in (ref, "N")
                obs.append((q, q > MAX_RAW_BQ, other_mismatches(aln) - bad, bad))
            used = [o for o in obs if o[0] >= MIN_BQ]
            if len(used) < 20 or sum(o[3] for o in used) > 0.005 * len(used):
                continue
            for q, agree, other, bad in obs:
                by_q[min(q, 40)] += 1
                wrong_q[min(q, 40)] += bad
                if q >= MIN_BQ:
                    key = (
                        f"{'two agreeing mates' if agree else 'one read'}, "
                        f"{min(other, 3)}{'+' if other >= 3 else ''} other mismatches"
                    )
                    by_read[key] += 1
                    wrong_read[key] += bad
    table("BQ", by_q, wrong_q)
    n25 = sum(by_read.values())
    k25 = sum(wrong_read.values())
    print(f"| >= {MIN_BQ} | {n25:,} | | {k25:,} | {k25 / n25 / 3:.1e} |")
    table(f"BQ >= {MIN_BQ}: evidence, read's other mismatches", by_read, wrong_read)


if __name__ == "__main__":
    main()
