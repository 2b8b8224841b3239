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

import numpy as np
import pysam

from resistcall.fusion import (
    Settings,
    detection_limit,
    detection_power,
    load_genes,
    run,
    spanning_counts,
)
from resistcall.fusion_evidence import BamFrame, PanelSequence

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
        "limit_before",
        "spanning_fragments",
        "spanning_split_reads",
        "detection_limit_af",
    ]
    if extra:
        cols.insert(1, "input")
    print("\t".join(cols))
    for r in rows:
        vals = {
            **r,
            "fusion": f"{r['gene_5p']}-{r['gene_3p']}",
            "bp_offset_5p/3p": offsets(r),
            "limit_before": limit_before(r),
        }
        if extra:
            vals["input"] = extra.get(r["sample"], "")
        print("\t".join(str(vals[c]) for c in cols))


def limit_before(r: dict) -> str:
    """The limit fusions.tsv gave before 2026-12-03: min(1, min_fragments / region_depth)."""
    if r["region_depth"] in (".", None):
        return "."
    return f"{min(1.0, int(r['min_fragments']) / float(r['region_depth'])):.3g}"


def is_v1(r: dict) -> bool:
    return r["variant"] == "v1" and offsets(r) == "+0/+0"


def dilution_check(rows: list[dict], h3122: dict, fractions: dict[str, float]) -> None:
    """Is each dilution point's call what the 95%-power limit says?

    The mix's expected fusion support is the fraction x of H3122's own v1 fragments (pairs
    subsampled at rate x: Poisson thinning), so its fusion allele fraction in the model's unit
    is af_expected = x * H3122 fragments / the mix's spanning_fragments; af_seen uses the v1
    fragments found in the mix. P(call) = detection_power at af_expected (split fragments:
    x * H3122 split reads of them)."""
    print("\n## dilution vs the 95%-power limit")
    cols = [
        "sample",
        "x",
        "sample_call",
        "v1_fragments",
        "spanning_fragments",
        "detection_limit_af",
        "af_expected",
        "af_seen",
        "P(call)_model",
        "expected>=limit",
    ]
    print("\t".join(cols))
    m, s = int(h3122["min_fragments"]), int(h3122["min_split_reads"])
    calls = {b["sample"]: b["sample_call"] for b in best_rows(rows)}
    for sample, x in fractions.items():
        mine = [r for r in rows if r["sample"] == sample]
        r = mine[-1]  # every row of a sample has the same spanning fragments and limit
        v1 = [q for q in mine if is_v1(q)]
        n_span, n_split = float(r["spanning_fragments"]), float(r["spanning_split_reads"])
        lam, lam_s = x * h3122["fragments"], x * h3122["split_reads"]
        # detection_power takes (f, n_span, n_split); f = 1 with the rates as counts
        p_call = detection_power(1.0, lam, min(lam_s, lam), m, s)
        limit = detection_limit(n_span, n_split, m, s)
        seen = v1[0]["fragments"] if v1 else 0
        vals = [
            sample,
            f"{x:g}",
            calls[sample],
            str(seen),
            r["spanning_fragments"],
            r["detection_limit_af"],
            f"{lam / n_span:.3g}",
            f"{seen / n_span:.3g}",
            f"{p_call:.2f}",
            "yes" if lam / n_span >= limit else "no",
        ]
        print("\t".join(vals))


def breakpoint_step(h3122: Path, hcc827: Path) -> None:
    """An allele fraction for H3122 not taken from its fusion reads: ALK keeps the sequence
    below 29,223,741 (its 3' part) in the fusion, so if there is no reciprocal copy the fused
    molecules add to the spanning fragments below the breakpoint only. Per position, the
    H3122 / HCC827 ratio of spanning fragments (HCC827 cancels the capture profile): f = 1 -
    ratio above / ratio below. The model predicts f / (1 - f) x n_span above (wild type only)
    supporting fragments."""
    panel = PanelSequence(REF)
    alk = load_genes(GTF, panel.lengths)["ALK"]
    below = np.arange(ALK_BP - 400, ALK_BP - 19, 25)
    above = np.arange(ALK_BP + 20, alk.breakpoint_region()[1] + 1, 25)
    counts = {}
    for bam_path in (h3122, hcc827):
        with pysam.AlignmentFile(str(bam_path)) as bam:
            frame = BamFrame(bam, str(bam_path), panel)
            got = [
                spanning_counts(bam, frame, panel, "chr2", p, Settings()) for p in (below, above)
            ]
            counts[bam_path.stem] = [g[0] for g in got if g is not None]
    (h_lo, h_hi), (c_lo, c_hi) = counts[h3122.stem], counts[hcc827.stem]
    r_lo, r_hi = float(np.median(h_lo / c_lo)), float(np.median(h_hi / c_hi))
    f = 1 - r_hi / r_lo
    wild = float(np.median(h_hi))
    print(
        "\n## H3122 allele fraction from the spanning-fragment step at ALK 29,223,741"
        f"\nH3122/HCC827 spanning fragments: median ratio {r_lo:.3f} below ({below.size} "
        f"positions {below[0]}-{below[-1]}), {r_hi:.3f} above ({above.size} positions "
        f"{above[0]}-{above[-1]}); f = {f:.3f}; H3122 n_span above {wild:.0f} -> the model "
        f"expects {f / (1 - f) * wild:.0f} supporting fragments"
    )


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
    h3122 = next(r for r in rows if r["sample"] == "H3122_EML4" and is_v1(r))
    breakpoint_step(*shipped)

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
    labels, fractions = {}, {}
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
        fractions[name] = frac
    rows, secs = timed_call(dil, work / "dilution")
    show("dilution: H3122 subsampled into HCC827 (hg38 BAMs)", best_rows(rows), secs, labels)
    dilution_check(rows, h3122, fractions)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
