"""1%-VAF accuracy of `resistcall snv` with and without a panel of normals, on one set of splits.

Usage (after run_bench.sh has made the split BAMs of OUTDIR):

    accuracy.py OUTDIR [--set KEY=VALUE ...] [--no-pon] [--label NAME]

(--set: any SnvConfig field, e.g. --set pon_noisy_p=1e-3 --set pon_weight=1000)

Tuning splits: bench/snv/out (SEEDS 11 23 37); held-out splits: bench/snv/out_heldout (SEEDS
41 53 67), made by run_bench.sh with OUT/SEEDS set. For each split (line, seed) the caller runs
in-process on the spiked case (A vs spiked B), the unspiked case (A vs B) and the hotspot case
(A vs hotspot-spiked B, with --hotspots/--gtf as the workflow runs it) and, where
named_spikes.sh made it, the named-allele hotspot case (A vs B spiked with the alleles that make
the table's protein changes, also with --hotspots/--gtf). The panel of normals of
a split is built (`resistcall pon`'s library function) from the *other* cell line's full BAM,
never from reads of the evaluated line. Prints Markdown tables: counts by VAF, 1% sensitivity by
depth bin, false calls (spiked and unspiked) and false calls per Mb of tested sequence.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from resistcall import hotspots, snv
from resistcall import pon as ponlib
from resistcall.pileup import ALLELES, PileupParams, Reader, count_region

sys.path.insert(0, str(Path(__file__).parent))
from evaluate import calls_resistcall, keys_of, site_depth  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OTHER = {"H3122": "HCC827", "HCC827": "H3122"}
DEPTH_BINS = [0, 199, 299, 399, 10**7]
DEPTH_LABELS = ["<200", "200-299", "300-399", ">=400"]


def pon_for(out: Path, line: str) -> Path:
    """PON of a split of ``line``: the other line's full BAM, built by this run (never a
    panel an earlier version wrote: a rerun measures the current code)."""
    path = out / f"pon.not{line}.tsv.gz"
    other = out / f"{OTHER[line]}.panel.bam"
    table, records = ponlib.build_pon(
        [str(other)], str(out / "ref/panel.fa"), str(out / "regions.bed")
    )
    ponlib.write_pon(table, records, path)
    return path


def alt_fragments(bam: Path, truth: pd.DataFrame) -> list[int]:
    """Distinct fragments carrying each spiked SNV's alt base (the caller's counting: BQ >= 25,
    overlapping mates once); -1 for indels."""
    out = []
    with (
        Reader(bam) as b,
        pysam.FastaFile(str(bam.parent / "ref/panel.fa")) as fa,
    ):
        for r in truth.itertuples():
            if len(r.ref) != 1 or len(r.alt) != 1:
                out.append(-1)
                continue
            c = count_region(b, fa, r.contig, r.pos - 1, r.pos, PileupParams())
            obs = c.base_obs[c.base_obs["allele"] == ALLELES.index(r.alt)]
            out.append(int(obs["frag"].nunique()))
    return out


def run_case(out: Path, dest: Path, pre: str, case: str, half: str, cfg, pon, hot: bool) -> Path:
    """Parental half A vs resistant ``half`` of split ``pre``; the VCF is written (again) under
    ``dest``."""
    vcf = dest / f"{pre}.{case}.vcf.gz"
    sites = (
        hotspots.sites_from_known(
            ROOT / "resources/known_resistance.tsv",
            ROOT / "resources/reference/panel_GRCh38.gtf",
            ROOT / "resources/reference/panel_GRCh38.fa",
        )
        if hot
        else None
    )
    snv.run(
        str(out / "ref/panel.fa"),
        str(out / "regions.bed"),
        [str(out / f"{pre}.{half}.bam")],
        str(vcf),
        str(out / f"{pre}.A.bam"),
        cfg,
        sites,
        pon=str(pon) if pon else None,
    )
    return vcf


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--set", action="append", default=[], help="SnvConfig field=value")
    ap.add_argument("--no-pon", action="store_true")
    ap.add_argument("--label", default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    out = args.out
    fields = {f.name: f.type for f in dataclasses.fields(snv.SnvConfig)}
    kw = {}
    for item in args.set:
        key, value = item.split("=", 1)
        kw[key] = int(value) if fields[key] in ("int", int) else float(value)
    cfg = snv.SnvConfig(**kw)
    label = args.label or "_".join(["nopon" if args.no_pon else "pon", *args.set])
    dest = out / "acc" / label
    dest.mkdir(parents=True, exist_ok=True)
    cases = pd.read_csv(out / "cases.tsv", sep="\t", header=None, names=["line", "seed", "pre"])
    rows, fps, negs, tested = [], 0, 0, 0
    hrows, hfps = [], 0
    nrows, nfps = [], 0
    pons = {} if args.no_pon else {line: pon_for(out, line) for line in dict.fromkeys(cases.line)}
    for line, pre in zip(cases.line, cases.pre, strict=True):
        pon = pons.get(line)
        truth = pd.read_csv(out / f"{pre}.truth.tsv", sep="\t")
        truth["depth"] = site_depth(out / f"{pre}.Bspk.bam", truth)
        truth["alt_frags"] = alt_fragments(out / f"{pre}.Bspk.bam", truth)
        vcf = run_case(out, dest, pre, "spiked", "Bspk", cfg, pon, False)
        calls = calls_resistcall(vcf)
        keys = set(keys_of(truth))
        rows.append(truth.assign(hit=[k in calls for k in keys_of(truth)], split=pre))
        fps += len(calls - keys)
        vcf = run_case(out, dest, pre, "neg", "B", cfg, pon, False)
        negs += len(calls_resistcall(vcf))
        bed = pd.read_csv(out / "regions.bed", sep="\t", header=None)
        tested += int((bed[2] - bed[1]).sum())
        hot = out / f"{pre}.hottruth.tsv"
        if hot.exists():
            ht = pd.read_csv(hot, sep="\t")
            ht["depth"] = site_depth(out / f"{pre}.Bhot.bam", ht)
            vcf = run_case(out, dest, pre, "hot", "Bhot", cfg, pon, True)
            hc = calls_resistcall(vcf)
            hrows.append(ht.assign(hit=[k in hc for k in keys_of(ht)]))
            hfps += len(hc - set(keys_of(ht)))
        named = out / f"{pre}.namedtruth.tsv"
        if named.exists():
            nt = pd.read_csv(named, sep="\t")
            nt["depth"] = site_depth(out / f"{pre}.Bnamed.bam", nt)
            nt["alt_frags"] = alt_fragments(out / f"{pre}.Bnamed.bam", nt)
            vcf = run_case(out, dest, pre, "named", "Bnamed", cfg, pon, True)
            nc = calls_resistcall(vcf)
            nrows.append(nt.assign(hit=[k in nc for k in keys_of(nt)], split=pre))
            nfps += len(nc - set(keys_of(nt)))
    res = pd.concat(rows, ignore_index=True)
    print(f"### {label} ({out.name}; splits {', '.join(cases.pre)})\n")
    by_vaf = res.groupby("vaf")["hit"].agg(["sum", "count"])
    print("| VAF | found | spikes |\n|---:|---:|---:|")
    for vaf, r in by_vaf.iterrows():
        print(f"| {vaf:g} | {int(r['sum'])} | {int(r['count'])} |")
    one = res[res.vaf == 0.01].assign(
        bin=lambda d: pd.cut(d.depth, DEPTH_BINS, labels=DEPTH_LABELS)
    )
    print("\n1% spikes by resistant-half depth:\n\n| depth | found | spikes | sensitivity |")
    print("|---|---:|---:|---:|")
    for b, g in one.groupby("bin", observed=True):
        print(f"| {b} | {int(g.hit.sum())} | {len(g)} | {g.hit.mean():.2f} |")
    print(f"| all | {int(one.hit.sum())} | {len(one)} | {one.hit.mean():.2f} |")
    mb = tested / 1e6
    tp = int(res.hit.sum())
    print(
        f"\nall spikes {tp}/{len(res)}; >= 2% VAF {int(res[res.vaf >= 0.02].hit.sum())}/"
        f"{int((res.vaf >= 0.02).sum())}; false calls in spiked cases {fps}, false acquired in "
        f"unspiked cases {negs}; tested {tested} positions x 2 cases = {2 * mb:.4f} Mb: "
        f"{(fps + negs) / (2 * mb):.0f} false calls per Mb (95% upper bound "
        f"{poisson_upper(fps + negs) / (2 * mb):.0f})"
    )
    if hrows:
        h = pd.concat(hrows, ignore_index=True)
        g = h.groupby("vaf")["hit"].agg(["sum", "count"])
        cells = ", ".join(f"{v:g}: {int(r['sum'])}/{int(r['count'])}" for v, r in g.iterrows())
        print(f"hotspot spikes (with --hotspots) {cells}; false calls {hfps}")
    if nrows:
        nh = pd.concat(nrows, ignore_index=True)
        g = nh.groupby("vaf")["hit"].agg(["sum", "count"])
        cells = ", ".join(f"{v:g}: {int(r['sum'])}/{int(r['count'])}" for v, r in g.iterrows())
        one = nh[nh.vaf == 0.01]
        by_frags = ", ".join(
            f"{k} alt fragments {int(grp.hit.sum())}/{len(grp)}"
            for k, grp in one.groupby(one.alt_frags.clip(upper=4))
        )
        print(f"named-allele hotspot spikes {cells}; false calls {nfps}; 1% by {by_frags}")
        nh.to_csv(dest / "named_spikes.tsv", sep="\t", index=False)
    res.to_csv(dest / "spikes.tsv", sep="\t", index=False)
    cases_mb = (2 + bool(hrows) + bool(nrows)) * mb
    false = fps + negs + hfps + nfps
    summary = {
        "tested_mb": round(cases_mb, 5),
        "false_calls": false,
        "fp_per_mb": false / cases_mb,
        "fp_per_mb_upper": poisson_upper(false) / cases_mb,
    }
    (dest / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")


def poisson_upper(k: int, conf: float = 0.95) -> float:
    """One-sided upper confidence bound of a Poisson mean after observing ``k``."""
    from scipy import stats

    return float(stats.chi2.ppf(conf, 2 * (k + 1)) / 2)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
