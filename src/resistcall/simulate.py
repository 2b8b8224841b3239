"""Deterministic paired-end panel library simulation from the real-base reference blocks.

Model (docs/simulate.md has the full description and the demo truth):

* **fragments** - capture: a target is drawn with weight (target length + mean fragment length)
  x probe efficiency x copy number / ploidy, then a fragment length (log-normal) and a start
  uniform over the positions where the fragment overlaps the target and stays on real bases;
  a fraction ``off_target`` is drawn uniformly from all real-base blocks. Amplicon: the fragment
  *is* the amplicon (primer to primer), drawn with weight efficiency x copy number / ploidy x GC.
* **GC bias** per sample: fragment acceptance ``exp(slope*(gc-0.5) - curvature*(gc-0.5)**2)``.
* **variants** (SNV, MNV, insertion, deletion, delins): among fragments that cover the variant
  (amplicon: whose *insert* covers it; primers are synthetic and always reference), a
  Bernoulli(VAF) subset carries the alternate allele.
* **fusion**: among fragments covering either breakpoint, a fraction is replaced by the same
  stretch of the fused allele (kept side + partner side, orientation from the junction spec).
* **duplicates** (capture): a fraction of read pairs are PCR copies of earlier molecules (same
  ends, same alleles, fresh sequencing errors), family sizes uneven (gamma weights).
* **reads**: R1/R2 from the two fragment ends, random strand, trimmed to the fragment when it is
  shorter than the read; Illumina-like position-dependent qualities and substitution errors drawn
  with exactly the probability the quality states.

Everything is vectorised with numpy; a fixed seed gives byte-identical gzip files (mtime 0).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pysam

from resistcall.errors import UserError
from resistcall.reference import read_bed

log = logging.getLogger(__name__)

_ENCODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    _ENCODE[_b] = _i
    _ENCODE[ord(chr(_b).lower())] = _i
_DECODE = np.frombuffer(b"ACGTN", dtype=np.uint8)
_COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.uint8)


# --------------------------------------------------------------------------------------------
# reference


@dataclass
class Reference:
    """The FASTA as one encoded array (A,C,G,T,N = 0..4) plus its real-base blocks.

    Load once with :func:`load_reference` and pass to every :func:`simulate_library` call.
    """

    names: list[str]
    lengths: np.ndarray
    offsets: np.ndarray  # global coordinate of each contig's first base
    seq: np.ndarray  # uint8 codes, all contigs concatenated
    blocks: pd.DataFrame  # chrom start end (0-based) of real bases, + cid
    fasta: str = ""

    def cid(self, chrom: str) -> int:
        try:
            return self.names.index(chrom)
        except ValueError:
            raise UserError(f"contig {chrom!r} is not in the reference {self.fasta}") from None

    def fetch(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Codes of contig bases [start, end) (0-based)."""
        off = self.offsets[self.cid(chrom)]
        return self.seq[off + start : off + end]

    def block_of(self, chrom: str, start: int, end: int) -> tuple[int, int] | None:
        """Real-base block holding [start, end) (0-based), or None."""
        b = self.blocks
        hit = b[(b["chrom"] == chrom) & (b["start"] <= start) & (b["end"] >= end)]
        if hit.empty:
            return None
        return int(hit["start"].iloc[0]), int(hit["end"].iloc[0])


def load_reference(fasta: str | Path, known_bed: str | Path | None = None) -> Reference:
    """Read and encode the FASTA; ``known_bed`` defaults to ``<fasta stem>.known_sequence.bed``.

    Without a known-sequence BED every maximal run of non-N bases is a block.
    """
    fasta = Path(fasta)
    if not fasta.exists():
        raise UserError(f"reference FASTA not found: {fasta}")
    with pysam.FastaFile(str(fasta)) as fa:
        names = list(fa.references)
        lengths = np.array(fa.lengths, dtype=np.int64)
        seq = np.concatenate(
            [_ENCODE[np.frombuffer(fa.fetch(n).encode(), dtype=np.uint8)] for n in names]
        )
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    if known_bed is None:
        cand = fasta.with_name(fasta.name.replace(".fa", "").replace(".fasta", "")
                               + ".known_sequence.bed")
        known_bed = cand if cand.exists() else None
    if known_bed is not None:
        blocks = read_bed(known_bed, names=("chrom", "start", "end"))
    else:  # runs of real bases
        rows = []
        for name, off, n in zip(names, offsets, lengths, strict=True):
            real = np.concatenate([[0], (seq[off : off + n] < 4).astype(np.int8), [0]])
            d = np.diff(real)
            rows += [(name, int(s), int(e)) for s, e in zip(np.flatnonzero(d == 1),
                                                            np.flatnonzero(d == -1), strict=True)]
        blocks = pd.DataFrame(rows, columns=["chrom", "start", "end"])
    unknown = sorted(set(blocks["chrom"]) - set(names))
    if unknown:
        raise UserError(f"{known_bed}: contigs not in {fasta}: {', '.join(unknown)}")
    blocks = blocks.assign(cid=[names.index(c) for c in blocks["chrom"]])
    return Reference(names, lengths, offsets, seq, blocks.reset_index(drop=True), str(fasta))


def encode(seq: str) -> np.ndarray:
    return _ENCODE[np.frombuffer(seq.upper().encode(), dtype=np.uint8)]


def decode(codes: np.ndarray) -> str:
    return _DECODE[codes].tobytes().decode()


def revcomp(codes: np.ndarray) -> np.ndarray:
    return _COMPLEMENT[codes[::-1]]


# --------------------------------------------------------------------------------------------
# truth objects


@dataclass(frozen=True)
class Variant:
    """A small variant in VCF convention (1-based ``pos``, anchor base for indels)."""

    chrom: str
    pos: int
    ref: str
    alt: str
    vaf: float = 0.0
    gene: str = ""
    hgvs_c: str = ""
    hgvs_p: str = ""

    @property
    def kind(self) -> str:
        r, a = len(self.ref), len(self.alt)
        if r == a:
            return "snv" if r == 1 else "mnv"
        if r == 1 and a > 1 and self.alt[0] == self.ref[0]:
            return "insertion"
        if a == 1 and r > 1 and self.alt[0] == self.ref[0]:
            return "deletion"
        return "delins"

    @property
    def span(self) -> tuple[int, int]:
        """0-based [start, end) of the reference bases a read must hold to show the allele."""
        start = self.pos - 1
        end = start + len(self.ref)
        if self.kind == "insertion":
            end += 1  # the base after the insertion point must be read too
        return start, end


@dataclass(frozen=True)
class Fusion:
    """A genomic junction: side A's kept part, then side B's kept part (derivative, A sense).

    ``keep`` is ``left`` (bases <= pos are kept) or ``right`` (bases >= pos). EML4-ALK v1 in
    H3122 (PROVENANCE_EML4.md s6): A = EML4 contig 124249 left, B = ALK contig 27514 left.
    ``fraction`` = share of fragments covering a breakpoint that come from the fused allele.
    """

    chrom_a: str
    pos_a: int
    keep_a: str
    chrom_b: str
    pos_b: int
    keep_b: str
    fraction: float = 0.0
    name: str = "fusion"

    def sides(self) -> list[tuple[str, int, str, str, int, str]]:
        return [
            (self.chrom_a, self.pos_a, self.keep_a, self.chrom_b, self.pos_b, self.keep_b),
            (self.chrom_b, self.pos_b, self.keep_b, self.chrom_a, self.pos_a, self.keep_a),
        ]


#: EML4-ALK variant 1 as in NCI-H3122 (EML4 intron 13 -> ALK intron 19, inversion).
EML4_ALK_V1 = Fusion(
    "chr2_42175501_42332600", 124249, "left", "chr2_29196228_29226309", 27514, "left",
    name="EML4::ALK",
)


@dataclass(frozen=True)
class GCBias:
    """Relative fragment yield ``exp(slope*(gc-0.5) - curvature*(gc-0.5)**2)``."""

    slope: float = 0.0
    curvature: float = 0.0

    def weight(self, gc: np.ndarray) -> np.ndarray:
        x = np.asarray(gc, dtype=np.float64) - 0.5
        return np.exp(self.slope * x - self.curvature * x * x)

    def max_weight(self) -> float:
        return float(self.weight(np.linspace(0.0, 1.0, 1001)).max())


@dataclass(frozen=True)
class ErrorModel:
    """Illumina-like qualities: mean falls quadratically from ``q_start`` to ``q_end`` along the
    read (R2 ``r2_drop`` lower at the end), read-level offset (sd ``read_sd``), per-base noise
    (sd ``base_sd``), occasional low-quality bases (``dip_rate``, Q 2-12). A base is substituted
    with probability 10^(-Q/10), so qualities are calibrated by construction."""

    q_start: float = 37.0
    q_end: float = 31.0
    r2_drop: float = 4.0
    read_sd: float = 1.5
    base_sd: float = 2.5
    dip_rate: float = 0.003
    q_max: int = 41


@dataclass
class Library:
    """Simulated read pairs (codes, padded with 4 beyond each read's length) and fragment truth."""

    r1: np.ndarray
    r2: np.ndarray
    q1: np.ndarray
    q2: np.ndarray
    length: np.ndarray  # read length of each pair (both mates)
    chrom: np.ndarray  # contig id of the fragment's (first) reference part
    start: np.ndarray  # 0-based reference start of the fragment
    end: np.ndarray  # 0-based reference end
    duplicate: np.ndarray  # bool: PCR copy of an earlier molecule
    on_target: np.ndarray  # bool: drawn from a target/amplicon (not off-target)
    fusion: np.ndarray  # bool: fragment from the fused allele
    carrier: np.ndarray  # (n, n_variants) bool: fragment carries variant i
    covers: np.ndarray  # (n, n_variants) bool: fragment covers variant i
    names: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.length)


# --------------------------------------------------------------------------------------------
# helpers


def normalize_variant(ref: Reference, v: Variant) -> Variant:
    """Check the REF against the reference, then left-align and trim indels (bcftools norm)."""
    c0 = v.pos - 1
    got = decode(ref.fetch(v.chrom, c0, c0 + len(v.ref)))
    if got != v.ref.upper():
        raise UserError(
            f"variant {v.chrom}:{v.pos} {v.ref}>{v.alt}: REF does not match the reference ({got})"
        )
    r, a, pos = v.ref.upper(), v.alt.upper(), v.pos
    if len(r) != len(a) and r[0] == a[0] and (len(r) == 1 or len(a) == 1):
        ins = a[1:] if len(a) > 1 else r[1:]
        anchor = pos
        while anchor > 1:
            base = decode(ref.fetch(v.chrom, anchor - 1, anchor))
            if base != ins[-1]:
                break
            ins = ins[-1] + ins[:-1]
            anchor -= 1
        new_anchor = decode(ref.fetch(v.chrom, anchor - 1, anchor))
        if len(a) > 1:
            r, a = new_anchor, new_anchor + ins
        else:
            r, a = new_anchor + ins, new_anchor
        pos = anchor
    return Variant(v.chrom, pos, r, a, v.vaf, v.gene, v.hgvs_c, v.hgvs_p)


def _lognormal_lengths(rng, n, mean, sd, lo, hi) -> np.ndarray:
    s2 = math.log(1.0 + (sd / mean) ** 2)
    mu = math.log(mean) - s2 / 2.0
    return np.clip(np.rint(rng.lognormal(mu, math.sqrt(s2), n)), lo, hi).astype(np.int64)


def target_efficiencies(n: int, spread: float, seed: int) -> np.ndarray:
    """Per-target/amplicon efficiency multipliers (log-normal, sd ``spread`` in log space,
    geometric mean 1). Seeded by the *panel* so every sample of a run shares them."""
    rng = np.random.default_rng([seed, 0xEFF])
    e = rng.lognormal(0.0, spread, n) if spread > 0 else np.ones(n)
    return e / np.exp(np.mean(np.log(e)))


def sample_seed(seed: int, *names: str) -> int:
    """Stable per-sample seed (hashlib, not Python's randomised ``hash``)."""
    h = hashlib.sha256("\t".join([str(seed), *names]).encode()).digest()
    return int.from_bytes(h[:8], "little")


def _gc_content(ref_seq: np.ndarray, gstart: np.ndarray, length: np.ndarray) -> np.ndarray:
    gcs = np.concatenate([[0], np.cumsum((ref_seq == 1) | (ref_seq == 2), dtype=np.int64)])
    return (gcs[gstart + length] - gcs[gstart]) / np.maximum(length, 1)


def _prepare_targets(ref: Reference, targets: pd.DataFrame, assay: str) -> pd.DataFrame:
    t = targets.copy()
    if "name" in t.columns and "gene" not in t.columns:
        t = t.rename(columns={"name": "gene"})
    need = ["chrom", "start", "end", "gene"]
    if assay == "amplicon":
        need += ["insert_start", "insert_end"]
    missing = [c for c in need if c not in t.columns]
    if missing:
        raise UserError(f"{assay} targets lack column(s) {', '.join(missing)}")
    t = t.reset_index(drop=True)
    t["cid"] = [ref.cid(c) for c in t["chrom"]]
    lo, hi = [], []
    for chrom, s, e in t[["chrom", "start", "end"]].itertuples(index=False):
        blk = ref.block_of(chrom, int(s), int(e))
        if blk is None and assay == "capture":  # target spills into N: use the block it starts in
            mid = (int(s) + int(e)) // 2
            blk = ref.block_of(chrom, mid, mid + 1)
        if blk is None:
            raise UserError(
                f"target {chrom}:{s}-{e} is not on real reference bases (known-sequence BED)"
            )
        lo.append(blk[0])
        hi.append(blk[1])
    t["block_start"], t["block_end"] = lo, hi
    t["start"] = np.maximum(t["start"].to_numpy(np.int64), t["block_start"].to_numpy())
    t["end"] = np.minimum(t["end"].to_numpy(np.int64), t["block_end"].to_numpy())
    return t


# --------------------------------------------------------------------------------------------
# fragments


def _capture_fragments(rng, ref, t, weights, n, lengths_fn):
    """n fragments overlapping targets (start uniform over allowed positions within the block)."""
    ti = rng.choice(len(t), size=n, p=weights / weights.sum())
    ln = lengths_fn(n)
    bl, bh = t["block_start"].to_numpy()[ti], t["block_end"].to_numpy()[ti]
    ts, te = t["start"].to_numpy()[ti], t["end"].to_numpy()[ti]
    ln = np.minimum(ln, bh - bl)
    lo = np.maximum(ts - ln + 1, bl)
    hi = np.minimum(te - 1, bh - ln)
    start = lo + np.floor(rng.random(n) * (hi - lo + 1)).astype(np.int64)
    return t["cid"].to_numpy()[ti], start, start + ln, ti


def _offtarget_fragments(rng, ref, contig_cn, n, lengths_fn, mean_len):
    b = ref.blocks
    blen = (b["end"] - b["start"]).to_numpy()
    w = np.maximum(blen - mean_len, 0).astype(float) * contig_cn[b["cid"].to_numpy()]
    if n == 0 or w.sum() == 0:
        return (np.zeros(0, np.int64),) * 3
    bi = rng.choice(len(b), size=n, p=w / w.sum())
    ln = np.minimum(lengths_fn(n), blen[bi])
    lo = b["start"].to_numpy()[bi]
    hi = b["end"].to_numpy()[bi] - ln
    start = lo + np.floor(rng.random(n) * (hi - lo + 1)).astype(np.int64)
    return b["cid"].to_numpy()[bi], start, start + ln


# --------------------------------------------------------------------------------------------
# main entry


def simulate_library(
    reference: Reference | str | Path,
    targets: pd.DataFrame,
    *,
    assay: str = "capture",
    n_fragments: int = 100_000,
    copy_numbers: Mapping[str, float] | None = None,
    ploidy: float = 2.0,
    variants: Sequence[Variant] = (),
    fusion: Fusion | None = None,
    gc_bias: GCBias = GCBias(),
    efficiency: np.ndarray | float | None = None,
    efficiency_seed: int = 0,
    efficiency_jitter: float = 0.05,
    duplicate_rate: float | None = None,
    off_target: float | None = None,
    read_length: int = 100,
    fragment_mean: float = 190.0,
    fragment_sd: float = 60.0,
    fragment_min: int = 60,
    fragment_max: int = 600,
    errors: ErrorModel = ErrorModel(),
    seed: int = 0,
    read_prefix: str = "sim",
    out_r1: str | Path | None = None,
    out_r2: str | Path | None = None,
    compresslevel: int = 1,
) -> Library:
    """Simulate one paired-end library; write gzipped FASTQs when ``out_r1``/``out_r2`` given.

    ``targets``: capture - ``chrom start end gene`` (the targets BED); amplicon - output of
    :func:`resistcall.panel.read_amplicons` (``start/end`` = whole amplicon incl. primers,
    ``insert_start/insert_end``, ``gene``). ``copy_numbers`` maps gene -> absolute copies
    (others = ``ploidy``). ``efficiency``: per-target multipliers, or the log-normal spread
    (default 0.25 capture, 0.6 amplicon: several-fold) seeded by ``efficiency_seed``.
    ``duplicate_rate``/``off_target`` default to 0.15/0.12 for capture and 0/0.01 for amplicon.
    """
    if assay not in ("capture", "amplicon"):
        raise UserError(f"assay must be capture or amplicon, not {assay!r}")
    ref = reference if isinstance(reference, Reference) else load_reference(reference)
    rng = np.random.default_rng(seed)
    t = _prepare_targets(ref, targets, assay)
    amplicon = assay == "amplicon"
    if duplicate_rate is None:
        duplicate_rate = 0.0 if amplicon else 0.15
    if off_target is None:
        off_target = 0.01 if amplicon else 0.12
    if amplicon:
        duplicate_rate = 0.0  # every read of an amplicon starts at its primer: never deduplicated
    cn = dict(copy_numbers or {})
    cn_factor = np.array([cn.get(g, ploidy) / ploidy for g in t["gene"]], dtype=float)
    if isinstance(efficiency, np.ndarray | list | tuple):
        eff = np.asarray(efficiency, dtype=float)
        if eff.shape != (len(t),):
            raise UserError(f"efficiency has {eff.size} values for {len(t)} targets")
    else:
        spread = (0.6 if amplicon else 0.25) if efficiency is None else float(efficiency)
        eff = target_efficiencies(len(t), spread, efficiency_seed)
    if efficiency_jitter > 0:
        eff = eff * rng.lognormal(0.0, efficiency_jitter, len(t))
    # copy number of off-target DNA: the gene of the contig's targets
    contig_cn = np.ones(len(ref.names))
    for cid, grp in t.groupby("cid"):
        contig_cn[cid] = cn.get(grp["gene"].mode().iloc[0], ploidy) / ploidy

    n_unique = int(round(n_fragments * (1.0 - duplicate_rate)))
    n_off = int(rng.binomial(n_unique, off_target)) if off_target > 0 else 0
    n_on = n_unique - n_off

    def lengths_fn(k):
        return _lognormal_lengths(rng, k, fragment_mean, fragment_sd, fragment_min, fragment_max)

    gmax = gc_bias.max_weight()
    if amplicon:
        span = (t["end"] - t["start"]).to_numpy(np.int64)
        gstart = ref.offsets[t["cid"].to_numpy()] + t["start"].to_numpy(np.int64)
        w = eff * cn_factor * gc_bias.weight(_gc_content(ref.seq, gstart, span))
        ti = rng.choice(len(t), size=n_on, p=w / w.sum())
        cid = t["cid"].to_numpy()[ti]
        start, end = t["start"].to_numpy()[ti], t["end"].to_numpy()[ti]
        ins_s = t["insert_start"].to_numpy()[ti]
        ins_e = t["insert_end"].to_numpy()[ti]
    else:
        w = ((t["end"] - t["start"]).to_numpy() + fragment_mean) * eff * cn_factor
        parts, got = [], 0
        while got < n_on:  # GC thinning: oversample, accept with weight/max
            k = int((n_on - got) * 1.3 / max(0.05, 1.0 / gmax)) + 100
            c, s, e, ti_ = _capture_fragments(rng, ref, t, w, k, lengths_fn)
            gc = _gc_content(ref.seq, ref.offsets[c] + s, e - s)
            keep = rng.random(k) < gc_bias.weight(gc) / gmax
            parts.append((c[keep], s[keep], e[keep]))
            got += int(keep.sum())
        cid = np.concatenate([p[0] for p in parts])[:n_on]
        start = np.concatenate([p[1] for p in parts])[:n_on]
        end = np.concatenate([p[2] for p in parts])[:n_on]
        ins_s, ins_e = start, end
    oc, os_, oe = _offtarget_fragments(rng, ref, contig_cn, n_off, lengths_fn, fragment_mean)
    cid = np.concatenate([cid, oc]).astype(np.int64)
    start = np.concatenate([start, os_]).astype(np.int64)
    end = np.concatenate([end, oe]).astype(np.int64)
    ins_s = np.concatenate([ins_s, os_]).astype(np.int64)
    ins_e = np.concatenate([ins_e, oe]).astype(np.int64)
    on_target = np.concatenate([np.ones(n_on, bool), np.zeros(len(oc), bool)])
    n_u = len(cid)
    gstart = ref.offsets[cid] + start
    flen = end - start

    # ---- variants: Bernoulli(VAF) among covering fragments (primer-free part for amplicons)
    variants = [normalize_variant(ref, v) for v in variants]
    nv = len(variants)
    carrier = np.zeros((n_u, nv), bool)
    covers = np.zeros((n_u, nv), bool)
    for i, v in enumerate(variants):
        if not 0.0 <= v.vaf <= 1.0:
            raise UserError(f"variant {v.chrom}:{v.pos} VAF {v.vaf} is not within 0-1")
        vs, ve = v.span
        cov = (cid == ref.cid(v.chrom)) & (ins_s <= vs) & (ins_e >= ve)
        covers[:, i] = cov
        # overlapping earlier variants: one allele per molecule, marginal VAF kept
        taken = np.zeros(n_u, bool)
        prior = 0.0
        for j in range(i):
            u = variants[j]
            if u.chrom == v.chrom and u.span[0] < ve and vs < u.span[1]:
                taken |= carrier[:, j]
                prior += u.vaf
        p = v.vaf / (1.0 - prior) if prior < 1.0 else 0.0
        carrier[:, i] = cov & ~taken & (rng.random(n_u) < p)

    # ---- special sequences (variant carriers, fusion fragments) appended to the buffer
    special_seqs: list[np.ndarray] = []
    special_idx: list[int] = []
    rows = np.flatnonzero(carrier.any(axis=1))
    for r in rows:
        s, e = int(start[r]), int(end[r])
        seq = ref.seq[gstart[r] : gstart[r] + (e - s)].copy()
        for i in sorted(np.flatnonzero(carrier[r]), key=lambda k: -variants[k].pos):
            v = variants[i]
            o = v.pos - 1 - s
            seq = np.concatenate([seq[:o], encode(v.alt), seq[o + len(v.ref) :]])
        special_seqs.append(seq)
        special_idx.append(int(r))
    fusion_mask = np.zeros(n_u, bool)
    if fusion is not None and fusion.fraction > 0:
        has_var = carrier.any(axis=1)
        for chrom, pos, keep, pchrom, ppos, pkeep in fusion.sides():
            c = ref.cid(chrom)
            if keep == "left":  # fragment must hold bases pos and pos+1 (1-based)
                cov = (cid == c) & (start <= pos - 1) & (end >= pos + 1)
                kept_len = pos - start
            else:
                cov = (cid == c) & (start <= pos - 2) & (end >= pos)
                kept_len = end - (pos - 1)
            cov &= ~has_var & ~fusion_mask & (rng.random(n_u) < fusion.fraction)
            pblk = ref.block_of(pchrom, ppos - 1, ppos)
            if pblk is None:
                raise UserError(f"fusion partner {pchrom}:{ppos} is not on real bases")
            for r in np.flatnonzero(cov):
                k = int(kept_len[r])
                m = int(flen[r]) - k
                if pkeep == "left":
                    if ppos - m < pblk[0]:
                        continue
                    cont = revcomp(ref.fetch(pchrom, ppos - m, ppos))
                else:
                    if ppos - 1 + m > pblk[1]:
                        continue
                    cont = ref.fetch(pchrom, ppos - 1, ppos - 1 + m)
                if keep == "left":
                    seq = np.concatenate([ref.fetch(chrom, int(start[r]), pos), cont])
                else:
                    seq = np.concatenate([revcomp(cont), ref.fetch(chrom, pos - 1, int(end[r]))])
                special_seqs.append(seq)
                special_idx.append(int(r))
                fusion_mask[r] = True
    buf = ref.seq
    if special_seqs:
        lens = np.array([len(s) for s in special_seqs], dtype=np.int64)
        pos0 = len(ref.seq) + np.concatenate([[0], np.cumsum(lens)[:-1]])
        buf = np.concatenate([ref.seq, *special_seqs])
        idx = np.array(special_idx)
        gstart = gstart.copy()
        flen = flen.copy()
        gstart[idx] = pos0
        flen[idx] = lens

    # ---- PCR duplicates (uneven family sizes)
    n_dup = n_fragments - n_u
    strand = rng.random(n_u) < 0.5  # True: R1 reads the fragment's reverse strand
    if n_dup > 0:
        fam = rng.gamma(1.0, 1.0, n_u)
        parent = rng.choice(n_u, size=n_dup, p=fam / fam.sum())
        order = np.concatenate([np.arange(n_u), parent])
        order = order[rng.permutation(len(order))]
    else:
        order = rng.permutation(n_u)
    duplicate = np.zeros(len(order), bool)
    seen = np.zeros(n_u, bool)
    # first occurrence of each molecule is the original; later ones are duplicates
    _, first = np.unique(order, return_index=True)
    duplicate[:] = True
    duplicate[first] = False
    del seen
    g = gstart[order]
    fl = flen[order]
    st = strand[order]
    rl = np.minimum(read_length, fl)

    # ---- reads (buffer padded by read_length codes of N so index arithmetic never leaves it)
    pad = np.full(read_length, 4, dtype=np.uint8)
    bufp = np.concatenate([pad, buf, pad])
    j = np.arange(read_length, dtype=np.int32)
    g32 = (g + read_length).astype(np.int32)
    valid = j[None, :] < rl[:, None]
    fwd = bufp[g32[:, None] + j[None, :]]
    rev = _COMPLEMENT[bufp[(g32 + fl.astype(np.int32) - 1)[:, None] - j[None, :]]]
    fwd[~valid] = 4
    rev[~valid] = 4
    r1 = np.where(st[:, None], rev, fwd)
    r2 = np.where(st[:, None], fwd, rev)
    del fwd, rev
    q1 = _qualities(rng, len(order), read_length, errors, 0.0)
    q2 = _qualities(rng, len(order), read_length, errors, errors.r2_drop)
    _add_errors(rng, r1, q1, valid)
    _add_errors(rng, r2, q2, valid)
    lib = Library(
        r1=r1, r2=r2, q1=q1, q2=q2, length=rl, chrom=cid[order], start=start[order],
        end=end[order], duplicate=duplicate, on_target=on_target[order],
        fusion=fusion_mask[order], carrier=carrier[order], covers=covers[order],
    )
    if out_r1 is not None and out_r2 is not None:
        write_fastq_pair(lib, out_r1, out_r2, read_prefix, compresslevel)
    return lib


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


# --------------------------------------------------------------------------------------------
# FASTQ output


def _fastq_bytes(reads, quals, length, prefix: str) -> bytes:
    """Vectorised FASTQ text: fixed-width record matrix, padding bytes (0) dropped at the end."""
    n, rl = reads.shape
    width = max(1, len(str(max(n - 1, 0))))
    head = f"@{prefix}:".encode()
    digits = (np.arange(n, dtype=np.int64)[:, None] // 10 ** np.arange(width - 1, -1, -1)) % 10
    cols = len(head) + width + 1 + rl + 3 + rl + 1
    m = np.zeros((n, cols), dtype=np.uint8)
    c = 0
    m[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    c += len(head)
    m[:, c : c + width] = (digits + 48).astype(np.uint8)
    c += width
    m[:, c] = 10
    c += 1
    valid = np.arange(rl)[None, :] < length[:, None]
    m[:, c : c + rl] = np.where(valid, _DECODE[reads], 0)
    c += rl
    m[:, c : c + 3] = np.frombuffer(b"\n+\n", dtype=np.uint8)
    c += 3
    m[:, c : c + rl] = np.where(valid, quals + 33, 0)
    c += rl
    m[:, c] = 10
    return m[m != 0].tobytes()


def _write_gz(data: bytes, path: Path, level: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(
        filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=level
    ) as gz:
        gz.write(data)
    tmp.replace(path)


def write_fastq_pair(lib: Library, out_r1, out_r2, prefix: str = "sim", level: int = 1) -> None:
    """Write R1/R2 gzipped FASTQ (mtime 0, no file name in the header: byte-reproducible)."""
    paths = [Path(out_r1), Path(out_r2)]
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=2) as pool:  # zlib releases the GIL
        jobs = [
            pool.submit(lambda r, q, p: _write_gz(_fastq_bytes(r, q, lib.length, prefix), p, level),
                        r, q, p)
            for r, q, p in ((lib.r1, lib.q1, paths[0]), (lib.r2, lib.q2, paths[1]))
        ]
        for j in jobs:
            j.result()


def register(subparsers) -> None:  # full CLI follows
    p = subparsers.add_parser("simulate", help="simulate demo FASTQs with a truth file")
    p.set_defaults(func=lambda args: None)
