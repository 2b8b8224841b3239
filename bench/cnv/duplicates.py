"""Why ERBB2 at 10 copies reads ~8 in the capture GC-difference sets: duplicate collisions.

For the capture sets of the given GC seeds (BAMs cached by ``run_bench.py``), this compares
per gene and sample the observed share of fragments left after ``samtools markdup``
(deduplicated / all fragments) with the share predicted from the simulator's fragment
geometry alone: fragments of a target start uniformly where they overlap it inside its
real-sequence block, lengths are the simulator's log-normal clipped to the block, a key is
(start, end), 15% of reads are PCR copies. Then it runs the copy-number model on three
countings of the same BAMs: deduplicated (the product), all fragments, and deduplicated
with every target's count corrected for the expected collisions (inverting the expected
number of distinct keys). See bench/cnv/README.md.

    .venv/bin/python bench/cnv/duplicates.py [--out bench/cnv/out] [--gc-seeds 2,3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from run_bench import REF_DIR, REPO, gc_diff_sets, score

from resistcall import cnv, coverage, simulate
from resistcall.simulate.library import _prepare_targets  # the simulator's own target blocks

PCR_COPIES = 0.15  # simulate_library's capture duplicate_rate
GENES = ("ALK", "CD74", "EGFR", "ERBB2", "KIT", "KRAS", "MET")


def length_pmf(mean: float = 190.0, sd: float = 60.0, lo: int = 60, hi: int = 600) -> np.ndarray:
    """The simulator's fragment-length distribution (log-normal, rounded, clipped)."""
    s2 = np.log(1.0 + (sd / mean) ** 2)
    draws = np.random.default_rng(0).lognormal(np.log(mean) - s2 / 2.0, np.sqrt(s2), 2_000_000)
    lengths = np.clip(np.rint(draws), lo, hi).astype(int)
    return np.bincount(lengths, minlength=hi + 1) / len(lengths)


def key_probs(block: tuple[int, int], target: tuple[int, int], pmf: np.ndarray) -> np.ndarray:
    """Probability of every (start, end) key of a fragment drawn for this target."""
    (bl, bh), (ts, te) = block, target
    lens = np.flatnonzero(pmf)
    parts = [np.array([pmf[lens[lens >= bh - bl]].sum()])]  # clipped to the whole block
    for n_len in lens[lens < bh - bl]:
        n = min(te - 1, bh - n_len) - max(ts - n_len + 1, bl) + 1
        if n > 0:
            parts.append(np.full(n, pmf[n_len] / n))
    p = np.concatenate(parts)
    return p[p > 0] / p.sum()


def expected_distinct(p: np.ndarray, molecules: float) -> float:
    return float(np.sum(-np.expm1(molecules * np.log1p(-p))))


def molecules_behind(p: np.ndarray, distinct: float) -> float:
    """Molecules whose expected number of distinct keys is ``distinct`` (bisection)."""
    lo, hi = distinct, distinct * 50.0
    for _ in range(60):
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if expected_distinct(p, mid) < distinct else (lo, mid)
    return (lo + hi) / 2.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "bench" / "cnv" / "out"))
    ap.add_argument("--gc-seeds", default="2,3")
    args = ap.parse_args()
    out = Path(args.out)
    fasta = out / "ref" / "panel_GRCh38.fa"
    ref = simulate.load_reference(fasta, REF_DIR / "panel_GRCh38.known_sequence.bed")
    targets = cnv.load_targets(out / "capture.bed")
    gc = coverage.target_gc(str(fasta), targets, coverage.GC_PAD["capture"])
    geo = _prepare_targets(ref, targets, "capture")
    pmf = length_pmf()
    probs = [
        key_probs((t.block_start, t.block_end), (t.start, t.end), pmf)
        for t in geo.itertuples(index=False)
    ]
    for seed in (int(s) for s in args.gc_seeds.split(",")):
        bs = next(b for b in gc_diff_sets(seed) if b.assay == "capture")
        names = [bs.parental.name, *(s.name for s in bs.resistant)]
        counted = {
            n: coverage.count_targets(out / "bams" / f"{n}.bam", targets, "capture") for n in names
        }
        dedup = {n: c.fragments for n, c in counted.items()}
        every = {n: c.with_duplicates for n, c in counted.items()}
        rows = []
        for gene in GENES:
            idx = np.flatnonzero((targets["gene"] == gene).to_numpy())
            for n in names:
                molecules = (1.0 - PCR_COPIES) * every[n][idx]
                pred = sum(
                    expected_distinct(probs[i], m) for i, m in zip(idx, molecules, strict=True)
                )
                total = every[n][idx].sum()
                rows.append(
                    {
                        "gene": gene,
                        "sample": n,
                        "observed": dedup[n][idx].sum() / total,
                        "predicted": pred / total,
                    }
                )
        table = pd.DataFrame(rows).pivot_table(index="gene", columns="sample")
        print(f"## {bs.name}: fragments left after markdup / all fragments\n")
        print(table.to_markdown(floatfmt=".3f") + "\n")
        corrected = {
            n: np.array(
                [
                    molecules_behind(p, d) if d > 0 else 0.0
                    for p, d in zip(probs, dedup[n], strict=True)
                ]
            )
            for n in names
        }
        for label, c in (
            ("deduplicated (product)", dedup),
            ("all fragments", every),
            ("deduplicated, collision-corrected", corrected),
        ):
            reference = cnv.parental_reference(names[0], c[names[0]])
            samples = [cnv.SampleInput(n, "resistant", c[n]) for n in names[1:]]
            cn, _ = cnv.analyse(targets, samples, reference, gc, cnv.Params())
            s = score(cn[["sample", "gene", "copy_number", "call"]], bs, label)
            erbb2 = s[s["gene"] == "ERBB2"]
            shown = ", ".join(
                f"{r.sample} {r.copy_number:.2f}/{r.true_cn:g}" for r in erbb2.itertuples()
            )
            print(
                f"* {label}: ERBB2 {shown}; mean error {s['rel_error'].mean():.3f}, max "
                f"{s['rel_error'].max():.3f}, within 15% {(s['rel_error'] <= 0.15).sum()}/{len(s)}"
            )
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
