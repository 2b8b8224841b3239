"""bwa index reuse, both ways, on a small FASTA (snakemake dry runs of the real workflow):
an index next to the FASTA or named by reference.bwa_index is used and never rebuilt; without
one, rule bwa_index builds it once under results/reference/."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import REFERENCE, REPO, copy_workflow, snakemake

FQ = "@r1/{mate}\nACGTACGTAC\n+\nIIIIIIIIII\n"


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    work = copy_workflow(tmp_path_factory.mktemp("index"))
    for sample in ("H3122_P", "H3122_CR1", "H3122_CR2"):
        for mate in (1, 2):
            path = work / "demo_data" / f"{sample}_R{mate}.fastq.gz"
            path.parent.mkdir(exist_ok=True)
            with gzip.open(path, "wt") as handle:
                handle.write(FQ.format(mate=mate))
    return work


def _jobs(work: Path, reference: dict) -> dict[str, str]:
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["reference"].update(reference)
    (work / "config" / "run.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(work, "-n", "-p", "--configfile", "config/run.yaml", "--forceall")
    text = proc.stdout + proc.stderr
    bwa_mem = next(line for line in text.splitlines() if "(bwa mem" in line)
    return {"text": text, "bwa_mem": bwa_mem}


def test_index_next_to_the_fasta_is_used(work, bwa_index):
    jobs = _jobs(work, {"fasta": str(bwa_index)})
    assert "rule bwa_index:" not in jobs["text"]
    assert f" {bwa_index} demo_data/" in jobs["bwa_mem"]


def test_configured_index_prefix_is_used(work, bwa_index, tmp_path):
    fasta = tmp_path / "plain.fa"  # no index beside it
    shutil.copy(REFERENCE, fasta)
    shutil.copy(f"{REFERENCE}.fai", f"{fasta}.fai")
    jobs = _jobs(work, {"fasta": str(fasta), "bwa_index": str(bwa_index)})
    assert "rule bwa_index:" not in jobs["text"]
    assert f" {bwa_index} demo_data/" in jobs["bwa_mem"]


def test_without_an_index_one_is_built_once_under_results(work, tmp_path):
    fasta = tmp_path / "plain.fa"
    shutil.copy(REFERENCE, fasta)
    shutil.copy(f"{REFERENCE}.fai", f"{fasta}.fai")
    jobs = _jobs(work, {"fasta": str(fasta)})
    assert jobs["text"].count("rule bwa_index:") == 1
    assert "bwa index -p results/reference/genome.fa" in jobs["text"]
    assert " results/reference/genome.fa demo_data/" in jobs["bwa_mem"]


def test_bwa_memory_and_time_scale_with_the_genome(work, tmp_path):
    """bwa index/mem ask ~1.8 bytes per genome base (whole genome ~5.5 GB) and index time ~20
    min per Gb (docs/reference.md), from the .fai: a .fai listing a 3 Gb genome (the panel
    contigs plus a 3,000,000,000 bp chr1 whose sequence is not read by a dry run)."""
    fasta = tmp_path / "big.fa"
    panel = REFERENCE.read_bytes()
    fasta.write_bytes(panel + b">chr1\nACGT\n")
    fai = Path(f"{REFERENCE}.fai").read_text()
    fai += f"chr1\t3000000000\t{len(panel) + 6}\t4\t5\n"
    Path(f"{fasta}.fai").write_text(fai)
    genome = sum(int(line.split("\t")[1]) for line in fai.splitlines())
    text = _jobs(work, {"fasta": str(fasta)})["text"]
    need = int(1.8 * genome / 1e6) + 500  # ~5.9 GB
    blocks = {b.split(":", 1)[0]: b for b in text.split("rule ")[1:]}
    assert f"mem_mb={need}" in blocks["bwa_index"]
    # bwa mem's samtools sort holds -m 512M per thread (2 threads, config/resources.yaml)
    assert f"mem_mb={need + 512 * 2}" in blocks["bwa_mem"]
    assert f"runtime={int(20 * genome / 1e9) + 10}" in blocks["bwa_index"]  # ~1 h
