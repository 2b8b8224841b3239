"""The caller's distribution functions on scipy.special equal scipy.stats' (which the caller no
longer imports: ~0.6 s per run)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from resistcall.distributions import (
    bb_isf,
    bb_logpmf,
    beta_ppf,
    binom_sf,
    fisher_two_sided,
    poisson_at_least,
    poisson_pmf,
)


def _sites(m: int, seed: int):
    """Depths 1..20,000, alt counts from 0 to past the depth, backgrounds 1e-5..1e-2 and
    concentrations 1e2..1e5: the range the caller's tests see."""
    rng = np.random.default_rng(seed)
    n = rng.integers(1, 20_000, m)
    k = np.concatenate([rng.binomial(n[: m // 2], 0.01), rng.integers(-2, 20_002, m - m // 2)])
    k[-3:] = [-1, -2, 30_000]  # outside the support
    mu, kappa = 10 ** rng.uniform(-5, -2, m), 10 ** rng.uniform(2, 5, m)
    return k, n, mu * kappa, (1 - mu) * kappa


def test_bb_logpmf_is_scipys_bit_for_bit():
    k, n, a, b = _sites(5000, 1)
    assert np.array_equal(bb_logpmf(k, n, a, b), stats.betabinom.logpmf(k, n, a, b))


def test_beta_ppf_and_binom_sf_are_scipys_bit_for_bit():
    k, n, a, b = _sites(5000, 2)
    q = np.random.default_rng(3).random(k.size)
    kk = np.clip(k, 0, n - 1)
    assert np.array_equal(beta_ppf(q, kk + 1.0, n - kk), stats.beta.ppf(q, kk + 1.0, n - kk))
    p = a / (a + b)
    assert np.array_equal(binom_sf(k, n, p), stats.binom.sf(k, n, p))


@pytest.mark.parametrize("seed", [4, 5])
def test_fisher_two_sided_matches_scipy(seed):
    """Strand tables as the caller builds them (deep ref, few alt, balanced or one-sided),
    small tables, and tables with an empty row or column."""
    rng = np.random.default_rng(seed)
    tables = [[[0, 0], [3, 4]], [[5, 0], [7, 0]], [[1, 1], [1, 1]], [[8, 2], [1, 5]]]
    for _ in range(300):
        ref = rng.integers(0, 20_000, 2)
        alt = rng.binomial(rng.integers(1, 60), rng.uniform(0, 1), 2)
        tables.append([list(ref), list(alt)])
        tables.append([list(rng.integers(0, 30, 2)), list(rng.integers(0, 30, 2))])
    ours = np.array([fisher_two_sided(t) for t in tables])
    theirs = np.array([stats.fisher_exact(t)[1] for t in tables])
    assert np.allclose(ours, theirs, rtol=1e-9, atol=1e-300)
    assert (theirs < 1e-6).sum() > 10 and (theirs == 1).sum() >= 3  # both ends exercised


def test_bb_isf_is_scipys():
    """Depths up to 200,000 (the depth_needed grid) and the caller's thresholds."""
    _, n, a, b = _sites(150, 6)
    n = np.concatenate([n[:100], np.geomspace(5, 200_000, 50).astype(int)])
    for q in (1e-2, 1e-5, 6.25e-7):
        assert np.array_equal(bb_isf(q, n, a, b), stats.betabinom.isf(q, n, a, b))


def test_poisson_tail_and_pmf_are_scipys():
    """The fusion caller's detection power (resistcall.fusion.detection_power): tails from
    k <= 0 (always) through past the mean, rates from 0 (no spanning pairs) to thousands."""
    k = np.array([-1, 0, 1, 2, 5, 5, 9, 30, 3])
    mu = np.array([0.5, 3.0, 0.0, 1e-4, 9.15, 0.0, 40.0, 2000.0, 2.5])
    assert np.allclose(poisson_at_least(k, mu), stats.poisson.sf(k - 1, mu), rtol=1e-12, atol=0)
    kk, rate = np.arange(0, 12), 4.2
    assert np.allclose(poisson_pmf(kk, rate), stats.poisson.pmf(kk, rate), rtol=1e-12, atol=0)
