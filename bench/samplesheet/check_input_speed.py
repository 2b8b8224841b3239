"""How fast is the deep per-unit input check? Prints a table (not a test).

Writes a deterministic gzip FASTQ pair (N pairs of 150 bp cut from the panel reference) and a
BAM of the same reads to a temporary folder, then times ``check_fastq_pair`` and ``check_bam``
against the floor of just decompressing (``gzip -dc | wc -l``, ``samtools view -c``).

    .venv/bin/python bench/samplesheet/check_input_speed.py [N_PAIRS]   # default 200000
"""

from __future__ import annotations

import gzip
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pysam

from resistcall.inputs.deep import check_bam, check_fastq_pair

REPO = Path(__file__).resolve().parents[2]
FASTA = REPO / "resources" / "reference" / "panel_GRCh38.fa"
CONTIG, SPAN, READ, FRAG = "chr2_29196228_29226309", 1904, 150, 300


def write_data(folder: Path, n: int) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(7)
    with pysam.FastaFile(str(FASTA)) as fa:
        ref = fa.fetch(CONTIG, 0, SPAN).upper()
        header = {
            "HD": {"VN": "1.6", "SO": "unsorted"},
            "SQ": [{"SN": s, "LN": ln} for s, ln in zip(fa.references, fa.lengths, strict=True)],
        }
    comp = str.maketrans("ACGT", "TGCA")
    starts = rng.integers(0, SPAN - FRAG, n)
    qual = "".join(chr(33 + q) for q in rng.choice([25, 32, 37], READ))
    r1, r2 = folder / "b_R1.fastq.gz", folder / "b_R2.fastq.gz"
    bam = folder / "b.bam"
    with (
        gzip.open(r1, "wt", compresslevel=1) as h1,
        gzip.open(r2, "wt", compresslevel=1) as h2,
        pysam.AlignmentFile(str(bam), "wb", header=header) as out,
    ):
        tid = out.get_tid(CONTIG)
        for i, s in enumerate(starts):
            a = ref[s : s + READ]
            b = ref[s + FRAG - READ : s + FRAG].translate(comp)[::-1]
            h1.write(f"@r{i} 1:N:0:1\n{a}\n+\n{qual}\n")
            h2.write(f"@r{i} 2:N:0:1\n{b}\n+\n{qual}\n")
            seg = pysam.AlignedSegment(out.header)
            seg.query_name, seg.query_sequence, seg.flag = f"r{i}", a, 0
            seg.reference_id, seg.reference_start, seg.cigarstring = tid, int(s), f"{READ}M"
            seg.mapping_quality = 60
            seg.query_qualities = pysam.qualitystring_to_array(qual)
            out.write(seg)
    return r1, r2, bam


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    with tempfile.TemporaryDirectory() as tmp:
        r1, r2, bam = write_data(Path(tmp), n)
        mb = (r1.stat().st_size + r2.stat().st_size) / 1e6
        rows = []
        t, res = timed(lambda: check_fastq_pair(r1, r2))
        rows.append(("check_fastq_pair (resistcall)", t, res))
        t, res = timed(
            lambda: subprocess.run(
                f"gzip -dc {r1} | wc -l; gzip -dc {r2} | wc -l",
                shell=True,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()[0]
        )
        rows.append(("gzip -dc | wc -l, both files (floor)", t, int(res) // 4))
        t, res = timed(lambda: check_bam(bam, FASTA))
        rows.append(("check_bam (resistcall)", t, res))
        t, res = timed(
            lambda: subprocess.run(
                ["samtools", "view", "-c", str(bam)], check=True, capture_output=True, text=True
            ).stdout.strip()
        )
        rows.append(("samtools view -c (floor)", t, res))
    print(f"{n} read pairs of {READ} bp, FASTQ pair {mb:.1f} MB gzip (level 1)")
    print(f"{'method':40s} {'seconds':>8s} {'records':>9s} {'k rec/s':>8s}")
    for name, t, res in rows:
        print(f"{name:40s} {t:8.2f} {int(res):9d} {int(res) / t / 1e3:8.0f}")


if __name__ == "__main__":
    main()
