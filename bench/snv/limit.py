"""Theoretical limit of 1%-VAF detection at panel depth: sensitivity vs false calls per Mb.

For a site read at depth n, with per-allele background noise rate e (binomial: no
overdispersion, so this is the best any caller can do with counts alone), a caller that
allows F false calls per Mb of tested sequence (4 alt hypotheses per position: 3 substitutions
and one indel class) must call at k alt reads, the smallest k with P(Binom(n, e) >= k) <= F / 4e6.
Its sensitivity to a variant at VAF v is P(Binom(n, v + e) >= k). No run needed:

    .venv/bin/python bench/snv/limit.py [--vaf 0.01]

Prints a Markdown table (bench/snv/README.md, "Why 1% at 170-400x is at the noise floor").
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats

#: Depths of the held-out issue benchmark (170-400 fragments) and of bench/snv's halves.
DEPTHS = (170, 200, 250, 300, 333, 400, 600)
#: Background rates measured on the real H3122/HCC827 halves (per specific alt allele).
NOISE = (1e-4, 3e-4, 7e-4)
#: False calls per Mb of tested sequence allowed.
FP_PER_MB = (1.0, 10.0, 100.0)
TESTS_PER_MB = 4e6


def critical_k(n: int, noise: float, per_test: float) -> int:
    """Smallest alt count whose noise tail probability is at most ``per_test``."""
    k = np.arange(n + 2)
    tail = stats.binom.sf(k - 1, n, noise)
    return int(k[np.argmax(tail <= per_test)])


def power(n: int, vaf: float, noise: float, k: int) -> float:
    return float(stats.binom.sf(k - 1, n, min(1.0, vaf + noise)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vaf", type=float, default=0.01)
    args = ap.parse_args()
    head = ["depth", "expected alt reads"] + [
        f"e={e:g}, {f:g} FP/Mb" for e in NOISE for f in FP_PER_MB
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + "---:|" * len(head))
    for n in DEPTHS:
        cells = [str(n), f"{n * args.vaf:.1f}"]
        for e in NOISE:
            for f in FP_PER_MB:
                k = critical_k(n, e, f / TESTS_PER_MB)
                cells.append(f"{power(n, args.vaf, e, k):.2f} (k>={k})")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
