"""Shared fixtures: repository paths and the optional ../shared folder."""

from __future__ import annotations

import gzip
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from realreads import bam_to_fastq, bwa_align

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFERENCE = REPO / "resources" / "reference" / "panel_GRCh38.fa"
GTF = REPO / "resources" / "reference" / "panel_GRCh38.gtf"
TARGETS = REPO / "resources" / "panel" / "demo_capture_targets.bed"


@pytest.fixture(scope="session")
def bwa_index(tmp_path_factory) -> Path:
    """The panel FASTA with its .fai and a bwa index in a scratch folder, built once per run."""
    if shutil.which("bwa") is None or shutil.which("samtools") is None:
        pytest.skip("bwa/samtools not installed")
    fasta = tmp_path_factory.mktemp("bwa") / "panel.fa"
    shutil.copy(REFERENCE, fasta)
    shutil.copy(f"{REFERENCE}.fai", f"{fasta}.fai")
    subprocess.run(["bwa", "index", str(fasta)], check=True, capture_output=True)
    return fasta


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the repo; tests that need it skip cleanly on a fresh machine."""
    if not (SHARED / "realdata").is_dir():
        pytest.skip(f"real data folder {SHARED} is absent (only present in development/CI)")
    return SHARED


# --------------------------------------------------------------------------- workflow runs
#: The venv's executables (resistcall, snakemake).
BIN = Path(sys.executable).parent
#: What a user's checkout needs to run the workflow (the package itself is installed).
WORKFLOW_FILES = ("workflow", "config", "resources", "profiles")


def run_env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def env_without_venv() -> dict[str, str]:
    """The environment of a user who has not activated the venv: no venv folder on PATH."""
    venv_bins = {BIN.resolve(), (Path(sys.prefix) / "bin").resolve()}
    path = [p for p in os.environ["PATH"].split(os.pathsep) if Path(p).resolve() not in venv_bins]
    env = {**os.environ, "PATH": os.pathsep.join(path)}
    env.pop("VIRTUAL_ENV", None)
    return env


def readme_command(startswith: str) -> list[str]:
    """A command exactly as README.md writes it (its first code line starting with this)."""
    lines = (REPO / "README.md").read_text().splitlines()
    found = [line.strip() for line in lines if line.strip().startswith(startswith)]
    assert found, f"README.md has no command starting with {startswith!r}"
    return shlex.split(found[0])


def run(
    args: list[str], cwd: Path, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run a command (by default with the venv first on PATH); on failure show its output's end."""
    proc = subprocess.run(args, cwd=cwd, env=env or run_env(), capture_output=True, text=True)
    if check and proc.returncode != 0:
        tail = f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        raise AssertionError(f"{' '.join(map(str, args))} failed:\n{tail}")
    return proc


def snakemake(work: Path, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(
        [str(BIN / "snakemake"), "--cores", "2", "--workflow-profile", "profiles/default", *extra],
        work,
        check=check,
    )


def copy_workflow(dest: Path) -> Path:
    """A scratch copy of the workflow, as a user's checkout would have it."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def stub_demo_fastqs(work: Path) -> None:
    """One valid record in every FASTQ the units sheet of ``work`` names: enough for a dry
    run, which only checks the sheets."""
    (work / "demo_data").mkdir(exist_ok=True)
    for unit in pd.read_csv(work / "config" / "units.tsv", sep="\t").itertuples():
        for fq in (unit.fq1, unit.fq2):
            with gzip.open(work / fq, "wt") as f:
                f.write("@r1\nACGT\n+\nIIII\n")


# --------------------------------------------------------------------------- whole genome
@pytest.fixture(scope="session")
def genome38(tmp_path_factory) -> dict[str, Path]:
    """Whole-chromosome GRCh38 test genome (tests/wholegenome.py): real-length chr2 with the real
    ALK and EML4 sequence in place, a GENCODE-shaped GTF (gzipped) and a probe-named BED."""
    from wholegenome import CHR2_GRCH38, gencode_gtf, probe_bed, write_chromosome

    if shutil.which("samtools") is None:
        pytest.skip("samtools not installed")
    d = tmp_path_factory.mktemp("genome38")
    fasta = write_chromosome(
        d / "chr2.fa", "chr2", CHR2_GRCH38, ["chr2_29196228_29226309", "chr2_42175501_42332600"]
    )
    return {
        "fasta": fasta,
        "gtf": gencode_gtf(d / "gencode.gtf.gz"),
        "targets": probe_bed(
            d / "probes.bed",
            {"ALK", "EML4"},
            backbone=[("chr2", 100_000_000), ("chr2", 150_000_000)],
        ),
    }


@pytest.fixture(scope="session")
def genome37(tmp_path_factory) -> dict[str, Path]:
    """Whole-chromosome GRCh37 test genome: real-length chr7 (159,138,663 bp) with the real EGFR
    sequence at its GRCh37 coordinates and a GENCODE v19-shaped GTF (no MANE/canonical tags)."""
    from wholegenome import CHR7_GRCH37, EGFR_GRCH37_SHIFT, gencode_gtf, write_chromosome

    if shutil.which("samtools") is None:
        pytest.skip("samtools not installed")
    d = tmp_path_factory.mktemp("genome37")
    fasta = write_chromosome(
        d / "chr7.fa", "chr7", CHR7_GRCH37, ["chr7_55017807_55211651"], shift=EGFR_GRCH37_SHIFT
    )
    gtf = gencode_gtf(d / "gencode.v19.gtf.gz", shifts={"chr7": EGFR_GRCH37_SHIFT}, mane=False)
    return {"fasta": fasta, "gtf": gtf}


# --------------------------------------------------------------------------- real reads
def _fastq_records(path: Path):
    with open(path) as handle:
        while True:
            rec = [handle.readline() for _ in range(4)]
            if not rec[0]:
                return
            yield rec


@pytest.fixture(scope="session")
def real_panel_reads(shared_dir, tmp_path_factory) -> dict[str, Path]:
    """Real capture read pairs (../shared/realdata/DNAfusion) as FASTQ: H3122, HCC827 and the
    two halves of H3122 (split by a hash of the read name), extracted once per run."""
    import zlib

    if shutil.which("samtools") is None:
        pytest.skip("samtools not installed")
    out = tmp_path_factory.mktemp("real_reads")
    fq: dict[str, Path] = {}
    for line in ("H3122", "HCC827"):
        bam = shared_dir / "realdata" / "DNAfusion" / f"{line}_EML4.bam"
        r1, r2 = out / f"{line}_1.fq", out / f"{line}_2.fq"
        bam_to_fastq(bam, r1, r2, out)
        fq[f"{line}_1"], fq[f"{line}_2"] = r1, r2
    for mate in (1, 2):
        halves = {h: open(out / f"H3122_{h}_{mate}.fq", "w") for h in "AB"}  # noqa: SIM115
        for rec in _fastq_records(fq[f"H3122_{mate}"]):
            name = rec[0][1:].split()[0]
            halves["A" if zlib.crc32(name.encode()) % 2 == 0 else "B"].writelines(rec)
        for h, handle in halves.items():
            handle.close()
            fq[f"H3122_{h}_{mate}"] = out / f"H3122_{h}_{mate}.fq"
    return fq


@pytest.fixture(scope="session")
def real_panel_bams(real_panel_reads, bwa_index, tmp_path_factory) -> dict[str, Path]:
    """The real reads above aligned to the panel reference (bwa mem), sorted and indexed."""
    out = tmp_path_factory.mktemp("real_bams")
    bams: dict[str, Path] = {"fasta": bwa_index, "targets": TARGETS}
    for name in ("H3122", "HCC827", "H3122_A", "H3122_B"):
        bam = out / f"{name}.bam"
        r1, r2 = real_panel_reads[f"{name}_1"], real_panel_reads[f"{name}_2"]
        bwa_align(bwa_index, r1, r2, name, bam)
        bams[name] = bam
    return bams
