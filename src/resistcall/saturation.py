"""Duplicate-marking saturation of deep, small capture targets (docs/cnv.md, method step 1).

Marking duplicates removes PCR copies, which share both fragment ends. On a small target read
deep (an amplified gene), independent molecules also come to share both ends, so the
deduplicated count grows more slowly than the molecules behind it and a high copy number is
read low. PCR copies are a steady share of a library's fragments, so the median over targets
of deduplicated / all fragments is the share left by PCR copies alone. A target at which the
libraries of the run together keep significantly fewer unique fragments than their shares
predict is saturated; there each library counts its molecules as all its fragments times its
share, elsewhere the deduplicated count. The decision is made per target for all libraries at
once (the ends a target allows are a property of the panel), so noise in one library's
duplicate share never moves that library alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Fragments (duplicates included) a target needs to inform a library's PCR-unique share.
MIN_FRAGMENTS = 50


@dataclass(frozen=True)
class Saturation:
    counts: np.ndarray  # libraries x targets: the counts the copy-number model uses
    saturated: np.ndarray  # per target: counted from all fragments x share
    unique_share: np.ndarray  # per library: fragments left after duplicate marking, typical


def unique_shares(fragments: np.ndarray, with_duplicates: np.ndarray) -> np.ndarray:
    """Per library, the median over targets (>= ``MIN_FRAGMENTS``) of deduplicated / all
    fragments; NaN where no target qualifies (a failed or tiny library: nothing to learn)."""
    ratio = fragments / np.maximum(with_duplicates, 1)
    ratio = np.where(with_duplicates >= MIN_FRAGMENTS, ratio, np.nan)
    out = np.full(len(fragments), np.nan)
    for i, row in enumerate(ratio):
        if np.isfinite(row).any():
            out[i] = float(np.nanmedian(row))
    return out


def correct(fragments: np.ndarray, with_duplicates: np.ndarray, z: float) -> Saturation:
    """Counts with saturated targets counted from all fragments (libraries x targets in and
    out). A target is saturated when the pooled binomial z of its unique fragments against
    the libraries' shares is below ``-z``; ``z == 0`` switches the correction off. Libraries
    without a share keep their deduplicated counts and take no part in the decision."""
    fragments = np.asarray(fragments, dtype=np.int64)
    with_duplicates = np.asarray(with_duplicates, dtype=np.int64)
    share = unique_shares(fragments, with_duplicates)
    known = np.isfinite(share)[:, None]
    s = np.where(known, share[:, None], 1.0)  # a library without a share: variance 0 below
    expected = np.where(known, with_duplicates * s, fragments)
    var = (expected * (1.0 - s)).sum(axis=0)
    deficit = (fragments - expected).sum(axis=0)
    score = np.zeros(fragments.shape[1])
    np.divide(deficit, np.sqrt(var), out=score, where=var > 0)
    saturated = score < -z if z > 0 else np.zeros(fragments.shape[1], dtype=bool)
    counts = np.where(saturated[None, :], np.rint(expected).astype(np.int64), fragments)
    return Saturation(counts, saturated, share)
