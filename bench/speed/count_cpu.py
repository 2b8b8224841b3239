"""CPU seconds of ``pileup.count_regions`` per BAM: this checkout vs another's ``src`` (--before),
interleaved, each run in a fresh process, counting alone (imports and region merging excluded).

    .venv/bin/python bench/speed/count_cpu.py --reference REF.fa --regions R.bed \\
        --assay amplicon --before /tmp/kbefore/src --repeats 5 A.bam B.bam
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

RUN = """
import sys, time
import pysam
from resistcall.pileup import PileupParams, count_regions
from resistcall.snv import merged_regions
bam, ref, regions, assay = sys.argv[1:]
with pysam.FastaFile(ref) as fa:
    reg = merged_regions(regions, fa)
t0 = time.process_time()
count_regions(bam, ref, reg, PileupParams.for_assay(assay))
print(time.process_time() - t0)
"""


def cpu_s(bam: str, args, src: str | None) -> float:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if src:
        env["PYTHONPATH"] = src
    cmd = [sys.executable, "-c", RUN, bam, args.reference, args.regions, args.assay]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return float(out.split()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reference", required=True)
    ap.add_argument("--regions", required=True)
    ap.add_argument("--assay", choices=("capture", "amplicon"), default="amplicon")
    ap.add_argument("--before", help="src folder of another resistcall (with its kernel)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("bams", nargs="+")
    args = ap.parse_args(argv)
    codes = {"after": None, **({"before": args.before} if args.before else {})}
    times: dict[tuple[str, str], list[float]] = {}
    for rep in range(args.repeats):
        for bam in args.bams:
            for label, src in codes.items():
                t = cpu_s(bam, args, src)
                times.setdefault((Path(bam).name, label), []).append(t)
                load = os.getloadavg()[0]
                print(f"round {rep + 1} {Path(bam).name} {label}: {t:.2f} s (load1 {load:.1f})")
    print("\nBAM | code | CPU s median (min-max)")
    for (bam, label), ts in times.items():
        print(f"{bam} | {label} | {statistics.median(ts):.2f} ({min(ts):.2f}-{max(ts):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
