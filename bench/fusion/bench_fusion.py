#!/usr/bin/env python
"""Measure resistcall fusion on the real H3122 (EML4-ALK v1) and HCC827 (negative) capture BAMs.

Three tables, printed as TSV-like text:
1. the BAMs as shipped (hg38 names, bwa 0.7.12 -M: split parts secondary, few SA tags);
2. the same reads back to FASTQ (samtools collate + fastq) and realigned with bwa mem to the
   panel reference (panel contigs, supplementary + SA);
3. a dilution series: H3122 reads subsampled (samtools view -s, pairs kept together) and merged
   with HCC827 reads, to see how many fragments remain and where the call is lost.

Run from the repository root: .venv/bin/python bench/fusion/bench_fusion.py [--out DIR]
Needs ../shared/realdata/DNAfusion, bwa and samtools. Work files go to --out (gitignored).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pysam

from resistcall.fusion import Settings, run

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from realreads import bam_to_fastq, bwa_align  # noqa: E402  (one implementation, with the tests)

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "realdata" / "DNAfusion"
REF = REPO / "resources" / "reference" / "panel_GRCh38.fa"
GTF = REPO / "resources" / "reference" / "panel_GRCh38.gtf"
EML4_BP, ALK_BP = 42299750, 29223741  # PROVENANCE_EML4.md


def timed_call(bams: list[Path], out: Path) -> tuple[list[dict], str]:
    """Run the caller; CPU time is the figure to trust on a shared machine, wall is shown too."""
    t0, c0 = time.perf_counter(), time.process_time()
    df = run(
        str(REF),
        str(GTF),
        [str(b) for b in bams],
        str(out / "fusions.tsv"),
        str(out / "fusions.vcf.gz"),
        Settings(),
    )
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return df.to_dict("records"), f"CPU {cpu:.1f} s, wall {wall:.1f} s"


def best_rows(rows: list[dict]) -> list[dict]:
    """Per sample: its strongest junction row (detected or below threshold; else the status
    row), with the sample's overall call (detected / not detected / not assessable)."""
    out: dict[str, dict] = {}
    for r in rows:
        out.setdefault(r["sample"], {"junction": None, "call": None})
        slot = out[r["sample"]]
        if r["call"] in ("detected", "below threshold"):
            if slot["junction"] is None or r["fragments"] > slot["junction"]["fragments"]:
                slot["junction"] = r
            if r["call"] == "detected":
                slot["call"] = "detected"
        elif slot["call"] is None:
            slot["call"] = r["call"]
            slot["status"] = r
    return [{**(v["junction"] or v["status"]), "sample_call": v["call"]} for v in out.values()]


def offsets(r: dict) -> str:
    if r["genomic_5p"] == "." or r["genomic_3p"] == ".":
        return "."
    d5 = int(r["genomic_5p"].split(":")[1]) - EML4_BP
    d3 = int(r["genomic_3p"].split(":")[1]) - ALK_BP
    return f"{d5:+d}/{d3:+d}"


def show(title: str, rows: list[dict], seconds: str, extra: dict | None = None) -> None:
    print(f"\n## {title}  (resistcall fusion: {seconds} for {len(rows)} BAMs, incl. index build)")
    cols = [
        "sample",
        "sample_call",
        "call",
        "fusion",
        "exons",
        "variant",
        "bp_offset_5p/3p",
        "split_reads",
        "discordant_pairs",
        "fragments",
        "region_depth",
        "detection_limit_af",
    ]
    if extra:
        cols.insert(1, "input")
    print("\t".join(cols))
    for r in rows:
        vals = {**r, "fusion": f"{r['gene_5p']}-{r['gene_3p']}", "bp_offset_5p/3p": offsets(r)}
        if extra:
            vals["input"] = extra.get(r["sample"], "")
        print("\t".join(str(vals[c]) for c in cols))


def realign(src: Path, name: str, index: Path, work: Path) -> tuple[Path, float]:
    """The shipped BAM's read pairs realigned to the panel (tests/realreads.py), timed."""
    t0 = time.perf_counter()
    r1, r2 = work / f"{name}.R1.fq", work / f"{name}.R2.fq"
    bam_to_fastq(src, r1, r2, work)
    bam = work / f"{name}.panel.bam"
    bwa_align(index, r1, r2, name, bam)
    return bam, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "bench" / "fusion" / "out"))
    args = ap.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"real data not found at {DATA}")
    work = Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    shipped = [DATA / "H3122_EML4.bam", DATA / "HCC827_EML4.bam"]

    rows, secs = timed_call(shipped, work / "shipped")
    show("BAMs as shipped (hg38, bwa -M)", best_rows(rows), secs)

    index = work / "panel.fa"
    shutil.copy(REF, index)
    shutil.copy(f"{REF}.fai", f"{index}.fai")
    t0 = time.perf_counter()
    subprocess.run(["bwa", "index", str(index)], check=True, capture_output=True)
    t_index = time.perf_counter() - t0
    realigned, t_align = [], {}
    for src, name in zip(shipped, ("H3122", "HCC827"), strict=True):
        bam, t_align[name] = realign(src, name, index, work)
        realigned.append(bam)
    rows, secs = timed_call(realigned, work / "realigned")
    show("realigned to the panel reference (bwa mem, no -M)", best_rows(rows), secs)
    print(
        f"bwa index {t_index:.1f} s; collate+fastq+bwa mem+sort: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in t_align.items())
    )

    dil = []
    labels = {}
    for frac in (0.5, 0.2, 0.1, 0.05, 0.02, 0.01):
        name = f"mix_{frac:g}"
        sub = work / f"{name}.h3122.bam"
        pysam.view(
            "-b", "-s", f"7{str(frac)[1:]}", "-o", str(sub), str(shipped[0]), catch_stdout=False
        )
        mixed = work / f"{name}.bam"
        pysam.merge("-f", "-o", str(mixed), str(sub), str(shipped[1]))
        pysam.index(str(mixed))
        dil.append(mixed)
        labels[name] = f"{frac:g} of H3122 + all HCC827"
    rows, secs = timed_call(dil, work / "dilution")
    show("dilution: H3122 subsampled into HCC827 (hg38 BAMs)", best_rows(rows), secs, labels)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
