"""1% sensitivity by depth bin against false calls per Mb, measured and theoretical.

Usage (after accuracy.py has run the labels on OUTDIR):

    depth_table.py OUTDIR LABEL [LABEL ...]

One row per label (an operating point: alpha, with or without a panel of normals): false calls
per Mb measured on the spiked, unspiked and hotspot cases of OUTDIR's splits (with the 95%
Poisson upper bound: the bench tests only ~0.02 Mb), then found / spikes for the 1% spikes in
each resistant-half depth bin. Below it: how many of those spikes have >= 2 and >= 3 alt
fragments after sampling (what any count-based caller can see), and the theoretical limit
(limit.py: binomial noise at the measured class mean, threshold set for 10 and 100 false calls
per Mb) at each bin's median depth.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
from accuracy import DEPTH_BINS, DEPTH_LABELS
from limit import critical_k, power

#: Per-allele SNV noise: mean of the class backgrounds fitted on the tuning splits' halves
#: (BGMEAN of the records, 1.0-1.6e-4 over classes; docs/snv.md, "Error model").
NOISE = 1.3e-4
TESTS_PER_MB = 4e6


def main() -> None:
    out = Path(sys.argv[1])
    labels = sys.argv[2:]
    head = ["operating point", "false calls / Mb (95% upper)"] + DEPTH_LABELS + ["all"]
    print("| " + " | ".join(head) + " |")
    print("|---|---:|" + "---:|" * (len(DEPTH_LABELS) + 1))
    one = None
    for label in labels:
        summ = json.loads((out / "acc" / label / "summary.json").read_text())
        res = pd.read_csv(out / "acc" / label / "spikes.tsv", sep="\t")
        one = res[res.vaf == 0.01].assign(
            bin=lambda d: pd.cut(d.depth, DEPTH_BINS, labels=DEPTH_LABELS)
        )
        cells = [label, f"{summ['fp_per_mb']:.0f} ({summ['fp_per_mb_upper']:.0f})"]
        for b in DEPTH_LABELS:
            g = one[one.bin == b]
            cells.append(f"{int(g.hit.sum())}/{len(g)}" if len(g) else "-")
        cells.append(f"{int(one.hit.sum())}/{len(one)} ({one.hit.mean():.2f})")
        print("| " + " | ".join(cells) + " |")
    if one is None:
        return
    rows = {
        "1% spikes with >= 3 alt fragments": lambda g: f"{int((g.alt_frags >= 3).sum())}/{len(g)}",
        "1% spikes with >= 2 alt fragments": lambda g: f"{int((g.alt_frags >= 2).sum())}/{len(g)}",
        "median depth": lambda g: f"{g.depth.median():.0f}",
    }
    for name, fn in rows.items():
        cells = [name, ""] + [
            fn(one[one.bin == b]) if (one.bin == b).any() else "-" for b in DEPTH_LABELS
        ]
        cells.append(fn(one))
        print("| " + " | ".join(cells) + " |")
    for fp in (10.0, 100.0):
        cells = [f"theoretical, e = {NOISE:g}", f"{fp:g}"]
        for b in DEPTH_LABELS:
            g = one[one.bin == b]
            if not len(g):
                cells.append("-")
                continue
            n = int(g.depth.median())
            k = critical_k(n, NOISE, fp / TESTS_PER_MB)
            cells.append(f"{power(n, 0.01, NOISE, k):.2f} (k>={k})")
        cells.append("")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
