"""Low-VAF SNV/indel calling, parental vs resistant (``resistcall snv``).

Method in docs/snv.md. In short: alleles are counted with :mod:`resistcall.pileup`; a
beta-binomial background per substitution class is learned from every sample over the whole
panel and raised where base qualities promise more errors; each sample's alt count is tested
against it (detection); the resistant alt count is tested against the parental-informed
predictive distribution (a two-component mixture: noise or a real parental variant), which
decides STATUS acquired / enriched / shared / lost. P-value thresholds use a weighted
Bonferroni correction over every tested (position, allele) hypothesis, with half of alpha
reserved for known-resistance hotspot positions. Artefact filters are named in the header.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from resistcall import __version__
from resistcall.contracts import (
    HOTSPOT_COLUMNS,
    HOTSPOT_FILTERED_SIGNAL,
    NOT_ASSESSABLE,
    PON_COLUMNS,
    SNV_STATUS,
    filter_words,
)
from resistcall.distributions import (
    bb_cdf,
    bb_isf,
    bb_logpmf,
    bb_sf,
    beta_ppf,
    binom_sf,
    fisher_two_sided,
    log_tails,
)
from resistcall.errors import UserError
from resistcall.meta_line import format_meta, parse_meta
from resistcall.options import add_options, from_args
from resistcall.outputs import atomic_paths, write_tsv
from resistcall.pileup import ALLELES, Counts, PileupParams, count_regions, read_positions
from resistcall.purity import (
    add_purity_option,
    cancer_cell_fraction,
    parse_purity,
    vaf_scale,
)
from resistcall.qcgate import not_assessable, read_qc
from resistcall.reference import BUILD, BUILDS, preflight_bams, read_bed, reference_header
from resistcall.snv_config import SnvConfig

log = logging.getLogger(__name__)
#: STATUS words a VCF carries (a comparison that could not be made has none).
VCF_STATUSES = "|".join(s for s in SNV_STATUS if s != NOT_ASSESSABLE)

BASES = "ACGT"
#: ``alt`` of a panel-of-normals row counting every indel event anchored at a position.
INDEL_ALT = "indel"
#: Indel noise classes: event length (1 bp, or longer) x context (the bases after the anchor
#: start a homopolymer of at least ``INDEL_REPEAT_RUN``, where polymerase slippage makes
#: indels; ``plain`` otherwise). docs/snv.md, "Indel noise".
INDEL_REPEAT_RUN = 4

#: FILTER name -> header description (every name the caller can write).
FILTERS = {
    "strand_bias": "Alt reads on one strand only while ref reads are on both (Fisher p below "
    "strand_bias_p and alt strand fraction outside [strand_min_frac, 1 - strand_min_frac])",
    "read_end": "Median distance of alt bases to the aligned read end (primer/adapter "
    "position) below read_end_distance",
    "low_base_quality": "Mean base quality of alt bases below min_alt_base_quality",
    "homopolymer": "Indel, or SNV to the repeated base, next to a homopolymer of at least "
    "homopolymer_length at VAF below homopolymer_max_vaf",
    "low_depth": "Depth of the evidence sample below min_depth",
    "low_vaf": "Upper 95% confidence bound of the VAF below --min-vaf",
    "near_indel": "Within near_indel_window bp of a detected indel with at least "
    "near_indel_ratio times more alt reads (alignment artefact of that indel)",
    "pon_variant": "With --pon: a panel-of-normals sample carries this allele as a variant and "
    "the evidence VAF is below contamination_max_vaf (likely cross-sample contamination)",
}


# --------------------------------------------------------------------------------------------
# Sample matrix
# --------------------------------------------------------------------------------------------


@dataclass
class SampleCounts:
    """All regions of one sample, concatenated along the position axis."""

    name: str
    contig: np.ndarray  # (n,) object
    pos: np.ndarray  # (n,) int64 0-based
    ref: np.ndarray  # (n,) uint8
    counts: np.ndarray  # (n, 6, 2)
    qual_sum: np.ndarray  # (n, 6)
    err_sum: np.ndarray  # (n,)
    indels: pd.DataFrame  # contig pos ref alt fwd rev (normalised)
    #: per observation (pileup.Counts.base_obs / indel_obs) with a contig column; indel
    #: observations are normalised like ``indels``
    base_obs: pd.DataFrame
    indel_obs: pd.DataFrame

    @cached_property
    def depth(self) -> np.ndarray:
        """Reads per position (computed once: callers index it per site)."""
        return self.counts.sum(axis=(1, 2))


def concat_counts(name: str, parts: list[Counts], fasta: pysam.FastaFile) -> SampleCounts:
    """Join per-region counts; left-normalise and merge indel events (and their observations)."""
    key = ["contig", "pos", "ref", "alt"]
    indels = pd.concat(
        [c.indels.assign(contig=c.contig) for c in parts], ignore_index=True
    ).reindex(columns=[*key, "fwd", "rev"])
    obs = pd.concat([c.indel_obs.assign(contig=c.contig) for c in parts], ignore_index=True)
    if len(indels):
        norm = pd.DataFrame(
            [
                normalise(fasta, r.contig, int(r.pos), r.ref, r.alt)
                for r in indels.itertuples(index=False)
            ],
            columns=["npos", "nref", "nalt"],
        )
        mapping = pd.concat([indels[key], norm], axis=1)
        indels[["pos", "ref", "alt"]] = norm.to_numpy()
        indels = indels.groupby(key, as_index=False, sort=False)[["fwd", "rev"]].sum()
        obs = obs.merge(mapping, on=key, how="left", sort=False).drop(columns=key[1:])
        obs = obs.rename(columns={"npos": "pos", "nref": "ref", "nalt": "alt"})
    return SampleCounts(
        name=name,
        contig=np.concatenate([np.full(len(c.positions), c.contig, dtype=object) for c in parts]),
        pos=np.concatenate([c.positions for c in parts]),
        ref=np.concatenate([c.ref for c in parts]),
        counts=np.concatenate([c.counts for c in parts]),
        qual_sum=np.concatenate([c.qual_sum for c in parts]),
        err_sum=np.concatenate([c.err_sum for c in parts]),
        indels=indels.astype({"pos": "int64", "fwd": "int64", "rev": "int64"}),
        base_obs=pd.concat([c.base_obs.assign(contig=c.contig) for c in parts], ignore_index=True),
        indel_obs=obs.astype({"pos": "int64"}),
    )


def normalise(
    fasta: pysam.FastaFile, contig: str, pos: int, ref: str, alt: str
) -> tuple[int, str, str]:
    """Left-align and trim a VCF-style allele pair (``pos`` 0-based), as ``bcftools norm``."""
    ref, alt = ref.upper(), alt.upper()
    while True:
        changed = False
        if ref and alt and ref[-1] == alt[-1]:
            ref, alt = ref[:-1], alt[:-1]
            changed = True
        if (not ref or not alt) and pos > 0:
            pos -= 1
            base = fasta.fetch(contig, pos, pos + 1).upper()
            ref, alt = base + ref, base + alt
            changed = True
        if not changed:
            break
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    return pos, ref, alt


# --------------------------------------------------------------------------------------------
# Background model
# --------------------------------------------------------------------------------------------


def fit_beta(k: np.ndarray, n: np.ndarray, max_rho: float = 0.2) -> tuple[float, float]:
    """Method-of-moments beta-binomial fit (pooled mean, Kleinman intra-site correlation).

    Returns (mean, concentration kappa = alpha + beta). Too little data gives a weak default.
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    keep = n > 0
    k, n = k[keep], n[keep]
    m = len(n)
    if m < 10 or n.sum() == 0:
        return 1e-3, 1e3
    mu = max(k.sum() / n.sum(), 1.0 / (n.sum() + 1.0))
    p = k / n
    s = float((n * (p - mu) ** 2).sum())
    denom = mu * (1 - mu) * (n.sum() - (n**2).sum() / n.sum() - (m - 1))
    rho = (s - mu * (1 - mu) * (m - 1)) / denom if denom > 0 else 0.0
    rho = float(np.clip(rho, 1e-6, max_rho))
    return mu, 1.0 / rho - 1.0


def fit_background(samples: list[SampleCounts], cfg: SnvConfig) -> dict[str, tuple[float, float]]:
    """Background (mean, kappa) per substitution class ``X>Y`` and for ``indel``.

    Pooled over all samples and panel positions (depth >= 20), leaving out sites whose alt
    fraction exceeds ``background_max_vaf`` in that sample (real variants, not noise).
    """
    model: dict[str, tuple[float, float]] = {}
    ks: dict[str, list[np.ndarray]] = {}
    ns: dict[str, list[np.ndarray]] = {}
    for s in samples:
        depth = s.depth
        ok = depth >= 20
        allele_n = s.counts.sum(axis=2)
        for ri, rb in enumerate(BASES):
            at = ok & (s.ref == ord(rb))
            for ai, ab in enumerate(BASES):
                if ai == ri:
                    continue
                k = allele_n[at, ai]
                n = depth[at]
                noise = k <= cfg.background_max_vaf * n
                ks.setdefault(f"{rb}>{ab}", []).append(k[noise])
                ns.setdefault(f"{rb}>{ab}", []).append(n[noise])
        repeat = repeat_context(s)
        for long in (False, True):
            ind = indel_counts(s, long)
            for rep in (False, True):
                noise = ok & (repeat == rep) & (ind <= cfg.background_max_vaf * depth)
                cls = indel_class(2 if long else 1, rep)
                ks.setdefault(cls, []).append(ind[noise])
                ns.setdefault(cls, []).append(depth[noise])
    for cls in ks:
        model[cls] = fit_beta(np.concatenate(ks[cls]), np.concatenate(ns[cls]))
    return model


def indel_class(length: int, repeat: bool) -> str:
    """Noise class of an indel of ``length`` bp (1, or longer) in a repeat or plain context."""
    return f"indel{'1' if length == 1 else '2+'}:{'repeat' if repeat else 'plain'}"


def repeat_context(s: SampleCounts) -> np.ndarray:
    """Per position: do the reference bases after it start a homopolymer of at least
    ``INDEL_REPEAT_RUN`` (within the counted region)?"""
    ref = s.ref
    n = len(ref)
    if n == 0:
        return np.zeros(0, dtype=bool)
    # length of the run of equal bases starting at each position (same contig, adjacent)
    adjacent = (s.contig[1:] == s.contig[:-1]) & (np.diff(s.pos) == 1)
    ends = np.flatnonzero(np.append(~(adjacent & (ref[1:] == ref[:-1])), True))
    run = ends[np.searchsorted(ends, np.arange(n))] - np.arange(n) + 1
    after = np.zeros(n, dtype=np.int64)
    after[:-1] = np.where(adjacent, run[1:], 0)
    return after >= INDEL_REPEAT_RUN


def indel_counts(s: SampleCounts, long: bool) -> np.ndarray:
    """Per position: indel events anchored there, 1 bp (``long`` False) or longer."""
    out = np.zeros(len(s.pos))
    if not len(s.indels):
        return out
    size = (s.indels["alt"].str.len() - s.indels["ref"].str.len()).abs()
    sel = s.indels[(size > 1) == long]
    if not len(sel):
        return out
    index = pd.Series(np.arange(len(s.pos)), index=pd.MultiIndex.from_arrays([s.contig, s.pos]))
    tot = sel.groupby(["contig", "pos"])[["fwd", "rev"]].sum().sum(axis=1)
    idx = index.reindex(tot.index)
    good = idx.notna().to_numpy()
    np.add.at(out, idx.to_numpy()[good].astype(int), tot.to_numpy()[good])
    return out


def paired_tests(
    kr: np.ndarray,
    nr: np.ndarray,
    kp: np.ndarray,
    np_: np.ndarray,
    a0: np.ndarray,
    b0: np.ndarray,
    variant_prior: float,
    scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(p_enriched, p_depleted) of resistant counts given the parental counts.

    The parental site rate is either background noise, Beta(a0, b0), or a real variant with a
    flat Beta(1, 1) prior; the parental data weight the two components, and the resistant count
    is compared with the resulting mixture of beta-binomial predictive distributions. A real
    variant's rate is multiplied by ``scale`` (resistant / parental purity) before the
    comparison: the same cancer-cell fraction reads a lower VAF in a less pure sample. Noise
    is not tumour-derived and is not rescaled.
    """
    w_var, (a_n, b_n), (a_v, b_v) = _parental_mixture(kp, np_, a0, b0, variant_prior, scale)
    p_enr = (1 - w_var) * bb_sf(kr, nr, a_n, b_n) + w_var * bb_sf(kr, nr, a_v, b_v)
    p_dep = (1 - w_var) * bb_cdf(kr, nr, a_n, b_n) + w_var * bb_cdf(kr, nr, a_v, b_v)
    return np.clip(p_enr, 0, 1), np.clip(p_dep, 0, 1)


def _parental_mixture(kp, np_, a0, b0, variant_prior: float, scale: float = 1.0):
    """(weight of the real-variant component, (a, b) of the noise component, (a, b) of the
    variant component) of ``paired_tests``' predictive mixture given the parental counts."""
    log_noise = np.log1p(-variant_prior) + bb_logpmf(kp, np.maximum(np_, 1), a0, b0)
    log_var = np.log(variant_prior) - np.log(np_ + 1.0)
    w_var = 1.0 / (1.0 + np.exp(np.clip(log_noise - log_var, -700, 700)))
    kv = np.minimum(kp * scale, np_)
    return w_var, (a0 + kp, b0 + np_ - kp), (1.0 + kv, 1.0 + np_ - kv)


def decide_status(
    det_r: np.ndarray,
    det_p: np.ndarray,
    p_enr: np.ndarray,
    p_dep: np.ndarray,
    vaf_r: np.ndarray,
    vaf_p: np.ndarray,
    thr: np.ndarray,
    fold: float,
) -> np.ndarray:
    """STATUS of one resistant sample per site ('' where it has no evidence either way).

    acquired: resistant detected, parental not, resistant enriched over parental.
    enriched: both detected, resistant significantly higher and >= ``fold`` x parental VAF.
    shared: resistant detected and neither acquired nor enriched (``call`` only lets a resistant
    sample detect a variant the parental lacks when it is also enriched, so in practice: both
    detected, not enriched).
    lost: parental detected, resistant significantly lower and (undetected or < VAF/fold).
    """
    enr = p_enr < thr
    dep = p_dep < thr
    out = np.full(len(det_r), "", dtype=object)
    out[det_r] = "shared"
    out[det_r & ~det_p & enr] = "acquired"
    out[det_r & det_p & enr & (vaf_r >= fold * vaf_p)] = "enriched"
    lost = det_p & dep & (~det_r | (vaf_r * fold <= vaf_p))
    out[lost] = "lost"
    return out


# --------------------------------------------------------------------------------------------
# Candidates and statistics
# --------------------------------------------------------------------------------------------


def build_candidates(samples: list[SampleCounts], cfg: SnvConfig) -> pd.DataFrame:
    """One row per (site, alt) with at least ``min_alt_reads`` alt reads in some sample."""
    first = samples[0]
    allele_n = np.stack([s.counts.sum(axis=2) for s in samples])  # (S, n, 6)
    rows = []
    for ai, ab in enumerate(BASES):
        hit = (allele_n[:, :, ai].max(axis=0) >= cfg.min_alt_reads) & (first.ref != ord(ab))
        hit &= np.isin(first.ref, np.frombuffer(b"ACGT", dtype=np.uint8))
        idx = np.flatnonzero(hit)
        rows.append(
            pd.DataFrame(
                {
                    "contig": first.contig[idx],
                    "pos": first.pos[idx],
                    "ref": [chr(c) for c in first.ref[idx]],
                    "alt": ab,
                    "row": idx,
                    "kind": "snv",
                }
            )
        )
    snv = pd.concat(rows, ignore_index=True)
    ind = [s.indels.assign(n=s.indels.fwd + s.indels.rev) for s in samples if len(s.indels)]
    if ind:
        allind = pd.concat(ind).groupby(["contig", "pos", "ref", "alt"], as_index=False)["n"].max()
        # an indel whose reference or inserted bases include N (a gap of the assembly, or the
        # N padding of a panel reference) names no sequence: bcftools skips N sites alike
        acgt = allind.ref.str.fullmatch("[ACGT]+") & allind.alt.str.fullmatch("[ACGT]+")
        allind = allind[(allind.n >= cfg.min_alt_reads) & acgt]
        index = pd.Series(
            np.arange(len(first.pos)), index=pd.MultiIndex.from_arrays([first.contig, first.pos])
        )
        row = index.reindex(pd.MultiIndex.from_frame(allind[["contig", "pos"]]))
        allind = allind.assign(row=row.to_numpy()).dropna(subset=["row"])
        indel = allind.drop(columns="n").assign(kind="indel")
        indel["row"] = indel["row"].astype(int)
        snv = pd.concat([snv, indel], ignore_index=True)
    return snv.reset_index(drop=True)


def sample_stats(s: SampleCounts, cand: pd.DataFrame) -> pd.DataFrame:
    """Per-candidate depth, ref/alt counts by strand, mean alt and ref base quality."""
    row = cand["row"].to_numpy()
    depth = s.depth[row]
    is_snv = (cand["kind"] == "snv").to_numpy()
    out = pd.DataFrame(index=cand.index)
    code = {a: i for i, a in enumerate(ALLELES)}
    ref_i = cand["ref"].str[0].map(code).to_numpy(dtype=np.int64)
    alt_i = np.where(is_snv, cand["alt"].map(code).fillna(0).to_numpy(dtype=np.int64), 0)
    c = s.counts[row]  # (m, 6, 2)
    ar = np.arange(len(row))
    alt_f = np.where(is_snv, c[ar, alt_i, 0], 0)
    alt_r = np.where(is_snv, c[ar, alt_i, 1], 0)
    if (~is_snv).any():
        key = pd.MultiIndex.from_frame(cand.loc[~is_snv, ["contig", "pos", "ref", "alt"]])
        ind = s.indels.set_index(["contig", "pos", "ref", "alt"]).reindex(key).fillna(0)
        alt_f[~is_snv] = ind["fwd"].to_numpy()
        alt_r[~is_snv] = ind["rev"].to_numpy()
    ref_f = c[ar, ref_i, 0]
    ref_r = c[ar, ref_i, 1]
    # an indel's "ref" reads: every other read at the anchor, split by strand like the ref base
    tot_f = c[:, :, 0].sum(axis=1)
    tot_r = c[:, :, 1].sum(axis=1)
    ref_f = np.where(is_snv, ref_f, np.maximum(tot_f - alt_f, 0))
    ref_r = np.where(is_snv, ref_r, np.maximum(tot_r - alt_r, 0))
    alt = alt_f + alt_r
    qs = s.qual_sum[row]
    alt_bq = np.where(is_snv & (alt > 0), qs[ar, alt_i] / np.maximum(alt, 1), np.nan)
    out["depth"] = depth
    out["ref_f"], out["ref_r"], out["alt_f"], out["alt_r"] = ref_f, ref_r, alt_f, alt_r
    out["alt"] = alt
    out["vaf"] = np.where(depth > 0, alt / np.maximum(depth, 1), 0.0)
    out["alt_bq"] = alt_bq
    out["err"] = np.where(depth > 0, s.err_sum[row] / np.maximum(depth, 1), 0.0)
    return out


def null_params(
    cand: pd.DataFrame,
    st: pd.DataFrame,
    model: dict,
    pon: tuple[np.ndarray, np.ndarray] | None = None,
    cfg: SnvConfig = SnvConfig(),
) -> tuple[np.ndarray, np.ndarray]:
    """Beta prior (a0, b0) per candidate: class background (``cand["cls"]``), mean raised to
    the quality error. With a panel of normals ``pon`` = (alt reads, depth) per candidate, a
    site whose panel count is improbable under that background (``P(X >= k) < pon_noisy_p``:
    a recurrent artefact) takes the class background at ``pon_weight`` fragments' worth
    updated with its panel counts (Bayes: Beta(a + k, b + n - k)); other sites keep the class
    background (measured: a panel cannot make a site cleaner than its class, docs/snv.md)."""
    cls = cand["cls"].to_numpy()
    mu = np.array([model.get(c, (1e-3, 1e3))[0] for c in cls])
    kappa = np.array([model.get(c, (1e-3, 1e3))[1] for c in cls])
    q_err = np.where(cand["kind"] == "snv", st["err"].to_numpy() / 3.0, 0.0)
    mu = np.clip(np.maximum(mu, q_err), 1e-7, 0.5)
    a0, b0 = mu * kappa, (1 - mu) * kappa
    if pon is None:
        return a0, b0
    k, n = pon
    noisy = (n > 0) & (bb_sf(k, n, a0, b0) < cfg.pon_noisy_p)
    w = np.minimum(kappa, cfg.pon_weight)
    a0 = np.where(noisy, mu * w + k, a0)
    b0 = np.where(noisy, (1 - mu) * w + n - k, b0)
    return a0, b0


def candidate_classes(cand: pd.DataFrame, repeat: np.ndarray) -> np.ndarray:
    """Noise class per candidate: ``X>Y`` for SNVs, :func:`indel_class` for indels
    (``repeat``: :func:`repeat_context` of the sample matrix, indexed by ``cand["row"]``)."""
    size = (cand["alt"].str.len() - cand["ref"].str.len()).abs().to_numpy()
    rep = repeat[cand["row"].to_numpy()]
    return np.array(
        [
            f"{r[0]}>{a}" if kind == "snv" else indel_class(int(n), bool(rr))
            for r, a, kind, n, rr in zip(
                cand["ref"], cand["alt"], cand["kind"], size, rep, strict=True
            )
        ],
        dtype=object,
    )


def pon_preamble(path: str | Path) -> list[str]:
    """The ``##`` lines before a panel's column names (``resistcall pon`` writes one
    ``##normal=<...>`` record per normal; a panel made before that has none)."""
    lines = []
    with (gzip.open if str(path).endswith(".gz") else open)(path, "rt", encoding="utf-8") as f:
        for line in f:
            if not line.startswith("##"):
                break
            lines.append(line.rstrip("\n"))
    return lines


def pon_normals(path: str | Path) -> list[dict[str, str]]:
    """The normals a panel records (``Sample``, ``File``, ``Duplicates`` of each ``##normal``
    line of its preamble, quotes removed); a malformed record is an error naming its line."""
    normals = []
    for number, line in enumerate(pon_preamble(path), start=1):
        if line.startswith("##normal="):
            try:
                normals.append(parse_meta(line)[1])
            except ValueError as e:
                raise UserError(f"{path}: line {number}: {e}") from e
    return normals


def pon_header(path: str | Path) -> str:
    """The VCF header line naming the panel a call used: file name (never a path) and its
    number of normals (``.`` when the panel does not record them)."""
    normals = len(pon_normals(path))
    return format_meta("resistcall_pon", {"File": Path(path).name, "Normals": normals or "."})


def read_pon(path: str | Path) -> pd.DataFrame:
    """A ``resistcall pon`` table (contracts.PON_COLUMNS), checked; rows are numbered as
    lines of the file."""
    try:
        skip = len(pon_preamble(path))
        pon = pd.read_csv(
            path, sep="\t", skiprows=skip, dtype={"chrom": str, "ref": str, "alt": str}
        )
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, EOFError) as e:
        raise UserError(f"{path}: cannot read the panel of normals ({e})") from e
    missing = [c for c in PON_COLUMNS if c not in pon.columns]
    if missing:
        raise UserError(f"{path}: panel of normals lacks column(s) {', '.join(missing)}")
    for col in ("pos", "depth", "alt_reads"):
        values = pd.to_numeric(pon[col], errors="coerce")
        bad = values.isna() | (values < 0)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 2 + skip
            raise UserError(f"{path}: row {row}: {col} must be a count")
        pon[col] = values.astype("int64")
    bad = pon["alt_reads"] > pon["depth"]
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 2 + skip
        raise UserError(f"{path}: row {row}: alt_reads above depth")
    return pon


def pon_counts(cand: pd.DataFrame, pon: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(alt reads, depth, samples carrying it as a variant) of each candidate's site and
    allele in the panel of normals (0 where the panel did not count it); indels use the
    site's ``indel`` row."""
    key = pd.MultiIndex.from_arrays(
        [
            cand["contig"].to_numpy(),
            cand["pos"].to_numpy() + 1,
            np.where(cand["kind"] == "snv", cand["alt"], INDEL_ALT),
        ]
    )
    table = pon.set_index(["chrom", "pos", "alt"])[["alt_reads", "depth", "excluded"]]
    hit = table[~table.index.duplicated()].reindex(key).fillna(0)
    return (
        hit["alt_reads"].to_numpy(dtype=float),
        hit["depth"].to_numpy(dtype=float),
        hit["excluded"].to_numpy(dtype=float),
    )


def homopolymer_run(
    fasta: pysam.FastaFile, contig: str, pos: int, width: int = 12
) -> tuple[int, str]:
    """Longest homopolymer (length, base) touching ``pos`` or ``pos + 1`` (0-based)."""
    lo = max(pos - width, 0)
    seq = fasta.fetch(contig, lo, pos + width + 2).upper()
    best = (0, "N")
    for centre in (pos - lo, pos + 1 - lo):
        if centre >= len(seq):
            continue
        b = seq[centre]
        left = centre
        while left > 0 and seq[left - 1] == b:
            left -= 1
        right = centre
        while right + 1 < len(seq) and seq[right + 1] == b:
            right += 1
        best = max(best, (right - left + 1, b))
    return best


def clopper_pearson_upper(k: np.ndarray, n: np.ndarray, conf: float = 0.95) -> np.ndarray:
    k = np.asarray(k, dtype=float)
    n = np.maximum(np.asarray(n, dtype=float), 1)
    upper = beta_ppf(1 - (1 - conf) / 2, k + 1, n - k)
    return np.where(k >= n, 1.0, upper)


@dataclass
class CallSet:
    sites: pd.DataFrame  # one row per reported record
    per_sample: dict[str, pd.DataFrame]  # sample -> stats aligned to sites
    samples: list[str]
    parental: str | None
    model: dict
    threshold: float
    hotspot_threshold: float
    n_tests: int
    purity: dict[str, float] = field(default_factory=dict)  # sample -> tumour fraction
    #: why the parental cannot be compared with (QC failure): no STATUS is decided
    parental_reason: str | None = None
    #: the hotspot family's hypotheses (contig, 0-based pos, base or INDEL_ALT) -> the
    #: threshold each is tested at (:func:`hotspot_hypotheses`): ``hotspot_threshold`` for a
    #: named allele, ``hotspot_codon_threshold`` for the other hypotheses at hotspot codons
    hot: dict = field(default_factory=dict)
    hotspot_codon_threshold: float = 0.0
    #: resistant samples that failed QC -> why: their columns are counts, not findings (the
    #: header says so with one ``##sample_not_assessable`` line each)
    sample_reasons: dict = field(default_factory=dict)


def call(
    samples: list[SampleCounts],
    parental: int | None,
    cfg: SnvConfig,
    fasta: pysam.FastaFile,
    hotspot_sites: dict[tuple[str, int, str], float] | None = None,
    purity: dict[str, float] | None = None,
    pon: pd.DataFrame | None = None,
) -> CallSet:
    """Test every candidate in every sample, decide STATUS and filters. ``purity`` (sample ->
    tumour fraction, default 1.0): the parental's VAF is rescaled to each resistant sample's
    purity before the two are compared (docs/purity.md). ``pon``: a panel of normals
    (:func:`read_pon`) giving each site its own noise (:func:`null_params`)."""
    purity = {s.name: (purity or {}).get(s.name, 1.0) for s in samples}
    model = fit_background(samples, cfg)
    cand = build_candidates(samples, cfg)
    cand["cls"] = candidate_classes(cand, repeat_context(samples[0]))
    site_pon, pon_variant = None, np.zeros(len(cand), dtype=bool)
    if pon is not None:
        k_pon, n_pon, carriers = pon_counts(cand, pon)
        site_pon, pon_variant = (k_pon, n_pon), carriers > 0
    is_covered = np.stack([s.depth for s in samples]).max(axis=0) > 0
    covered = int(is_covered.sum())
    hotspot_sites = hotspot_sites or {}
    first = samples[0]
    where = {(c, int(p)): i for i, (c, p) in enumerate(zip(first.contig, first.pos, strict=True))}
    weights = [
        w
        for (c, p, _), w in hotspot_sites.items()
        if (i := where.get((c, p))) is not None and is_covered[i]
    ]
    # 3 substitutions + 1 indel class per covered position; the hypotheses at hotspot codons
    # (hotspot_hypotheses) form their own family, weighted Bonferroni inside it (a named allele
    # counts named_allele_weight times), counted only where covered
    hot_covered = len(weights)
    n_tests = max(covered * 4 - hot_covered, 1)
    share = cfg.hotspot_alpha_share if hot_covered else 0.0
    thr = cfg.alpha * (1 - share) / n_tests
    unit = cfg.alpha * share / sum(weights) if hot_covered else thr
    hot_thr = {h: max(unit * w, thr) for h, w in hotspot_sites.items()}
    keys = list(
        zip(
            cand["contig"],
            cand["pos"].astype(int),
            np.where(cand["kind"] == "snv", cand["alt"], INDEL_ALT),
            strict=True,
        )
    )
    cand_thr = np.array([hot_thr.get(k, thr) for k in keys], dtype=float)
    cand_hot = np.array([k in hot_thr for k in keys], dtype=bool)
    thr_hot = max(unit * max(weights), thr) if hot_covered else thr
    names = [s.name for s in samples]
    st = {s.name: sample_stats(s, cand) for s in samples}
    for name in names:
        a0, b0 = null_params(cand, st[name], model, site_pon, cfg)
        d = st[name]
        d["p_detect"] = bb_sf(d["alt"].to_numpy(), d["depth"].to_numpy(), a0, b0)
        d["detected"] = (d["p_detect"] < cand_thr) & (d["alt"] >= cfg.min_alt_reads)
        d["a0"], d["b0"] = a0, b0
    resistant = [n for i, n in enumerate(names) if i != parental]
    if parental is not None:
        p = st[names[parental]]
        for name in resistant:
            d = st[name]
            scale = vaf_scale(purity[name], purity[names[parental]])
            p_enr, p_dep = paired_tests(
                d["alt"].to_numpy(),
                d["depth"].to_numpy(),
                p["alt"].to_numpy(),
                p["depth"].to_numpy(),
                d["a0"].to_numpy(),
                d["b0"].to_numpy(),
                cfg.variant_prior,
                scale,
            )
            d["p_enriched"], d["p_depleted"] = p_enr, p_dep
            # a resistant-only signal must also beat the parental-informed null: otherwise it is
            # neither demonstrably new nor seen in the parental, and is not reported
            d["detected"] = d["detected"] & (p["detected"] | (p_enr < cand_thr))
            d["status"] = decide_status(
                d["detected"].to_numpy(),
                p["detected"].to_numpy(),
                p_enr,
                p_dep,
                d["vaf"].to_numpy(),
                p["vaf"].to_numpy() * scale,
                cand_thr,
                cfg.enrich_fold,
            )
        p["status"] = ""
    # record kept if any sample detects it
    keep = np.zeros(len(cand), dtype=bool)
    for name in names:
        keep |= st[name]["detected"].to_numpy()
    cand = cand[keep].copy()
    cand["threshold"] = cand_thr[keep]
    cand["hotspot"] = cand_hot[keep]
    cand["pon_variant"] = pon_variant[keep]
    st = {k: v[keep].copy() for k, v in st.items()}
    cand = _choose_evidence(cand, st, names, parental)
    cand = _apply_filters(cand, st, samples, cfg, fasta)
    order = {c: i for i, c in enumerate(fasta.references)}
    cand["_o"] = cand["contig"].map(order)
    cand = cand.sort_values(["_o", "pos", "ref", "alt"], kind="stable").drop(columns="_o")
    st = {k: v.loc[cand.index].reset_index(drop=True) for k, v in st.items()}
    cand = cand.reset_index(drop=True)
    return CallSet(
        sites=cand,
        per_sample=st,
        samples=names,
        parental=names[parental] if parental is not None else None,
        model=model,
        threshold=thr,
        hotspot_threshold=thr_hot,
        n_tests=n_tests + hot_covered,
        purity=purity,
        hot=hot_thr,
        hotspot_codon_threshold=max(unit, thr),
    )


def _choose_evidence(
    cand: pd.DataFrame, st: dict, names: list[str], parental: int | None
) -> pd.DataFrame:
    """Evidence sample: the resistant sample with the smallest detection p (then higher VAF);
    the parental for records only it detects. INFO/STATUS is that sample's status."""
    resistant = [n for i, n in enumerate(names) if i != parental]
    pdet = np.stack([st[n]["p_detect"].to_numpy() for n in resistant])
    det = np.stack([st[n]["detected"].to_numpy() for n in resistant])
    vaf = np.stack([st[n]["vaf"].to_numpy() for n in resistant])
    key = np.where(det, pdet, 2.0) - vaf * 1e-12
    best = key.argmin(axis=0)
    ev = np.array(resistant, dtype=object)[best]
    any_det = det.any(axis=0)
    if parental is not None:
        ev = np.where(any_det, ev, names[parental])
        statuses = np.stack([st[n]["status"].to_numpy() for n in resistant])
        status = statuses[best, np.arange(len(best))]
        lost_any = (statuses == "lost").any(axis=0)
        status = np.where(any_det, status, np.where(lost_any, "lost", ""))
        # parental-only evidence without a significant drop: cannot be told apart -> shared
        status = np.where(status == "", "shared", status)
        cand["status"] = status
    else:
        cand["status"] = ""
    cand["evidence"] = ev
    return cand


def _apply_filters(
    cand: pd.DataFrame, st: dict, samples: list[SampleCounts], cfg: SnvConfig, fasta
) -> pd.DataFrame:
    # observations at candidate positions only (the tables hold every non-reference base)
    at = pd.MultiIndex.from_arrays([cand["contig"], cand["pos"]])
    obs_of = {}
    for s in samples:
        obs_of[s.name] = [
            t[pd.MultiIndex.from_arrays([t["contig"], t["pos"]]).isin(at)]
            for t in (s.base_obs, s.indel_obs)
        ]
    filters = []
    rpos = []
    hp_len = []
    starts = cand["pos"].to_numpy()
    ends = starts + cand["ref"].str.len().to_numpy()
    is_indel = (cand["kind"] == "indel").to_numpy()
    contigs = cand["contig"].to_numpy()
    for i, r in enumerate(cand.itertuples()):
        d = st[r.evidence].iloc[i]
        f = []
        alts = st[r.evidence]["alt"].to_numpy()
        near = (
            is_indel
            & (contigs == r.contig)
            & (starts - cfg.near_indel_window <= ends[i])
            & (ends + cfg.near_indel_window >= starts[i])
            & (alts >= cfg.near_indel_ratio * max(d.alt, 1))
        )
        near[i] = False
        if near.any():
            f.append("near_indel")
        table = [[d.ref_f, d.ref_r], [d.alt_f, d.alt_r]]
        alt_frac_f = d.alt_f / max(d.alt, 1)
        if (
            fisher_two_sided(table) < cfg.strand_bias_p
            and min(alt_frac_f, 1 - alt_frac_f) < cfg.strand_min_frac
        ):
            f.append("strand_bias")
        indel = (r.ref, r.alt) if r.kind == "indel" else None
        base_obs, indel_obs = (t[t["contig"] == r.contig] for t in obs_of[r.evidence])
        dist = read_positions(base_obs, indel_obs, int(r.pos), r.alt, indel)
        med = float(np.median(dist)) if len(dist) else np.nan
        rpos.append(med)
        if len(dist) and med < cfg.read_end_distance:
            f.append("read_end")
        if r.kind == "snv" and np.isfinite(d.alt_bq) and d.alt_bq < cfg.min_alt_base_quality:
            f.append("low_base_quality")
        run, base = homopolymer_run(fasta, r.contig, int(r.pos))
        hp_len.append(run)
        changed = set((r.alt[1:] if len(r.alt) > 1 else r.ref[1:]) or r.alt)
        hp_relevant = r.kind == "indel" or changed == {base}
        if run >= cfg.homopolymer_length and hp_relevant and d.vaf < cfg.homopolymer_max_vaf:
            f.append("homopolymer")
        if d.depth < cfg.min_depth:
            f.append("low_depth")
        if clopper_pearson_upper(d.alt, d.depth) < cfg.min_vaf:
            f.append("low_vaf")
        if r.pon_variant and d.vaf < cfg.contamination_max_vaf:
            f.append("pon_variant")
        filters.append(f)
    cand["filters"] = filters
    cand["read_end_median"] = rpos
    cand["homopolymer"] = hp_len
    return cand


# --------------------------------------------------------------------------------------------
# VCF
# --------------------------------------------------------------------------------------------


def _header(
    fasta: pysam.FastaFile, fasta_path: str, cs: CallSet, cfg: SnvConfig, pon: str | None
) -> pysam.VariantHeader:
    h = pysam.VariantHeader()
    h.add_line(f"##source=resistcall snv {__version__}")
    for line in reference_header(fasta_path, cfg.build):
        h.add_line(line)
    for name, length in zip(fasta.references, fasta.lengths, strict=True):  # = the .fai
        h.contigs.add(name, length=length, assembly=cfg.build)
    if cs.parental is not None:
        h.add_line(f"##parental={cs.parental}")
    for name in cs.samples:  # one line each: a sample name may hold the line's delimiters
        h.add_line(
            format_meta("purity", {"Sample": name, "Purity": f"{cs.purity.get(name, 1.0):g}"})
        )
    if cs.parental_reason is not None:
        h.add_line(f"##parental_not_assessable={cs.parental_reason}")
    for name, reason in cs.sample_reasons.items():
        h.add_line(format_meta("sample_not_assessable", {"Sample": name, "Reason": reason}))
    h.add_line(
        f"##resistcall_snv=<assay={cfg.assay},min_vaf={cfg.min_vaf},alpha={cfg.alpha},"
        f"tests={cs.n_tests},threshold={cs.threshold:.3g},hotspot_threshold={cs.hotspot_threshold:.3g},"
        f"hotspot_codon_threshold={cs.hotspot_codon_threshold:.3g}>"
    )
    if pon is not None:
        h.add_line(pon_header(pon))
    for name, desc in FILTERS.items():
        h.filters.add(name, None, None, desc)
    #: (ID, Number, Type, Description) of each header line; Number is a count or 'R'/'A'/'.'
    info: list[tuple[str, int | str, str, str]] = [
        (
            "STATUS",
            1,
            "String",
            "acquired|enriched|shared|lost relative to the parental: the "
            "status of the evidence sample (resistant sample with the smallest detection p)",
        ),
        ("EVIDENCE", 1, "String", "Sample whose counts decided STATUS and the filters"),
        ("TYPE", 1, "String", "snv, ins or del"),
        ("PDET", 1, "Float", "Evidence sample: P(alt >= observed) under the background model"),
        ("PENR", 1, "Float", "Evidence sample: P(alt >= observed) given the parental counts"),
        ("PDEP", 1, "Float", "Evidence sample: P(alt <= observed) given the parental counts"),
        ("PTHR", 1, "Float", "Bonferroni-weighted p-value threshold used at this site"),
        ("PARVAF", 1, "Float", "Parental VAF"),
        (
            "FOLD",
            1,
            "Float",
            "Evidence sample VAF / parental VAF rescaled to the evidence sample's purity "
            "(floored at 1/depth)",
        ),
        ("HOTSPOT", 0, "Flag", "Site is a known-resistance hotspot codon position"),
        ("BGMEAN", 1, "Float", "Background error rate (beta mean) of this class at this site"),
        ("BGKAPPA", 1, "Float", "Background beta concentration (alpha + beta) of this class"),
        ("RPOS", 1, "Float", "Median distance of alt bases to the aligned read end"),
        ("HRUN", 1, "Integer", "Longest homopolymer touching the site"),
    ]
    for key, num, typ, desc in info:
        h.info.add(key, num, typ, desc)
    fmt: list[tuple[str, int | str, str, str]] = [
        ("GT", 1, "String", "Genotype: 0/1 if the alt is detected in this sample, else 0/0"),
        ("AD", "R", "Integer", "Reads supporting ref and alt"),
        ("DP", 1, "Integer", "Read depth (fragments; overlapping mates once)"),
        ("AF", "A", "Float", "Alt allele fraction AD[alt]/DP"),
        ("SB", 4, "Integer", "Ref forward, ref reverse, alt forward, alt reverse read counts"),
        ("BQ", 1, "Float", "Mean base quality of alt bases (SNVs)"),
        ("PDET", 1, "Float", "P(alt >= observed) under the background model"),
        ("PENR", 1, "Float", "P(alt >= observed) given the parental counts (resistant samples)"),
        ("PDEP", 1, "Float", "P(alt <= observed) given the parental counts (resistant samples)"),
        (
            "STATUS",
            1,
            "String",
            f"{VCF_STATUSES} for resistant samples, . otherwise",
        ),
        (
            "CCF",
            "A",
            "Float",
            "Cancer-cell fraction carrying the alt, 2 x AF / purity: assumes a diploid locus "
            "with one mutant copy (multiplicity 1); capped at 1",
        ),
    ]
    for key, num, typ, desc in fmt:
        h.formats.add(key, num, typ, desc)
    for name in cs.samples:
        h.add_sample(name)
    return h


def _f(x: float | np.ndarray) -> float:
    return float(f"{float(x):.4g}")


def write_vcf(
    cs: CallSet,
    cfg: SnvConfig,
    fasta: pysam.FastaFile,
    fasta_path: str,
    out: Path,
    pon: str | None = None,
) -> None:
    """bgzipped, tabix-indexed VCF written to a temp name and renamed at the end; ``pon``: the
    panel of normals the calls used (named in the header)."""
    out = Path(out)
    header = _header(fasta, fasta_path, cs, cfg, pon)
    with atomic_paths(out) as (tmp,):
        with pysam.VariantFile(str(tmp), "wz", header=header) as vcf:
            for i, r in cs.sites.iterrows():
                rec = vcf.new_record(
                    contig=r.contig,
                    start=int(r.pos),
                    alleles=(r.ref, r.alt),
                    filter=r.filters if r.filters else ["PASS"],
                )
                d = cs.per_sample[r.evidence].iloc[i]
                kind = "snv" if r.kind == "snv" else ("ins" if len(r.alt) > len(r.ref) else "del")
                rec.info["TYPE"] = kind
                rec.info["EVIDENCE"] = r.evidence
                rec.info["PDET"] = _f(d.p_detect)
                rec.info["PTHR"] = _f(r.threshold)
                mu = d.a0 / (d.a0 + d.b0)
                rec.info["BGMEAN"] = _f(mu)
                rec.info["BGKAPPA"] = _f(d.a0 + d.b0)
                if np.isfinite(r.read_end_median):
                    rec.info["RPOS"] = _f(r.read_end_median)
                rec.info["HRUN"] = int(r.homopolymer)
                if r.hotspot:
                    rec.info["HOTSPOT"] = True
                parental = cs.parental if cs.parental_reason is None else None
                if parental is not None:
                    p = cs.per_sample[parental].iloc[i]
                    rec.info["STATUS"] = r.status
                    rec.info["PARVAF"] = _f(p.vaf)
                    if r.evidence != parental:
                        rec.info["PENR"] = _f(d.p_enriched)
                        rec.info["PDEP"] = _f(d.p_depleted)
                        scale = vaf_scale(cs.purity[r.evidence], cs.purity[parental])
                        floor = max(p.vaf * scale, 1.0 / max(p.depth, 1))
                        rec.info["FOLD"] = _f(d.vaf / floor)
                for name in cs.samples:
                    s = cs.per_sample[name].iloc[i]
                    fs = rec.samples[name]
                    depth = int(s.depth)
                    fs["GT"] = (0, 1) if s.detected else ((0, 0) if depth else (None, None))
                    fs["AD"] = (int(s.ref_f + s.ref_r), int(s.alt))
                    fs["DP"] = depth
                    fs["AF"] = _f(s.vaf)
                    fs["CCF"] = _f(cancer_cell_fraction(s.vaf, cs.purity.get(name, 1.0)))
                    fs["SB"] = (int(s.ref_f), int(s.ref_r), int(s.alt_f), int(s.alt_r))
                    if np.isfinite(s.alt_bq):
                        fs["BQ"] = _f(s.alt_bq)
                    if np.isfinite(s.p_detect):
                        fs["PDET"] = _f(s.p_detect)
                    if parental is not None and name != parental:
                        fs["PENR"] = _f(s.p_enriched)
                        fs["PDEP"] = _f(s.p_depleted)
                        fs["STATUS"] = s.status or "."
                    else:
                        fs["STATUS"] = "."
                vcf.write(rec)
        pysam.tabix_index(str(tmp), preset="vcf", force=True)


# --------------------------------------------------------------------------------------------
# Hotspot coverage verdicts
# --------------------------------------------------------------------------------------------


def depth_needed(vaf: float, a0: float, b0: float, thr: float, power: float) -> int:
    """Smallest depth at which a variant at ``vaf`` is detected with probability ``power``."""
    grid = np.unique(np.round(np.geomspace(5, 200_000, 600)).astype(int))
    k_crit = bb_isf(thr, grid, a0, b0) + 1  # smallest k: P(X >= k) <= thr
    ok = np.flatnonzero(binom_sf(k_crit - 1, grid, vaf) >= power)
    return int(grid[ok[0]]) if len(ok) else -1


def critical_alt(
    n: int,
    a0: float,
    b0: float,
    thr: float,
    min_alt: int,
    parental: tuple[int, int] | None = None,
    variant_prior: float = 1e-3,
) -> int:
    """Smallest alt count the caller detects at depth ``n`` (``n + 1`` if none): one site of
    :func:`critical_alts`."""
    kp, np_ = parental if parental is not None else (0, 0)
    one = critical_alts(
        np.array([n]),
        np.array([a0]),
        np.array([b0]),
        thr,
        min_alt,
        np.array([kp]),
        np.array([np_]),
        np.array([parental is not None]),
        variant_prior,
    )
    return int(one[0])


def critical_alts(
    n: np.ndarray,
    a0: np.ndarray,
    b0: np.ndarray,
    thr: float | np.ndarray,
    min_alt: int,
    kp: np.ndarray,
    np_: np.ndarray,
    paired: np.ndarray,
    variant_prior: float = 1e-3,
) -> np.ndarray:
    """Per site, the smallest alt count the caller detects at depth ``n`` (``n + 1`` if none).

    The caller's own rule (``call``): ``PDET < thr`` and ``alt >= min_alt``; where ``paired``
    (the parental ``(kp, np_)`` does not detect the site), also ``PENR < thr``. Both p-values
    fall as the alt count grows, so the answer is the one count that passes while the count
    below it does not. Found in two steps, all sites at once: a guess from the same tail sums
    cut at ``GUESS_TERMS`` terms (cheap; never above the answer by more than it misses), then
    the exact test (``bb_sf``, ``paired_tests``' mixture) at the guess and the count below it;
    the few sites where the guess was off are bisected exactly between it and ``n``.
    """
    n = np.asarray(n, dtype=np.int64)
    a0, b0 = np.asarray(a0, dtype=float), np.asarray(b0, dtype=float)
    kp, np_ = np.asarray(kp, dtype=np.int64), np.asarray(np_, dtype=np.int64)
    paired = np.asarray(paired, dtype=bool)
    thr = np.broadcast_to(np.asarray(thr, dtype=float), n.shape)  # per site: its family's
    w, (a_n, b_n), (a_v, b_v) = _parental_mixture(kp, np_, a0, b0, variant_prior)
    lo0 = max(min_alt, 1)

    def cut_sf(k, nn, a, b):
        return np.exp(log_tails(k, nn, a, b, GUESS_TERMS))

    def passes(k: np.ndarray, at: np.ndarray, sf=bb_sf) -> np.ndarray:
        ok = sf(k, n[at], a0[at], b0[at]) < thr[at]
        par = ok & paired[at]
        if par.any():
            i, kk = at[par], k[par]
            p_enr = (1 - w[i]) * sf(kk, n[i], a_n[i], b_n[i]) + w[i] * sf(kk, n[i], a_v[i], b_v[i])
            ok[par] = np.clip(p_enr, 0, 1) < thr[i]
        return ok

    def bisect(lo: np.ndarray, hi: np.ndarray, at: np.ndarray, sf=bb_sf) -> np.ndarray:
        """Smallest passing count in [lo, hi] where hi passes (hi = n + 1: none known)."""
        lo, hi = lo.copy(), hi.copy()
        while (run := np.flatnonzero(lo < hi)).size:
            mid = (lo[run] + hi[run]) // 2
            ok = passes(mid, at[run], sf)
            hi[run] = np.where(ok, mid, hi[run])
            lo[run] = np.where(ok, lo[run], mid + 1)
        return lo

    out = n + 1
    sites = np.flatnonzero(n > 0)
    # a cut tail sum is never larger than the full one: a count the guess fails, the exact test
    # fails too (up to rounding, which the exact check below catches)
    guess = bisect(np.full(len(sites), lo0), n[sites] + 1, sites, cut_sf)
    k = np.minimum(guess, n[sites])
    exact = passes(k, sites)
    below = np.zeros(len(sites), dtype=bool)  # the count below the guess passes too
    check = np.flatnonzero(exact & (k - 1 >= lo0))
    below[check] = passes(k[check] - 1, sites[check])
    out[sites] = np.where(exact, np.maximum(k, lo0), n[sites] + 1)
    # the guess was off: bisect exactly between a count known to pass and the guess
    low = np.flatnonzero(below)
    if low.size:
        out[sites[low]] = bisect(np.full(low.size, lo0), k[low] - 1, sites[low])
    high = np.flatnonzero(~exact & (k < n[sites]))
    if high.size:
        at = sites[high]
        top = passes(n[at], at)
        found = bisect(k[high] + 1, n[at], at)
        out[at] = np.where(top, found, n[at] + 1)
    return out


#: terms of the cut tail sums of the guess in ``critical_alts`` (the exact test uses TAIL_TERMS)
GUESS_TERMS = 200


def detection_limit(n: int, k_crit: int, power: float) -> float:
    """Smallest VAF detected with probability ``power`` at depth ``n`` (nan if none).

    P(Binomial(n, v) >= k) is the regularised incomplete beta I_v(k, n - k + 1), so the limit
    is the ``power`` quantile of Beta(k, n - k + 1).
    """
    if n <= 0 or k_crit > n:
        return float("nan")
    return float(beta_ppf(power, k_crit, n - k_crit + 1))


def _is_indel(hgvs_p: str) -> bool:
    return bool(re.search(r"(del|dup|ins|fs)", str(hgvs_p)))


#: columns of the tests a hotspot detection limit is the worst of (``_limit_sites``)
LIMIT_TEST_COLUMNS = (
    "depth",
    "contig",
    "pos",
    "alt",
    "kind",
    "cls",
    "err",
    "parental_alt",
    "parental_depth",
    "paired",
)


def _limit_sites(
    s: SampleCounts,
    idx: list[int | None],
    indel: bool,
    model: dict,
    parental: SampleCounts | None,
    parental_indels: pd.Series,
    alleles: set[tuple[int, str]] | None = None,
) -> list[tuple] | None:
    """The tests (``LIMIT_TEST_COLUMNS``) a codon's detection limit is the worst of; None if a
    base of the codon has no reads (the limit is nan).

    Substitution rows: the row's named ``alleles`` ((0-based pos, base) that make its protein
    change), else every base of the codon x the 3 substitutions, with the site's
    base-quality error (``err``, as the caller's ``sample_stats``) and, in paired mode, the
    parental's count of that allele at that base. Indel rows: the noisiest indel class (the
    row does not say the event's length or context) and the parental's indel count at the
    base (``parental_indels``: reads per (contig, pos)). Their nulls: :func:`_limit_nulls`.
    """
    out = []
    for i in idx:
        if i is None or s.depth[i] <= 0:
            return None
        n = int(s.depth[i])
        refb = chr(int(s.ref[i]))
        alts: list[tuple[str, str, int | None]]
        if indel:
            cls = max(_indel_classes(model), key=lambda c: model[c][0])
            alts = [(INDEL_ALT, cls, None)]
        else:
            alts = [
                (b, f"{refb}>{b}", ALLELES.index(b))
                for b in BASES
                if b != refb and (not alleles or (int(s.pos[i]), b) in alleles)
            ]
        for alt, cls, ai in alts:
            kp = np_ = 0
            paired = parental is not None and parental is not s
            if parental is not None and paired:
                np_ = int(parental.depth[i])
                if ai is not None:
                    kp = int(parental.counts[i, ai, :].sum())
                else:
                    kp = int(parental_indels.get((s.contig[i], int(s.pos[i])), 0))
            kind = "indel" if ai is None else "snv"
            err = float(s.err_sum[i]) / n
            out.append((n, s.contig[i], int(s.pos[i]), alt, kind, cls, err, kp, np_, paired))
    return out


def _limit_nulls(
    tests: pd.DataFrame, model: dict, pon: pd.DataFrame | None, cfg: SnvConfig
) -> tuple[np.ndarray, np.ndarray]:
    """The null (a0, b0) of each limit test: the caller's own (:func:`null_params`), so a site
    the panel of normals marks noisy gets the same panel-updated background as in calling."""
    site_pon = None
    if pon is not None:
        k_pon, n_pon, _ = pon_counts(tests, pon)
        site_pon = (k_pon, n_pon)
    return null_params(tests, tests[["err"]], model, site_pon, cfg)


def codon_limits(
    codons: list[list[tuple[int, float, float, int, int, bool, float]] | None],
    cfg: SnvConfig,
) -> np.ndarray:
    """Detection limit per codon (``_limit_sites``): the worst (largest) over its tests
    (depth, a0, b0, parental alt, parental depth, paired, threshold); nan if a base has no
    reads or any test cannot detect. Every distinct test is solved once, all together
    (``critical_alts``)."""
    rows = [t for c in codons if c for t in c]
    out = np.full(len(codons), np.nan)
    if not rows:
        return out
    tests, which = np.unique(np.array(rows, dtype=float), axis=0, return_inverse=True)
    n = tests[:, 0].astype(np.int64)
    k = critical_alts(
        n,
        tests[:, 1],
        tests[:, 2],
        tests[:, 6],
        cfg.min_alt_reads,
        tests[:, 3].astype(np.int64),
        tests[:, 4].astype(np.int64),
        tests[:, 5].astype(bool),
        cfg.variant_prior,
    )
    lim = np.array([detection_limit(int(d), int(c), cfg.power) for d, c in zip(n, k, strict=True)])
    start = 0
    for j, c in enumerate(codons):
        if not c:
            continue
        mine = lim[which.ravel()[start : start + len(c)]]
        start += len(c)
        out[j] = np.nan if np.isnan(mine).any() else max(0.0, float(mine.max()))
    return out


def _indel_classes(model: dict) -> list[str]:
    return [c for c in model if c.startswith("indel")] or [indel_class(1, True)]


def _positions(value) -> list[int]:
    if isinstance(value, str):
        return [int(x) for x in value.replace(";", ",").split(",") if x.strip()]
    return [int(x) for x in value]


def _affected(pos0: int, ref: str, alt: str) -> range:
    """1-based reference positions a VCF allele pair changes (``pos0`` 0-based).

    SNV: its base. Deletion: the deleted bases (not the anchor). Insertion: the bases after the
    anchor that a left-normalised insertion duplicates or pushes aside (as many as inserted),
    so p.T1151dup touches codon 1151, not the anchor's codon.
    """
    if len(ref) == len(alt):
        return range(pos0 + 1, pos0 + 1 + len(ref))
    n = abs(len(alt) - len(ref))
    return range(pos0 + 2, pos0 + 2 + n)


def hotspot_verdicts(
    sites: pd.DataFrame,
    samples: list[SampleCounts],
    calls: CallSet,
    cfg: SnvConfig,
    pon: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Depth, alt count, detection limit and verdict per (sample, hotspot row).

    ``sites``: ``gene hgvs_p residue chrom positions`` (positions: 1-based contig coordinates of
    the codon). depth = minimum depth over the codon (the weakest base limits what we can say);
    alt_count/vaf = the detected call overlapping the codon if any, else the largest non-ref
    count at any codon base. ``detection_limit_vaf``: smallest VAF the caller's own test
    detects with ``cfg.power`` at this sample's depth and this site's noise (``codon_limits``;
    with a panel of normals ``pon``, the caller's panel-updated null where the panel marks the
    site noisy).
    Verdict (docs/snv.md): ``mutated`` if a PASS call detected in that sample overlaps the
    codon; ``not assessable`` if only a filtered call does (reason
    :data:`~resistcall.contracts.HOTSPOT_FILTERED_SIGNAL`: a signal below the filters is neither
    a mutation nor proof of its absence); ``not covered`` if the codon has no reads or its
    limit exceeds ``cfg.max_detection_limit``; otherwise ``not detected`` (down to the limit).
    ``target_vaf`` is ``cfg.min_vaf`` and ``depth_needed`` the depth that would reach it.
    """
    from resistcall.reference import genomic_label

    bg = [v for k, v in calls.model.items() if k not in _indel_classes(calls.model)]
    mu = float(np.median([m for m, _ in bg])) if bg else 1e-3
    kappa = float(np.median([k for _, k in bg])) if bg else 1e3
    # at a named allele's threshold (most rows name one; the codon's other hypotheses need more)
    thr_hot = max(calls.hotspot_threshold, calls.threshold)
    need = depth_needed(cfg.min_vaf, mu * kappa, (1 - mu) * kappa, thr_hot, cfg.power)
    compared = calls.parental if calls.parental_reason is None else None
    parental = samples[calls.samples.index(compared)] if compared is not None else None
    index = {}
    for i, (c, p) in enumerate(zip(samples[0].contig, samples[0].pos, strict=True)):
        index[(c, int(p))] = i
    par_ind = pd.Series(dtype="int64")
    if parental is not None and len(parental.indels):
        at = parental.indels
        par_ind = (at.fwd + at.rev).groupby([at.contig, at.pos]).sum()
    raw = [
        _limit_sites(
            s,
            [index.get((site.chrom, p - 1)) for p in _positions(site.positions)],
            _is_indel(site.hgvs_p),
            calls.model,
            parental,
            par_ind,
            {(int(p) - 1, str(a)) for p, a in getattr(site, "alleles", None) or []},
        )
        for s in samples
        for site in sites.itertuples(index=False)
    ]
    tests = pd.DataFrame([t for c in raw if c for t in c], columns=list(LIMIT_TEST_COLUMNS))
    a0, b0 = _limit_nulls(tests, calls.model, pon, cfg)
    solved = iter(
        zip(
            tests["depth"],
            a0,
            b0,
            tests["parental_alt"],
            tests["parental_depth"],
            tests["paired"],
            # each test at its own threshold (hotspot hypotheses: calls.hot)
            [
                calls.hot.get((c, int(p), a), calls.threshold)
                for c, p, a in zip(tests["contig"], tests["pos"], tests["alt"], strict=True)
            ],
            strict=True,
        )
    )
    codons = [[next(solved) for _ in c] if c else None for c in raw]
    limits = iter(codon_limits(codons, cfg))
    rows = []
    for s in samples:
        d = s.depth
        acgt = s.counts[:, :4, :].sum(axis=2)
        ps = calls.per_sample[s.name]
        for site in sites.itertuples(index=False):
            pos1 = _positions(site.positions)
            idx = [index.get((site.chrom, p - 1)) for p in pos1]
            depths = [int(d[i]) if i is not None else 0 for i in idx]
            depth = min(depths) if depths else 0
            alt_count, vaf, verdict, reason = 0, 0.0, None, ""
            for j, r in calls.sites.iterrows():
                if r.contig != site.chrom:
                    continue
                if not set(_affected(int(r.pos), r.ref, r.alt)) & set(pos1):
                    continue
                sd = ps.iloc[j]
                if not sd.detected:
                    continue
                if not r.filters and (verdict != "mutated" or int(sd.alt) >= alt_count):
                    alt_count, vaf, verdict, reason = int(sd.alt), float(sd.vaf), "mutated", ""
                elif r.filters and verdict is None:
                    # detected but filtered: neither mutated nor absent can be claimed
                    alt_count, vaf, verdict = int(sd.alt), float(sd.vaf), NOT_ASSESSABLE
                    # plain words (contracts.FILTER_WORDS): the report shows this reason as is
                    words = filter_words(";".join(r.filters))
                    reason = f"{HOTSPOT_FILTERED_SIGNAL} ({words})"
            limit = next(limits)
            if verdict is None:
                for k in idx:
                    if k is None:
                        continue
                    refb = s.ref[k]
                    nonref = [acgt[k, b] for b in range(4) if ord(BASES[b]) != refb]
                    if max(nonref) > alt_count:
                        alt_count = int(max(nonref))
                        vaf = alt_count / max(int(d[k]), 1)
                if depth == 0:
                    verdict, reason = "not covered", "no reads at the codon"
                elif np.isnan(limit) or limit > cfg.max_detection_limit:
                    verdict = "not covered"
                    reason = (
                        f"detection limit above the {cfg.max_detection_limit:.0%} maximum "
                        f"at {depth} reads"
                    )
                else:
                    verdict = "not detected"
            first = pos1[0] if pos1 else 0
            rows.append(
                {
                    "sample": s.name,
                    "gene": site.gene,
                    "hgvs_p": site.hgvs_p,
                    "residue": site.residue,
                    "chrom": site.chrom,
                    "positions": ",".join(str(p) for p in pos1),
                    "genomic": genomic_label(site.chrom, first) if pos1 else "",
                    "depth": depth,
                    "alt_count": alt_count,
                    "vaf": round(vaf, 5),
                    "verdict": verdict,
                    "detection_limit_vaf": None if np.isnan(limit) else round(limit, 5),
                    "target_vaf": cfg.min_vaf,
                    "depth_needed": need,
                    "reason": reason or None,
                }
            )
    return pd.DataFrame(rows, columns=list(HOTSPOT_COLUMNS))


# --------------------------------------------------------------------------------------------
# CLI glue
# --------------------------------------------------------------------------------------------


def merged_regions(path: str | Path, fasta: pysam.FastaFile) -> pd.DataFrame:
    """Regions BED (any 3+ columns) merged with pyranges, restricted to reference contigs."""
    import pyranges as pr

    bed = read_bed(path, names=("chrom", "start", "end"))
    unknown = sorted(set(bed["chrom"]) - set(fasta.references))
    if unknown:
        raise UserError(f"{path}: contig {unknown[0]!r} is not in the reference FASTA")
    gr = pr.PyRanges(bed.rename(columns={"chrom": "Chromosome", "start": "Start", "end": "End"}))
    df = gr.merge().df.rename(columns={"Chromosome": "chrom", "Start": "start", "End": "end"})
    df["chrom"] = df["chrom"].astype(str)
    order = {c: i for i, c in enumerate(fasta.references)}
    df = df.assign(_o=df["chrom"].map(order)).sort_values(["_o", "start"]).drop(columns="_o")
    return df.reset_index(drop=True)[["chrom", "start", "end"]]


def load_hotspot_sites(known: str, gtf: str, reference: str) -> pd.DataFrame:
    """Known-resistance table + GTF -> codon positions and the alleles that make each named
    change (``resistcall.hotspots``)."""
    from resistcall import hotspots  # owned by the annotation stage

    return hotspots.sites_from_known(known, gtf, reference)


def hotspot_hypotheses(
    sites: pd.DataFrame, fasta: pysam.FastaFile, named_weight: float = 1.0
) -> dict[tuple[str, int, str], float]:
    """The hotspot family of the multiple-testing correction (docs/snv.md) with the weight of
    each hypothesis (contig, 0-based pos, base or INDEL_ALT): every base of every codon a row
    names (3 substitutions + 1 indel class each, weight 1), and the row's named alleles
    (``alleles``: the substitutions that make its protein change, e.g. L1196M = one allele)
    at ``named_weight``. Only rows checked against their source (``verified``) count;
    unverified rows still get a coverage verdict but no prior."""
    out: dict[tuple[str, int, str], float] = {}
    verified = sites[sites["verified"]]
    for row in verified.itertuples(index=False):
        for p in _positions(row.positions):
            ref = fasta.fetch(row.chrom, p - 1, p).upper()
            for alt in [b for b in BASES if b != ref] + [INDEL_ALT]:
                out.setdefault((row.chrom, p - 1, alt), 1.0)
    for row in verified.itertuples(index=False):
        for p, alt in getattr(row, "alleles", None) or []:
            out[(row.chrom, int(p) - 1, str(alt))] = named_weight
    return out


def run(
    reference: str,
    regions: str,
    resistant: list[str],
    out: str,
    parental: str | None = None,
    cfg: SnvConfig = SnvConfig(),
    sites: pd.DataFrame | None = None,
    hotspots_out: str | None = None,
    purity: list[str] | None = None,
    qc: dict[str, dict] | None = None,
    pon: str | None = None,
    threads: int = 1,
) -> CallSet:
    """Whole stage: count, call, write VCF (+ hotspots table). ``purity``: ``SAMPLE=FRACTION``
    items of ``--purity``. ``qc`` (sample -> qc.json): a parental that failed QC is not
    compared with; hotspots of a sample that failed QC are ``not assessable`` (never
    ``not detected``). ``pon``: a ``resistcall pon`` table (site-specific noise). ``threads``:
    BAMs counted at once, one per thread (less wall time, not less CPU)."""
    bams = ([parental] if parental else []) + list(resistant)
    names = preflight_bams(bams, reference)
    tumour = parse_purity(purity or [], names)
    normals = read_pon(pon) if pon else None
    with pysam.FastaFile(reference) as fasta:
        reg = merged_regions(regions, fasta)
        hot = hotspot_hypotheses(sites, fasta, cfg.named_allele_weight) if sites is not None else {}
        n_threads = max(1, min(threads, len(bams)))
        log.info("counting %s (%d threads)", ", ".join(names), n_threads)
        # one BAM per thread: the kernel counts without the GIL (each opens its own files)
        with ThreadPoolExecutor(max_workers=n_threads) as ex:
            counted = list(ex.map(lambda b: count_regions(b, reference, reg, cfg.pileup), bams))
        samples = [concat_counts(n, c, fasta) for n, c in zip(names, counted, strict=True)]
        reason = not_assessable(qc or {}, names[0], "snv") if parental else None
        if reason is None:
            cs = call(samples, 0 if parental else None, cfg, fasta, hot, tumour, normals)
        else:
            log.warning("parental %s not assessable (%s): no STATUS is decided", names[0], reason)
            cs = _without_comparison(samples, cfg, fasta, hot, tumour, reason, normals)
        log.info("%d records, %d tests, threshold %.3g", len(cs.sites), cs.n_tests, cs.threshold)
        for n in names[1:] if parental else names:
            if (why := not_assessable(qc or {}, n, "snv")) is not None:
                cs.sample_reasons[n] = why
                log.warning("%s not assessable (%s): its calls are counts only", n, why)
        write_vcf(cs, cfg, fasta, reference, Path(out), pon)
        if hotspots_out is not None:
            if sites is None:
                raise UserError("--hotspots-out needs --hotspots and --gtf")
            verdicts = hotspot_verdicts(sites, samples, cs, cfg, normals)
            failed = [n for n in names if not_assessable(qc or {}, n, "snv")]
            gated = verdicts["sample"].isin(failed)
            verdicts.loc[gated, "verdict"] = NOT_ASSESSABLE
            # no "ruled out down to" on a sample that failed QC
            verdicts.loc[gated, "detection_limit_vaf"] = np.nan
            verdicts.loc[gated, "reason"] = [
                not_assessable(qc or {}, n, "snv") for n in verdicts.loc[gated, "sample"]
            ]
            write_tsv(verdicts, hotspots_out, na_rep=".")
    return cs


def _without_comparison(
    samples: list[SampleCounts],
    cfg: SnvConfig,
    fasta: pysam.FastaFile,
    hot: dict[tuple[str, int, str], float],
    purity: dict[str, float] | None,
    reason: str,
    pon: pd.DataFrame | None = None,
) -> CallSet:
    """Calls when the parental failed QC: the resistant samples are tested on their own
    (their findings still stand: "detected; parental not assessable") and the parental is
    shown with its counts only, never as evidence and never compared with."""
    parental, resistant = samples[0], samples[1:]
    cs = call(resistant, None, cfg, fasta, hot, purity, pon)
    stats = sample_stats(parental, cs.sites)
    stats["p_detect"], stats["detected"], stats["status"] = np.nan, False, ""
    stats["a0"], stats["b0"] = np.nan, np.nan
    cs.per_sample[parental.name] = stats.reset_index(drop=True)
    cs.samples.insert(0, parental.name)
    cs.parental, cs.parental_reason = parental.name, reason
    return cs


def _cmd_snv(args: argparse.Namespace) -> None:
    cfg = from_args(
        SnvConfig,
        args,
        assay=args.assay,
        build=args.build,
        pileup=PileupParams.for_assay(args.assay),
    )
    sites = None
    if args.hotspots or args.hotspots_out:
        if not (args.hotspots and args.gtf):
            raise UserError("--hotspots and --gtf are needed together (for --hotspots-out)")
        sites = load_hotspot_sites(args.hotspots, args.gtf, args.reference)
    run(
        args.reference,
        args.regions,
        args.resistant,
        args.out,
        args.parental,
        cfg,
        sites,
        args.hotspots_out,
        args.purity,
        read_qc(args.qc),
        args.pon,
        args.threads,
    )


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "snv",
        help="low-VAF SNV/indel calling, resistant vs parental",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--reference", required=True, help="reference FASTA (+ .fai)")
    p.add_argument("--build", default=BUILD, choices=BUILDS, help="reference build")
    p.add_argument("--regions", required=True, help="BED of regions to call (3+ columns)")
    p.add_argument("--parental", help="parental (sensitive) BAM; omit for single-sample mode")
    p.add_argument("--resistant", required=True, nargs="+", help="resistant BAM(s)")
    p.add_argument(
        "--assay",
        choices=("amplicon", "capture"),
        default="capture",
        help="capture skips duplicates; amplicon keeps them",
    )
    p.add_argument("--out", required=True, help="output VCF (.vcf.gz; tabix index written too)")
    p.add_argument("--hotspots", help="known-resistance table (TSV)")
    p.add_argument("--gtf", help="transcript GTF (contig coordinates), for --hotspots")
    p.add_argument("--hotspots-out", help="hotspot coverage verdicts (TSV)")
    p.add_argument(
        "--pon",
        help="panel of normals (resistcall pon): per-site noise from unrelated samples",
    )
    p.add_argument(
        "--qc",
        nargs="+",
        help="qc.json of the samples (resistcall qc): a failed parental is not compared with; "
        "a failed sample's hotspots are not assessable",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BAMs counted at once, one per thread (the rule's threads)",
    )
    add_options(p, SnvConfig)
    add_purity_option(p)
    p.set_defaults(func=_cmd_snv)
