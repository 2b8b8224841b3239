"""The few distribution functions the SNV and fusion callers need, on :mod:`scipy.special`.

Why not :mod:`scipy.stats`: importing it costs ~0.6 s CPU more than ``scipy.special`` (its
docstring machinery), paid by every ``resistcall snv`` and ``pon`` run and by each cluster job.
The functions here are the same formulas scipy.stats evaluates (its ``betabinom._logpmf``,
``beta._ppf`` = ``betaincinv``, ``binom._sf`` = ``betainc``) and are tested equal to it, bit for
bit, in tests/test_distributions.py; Fisher's exact test is the textbook two-sided sum.
Method in docs/snv.md.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betainc, betaincinv, betaln, gammainc, gammaln, logsumexp


def bb_logpmf(k, n, a, b) -> np.ndarray:
    """log P(X = k) for X ~ BetaBinomial(n, a, b) (-inf outside 0..n): scipy's expression."""
    k, n = np.floor(np.asarray(k, dtype=float)), np.asarray(n)
    combiln = -np.log(n + 1) - betaln(n - k + 1, k + 1)
    out = combiln + betaln(k + a, n - k + b) - betaln(a, b)
    return np.where((k >= 0) & (k <= n), out, -np.inf)


def bb_sf(k: np.ndarray, n: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """P(X >= k) for X ~ BetaBinomial(n, a, b); 1 where k <= 0."""
    k, n, a, b = np.broadcast_arrays(
        np.asarray(k, dtype=np.int64),
        np.maximum(np.asarray(n, dtype=np.int64), 1),
        np.asarray(a, dtype=float),
        np.asarray(b, dtype=float),
    )
    out = 1.0 - bb_cdf(np.maximum(k - 1, 0), n, a, b)  # scipy's sf is 1 - cdf as well
    # scipy's sf is 1 - cdf: far tails cancel to 0. Sum the tail pmf in log space there.
    small = (out < 1e-3) & (k > 0) & (k <= n)
    out[small] = np.exp(log_tails(k[small], n[small], a[small], b[small], TAIL_TERMS))
    return np.where(k <= 0, 1.0, out)


#: terms of a far-tail sum (``bb_sf``): P(X >= k) is summed over k .. k + TAIL_TERMS.
TAIL_TERMS = 5000


def log_tails(k: np.ndarray, n: np.ndarray, a: np.ndarray, b: np.ndarray, terms: int):
    """log P(k <= X <= min(n, k + terms)) per element, X ~ BetaBinomial(n, a, b).

    One 2-D pmf grid per distinct tail length (a row per element): each row is the same pmf
    values and the same sum as the one-element computation, without a Python loop per element.
    Rows go in blocks of about GRID_CELLS cells, so memory does not grow with the site count.
    """
    out = np.empty(len(k))
    length = np.minimum(n, k + terms) - k + 1
    for m in np.unique(length):
        same = np.flatnonzero(length == m)
        for at in np.array_split(same, -(-len(same) * int(m) // GRID_CELLS)):
            j = k[at, None] + np.arange(m)
            lp = bb_logpmf(j, n[at, None], a[at, None], b[at, None])
            out[at] = logsumexp(lp, axis=1)
    return out


#: cells of one pmf grid block in ``log_tails`` (8 bytes each, a few temporaries per block)
GRID_CELLS = 1 << 18


def bb_cdf(k: np.ndarray, n: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """P(X <= k) for X ~ BetaBinomial(n, a, b): scipy's own sum of pmf(0..k) (its ``_cdf``),
    done as one 2-D grid per distinct k instead of a Python call per element. Rows of equal
    length are summed by the same pairwise routine as scipy's 1-D sum: bit-identical values."""
    k, n, a, b = np.broadcast_arrays(
        np.floor(np.asarray(k, dtype=float)),
        np.maximum(np.asarray(n, dtype=np.int64), 1),
        np.asarray(a, dtype=float),
        np.asarray(b, dtype=float),
    )
    out = np.where(k < 0, 0.0, 1.0)
    inside = np.flatnonzero((k >= 0) & (k < n))
    kk = k[inside].astype(np.int64)
    for m in np.unique(kk):
        same = inside[kk == m]
        j = np.arange(m + 1)
        for at in np.array_split(same, -(-len(same) * int(m + 1) // GRID_CELLS)):
            pmf = np.exp(bb_logpmf(j, n[at, None], a[at, None], b[at, None]))
            out[at] = np.sum(pmf, axis=1)
    return np.clip(out, 0.0, 1.0)  # as scipy's public cdf: rounding can pass 1


def bb_isf(q: float, n: np.ndarray, a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """Per element, the smallest k with P(X <= k) >= 1 - q, X ~ BetaBinomial(n, a, b)
    (scipy's discrete ``isf``): the pmf summed from 0 in blocks of doubling width, so a deep
    site costs the few thousand terms up to its quantile, not its depth."""
    n = np.asarray(n, dtype=np.int64)
    a, b = np.broadcast_to(a, n.shape), np.broadcast_to(b, n.shape)
    out, below = n.copy(), np.zeros(n.size)  # P(X <= n) = 1: n where the sum falls short
    todo, start, width = np.arange(n.size), 0, 256
    while todo.size:
        j = start + np.arange(width)
        pmf = np.exp(bb_logpmf(j, n[todo, None], a[todo, None], b[todo, None]))
        cdf = below[todo, None] + np.cumsum(pmf, axis=1)
        hit = cdf >= 1 - q
        found = hit.any(axis=1)
        out[todo[found]] = start + hit[found].argmax(axis=1)
        below[todo] = cdf[:, -1]
        todo = todo[~found & (start + width <= n[todo])]
        start, width = start + width, width * 2
    return out


def beta_ppf(q, a, b) -> np.ndarray:
    """The ``q`` quantile of Beta(a, b)."""
    return betaincinv(a, b, q)


def binom_sf(k, n, p) -> np.ndarray:
    """P(X > k) for X ~ Binomial(n, p): I_p(k + 1, n - k) inside 0 <= k < n."""
    k, n = np.asarray(k), np.asarray(n)
    inside = betainc(np.maximum(k, 0) + 1.0, np.maximum(n - k, 1).astype(float), p)
    return np.where(k < 0, 1.0, np.where(k >= n, 0.0, inside))


def poisson_at_least(k, mu) -> np.ndarray:
    """P(X >= k) for X ~ Poisson(mu): the regularised lower gamma P(k, mu) for k >= 1 (scipy's
    ``poisson.sf(k - 1, mu)``); 1 for k <= 0, 0 for mu = 0 and k >= 1."""
    k, mu = np.asarray(k), np.asarray(mu, dtype=float)
    inside = gammainc(np.maximum(k, 1).astype(float), mu)
    return np.where(k <= 0, 1.0, np.where(mu > 0, inside, 0.0))


def poisson_pmf(k, mu) -> np.ndarray:
    """P(X = k) for X ~ Poisson(mu > 0), k >= 0: exp(k log mu - mu - log k!)."""
    k = np.asarray(k, dtype=float)
    return np.exp(k * np.log(mu) - mu - gammaln(k + 1))


#: relative tolerance under which two hypergeometric probabilities count as equal in the
#: two-sided Fisher sum (R's ``fisher.test`` uses the same 1e-7)
FISHER_REL_TOL = 1e-7


def fisher_two_sided(table) -> float:
    """Two-sided p of Fisher's exact test on a 2x2 table: the probability, with the margins
    fixed, of every table at most as likely as the one observed."""
    (a, b), (c, d) = (int(x) for x in table[0]), (int(x) for x in table[1])
    row, col, total = a + b, a + c, a + b + c + d
    x = np.arange(max(0, row + col - total), min(row, col) + 1, dtype=float)
    log_p = _log_choose(col, x) + _log_choose(total - col, row - x) - _log_choose(total, row)
    observed = log_p[a - int(x[0])]
    keep = log_p <= observed + np.log1p(FISHER_REL_TOL)
    return float(min(1.0, np.exp(logsumexp(log_p[keep]))))


def _log_choose(m, j):
    return gammaln(m + 1) - gammaln(j + 1) - gammaln(m - j + 1)
