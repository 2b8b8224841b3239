"""Score resistcall, bcftools mpileup and freebayes on the real-read spike-in truth sets.

Usage: evaluate.py OUTDIR   (after run_bench.sh). Prints markdown tables.

A tool "calls" a spike when it reports the truth (pos, ref, alt) as new in the resistant half:
- resistcall: FILTER PASS and FORMAT/STATUS acquired or enriched in the resistant sample.
- bcftools mpileup (-a AD, no caller: the genotype model cannot see 1% VAF) and freebayes
  (--pooled-continuous -F 0.01 -C 2): resistant alt reads >= 3, resistant VAF >= 1%, and
  parental VAF <= 1/5 of the resistant VAF (parental subtraction).
Everything else a tool calls new in the resistant half is a false positive. The unspiked
halves (same split, no spikes) count false `acquired` calls directly.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
from cyvcf2 import VCF

from resistcall.pileup import PileupParams, Reader, count_region

TOOLS = ("resistcall", "bcftools", "freebayes")
MIN_ALT, MIN_VAF, SUBTRACT = 3, 0.01, 0.2


def calls_resistcall(path: Path) -> set[tuple]:
    vcf = VCF(str(path))
    out = set()
    for v in vcf:
        st = v.format("STATUS")
        if v.FILTER is None and st is not None and st[1] in ("acquired", "enriched"):
            out.add((v.CHROM, v.POS, v.REF, v.ALT[0]))
    return out


def calls_peer(path: Path, ad_tags: tuple[str, str] | None) -> set[tuple]:
    vcf = VCF(str(path))
    # column order differs between tools (freebayes sorts samples): parental is the "_A" half
    order = [0, 1] if vcf.samples[0].endswith("_A") else [1, 0]
    out = set()
    for v in vcf:
        if not v.ALT or v.ALT[0] in ("<*>", "*"):
            continue
        if ad_tags is None:  # bcftools: AD = ref,alt
            ad = v.format("AD")
            ref, alt = ad[:, 0].astype(float), ad[:, 1].astype(float)
        else:
            ref = v.format(ad_tags[0])[:, 0].astype(float)
            alt = v.format(ad_tags[1])[:, 0].astype(float)
        ref, alt = np.maximum(ref[order], 0), np.maximum(alt[order], 0)
        vaf = alt / np.maximum(ref + alt, 1)
        if alt[1] >= MIN_ALT and vaf[1] >= MIN_VAF and vaf[0] <= SUBTRACT * vaf[1]:
            out.add((v.CHROM, v.POS, v.REF, v.ALT[0]))
    return out


def tool_calls(out: Path, case: str) -> dict[str, set]:
    return {
        "resistcall": calls_resistcall(out / f"{case}.rc.vcf.gz"),
        "bcftools": calls_peer(out / f"{case}.bcf.vcf.gz", None),
        "freebayes": calls_peer(out / f"{case}.fb.vcf.gz", ("RO", "AO")),
    }


def site_depth(bam: Path, truth: pd.DataFrame) -> np.ndarray:
    """Fragments covering each truth site (overlapping mates once, BQ/MAPQ >= 20)."""
    params = PileupParams(min_base_quality=20)  # fixed definition, whatever the caller uses
    with (
        Reader(bam) as b,
        pysam.FastaFile(str(bam.parent / "ref/panel.fa")) as fa,
    ):
        return np.array(
            [
                int(count_region(b, fa, r.contig, r.pos - 1, r.pos, params).depth[0])
                for r in truth.itertuples()
            ]
        )


def keys_of(truth: pd.DataFrame):
    return zip(truth.contig, truth.pos, truth.ref, truth.alt, strict=True)


def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / max(2 * tp + fp + fn, 1)


def main() -> None:
    out = Path(sys.argv[1])
    cases = pd.read_csv(out / "cases.tsv", sep="\t", header=None, names=["line", "seed", "prefix"])
    rows, neg, times = [], [], []
    for line, pre in zip(cases.line, cases.prefix, strict=True):
        truth = pd.read_csv(out / f"{pre}.truth.tsv", sep="\t")
        truth["depth"] = site_depth(out / f"{pre}.Bspk.bam", truth)
        keys = set(zip(truth.contig, truth.pos, truth.ref, truth.alt, strict=True))
        calls = tool_calls(out, f"{pre}.spiked")
        for tool in TOOLS:
            hit = [
                k in calls[tool]
                for k in zip(truth.contig, truth.pos, truth.ref, truth.alt, strict=True)
            ]
            t = truth.assign(tool=tool, hit=hit, line=line)
            rows.append(t)
            fp = len(calls[tool] - keys)
            negc = tool_calls(out, f"{pre}.neg")[tool]
            neg.append(
                {"line": line, "tool": tool, "fp_spiked": fp, "false_acquired_unspiked": len(negc)}
            )
        for case in ("spiked", "neg"):
            for tool, suf in zip(TOOLS, ("rc", "bcf", "fb"), strict=True):
                p = out / f"{pre}.{case}.{suf}.time"
                if p.exists():
                    sec, kb = p.read_text().split()
                    times.append(
                        {
                            "case": f"{pre}.{case}",
                            "tool": tool,
                            "wall_s": float(sec),
                            "max_rss_MB": round(int(kb) / 1024, 1),
                        }
                    )
    res = pd.concat(rows, ignore_index=True)
    deep = res[res.depth >= 200]
    print(
        "## Sensitivity by VAF (spikes at >= 200 fragments in the resistant half; "
        f"n per tool = {len(deep) // 3})\n"
    )
    tab = deep.pivot_table(index="vaf", columns="tool", values="hit", aggfunc="mean").round(3)
    tab["n"] = deep[deep.tool == "resistcall"].groupby("vaf").size()
    print(tab[list(TOOLS) + ["n"]].to_markdown())
    deep = deep.assign(depth_bin=pd.cut(deep.depth, [199, 399, 10**7], labels=["200-399", ">=400"]))
    by_depth = deep[deep.vaf <= 0.02].pivot_table(
        index=["vaf", "depth_bin"], columns="tool", values="hit", aggfunc="mean", observed=True
    )
    by_depth["n"] = (
        deep[(deep.vaf <= 0.02) & (deep.tool == "resistcall")]
        .groupby(["vaf", "depth_bin"], observed=True)
        .size()
    )
    print("\nLow VAF by resistant-half depth:\n")
    print(by_depth.round(3)[list(TOOLS) + ["n"]].to_markdown())
    ge2 = deep[deep.vaf >= 0.02].groupby("tool")["hit"].mean().round(3)
    print(f"\nsensitivity at VAF >= 2%: {ge2.to_dict()}\n")
    print("## Sensitivity by variant type (all depths)\n")
    print(
        res.pivot_table(index="kind", columns="tool", values="hit", aggfunc="mean")
        .round(3)[list(TOOLS)]
        .to_markdown()
    )
    negdf = pd.DataFrame(neg)
    print("\n## False positives and F1 (all spikes, both lines)\n")
    summ = []
    for tool in TOOLS:
        r = res[res.tool == tool]
        tp = int(r.hit.sum())
        fn = int((~r.hit).sum())
        fp = int(negdf[negdf.tool == tool].fp_spiked.sum())
        summ.append(
            {
                "tool": tool,
                "TP": tp,
                "FN": fn,
                "FP": fp,
                "precision": round(tp / max(tp + fp, 1), 3),
                "recall": round(tp / max(tp + fn, 1), 3),
                "F1": round(f1(tp, fp, fn), 3),
            }
        )
    print(pd.DataFrame(summ).to_markdown(index=False))
    print("\n## False acquired calls on unspiked real halves (A vs B of one line)\n")
    print(
        negdf.pivot_table(
            index="line", columns="tool", values="false_acquired_unspiked", aggfunc="sum"
        )[list(TOOLS)].to_markdown()
    )
    print(f"\n(splits per line: {cases.groupby('line').size().to_dict()})")
    hot_path = out / "hot_cases.tsv"
    if hot_path.exists() and hot_path.stat().st_size:
        hot = pd.read_csv(hot_path, sep="\t", header=None, names=["line", "seed", "prefix"])
        hrows, hfp = [], {t: 0 for t in TOOLS}
        for pre in hot.prefix:
            truth = pd.read_csv(out / f"{pre}.hottruth.tsv", sep="\t")
            truth["depth"] = site_depth(out / f"{pre}.Bhot.bam", truth)
            keys = set(zip(truth.contig, truth.pos, truth.ref, truth.alt, strict=True))
            calls = tool_calls(out, f"{pre}.hot")
            for tool in TOOLS:
                hit = [k in calls[tool] for k in keys_of(truth)]
                hrows.append(truth.assign(tool=tool, hit=hit))
                hfp[tool] += len(calls[tool] - keys)
        hres = pd.concat(hrows, ignore_index=True)
        hdeep = hres[hres.depth >= 200]
        print(
            "\n## Hotspot spikes (SNVs on ALK known-resistance codon bases, resistcall given "
            f"--hotspots; >= 200x; n per tool = {len(hdeep) // 3})\n"
        )
        tab = hdeep.pivot_table(index="vaf", columns="tool", values="hit", aggfunc="mean")
        tab = tab.round(3)[list(TOOLS)]
        tab["n"] = hdeep[hdeep.tool == "resistcall"].groupby("vaf").size()
        print(tab.to_markdown())
        print(f"\nfalse positives in these cases: {hfp}")
    if times:
        print("\n## Wall time / peak memory per case\n")
        tdf = pd.DataFrame(times)
        print(tdf.groupby("tool")[["wall_s", "max_rss_MB"]].agg(["median", "max"]).to_markdown())


if __name__ == "__main__":
    main()
