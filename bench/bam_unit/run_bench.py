"""BAM-unit benchmark: `resistcall bam-unit` (the FASTA's header for an aligned unit) on the real
HCC827 DNAfusion BAM (hg38, 455 @SQ) merged N times, against the samtools-only pipeline the
rule ran before (addreplacerg | view --remove-flags 0x400 | collate | fixmate -m | sort).

The FASTA is a stub whose .fai holds chr2 at its real length (bam-unit reads only the .fai).

    python bench/bam_unit/run_bench.py --out /tmp/bamunitbench   # prints the table for README.md
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

BAM = Path(__file__).resolve().parents[3] / "shared/realdata/DNAfusion/HCC827_EML4.bam"
RG = r"ID:a\tSM:a"


def _time(cmd: list[str]) -> tuple[float, float]:
    """(wall s, peak RSS MB) from /usr/bin/time."""
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%e %M", *cmd], capture_output=True, text=True, check=True
    )
    wall, rss = proc.stderr.strip().splitlines()[-1].split()
    return float(wall), int(rss) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--copies", type=int, default=10)
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    fasta = out / "chr2.fa"
    fasta.write_text(">chr2\nN\n")
    Path(f"{fasta}.fai").write_text("chr2\t242193529\t6\t1\t2\n")
    big = out / "big.bam"
    subprocess.run(
        ["samtools", "merge", "-f", "-o", str(big), *[str(BAM)] * args.copies], check=True
    )
    reads = int(subprocess.run(["samtools", "view", "-c", str(big)], capture_output=True,
                               text=True, check=True).stdout)  # fmt: skip
    tool = [sys.executable, "-m", "resistcall", "bam-unit", "--bam", str(big), "--reference",
            str(fasta), "--read-group", RG]  # fmt: skip
    old = (
        f"samtools addreplacerg -w -m overwrite_all -r '{RG}' -u -o - {big}"
        " | samtools view -u --remove-flags 0x400 -"
        f" | samtools collate -O -u - {out}/old.collate | samtools fixmate -m -u - -"
        f" | samtools sort -m 512M -T {out}/old.tmp -o {out}/old.bam -"
    )
    runs = {
        "bam-unit, used as given (no re-sort)": tool + ["--out", str(out / "given.bam")],
        "bam-unit, marked here (collate + fixmate -m + sort)": tool
        + ["--clear-duplicates", "--mate-tags", "--out", str(out / "marked.bam")],
        "before: samtools only (always collate + fixmate + sort)": [
            "bash", "-o", "pipefail", "-c", old,
        ],
    }  # fmt: skip
    print(f"{reads:,} reads ({args.copies} x HCC827_EML4.bam)\n")
    print("| path | wall s | peak RSS MB | reads/s |\n|---|---:|---:|---:|")
    for name, cmd in runs.items():
        wall, rss = _time(cmd)
        print(f"| {name} | {wall:.1f} | {rss:.0f} | {reads / wall:,.0f} |")


if __name__ == "__main__":
    main()
