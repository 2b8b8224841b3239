"""Reads from fragment ends: qualities and substitution errors drawn as the qualities state."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from resistcall.simulate.genome import COMPLEMENT
from resistcall.simulate.model import ErrorModel


def sequence_reads(rng, buf, g, fl, rl, st, read_length: int, errors: ErrorModel):
    """R1/R2 codes and qualities, in fixed-size chunks (bounded memory; the chunk size is part
    of the seeded stream). Positions beyond a read's length hold N (4) and are never written."""
    pad = np.full(read_length, 4, dtype=np.uint8)  # index arithmetic never leaves the buffer
    bufp = np.concatenate([pad, buf, pad])
    j = np.arange(read_length, dtype=np.int32)
    g32 = (g + read_length).astype(np.int32)
    e32 = g32 + fl.astype(np.int32) - 1
    n_pairs = len(g)
    r1 = np.empty((n_pairs, read_length), dtype=np.uint8)
    r2 = np.empty_like(r1)
    q1 = np.empty_like(r1)
    q2 = np.empty_like(r1)
    for c0 in range(0, n_pairs, CHUNK):
        sl = slice(c0, min(c0 + CHUNK, n_pairs))
        valid = j[None, :] < rl[sl, None]
        fwd = bufp[g32[sl, None] + j[None, :]]
        rev = COMPLEMENT[bufp[e32[sl, None] - j[None, :]]]
        fwd[~valid] = 4
        rev[~valid] = 4
        flip = st[sl, None]
        r1[sl] = np.where(flip, rev, fwd)
        r2[sl] = np.where(flip, fwd, rev)
        k = sl.stop - sl.start
        q1[sl] = _qualities(rng, k, read_length, errors, 0.0)
        q2[sl] = _qualities(rng, k, read_length, errors, errors.r2_drop)
        _add_errors(rng, r1[sl], q1[sl], valid)
        _add_errors(rng, r2[sl], q2[sl], valid)
    return r1, r2, q1, q2


def _normal_lut(sd: float) -> np.ndarray:
    """256 equiprobable normal quantiles: one random byte -> one N(0, sd) draw (fast)."""
    inv = NormalDist().inv_cdf
    return np.array([sd * inv((k + 0.5) / 256.0) for k in range(256)], dtype=np.float32)


def _qualities(rng, n, rl, m: ErrorModel, drop: float) -> np.ndarray:
    x = np.arange(rl, dtype=np.float32) / max(rl - 1, 1)
    mean = (m.q_start - (m.q_start - m.q_end + drop) * x * x).astype(np.float32)
    offset = (m.read_sd * rng.standard_normal(n)).astype(np.float32)
    noise = np.frombuffer(rng.bytes(n * rl), dtype=np.uint8).reshape(n, rl)
    q = _normal_lut(m.base_sd)[noise]
    q += mean[None, :]
    q += offset[:, None]
    np.rint(q, out=q)
    np.clip(q, 2, m.q_max, out=q)
    q = q.astype(np.uint8)
    k = int(rng.binomial(n * rl, m.dip_rate))
    flat = q.reshape(-1)
    flat[rng.integers(0, n * rl, k)] = rng.integers(2, 13, k).astype(np.uint8)
    return q


_PERR = 10.0 ** (-np.arange(64) / 10.0)
CHUNK = 65536  # read pairs per chunk (part of the seeded stream: changing it changes output)
_CAND = 0.01  # Q >= 20: candidate rate for thinning


def _add_errors(rng, reads: np.ndarray, quals: np.ndarray, valid: np.ndarray) -> None:
    """Substitute each base with probability 10^(-Q/10) (exact, via thinning for Q >= 20)."""
    size = reads.size
    flat_r = reads.reshape(-1)
    flat_q = quals.reshape(-1)
    low = np.flatnonzero(flat_q < 20)
    hit_low = low[rng.random(len(low)) < _PERR[flat_q[low]]]
    k = int(rng.binomial(size, _CAND))
    cand = rng.integers(0, size, k)
    cq = flat_q[cand]
    hit_hi = cand[(cq >= 20) & (rng.random(k) < _PERR[cq] / _CAND)]
    hits = np.unique(np.concatenate([hit_low, hit_hi]))
    hits = hits[valid.reshape(-1)[hits] & (flat_r[hits] < 4)]
    flat_r[hits] = (flat_r[hits] + rng.integers(1, 4, len(hits)).astype(np.uint8)) % 4
