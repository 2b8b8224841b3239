"""QC per-target depth: the kernel (``qc.target_depths``) against pysam's ``count_coverage``.

Same BAM, same targets; prints CPU seconds of each and how many targets' mean depth differ.

    .venv/bin/python bench/speed/qc_depth.py /tmp/resistcall_speed/results/L16k/L16k_R.bam \\
        /tmp/resistcall_speed/resources/panel/demo_amplicons.bed
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pysam

from resistcall.qc import target_depths
from resistcall.reference import read_bed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bam")
    ap.add_argument("targets", help="BED with a gene (4th) column")
    args = ap.parse_args()
    targets = read_bed(args.targets, names=("chrom", "start", "end", "gene"))
    t0 = time.process_time()
    new, _ = target_depths(args.bam, targets)
    t_new = time.process_time() - t0
    t0 = time.process_time()
    with pysam.AlignmentFile(args.bam) as bam:
        old = [
            np.sum(bam.count_coverage(r.chrom, r.start, r.end, quality_threshold=0), axis=0)
            for r in targets.itertuples(index=False)
        ]
    t_old = time.process_time() - t0
    differ = sum(int(o.mean() != n) for o, n in zip(old, new["mean_depth"], strict=True))
    print(f"targets {len(targets)}, median of mean depths {new['mean_depth'].median():.0f}")
    print(f"kernel base_depth: {t_new:.2f} s CPU; pysam count_coverage: {t_old:.2f} s CPU")
    print(f"targets whose mean depth differs: {differ}")


if __name__ == "__main__":
    main()
