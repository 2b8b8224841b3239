"""Duplicate-marking saturation: libraries drawn as markdup sees them (molecules get fragment
keys from the ends a target allows, 15% PCR copies share their molecule's key)."""

import numpy as np

from resistcall import saturation


def library(rng, molecules, keys, pcr=0.15):
    """(deduplicated, all) fragment counts per target: distinct keys, and molecules + copies."""
    dedup, every = [], []
    for m, k in zip(molecules, keys, strict=True):
        drawn = rng.integers(0, k, size=m)
        copies = rng.random(m) < pcr / (1 - pcr)
        dedup.append(len(np.unique(drawn)))
        every.append(m + int(copies.sum()))
    return np.array(dedup), np.array(every)


def run_of(seed, depth, keys):
    rng = np.random.default_rng(seed)
    molecules = [rng.poisson(d, size=len(keys)) for d in depth]
    libs = [library(rng, m, keys) for m in molecules]
    dedup = np.vstack([d for d, _ in libs])
    every = np.vstack([e for _, e in libs])
    return np.vstack(molecules), dedup, every


def test_saturated_targets_counted_from_all_fragments():
    n = 60
    keys = np.full(n, 10**7)  # a genome's worth of fragment ends: no collisions
    keys[:4] = 1500  # four small targets in one block: molecules collide
    # parental, and a resistant library with the first four targets amplified 5x
    rng = np.random.default_rng(1)
    base = rng.poisson(800, size=(2, n))
    amp = base * np.r_[np.full(4, 5), np.ones(n - 4, dtype=int)] ** np.array([[0], [1]])
    libs = [library(rng, m, keys) for m in amp]
    dedup = np.vstack([d for d, _ in libs])
    every = np.vstack([e for _, e in libs])
    sat = saturation.correct(dedup, every, 3.0)
    assert sat.saturated[:4].all() and not sat.saturated[4:].any()
    assert np.allclose(sat.unique_share, 0.85, atol=0.01)
    # unsaturated targets keep their deduplicated counts exactly
    assert (sat.counts[:, 4:] == dedup[:, 4:]).all()
    # the amplified, saturated targets: deduplication loses > 40% of the molecules, the
    # corrected count is within 5% of them (ratio of sums over the four targets)
    lost = dedup[1, :4].sum() / amp[1, :4].sum()
    recovered = sat.counts[1, :4].sum() / amp[1, :4].sum()
    assert lost < 0.6
    assert abs(recovered - 1) < 0.05
    # and the amplification reads ~5x against the parental, not compressed
    ratio = (sat.counts[1, :4].sum() / sat.counts[0, :4].sum()) / (
        sat.counts[1, 4:].sum() / sat.counts[0, 4:].sum()
    )
    assert 4.6 < ratio < 5.4
    naive = (dedup[1, :4].sum() / dedup[0, :4].sum()) / (dedup[1, 4:].sum() / dedup[0, 4:].sum())
    assert naive < 4.0


def test_no_saturation_no_change_and_switches():
    keys = np.full(80, 10**7)
    _, dedup, every = run_of(3, [500, 300, 900], keys)
    sat = saturation.correct(dedup, every, 3.0)
    # one library's noisy duplicate share at a target does not move it: nothing is flagged
    assert not sat.saturated.any()
    assert (sat.counts == dedup).all()
    # amplicon counts (duplicates kept) give the same arrays: nothing to correct
    amp = saturation.correct(every, every, 3.0)
    assert not amp.saturated.any() and (amp.unique_share == 1).all()
    # z = 0 switches it off even where targets collide
    keys[:3] = 300
    _, dedup, every = run_of(4, [900, 900], keys)
    assert saturation.correct(dedup, every, 3.0).saturated[:3].all()
    off = saturation.correct(dedup, every, 0.0)
    assert not off.saturated.any() and (off.counts == dedup).all()


def test_failed_library_keeps_its_counts():
    keys = np.full(40, 10**7)
    keys[:2] = 400
    _, dedup, every = run_of(5, [1000, 1000], keys)
    # a third, failed library: a handful of reads, no target with 50 fragments
    dedup = np.vstack([dedup, np.full(40, 3)])
    every = np.vstack([every, np.full(40, 4)])
    sat = saturation.correct(dedup, every, 3.0)
    assert np.isnan(sat.unique_share[2])
    assert sat.saturated[:2].all()
    assert (sat.counts[2] == 3).all()
