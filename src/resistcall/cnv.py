"""Gene copy number of resistant samples relative to their parental (``resistcall cnv``).

Method (docs/cnv.md): fragment counts per target (``coverage.py``) -> log2 library-size
normalised coverage -> ratio to a reference (the parental, a pool of normals, or flat) in
which per-target capture/amplicon efficiency cancels -> GC correction of the ratio, i.e. of
the sample's GC curve relative to the reference's, fitted on baseline targets only ->
robust gene estimate (weighted Tukey biweight) with a bootstrap CI over targets and over the
baseline targets behind the GC curve and centre -> baseline
re-estimated from the genes that are not changed, iterated until the baseline gene set is
stable, so an amplified gene holding a third of the targets cannot drag the neutral genes.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import stdtrit

from resistcall import saturation
from resistcall.annotation import BACKBONE
from resistcall.contracts import CN_CHANGED, CNV_COLUMNS, CNV_TARGET_COLUMNS, NOT_ASSESSABLE
from resistcall.coverage import GC_PAD, TargetCounts, count_targets, target_gc
from resistcall.errors import UserError
from resistcall.options import add_options, from_args, option
from resistcall.outputs import write_tsvs
from resistcall.purity import add_purity_option, parse_purity, tumour_copies
from resistcall.qcgate import not_assessable, read_qc
from resistcall.reference import contig_offset, genomic_label, preflight_bams, read_bed

log = logging.getLogger(__name__)

#: Control genes of the panel, designed to sit at baseline copy number. They are not forced
#: into the baseline (the baseline is data-driven), but a warning is raised when one of them
#: is called changed.
CONTROL_GENES = ("CD74", "RET", "EWSR1")
_LN2 = np.log(2.0)
#: Genes with at most this many usable targets are estimated against the pooled target SD.
SMALL_GENE = 4
#: Expected fragment length used for the flat reference's length model (capture).
FLAT_FRAGMENT = 200


@dataclass(frozen=True)
class Params:
    """Model and call thresholds: the ``cnv:`` config keys and ``resistcall cnv`` options
    (:mod:`resistcall.options`; docs/cnv.md explains where each default comes from)."""

    ploidy: float = option(2.0, "copies of an unchanged gene in the parental", gt=0)
    amp_cn: float = option(
        6.0, "amplification at CN >= this (MET GCN >= 6 Schildhaus 2015; PureCN focal)", gt=0
    )
    amp_ratio: float = option(
        2.0,
        "...or ratio to same-chromosome baseline genes >= this and CN >= 2x ploidy",
        gt=0,
    )
    gain_cn: float = option(2.5, "gain at CN >= this (CI above ploidy)", gt=0)
    loss_cn: float = option(1.5, "loss at CN <= this (CI below ploidy)", gt=0)
    del_cn: float = option(0.5, "deletion (homozygous) at CN <= this (CI below ploidy)", ge=0)
    min_targets: int = option(3, "fewer usable targets: not assessable", ge=1)
    min_count: int = option(20, "reference fragments a target needs to be used", ge=0)
    min_mapq: int = option(20, "minimum mapping quality of counted reads", ge=0, le=255)
    baseline_tol: float = option(
        0.25, "genes within this |log2| of the baseline form the baseline", gt=0
    )
    bootstrap: int = option(1000, "bootstrap resamples of targets per gene", ge=10)
    ci: float = option(0.95, "confidence level of ci_low/ci_high", gt=0, lt=1)
    gc_span: float = option(
        0.75, "fraction of targets in each local GC (loess) fit (R loess default)", gt=0, le=1
    )
    amplicon_gc: str = option(
        "auto",
        "amplicon GC over the PCR product (insert +-20 bp of primer), the insert alone, or "
        "auto: whichever leaves the smaller target scatter after GC correction",
        choices=("auto", "product", "insert"),
    )
    seed: int = option(20261122, "bootstrap seed (outputs are deterministic)", ge=0)
    saturation_z: float = option(
        3.0,
        "a capture target whose libraries keep this many SEs fewer unique fragments than "
        "their PCR-copy share is duplicate-saturated: counted from all fragments (0: off)",
        ge=0,
    )

    def __post_init__(self) -> None:
        if not self.del_cn < self.loss_cn < self.ploidy < self.gain_cn <= self.amp_cn:
            raise UserError(
                "cnv thresholds must satisfy del_cn < loss_cn < ploidy < gain_cn <= amp_cn "
                f"(got {self.del_cn} < {self.loss_cn} < {self.ploidy} < {self.gain_cn} "
                f"<= {self.amp_cn})"
            )


# ---------------------------------------------------------------------------- statistics


def weighted_median(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted median along the last axis (lower median at ties)."""
    order = np.argsort(x, axis=-1, kind="stable")
    xs = np.take_along_axis(x, order, axis=-1)
    cw = np.cumsum(np.take_along_axis(w, order, axis=-1), axis=-1)
    idx = np.argmax(cw >= cw[..., -1:] / 2.0, axis=-1)
    return np.take_along_axis(xs, idx[..., None], axis=-1)[..., 0]


def biweight_location(
    x: np.ndarray,
    w: np.ndarray,
    c: float = 9.0,
    iters: int = 5,
    min_scale: float = 0.02,
    sd: float | None = None,
) -> np.ndarray:
    """Weighted Tukey biweight location along the last axis, started at the weighted median.

    Targets further than ``c`` MADs from the centre get zero weight, so a failed amplicon or
    a mis-mapped target does not move a gene's estimate. c = 9 is Mosteller & Tukey's
    constant: nearly as efficient as the mean for well-behaved targets (c = 6 threw away
    too much of a gene with 3-5 targets in the benchmark). With ``sd`` given, the scale is
    ``c * sd`` (a known per-target SD, used with c = 4.685 for genes with few targets, whose
    own MAD is meaningless).
    """
    m = weighted_median(x, w)
    for _ in range(iters):
        d = x - m[..., None]
        mad = weighted_median(np.abs(d), w) if sd is None else np.full(m.shape, sd)
        scale = c * np.maximum(mad, min_scale)
        u = d / scale[..., None]
        bw = w * np.where(np.abs(u) < 1.0, (1.0 - u**2) ** 2, 0.0)
        total = bw.sum(axis=-1)
        step = np.divide((bw * d).sum(axis=-1), total, out=np.zeros_like(m), where=total > 0)
        m = m + step
    return m


def _midpoint_median(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Median along the last axis of a multiset (``m`` = multiplicity of each value): the
    mean of the lower and upper middle values, i.e. ``np.median`` when every m is 1."""
    order = np.argsort(x, axis=-1, kind="stable")
    xs = np.take_along_axis(x, order, axis=-1)
    cm = np.cumsum(np.take_along_axis(m, order, axis=-1), axis=-1)
    half = cm[..., -1:] / 2.0
    lower = np.take_along_axis(xs, np.argmax(cm >= half, axis=-1)[..., None], axis=-1)
    upper = np.take_along_axis(xs, np.argmax(cm > half, axis=-1)[..., None], axis=-1)
    return (lower[..., 0] + upper[..., 0]) / 2.0


def loess(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    x_eval: np.ndarray,
    span: float,
    robust_iters: int = 2,
    extrapolate: bool = False,
    resample: np.ndarray | None = None,
) -> np.ndarray:
    """LOESS-style weighted local-polynomial fit of y on x (tricube kernel over the nearest
    ``span`` fraction of points, local quadratic as R's loess by default, bisquare
    robustness iterations), evaluated at ``x_eval``. ``x_eval`` outside the fitted range is
    clamped to it (no extrapolation of the trend), or with ``extrapolate`` continued along
    the tangent of the fit at the range's edge (linear, never the edge's curvature).

    ``resample`` (replicates x points, multiplicities of a bootstrap draw of the points)
    refits the curve on every replicate at once and returns replicates x ``x_eval``: each
    replicate is the fit to its resampled multiset (its own robustness weights and fitted
    range), with the kernel bandwidths of the full data set (a fixed-bandwidth bootstrap),
    so all replicates share one kernel matrix and the fits are matrix products."""
    n = len(x)
    m = np.ones((1, n)) if resample is None else np.asarray(resample, dtype=float)
    if n < 5:
        mw = m * w[None, :]
        total = mw.sum(axis=1)
        mean = np.divide(mw @ y, total, out=np.zeros(len(m)), where=total > 0)
        out = np.repeat(mean[:, None], len(x_eval), axis=1)
        return out[0] if resample is None else out
    k = int(min(n, max(5, np.ceil(span * n))))
    rw = np.ones_like(m)

    def fit(at: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Value and slope of the local quadratic at ``at`` (replicates x points each)."""
        u = x[None, :] - at[:, None]
        h = np.maximum(np.partition(np.abs(u), k - 1, axis=1)[:, k - 1], 1e-9) * 1.0001
        v = u / h[:, None]  # local coordinate in [-1, 1]: well-conditioned moments
        kernel = np.clip(1.0 - np.abs(v) ** 3, 0.0, None) ** 3
        powers = np.empty((5, *v.shape))  # kernel x v^0..v^4
        powers[0] = kernel
        for j in range(1, 5):
            powers[j] = powers[j - 1] * v
        flat = powers.reshape(5 * len(at), n).T
        # kernel-weighted moments sum(kw v^j) and sum(kw v^j y) for every replicate and
        # point in two matrix products (weights: replicates x points)
        m0, m1, m2, m3, m4 = (weights @ flat).reshape(len(weights), 5, len(at)).transpose(1, 0, 2)
        y0, y1, y2 = (
            ((weights * y) @ flat[:, : 3 * len(at)])
            .reshape(len(weights), 3, len(at))
            .transpose(1, 0, 2)
        )
        # a ridge of 1e-9 x trace on the normal equations in x units (u = v h), written in v
        h2 = h**2
        ridge = 1e-9 * (m0 + m2 * h2 + m4 * h2**2)
        a0, a1, a2 = m0 + ridge, m2 + ridge / h2, m4 + ridge / h2**2  # diagonal
        # weighted least squares of y on (1, v, v^2): the 3x3 normal equations solved by
        # cofactors (symmetric matrix [[a0, m1, m2], [m1, a1, m3], [m2, m3, a2]])
        c00, c01, c02 = a1 * a2 - m3 * m3, m2 * m3 - m1 * a2, m1 * m3 - a1 * m2
        c11, c12 = a0 * a2 - m2 * m2, m1 * m2 - a0 * m3
        det = a0 * c00 + m1 * c01 + m2 * c02
        ok = det != 0
        value = np.divide(c00 * y0 + c01 * y1 + c02 * y2, det, out=np.zeros_like(det), where=ok)
        slope = np.divide(c01 * y0 + c11 * y1 + c12 * y2, det, out=np.zeros_like(det), where=ok)
        return value, slope / h

    for _ in range(robust_iters):
        resid = y[None, :] - fit(x, w * m * rw)[0]
        s = _midpoint_median(np.abs(resid), m) * 6.0
        u = resid / np.where(s > 0, s, 1.0)[:, None]
        # a replicate with no spread keeps its weights (R's loess stops iterating there)
        rw = np.where(s[:, None] > 0, np.where(np.abs(u) < 1.0, (1.0 - u**2) ** 2, 0.0), rw)
    # each replicate's fitted range: the smallest and largest x it drew
    lo_i = np.argmin(np.where(m > 0, x, np.inf), axis=1)
    hi_i = np.argmax(np.where(m > 0, x, -np.inf), axis=1)
    edges, where = np.unique(np.concatenate([lo_i, hi_i]), return_inverse=True)
    at = np.concatenate([np.clip(x_eval, x.min(), x.max()), x[edges]])
    value, slope = fit(at, w * m * rw)
    rows = np.arange(len(m))
    fitted = value[:, : len(x_eval)]
    for edge, beyond in (
        (where[: len(m)], x_eval[None, :] < x[lo_i][:, None]),
        (where[len(m) :], x_eval[None, :] > x[hi_i][:, None]),
    ):
        at_edge = len(x_eval) + edge
        step = x_eval[None, :] - x[edges][edge][:, None]
        tangent = slope[rows, at_edge][:, None] * step if extrapolate else 0.0
        fitted = np.where(beyond, value[rows, at_edge][:, None] + tangent, fitted)
    return fitted[0] if resample is None else fitted


def poisson_log2_var(counts: np.ndarray) -> np.ndarray:
    """Variance of log2(count) under Poisson sampling (delta method, +0.5 continuity)."""
    return 1.0 / ((np.asarray(counts, dtype=float) + 0.5) * _LN2**2)


def log2_normalised(counts: np.ndarray) -> np.ndarray:
    """log2 of counts per mean target (library-size normalisation), +0.5 continuity."""
    c = np.asarray(counts, dtype=float) + 0.5
    return np.log2(c / c.mean())


# ---------------------------------------------------------------------- gene estimation


@dataclass
class GeneFit:
    estimate: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    n: np.ndarray


def gene_estimates(
    ratio: np.ndarray,
    weight: np.ndarray,
    codes: np.ndarray,
    n_genes: int,
    params: Params,
    rng: np.random.Generator,
    resid_sd: float | None = None,
    correction_boot: np.ndarray | None = None,
) -> GeneFit:
    """Biweight estimate per gene over targets with weight > 0, with a percentile bootstrap
    CI over targets. The CI half-width is at least the t-interval of the pooled target
    residual SD (``resid_sd``), so a gene with three nearly equal targets is not given a
    spuriously tight interval. ``correction_boot`` (replicates x targets: how much each
    bootstrap replicate of the GC curve + baseline centre would have subtracted beyond the
    estimate's own, :func:`correction_replicates`) carries the correction's uncertainty
    into every gene's interval: replicate by replicate in the bootstrap, and its variance
    over the gene's targets (weighted mean per replicate) in quadrature in the floor."""
    est = np.full(n_genes, np.nan)
    lo = np.full(n_genes, np.nan)
    hi = np.full(n_genes, np.nan)
    n = np.zeros(n_genes, dtype=int)
    alpha = (1.0 - params.ci) / 2.0
    for g in range(n_genes):
        sel = np.flatnonzero((codes == g) & (weight > 0))
        n[g] = len(sel)
        if not len(sel):
            continue
        x, w = ratio[sel], weight[sel]
        # few targets: their own MAD says nothing, so outliers are judged against the
        # sample's pooled per-target SD (biweight c = 4.685, 95% efficiency at the normal)
        small = len(sel) <= SMALL_GENE and resid_sd is not None and resid_sd > 0
        robust: dict[str, Any] = {"c": 4.685, "sd": resid_sd} if small else {}
        est[g] = biweight_location(x, w, **robust)
        if len(sel) < 2:
            continue
        idx = rng.integers(0, len(sel), size=(params.bootstrap, len(sel)))
        xb = x[idx]
        corr_var = 0.0
        if correction_boot is not None:
            xb = xb - np.take_along_axis(correction_boot, sel[idx], axis=1)
            corr_var = float(np.var(correction_boot[:, sel] @ (w / w.sum())))
        boot = biweight_location(xb, w[idx], **robust)
        lo[g], hi[g] = np.quantile(boot, [alpha, 1.0 - alpha])
        if resid_sd is not None and resid_sd > 0:
            t = stdtrit(len(sel) - 1, 1.0 - alpha)
            half = t * np.sqrt(resid_sd**2 / len(sel) + corr_var)
            lo[g] = min(lo[g], est[g] - half)
            hi[g] = max(hi[g], est[g] + half)
    return GeneFit(est, lo, hi, n)


def correction_replicates(
    raw: np.ndarray,
    w: np.ndarray,
    gc: np.ndarray | None,
    in_base: np.ndarray,
    params: Params,
    rng: np.random.Generator,
) -> np.ndarray | None:
    """Bootstrap of what is subtracted from every target (GC curve + baseline centre):
    replicates x targets, each row the replicate's correction minus the full data's.

    Each replicate resamples the baseline targets with replacement, refits the baseline GC
    curve on them (:func:`loess` with ``resample``: all replicates in a few matrix products)
    and re-takes the centre (biweight of the baseline targets' corrected ratios). Where few
    baseline targets fix the curve (a GC extreme, beside an amplified GC-rich gene), the
    replicates disagree and a gene there gets a wider interval; the centre's own
    uncertainty is included. Without GC (or < 5 baseline targets) only the centre varies.
    None when fewer than two baseline targets."""
    sel = np.flatnonzero(in_base)
    nb = len(sel)
    if nb < 2:
        return None
    draws = rng.integers(0, nb, size=(params.bootstrap, nb))
    rows = np.arange(params.bootstrap)[:, None] * nb
    mult = np.bincount((draws + rows).ravel(), minlength=params.bootstrap * nb).reshape(-1, nb)
    wb = w[sel]
    full, boot = np.zeros_like(raw), np.zeros((params.bootstrap, len(raw)))
    if gc is not None and nb >= 5:  # as fit_sample: the baseline curve needs 5 targets
        full = loess(gc[sel], raw[sel], wb, gc, params.gc_span, extrapolate=True)
        boot = loess(gc[sel], raw[sel], wb, gc, params.gc_span, extrapolate=True, resample=mult)
    centre = biweight_location((raw - full)[sel], wb)
    centres = biweight_location((raw[None, :] - boot)[:, sel], wb * mult)
    return boot + centres[:, None] - (full + centre)


def densest_genes(est: np.ndarray, n: np.ndarray, width: float) -> np.ndarray:
    """Genes in the densest cluster of gene estimates (window +-width around one gene):
    a mode, not a mean, so several changed genes at once do not move it."""
    ok = np.isfinite(est) & (n > 0)
    if not ok.any():
        return ok
    votes = np.array(
        [(np.abs(est[ok] - e) <= width).sum() if o else -1 for e, o in zip(est, ok, strict=True)]
    )
    spread = np.array(
        [
            np.abs(est[ok] - e)[np.abs(est[ok] - e) <= width].sum() if o else np.inf
            for e, o in zip(est, ok, strict=True)
        ]
    )
    best = np.lexsort((spread, -votes))[0]
    return ok & (np.abs(est - est[best]) <= width)


@dataclass
class SampleFit:
    ratio: np.ndarray  # corrected, centred target log2 ratios
    gc_correction: np.ndarray  # subtracted per target (GC trend + baseline offset)
    weight: np.ndarray
    genes: GeneFit
    baseline: np.ndarray  # bool per gene
    resid_sd: float
    gc_residual_slope: float  # QC: log2 per 0.1 GC left after correction (NaN: no GC)


def gene_levels(
    ratio: np.ndarray, weight: np.ndarray, codes: np.ndarray, n_genes: int
) -> np.ndarray:
    """Biweight level per gene (NaN for genes without a usable target); no CI. All genes at
    once: targets are laid out in a genes x max-targets matrix padded with zero weight."""
    use = weight > 0
    n = np.bincount(codes[use], minlength=n_genes)
    out = np.full(n_genes, np.nan)
    if not use.any():
        return out
    order = np.argsort(codes[use], kind="stable")
    g = codes[use][order]
    slot = np.arange(len(g)) - np.concatenate([[0], np.cumsum(n)[:-1]])[g]
    x = np.zeros((n_genes, n.max()))
    w = np.zeros_like(x)
    x[g, slot] = ratio[use][order]
    w[g, slot] = weight[use][order]
    has = n > 0
    out[has] = biweight_location(x[has], w[has])
    return out


def fit_gc_curve(
    raw: np.ndarray,
    w: np.ndarray,
    gc: np.ndarray,
    codes: np.ndarray,
    n_genes: int,
    span: float,
    max_iter: int = 10,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """GC curve of the ratio estimated from within-gene variation only (backfitting
    ``raw = curve(gc) + gene level``): every gene's own level is removed before the curve is
    fitted, so an amplified or lost gene cannot bend the curve however many targets it has
    or wherever its GC lies. The curve's level is arbitrary (set by the baseline later)."""
    usable = w > 0
    curve = np.zeros_like(raw) if start is None else start
    for _ in range(max_iter):
        level = gene_levels(raw - curve, w, codes, n_genes)
        partial = raw - np.nan_to_num(level[codes])
        new = loess(gc[usable], partial[usable], w[usable], gc, span)
        new -= np.average(new[usable], weights=w[usable])
        done = np.max(np.abs(new - curve)) < 1e-3
        curve = new
        if done:
            break
    return curve


def baseline_gc_curve(
    raw: np.ndarray, w: np.ndarray, gc: np.ndarray, in_base: np.ndarray, span: float
) -> np.ndarray:
    """GC curve of the ratio fitted on the baseline targets only and evaluated at every
    target, centred on the baseline targets (the level is set by the baseline later). A
    changed gene whose GC lies beyond the baseline targets' range (KRAS amplicons at GC 0.32)
    gets the curve continued along its edge tangent, not held flat."""
    curve = loess(gc[in_base], raw[in_base], w[in_base], gc, span, extrapolate=True)
    return curve - np.average(curve[in_base], weights=w[in_base])


def residual_gc_slope(ratio: np.ndarray, level: np.ndarray, w: np.ndarray, gc: np.ndarray) -> float:
    """QC: weighted least-squares slope of the corrected target ratios (minus their gene's
    level) against GC, in log2 per 0.1 GC. Near 0 when the GC correction removed the trend;
    NaN when there are fewer than 5 usable targets or no GC spread."""
    ok = (w > 0) & np.isfinite(level) & np.isfinite(ratio)
    if ok.sum() < 5:
        return float("nan")
    x, y, ww = gc[ok], (ratio - level)[ok], w[ok]
    xm = np.average(x, weights=ww)
    sxx = np.sum(ww * (x - xm) ** 2)
    if sxx <= 0:
        return float("nan")
    return float(np.sum(ww * (x - xm) * (y - np.average(y, weights=ww))) / sxx * 0.1)


def fit_sample(
    raw: np.ndarray,
    var0: np.ndarray,
    usable: np.ndarray,
    gc: np.ndarray | None,
    codes: np.ndarray,
    n_genes: int,
    params: Params,
    rng_seed: int,
    forced_baseline: np.ndarray | None = None,
    max_iter: int = 10,
) -> SampleFit:
    """GC curve (within-gene), then the baseline: the densest cluster of gene levels,
    refined to the genes within ``baseline_tol`` of the baseline until the set is stable.

    ``raw`` is log2(sample) - log2(reference) per target; ``var0`` its sampling variance.
    Only baseline genes set the centre, so changed genes never enter the normalisation.
    """
    w = np.where(usable, 1.0 / np.maximum(var0, 1e-6), 0.0)
    if not usable.any():  # e.g. an empty reference library: nothing can be estimated
        nan = np.full(n_genes, np.nan)
        empty = GeneFit(nan, nan.copy(), nan.copy(), np.zeros(n_genes, dtype=int))
        return SampleFit(
            np.full_like(raw, np.nan),
            np.zeros_like(raw),
            w,
            empty,
            np.zeros(n_genes, dtype=bool),
            0.0,
            float("nan"),
        )
    extra_var = 0.0
    curve = np.zeros_like(raw)
    for _ in range(2):  # second pass with weights that include the extra target variance
        if gc is not None and usable.sum() >= 5:
            curve = fit_gc_curve(raw, w, gc, codes, n_genes, params.gc_span, start=curve)
        level = gene_levels(raw - curve, w, codes, n_genes)
        resid = (raw - curve - level[codes])[usable]
        mad_var = (1.4826 * np.median(np.abs(resid))) ** 2 if len(resid) else 0.0
        extra_var = max(0.0, mad_var - float(np.median(var0[usable]))) if usable.any() else 0.0
        w = np.where(usable, 1.0 / (var0 + extra_var), 0.0)
    level = gene_levels(raw - curve, w, codes, n_genes)
    n = np.bincount(codes[usable], minlength=n_genes)
    if forced_baseline is not None:
        base = forced_baseline & (n > 0)
    else:
        base = densest_genes(level, n, 2 * params.baseline_tol)
    centre = 0.0
    ratio0 = raw - curve
    for _ in range(max_iter):
        in_base = usable & base[codes]
        if not in_base.any():
            in_base = usable
        if gc is not None and in_base.sum() >= 5:
            # the final curve comes from baseline targets only (one shared level): a changed
            # gene's targets (duplicate compression at high depth, partial changes) never
            # shape it; outside the baseline targets' GC range the curve is held flat
            curve = baseline_gc_curve(raw, w, gc, in_base, params.gc_span)
        ratio0 = raw - curve
        centre = float(biweight_location(ratio0[in_base], w[in_base]))
        level = gene_levels(ratio0, w, codes, n_genes)
        if forced_baseline is not None:
            break
        new_base = np.isfinite(level) & (np.abs(level - centre) < params.baseline_tol)
        if np.array_equal(new_base, base):
            break
        base = new_base
    ratio = ratio0 - centre
    in_base = usable & base[codes]
    resid_sd = float(np.sqrt(np.median(var0[in_base]) + extra_var)) if in_base.any() else 0.0
    rng = np.random.default_rng(rng_seed)
    genes = gene_estimates(
        ratio,
        w,
        codes,
        n_genes,
        params,
        rng,
        resid_sd,
        correction_replicates(raw, w, gc, in_base, params, rng),
    )
    # baseline targets are judged against the common baseline (0), the others against their
    # own gene's level, so a trend left between baseline genes shows as well as within genes
    qc_level = np.where(base[codes], 0.0, genes.estimate[codes])
    slope = residual_gc_slope(ratio, qc_level, w, gc) if gc is not None else float("nan")
    return SampleFit(ratio, curve + centre, w, genes, base, resid_sd, slope)


# --------------------------------------------------------------------------- references


@dataclass
class Reference:
    name: str
    log2: np.ndarray  # expected log2 normalised coverage per target
    var: np.ndarray  # sampling variance of that expectation
    counts: np.ndarray  # fragments per target behind it (for min_count)
    warning: str = ""


def parental_reference(name: str, counts: np.ndarray) -> Reference:
    return Reference(name, log2_normalised(counts), poisson_log2_var(counts), counts)


def pool_reference(
    counts: np.ndarray, gc: np.ndarray | None, params: Params, names: list[str]
) -> Reference:
    """Median of GC-corrected pool members. counts: targets x members. Each member's GC curve
    is removed relative to the pool median (twice), then the median and its spread are taken."""
    y = np.column_stack([log2_normalised(counts[:, j]) for j in range(counts.shape[1])])
    ok = np.median(counts, axis=1) >= params.min_count
    if gc is not None and ok.sum() >= 5:
        for _ in range(2):
            med = np.median(y, axis=1)
            for j in range(y.shape[1]):
                dev = y[:, j] - med
                y[:, j] -= loess(gc[ok], dev[ok], np.ones(ok.sum()), gc, params.gc_span)
    med = np.median(y, axis=1)
    k = y.shape[1]
    if k >= 3:
        spread = 1.4826 * np.median(np.abs(y - med[:, None]), axis=1)
        var = np.pi / 2 * spread**2 / k + poisson_log2_var(counts.sum(axis=1))
    else:
        var = poisson_log2_var(counts.sum(axis=1))
    return Reference(f"pool({','.join(names)})", med, var, np.median(counts, axis=1))


def flat_reference(targets: pd.DataFrame, assay: str) -> Reference:
    """No reference: expected coverage from target length alone (capture) or flat (amplicon).
    Efficiency differences between targets are not cancelled: wide CIs, warning raised."""
    length = (targets["end"] - targets["start"]).to_numpy(dtype=float)
    expected = length + FLAT_FRAGMENT if assay == "capture" else np.ones_like(length)
    log2 = np.log2(expected / expected.mean())
    n = len(targets)
    return Reference(
        "flat",
        log2,
        np.zeros(n),
        np.full(n, np.iinfo(np.int64).max),
        "flat reference: target efficiency not cancelled",
    )


# -------------------------------------------------------------------------------- calls


def call_gene(
    cn: float, lo: float, hi: float, n: int, chrom_ratio: float, params: Params
) -> tuple[str, list[str]]:
    """Call from ploidy-adjusted CN; gains/losses need the CI to exclude the ploidy.
    ``not assessable`` carries its reason as the first note."""
    notes: list[str] = []
    if n < params.min_targets or not np.isfinite(cn):
        return NOT_ASSESSABLE, [f"{n} usable targets (< {params.min_targets})"]
    focal = np.isfinite(chrom_ratio) and chrom_ratio >= params.amp_ratio
    above = np.isfinite(lo) and lo > params.ploidy
    below = np.isfinite(hi) and hi < params.ploidy
    if (cn >= params.amp_cn or (focal and cn >= 2 * params.ploidy)) and above:
        return "amplification", notes
    if cn >= params.gain_cn and above:
        return "gain", notes
    if cn <= params.del_cn and below:
        return "deletion", notes
    if cn <= params.loss_cn and below:
        return "loss", notes
    if cn >= params.gain_cn or cn <= params.loss_cn:
        notes.append("estimate beyond threshold but CI includes ploidy")
    return "neutral", notes


def chrom_ratios(
    est: np.ndarray, baseline: np.ndarray, gene_chrom: list[str], genes: list[str]
) -> tuple[np.ndarray, list[str]]:
    """FISH-like ratio (gene vs CEP analogue): 2^(gene log2 - mean log2 of the other baseline
    genes on the same chromosome); NaN where the panel has no such gene. ``baseline`` must
    already exclude genes with too few targets to serve as a reference."""
    ratio = np.full(len(genes), np.nan)
    used: list[str] = []
    for i, chrom in enumerate(gene_chrom):
        refs = [
            j
            for j in range(len(genes))
            if j != i and gene_chrom[j] == chrom and baseline[j] and np.isfinite(est[j])
        ]
        if refs and np.isfinite(est[i]):
            ratio[i] = 2.0 ** (est[i] - np.mean(est[refs]))
        used.append(",".join(genes[j] for j in refs))
    return ratio, used


# ------------------------------------------------------------------------------- driver


@dataclass
class SampleInput:
    name: str
    role: str  # parental | resistant
    counts: np.ndarray


def load_targets(path: str | Path) -> pd.DataFrame:
    targets = read_bed(path, names=("chrom", "start", "end", "gene"))
    empty = targets["gene"].str.strip() == ""
    if empty.any():
        raise UserError(f"{path}: row {int(empty.idxmax()) + 1}: column 4 (gene) is empty")
    dup = targets.duplicated(["chrom", "start", "end"])
    if dup.any():
        raise UserError(f"{path}: row {int(dup.idxmax()) + 1}: duplicate target interval")
    return targets.sort_values(["chrom", "start", "end"], kind="stable").reset_index(drop=True)


def gene_codes(targets: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """The panel's genes in sorted order and each target's index into them."""
    genes_sorted = sorted(set(targets["gene"]))
    index = {g: i for i, g in enumerate(genes_sorted)}
    return genes_sorted, np.array([index[g] for g in targets["gene"]], dtype=int)


def sample_ratio(
    counts: np.ndarray, reference: Reference, gc: np.ndarray | None, params: Params
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per target: log2 ratio of the sample to the reference, its sampling variance, and
    whether it is usable (reference deep enough, finite ratio and GC)."""
    raw = log2_normalised(counts) - reference.log2
    var0 = poisson_log2_var(counts) + reference.var
    usable = (reference.counts >= params.min_count) & np.isfinite(raw)
    if gc is not None:
        usable &= np.isfinite(gc)
    return raw, var0, usable


def filled_gc(gc: np.ndarray) -> np.ndarray:
    """GC with unknown values (all-N targets, never usable) set to the median."""
    return np.nan_to_num(gc, nan=np.nanmedian(gc))


def gc_misfit(
    targets: pd.DataFrame,
    samples: Sequence[SampleInput],
    reference: Reference,
    gc: np.ndarray,
    params: Params,
) -> float:
    """How much target scatter a GC measure leaves: after the within-gene GC fit, each usable
    target's ratio around its gene's level in units of its sampling SD, squared and capped
    at 16 (4 SD: one odd target cannot decide), summed over ``samples``. Two measures of the
    same targets are compared on the same counts, so the sampling noise is common to both
    and the smaller sum explains the coverage better."""
    _, codes = gene_codes(targets)
    n_genes = int(codes.max()) + 1 if len(codes) else 0
    total = 0.0
    for sample in samples:
        raw, var0, usable = sample_ratio(sample.counts, reference, gc, params)
        if usable.sum() < 5:
            continue
        w = np.where(usable, 1.0 / np.maximum(var0, 1e-6), 0.0)
        curve = fit_gc_curve(raw, w, filled_gc(gc), codes, n_genes, params.gc_span)
        level = gene_levels(raw - curve, w, codes, n_genes)
        z2 = w * (raw - curve - level[codes]) ** 2
        total += float(np.minimum(z2[usable & np.isfinite(z2)], 16.0).sum())
    return total


def gc_measures(
    reference: str | None, targets: pd.DataFrame, assay: str, amplicon_gc: str
) -> dict[str, np.ndarray]:
    """The GC measures to consider, by name: none without a reference; a capture target
    +-100 bp; an amplicon's PCR product (insert +-20 bp), its insert alone, or both (auto)."""
    if not reference:
        return {}
    if assay != "amplicon":
        return {assay: target_gc(reference, targets, GC_PAD[assay])}
    wanted = ("product", "insert") if amplicon_gc == "auto" else (amplicon_gc,)
    pad = {"product": GC_PAD["amplicon"], "insert": 0}
    return {k: target_gc(reference, targets, pad[k]) for k in wanted}


def analyse(
    targets: pd.DataFrame,
    samples: list[SampleInput],
    reference: Reference,
    gc: np.ndarray | None,
    params: Params,
    baseline_genes: list[str] | None = None,
    purity: dict[str, float] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Gene table (cn.tsv) and per-target table for every sample against ``reference``.

    ``purity`` (sample -> tumour fraction, default 1.0) turns the bulk ratio into the copy
    number of the tumour cells (``purity.tumour_copies``)."""
    genes_sorted, codes = gene_codes(targets)
    n_genes = len(genes_sorted)
    gene_chrom = [
        contig_offset(str(targets.loc[targets["gene"] == g, "chrom"].iloc[0]))[0]
        for g in genes_sorted
    ]
    forced = None
    if baseline_genes:
        unknown = sorted(set(baseline_genes) - set(genes_sorted))
        if unknown:
            raise UserError(f"--baseline-genes: not in the targets BED: {', '.join(unknown)}")
        forced = np.array([g in baseline_genes for g in genes_sorted])
    ref_low = reference.counts < params.min_count
    gene_rows, target_rows = [], []
    parental_est: dict[str, float] = {}
    for s_index, sample in enumerate(samples):
        counts = sample.counts
        raw, var0, usable = sample_ratio(counts, reference, gc, params)
        tumour = (purity or {}).get(sample.name, 1.0)
        # baseline_tol is a change in the tumour cells; the bulk ratio moves purity times less
        bulk_tol = float(np.log2(1.0 + tumour * (2.0**params.baseline_tol - 1.0)))
        fit = fit_sample(
            raw,
            var0,
            usable,
            filled_gc(gc) if gc is not None else None,
            codes,
            n_genes,
            replace(params, baseline_tol=bulk_tol),
            params.seed + s_index,
            forced,
        )
        g = fit.genes
        copies, ci_low, ci_high = (
            tumour_copies(params.ploidy * 2.0**x, tumour, params.ploidy)
            for x in (g.estimate, g.ci_low, g.ci_high)
        )
        # the FISH-like ratio is a ratio of tumour-cell copies (what FISH counts per nucleus)
        tumour_log2 = np.log2(np.maximum(copies, 1e-3) / params.ploidy)
        ratio_fish, ratio_genes = chrom_ratios(
            tumour_log2, fit.baseline & (g.n >= params.min_targets), gene_chrom, genes_sorted
        )
        if sample.role == "parental":
            parental_est = dict(zip(genes_sorted, g.estimate, strict=True))
        for i, gene in enumerate(genes_sorted):
            cn, lo, hi = copies[i], ci_low[i], ci_high[i]
            call, notes = call_gene(cn, lo, hi, int(g.n[i]), ratio_fish[i], params)
            reason = notes.pop(0) if call == NOT_ASSESSABLE else ""
            # a gene that is (almost) its own baseline is 'neutral' by construction: no
            # measurement unless baseline genes other than itself have usable targets
            others = int((usable & fit.baseline[codes] & (codes != i)).sum())
            if call != NOT_ASSESSABLE and others < params.min_targets:
                call = NOT_ASSESSABLE
                reason = (
                    f"no baseline gene other than {gene} has usable reads ({others} usable "
                    f"baseline targets outside it, < {params.min_targets}): its copy number "
                    "would be the ploidy by construction"
                )
            # nothing measured-looking on a not-assessable row: its FISH-like ratio and change
            # vs the parental rest on the same estimate as the copy number that is withheld
            fish = ratio_fish[i]
            vs_parental = (
                g.estimate[i] - parental_est[gene]
                if sample.role == "resistant" and parental_est
                else np.nan
            )
            if call == NOT_ASSESSABLE:
                cn = lo = hi = fish = vs_parental = np.nan
            if gene in CONTROL_GENES and call in CN_CHANGED:
                notes.append("control gene changed: check the baseline")
            if reference.warning:
                notes.append(reference.warning)
            if gc is None:
                notes.append("no GC correction (no --reference)")
            sel = codes == i
            gene_rows.append(
                {
                    "sample": sample.name,
                    "gene": gene,
                    "n_targets": int(g.n[i]),
                    "log2_ratio": g.estimate[i] if call != NOT_ASSESSABLE else np.nan,
                    "copy_number": cn,
                    "ci_low": lo,
                    "ci_high": hi,
                    "call": call,
                    "reason": reason,
                    "role": sample.role,
                    "reference": reference.name,
                    "chrom": gene_chrom[i],
                    "baseline": "yes" if fit.baseline[i] else "no",
                    "chrom_ratio": fish,
                    "chrom_ratio_genes": ratio_genes[i],
                    "log2_vs_parental": vs_parental,
                    "median_count": float(np.median(counts[sel])) if sel.any() else 0.0,
                    "gc_residual_slope": fit.gc_residual_slope,
                    "purity": tumour,
                    "warning": "; ".join(notes),
                }
            )
        flags = np.where(ref_low, "low_reference_count", "")
        target_rows.append(
            pd.DataFrame(
                {
                    "sample": sample.name,
                    "chrom": targets["chrom"],
                    "start": targets["start"],
                    "end": targets["end"],
                    "genomic": [
                        f"{genomic_label(c, s + 1)}-{contig_offset(c)[1] + e}"
                        for c, s, e in zip(
                            targets["chrom"], targets["start"], targets["end"], strict=True
                        )
                    ],
                    "gene": targets["gene"],
                    "gc": gc if gc is not None else np.nan,
                    "count": counts,
                    "ref_count": reference.counts if reference.name != "flat" else np.nan,
                    "log2_raw": raw,
                    "gc_correction": fit.gc_correction,
                    "log2_ratio": fit.ratio,
                    "weight": fit.weight / fit.weight.max() if fit.weight.max() > 0 else fit.weight,
                    "baseline": np.where(fit.baseline[codes], "yes", "no"),
                    "flags": flags,
                }
            )
        )
    cn = pd.DataFrame(gene_rows, columns=list(CNV_COLUMNS))
    # backbone targets (on no gene, annotation.assign_targets) may join the baseline; they are
    # never reported as a gene
    cn = cn[cn["gene"] != BACKBONE].reset_index(drop=True)
    return cn, pd.concat(target_rows, ignore_index=True)[list(CNV_TARGET_COLUMNS)]


def flag_saturated(per_target: pd.DataFrame, saturated: np.ndarray) -> pd.DataFrame:
    """Add ``duplicate_saturated`` to the flags of saturated targets (every sample's rows)."""
    mark = np.tile(saturated, len(per_target) // max(len(saturated), 1))
    if not mark.any():
        return per_target
    flags = per_target["flags"].astype(str)
    joined = np.where(flags == "", "duplicate_saturated", flags + ";duplicate_saturated")
    return per_target.assign(flags=np.where(mark, joined, flags))


def too_few_reads(samples: list[SampleInput], min_count: int) -> dict[str, str]:
    """Samples whose median target has fewer than ``min_count`` fragments (e.g. a library of a
    few hundred reads, or none mapped): no copy number can rest on them."""
    out = {}
    for s in samples:
        median = float(np.median(s.counts)) if len(s.counts) else 0.0
        if median < min_count:
            out[s.name] = f"median {median:.0f} fragments per target (< {min_count})"
    return out


def apply_qc(cn: pd.DataFrame, reasons: dict[str, str], compared_to: str | None) -> pd.DataFrame:
    """Gene rows of a sample with a reason (QC failure, too few reads), or of every sample when
    the parental they are compared with (``compared_to``) has one, become ``not assessable``
    with the reason: no copy number, CI or call from data that cannot carry one."""
    cn = cn.copy()
    parental_reason = reasons.get(compared_to) if compared_to else None
    for sample in cn["sample"].unique():
        reason = reasons.get(sample)
        if reason is None and parental_reason is not None:
            reason = f"parental {compared_to}: {parental_reason} (copy number is relative to it)"
        if reason is None:
            continue
        rows = cn["sample"] == sample
        cn.loc[
            rows,
            ["log2_ratio", "copy_number", "ci_low", "ci_high", "chrom_ratio", "log2_vs_parental"],
        ] = np.nan
        # the GC trend left and the estimate's warning describe a fit that is not shown
        cn.loc[rows, "gc_residual_slope"] = np.nan
        cn.loc[rows, "warning"] = ""
        cn.loc[rows, "call"] = NOT_ASSESSABLE
        cn.loc[rows, "reason"] = reason
        log.warning("%s: copy number not assessable: %s", sample, reason)
    return cn


def apply_qc_targets(
    per_target: pd.DataFrame,
    reasons: dict[str, str],
    compared_to: str | None,
    flag: str = "not_assessable",
) -> pd.DataFrame:
    """Per-target rows of the samples :func:`apply_qc` makes not assessable (same arguments):
    no ratio, no weight (a sample with 0 reads got ratios from the pseudo-count alone, which
    MultiQC and the report showed as a target spread and a GC trend), ``flags`` += ``flag``."""
    if compared_to and reasons.get(compared_to):
        gated = set(per_target["sample"])
    else:
        gated = set(reasons) & set(per_target["sample"])
    if not gated:
        return per_target
    out = per_target.copy()
    rows = out["sample"].isin(gated)
    out.loc[rows, ["log2_raw", "gc_correction", "log2_ratio"]] = np.nan
    out.loc[rows, "weight"] = 0.0
    flags = out["flags"].astype(str)
    joined = np.where(flags == "", flag, flags + ";" + flag)
    out["flags"] = np.where(rows, joined, flags)
    return out


def run(
    targets_bed: str,
    parental: str,
    resistant: Sequence[str],
    out: str,
    params: Params = Params(),
    *,
    targets_out: str | None = None,
    reference: str | None = None,
    pool: Sequence[str] = (),
    compare_to: str | None = None,
    assay: str = "capture",
    baseline_genes: Sequence[str] = (),
    threads: int = 1,
    purity: Sequence[str] = (),
    qc_json: Sequence[str] = (),
) -> pd.DataFrame:
    """Whole stage: count, normalise, call; write cnv.tsv (+ per-target table); return cnv.tsv.
    ``qc_json``: the samples' qc.json files; a failed sample (or parental) is not assessable."""
    targets = load_targets(targets_bed)
    names = preflight_bams([parental, *resistant], reference)
    pool_names = preflight_bams(pool, reference, unique=False)
    gcs = gc_measures(reference, targets, assay, params.amplicon_gc)
    if not gcs:
        log.warning("no --reference: GC correction is skipped")

    def count(bams: Sequence[str]) -> list[TargetCounts]:
        """Fragment counts of each BAM, ``threads`` BAMs at once (the kernel counts without
        the GIL): less wall time, not less CPU."""
        with ThreadPoolExecutor(max_workers=max(1, min(threads, len(bams)))) as ex:
            return list(
                ex.map(lambda b: count_targets(b, targets, assay, params.min_mapq, reference), bams)
            )

    mode = compare_to or ("pool" if pool else "parental")
    if mode == "pool" and not pool:
        raise UserError("--compare-to pool needs --pool BAMs")
    libraries = count([parental, *resistant, *(pool if mode == "pool" else ())])
    sat = saturation.correct(
        np.vstack([c.fragments for c in libraries]),
        np.vstack([c.with_duplicates for c in libraries]),
        params.saturation_z,
    )
    if sat.saturated.any():
        log.info(
            "%d targets duplicate-saturated, counted from all fragments: %s",
            int(sat.saturated.sum()),
            ", ".join(sorted(set(targets.loc[sat.saturated, "gene"]))),
        )
    counted = list(sat.counts[: 1 + len(resistant)])
    samples = [SampleInput(names[0], "parental", counted[0])]
    samples += [SampleInput(n, "resistant", c) for n, c in zip(names[1:], counted[1:], strict=True)]

    def reference_for(gc: np.ndarray | None) -> Reference:
        if mode == "pool":
            return pool_reference(sat.counts[1 + len(resistant) :].T, gc, params, pool_names)
        if mode == "parental":
            return parental_reference(samples[0].name, samples[0].counts)
        return flat_reference(targets, assay)

    tested = samples[1:] if mode == "parental" else samples
    if mode == "flat":
        log.warning("flat reference: per-target efficiency is not cancelled; CIs are wide")
    # each GC measure with the reference built with it (a pool's depends on it); none: no GC
    candidates: dict[str, tuple[np.ndarray | None, Reference]] = {
        k: (v, reference_for(v)) for k, v in gcs.items()
    } or {"none": (None, reference_for(None))}
    chosen = next(iter(candidates))
    if len(candidates) > 1:  # amplicon_gc auto: the measure that explains the coverage better
        misfit = {
            k: gc_misfit(targets, tested, candidates[k][1], g, params) for k, g in gcs.items()
        }
        chosen = min(misfit, key=misfit.__getitem__)  # a tie keeps the first, the product
        log.info(
            "amplicon GC over the %s (target scatter left after GC correction: %s)",
            chosen,
            ", ".join(f"{k} {v:.1f}" for k, v in misfit.items()),
        )
    gc, ref_cov = candidates[chosen]
    purity_of = parse_purity(list(purity), [s.name for s in samples])
    cn, per_target = analyse(
        targets, tested, ref_cov, gc, params, list(baseline_genes) or None, purity_of
    )
    qc = read_qc(list(qc_json))
    reasons = too_few_reads(samples, params.min_count)
    reasons.update({s.name: r for s in samples if (r := not_assessable(qc, s.name, "cnv"))})
    compared_to = samples[0].name if mode == "parental" else None
    cn = apply_qc(cn, reasons, compared_to)
    per_target = apply_qc_targets(flag_saturated(per_target, sat.saturated), reasons, compared_to)
    tables: list[tuple[str | Path, pd.DataFrame]] = [(out, cn)]
    if targets_out:
        tables.append((targets_out, per_target))
    write_tsvs(tables, float_format="%.4f", na_rep="NA")
    for row in cn[cn["call"] != "neutral"].itertuples(index=False):
        log.info("%s %s: %s (CN %.2f)", row.sample, row.gene, row.call, row.copy_number)
    return cn


def _cmd_cnv(args: argparse.Namespace) -> None:
    run(
        args.targets,
        args.parental,
        args.resistant,
        args.out,
        from_args(Params, args),
        targets_out=args.targets_out,
        reference=args.reference,
        pool=args.pool or (),
        compare_to=args.compare_to,
        assay=args.assay,
        baseline_genes=[g for g in args.baseline_genes.split(",") if g],
        threads=args.threads,
        purity=args.purity,
        qc_json=args.qc or (),
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "cnv",
        help="gene copy number of resistant samples vs parental",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--targets", required=True, help="targets BED: chrom start end gene")
    p.add_argument("--parental", required=True, help="parental BAM (indexed)")
    p.add_argument("--resistant", required=True, nargs="+", help="resistant BAM(s)")
    p.add_argument("--reference", help="reference FASTA (target GC); without it no GC correction")
    p.add_argument("--pool", nargs="+", help="pool-of-normals BAMs (reference = their median)")
    p.add_argument(
        "--compare-to",
        choices=("parental", "pool", "flat"),
        help="reference coverage: parental (default), pool (default when --pool is given) or "
        "flat (no reference; warns)",
    )
    p.add_argument(
        "--assay",
        choices=("capture", "amplicon"),
        default="capture",
        help="capture: skip duplicates, count overlapping fragments; amplicon: keep "
        "duplicates, count fragments by midpoint (default capture)",
    )
    p.add_argument("--out", required=True, help="gene table (cn.tsv)")
    p.add_argument("--targets-out", help="per-target normalised ratios")
    p.add_argument(
        "--baseline-genes",
        default="",
        help="comma-separated genes forced as the baseline (default: data-driven)",
    )
    p.add_argument("--threads", type=int, default=1, help="BAMs counted at once, one per thread")
    p.add_argument(
        "--qc",
        nargs="+",
        help="qc.json of the samples (resistcall qc): a sample that failed QC, or every "
        "sample when the parental failed, gets 'not assessable'",
    )
    add_options(p, Params)
    add_purity_option(p)
    p.set_defaults(func=_cmd_cnv)
