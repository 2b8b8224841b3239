"""Real capture BAMs turned back into read pairs and realigned to a reference.

Shared by the session fixtures in conftest.py and bench/fusion (one implementation): secondary
and supplementary records are dropped (-F 0x900) so each fragment gives one pair, as a lab's
FASTQ would.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def bam_to_fastq(bam: Path, r1: Path, r2: Path, work: Path) -> None:
    """Primary read pairs of a coordinate-sorted BAM as two FASTQ files (collate + fastq)."""
    subprocess.run(
        f"samtools collate -Ou {bam} {work}/col_{bam.stem} | samtools view -u -F 0x900 - "
        f"| samtools fastq -n -1 {r1} -2 {r2} -0 /dev/null -s /dev/null -",
        shell=True,
        check=True,
        capture_output=True,
    )


def bwa_align(index: Path, r1: Path, r2: Path, name: str, bam: Path) -> None:
    """bwa mem with a read group named after the sample, sorted and indexed."""
    subprocess.run(
        f"bwa mem -v 1 -t 2 -R '@RG\\tID:{name}\\tSM:{name}' {index} {r1} {r2} "
        f"| samtools sort -o {bam} - && samtools index {bam}",
        shell=True,
        check=True,
        capture_output=True,
    )
