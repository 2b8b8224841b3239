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

import filecmp
import gzip
import hashlib
import json
import logging
import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import NormalDist
from typing import cast

import numpy as np
import pandas as pd
import pysam

from resistcall import __version__
from resistcall.errors import UserError
from resistcall.inputs.files import resolve_bundled, source_checkout
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
        stem = fasta.name.removesuffix(".gz")
        for ext in (".fasta", ".fna", ".fa"):
            stem = stem.removesuffix(ext)
        cand = fasta.with_name(stem + ".known_sequence.bed")
        known_bed = cand if cand.exists() else None
    if known_bed is not None:
        blocks = read_bed(known_bed, names=("chrom", "start", "end"))
    else:  # runs of real bases
        rows = []
        for name, off, n in zip(names, offsets, lengths, strict=True):
            real = np.concatenate([[0], (seq[off : off + n] < 4).astype(np.int8), [0]])
            d = np.diff(real)
            rows += [
                (name, int(s), int(e))
                for s, e in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True)
            ]
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
    span_end: int = 0  # set by normalize_variant: end of an indel's repeat (ambiguity) region

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
        """0-based [start, end) of the reference bases a read must hold to show the allele.

        For a (left-aligned) indel this runs to the base after its right-most equivalent
        placement: only a read through the whole repeat tells the allele apart."""
        start = self.pos - 1
        end = start + len(self.ref)
        if self.kind == "insertion":
            end += 1  # the base after the insertion point must be read too
        return start, max(end, self.span_end)


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

    def with_fraction(self, fraction: float) -> Fusion:
        return replace(self, fraction=fraction)

    def sides(self) -> list[tuple[str, int, str, str, int, str]]:
        return [
            (self.chrom_a, self.pos_a, self.keep_a, self.chrom_b, self.pos_b, self.keep_b),
            (self.chrom_b, self.pos_b, self.keep_b, self.chrom_a, self.pos_a, self.keep_a),
        ]


#: EML4-ALK variant 1 as in NCI-H3122 (EML4 intron 13 -> ALK intron 19, inversion).
EML4_ALK_V1 = Fusion(
    "chr2_42175501_42332600",
    124249,
    "left",
    "chr2_29196228_29226309",
    27514,
    "left",
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
    r1_reverse: np.ndarray | None = None  # bool: R1 reads the fragment's reverse strand

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
        # right-most equivalent placement: where the repeat that makes the indel ambiguous ends
        right, seq = pos, ins
        while True:
            nxt = right + (len(seq) if len(a) == 1 else 0)  # 0-based index of the next base
            base = decode(ref.fetch(v.chrom, nxt, nxt + 1))
            if base != seq[0]:
                break
            seq = seq[1:] + seq[0]
            right += 1
        span_end = right + (len(seq) if len(a) == 1 else 0) + 1
        return Variant(v.chrom, pos, r, a, v.vaf, v.gene, v.hgvs_c, v.hgvs_p, span_end)
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


def _capture_fragments(rng, ref, t, weights, n, lengths_fn, ti=None):
    """n fragments overlapping targets (start uniform over allowed positions within the block)."""
    if ti is None:
        ti = rng.choice(len(t), size=n, p=weights / weights.sum())
    ln = lengths_fn(n)
    bl, bh = t["block_start"].to_numpy()[ti], t["block_end"].to_numpy()[ti]
    ts, te = t["start"].to_numpy()[ti], t["end"].to_numpy()[ti]
    ln = np.minimum(ln, bh - bl)
    lo = np.maximum(ts - ln + 1, bl)
    hi = np.minimum(te - 1, bh - ln)
    start = lo + np.floor(rng.random(n) * (hi - lo + 1)).astype(np.int64)
    return t["cid"].to_numpy()[ti], start, start + ln, ti


def _read_bases_on_target(rng, ref, t, lengths_fn, read_length: int, pilot: int = 64):
    """Mean number of read bases a captured fragment puts on its target (pilot draw).

    Targets sit in real-base blocks of very different sizes (a KIT exon block is ~250 bp, the
    ALK intron block 4.6 kb), so the same fragment-length distribution gives different read
    coverage per fragment; weighting targets by length / this mean makes expected depth
    ``efficiency x copy number x GC`` only, whatever the block geometry or fragment length.
    """
    ti = np.repeat(np.arange(len(t)), pilot)
    _, s, e, _ = _capture_fragments(rng, ref, t, None, len(ti), lengths_fn, ti=ti)
    ts, te = t["start"].to_numpy()[ti], t["end"].to_numpy()[ti]
    rl = np.minimum(read_length, e - s)
    r1 = np.clip(np.minimum(s + rl, te) - np.maximum(s, ts), 0, None)
    r2 = np.clip(np.minimum(e, te) - np.maximum(e - rl, ts), 0, None)
    both = np.clip(np.minimum(s + rl, te) - np.maximum(e - rl, ts), 0, None)  # mate overlap
    both = np.where(e - rl < s + rl, both, 0)
    bases = (r1 + r2 - both).reshape(len(t), pilot)
    return np.maximum(bases.mean(axis=1), 1.0)


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
    purity: float = 1.0,
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
    ``purity`` < 1 admixes normal cells: a fraction ``1 - purity`` of the cells carry
    ``ploidy`` copies of every gene, no variant and no fusion; copy numbers, variant VAFs and
    the fusion fraction then describe the tumour cells' DNA only.
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
    if not 0.0 < purity <= 1.0:
        raise UserError(f"purity must be above 0 and at most 1, not {purity}")
    cn = dict(copy_numbers or {})

    def bulk(copies: float) -> float:  # DNA of tumour + normal cells, relative to ploidy
        return (purity * copies + (1.0 - purity) * ploidy) / ploidy

    cn_factor = np.array([bulk(cn.get(g, ploidy)) for g in t["gene"]], dtype=float)
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
    tumour_share = np.ones(len(ref.names))  # share of a contig's molecules from tumour cells
    for cid, grp in t.groupby("cid"):
        copies = cn.get(grp["gene"].mode().iloc[0], ploidy)
        contig_cn[cid] = bulk(copies)
        tumour_share[cid] = purity * copies / ploidy / bulk(copies) if copies > 0 else 0.0

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
        pilot_rng = np.random.default_rng([seed, 0x9170])
        per_frag = _read_bases_on_target(
            pilot_rng,
            ref,
            t,
            lambda k: _lognormal_lengths(
                pilot_rng, k, fragment_mean, fragment_sd, fragment_min, fragment_max
            ),
            read_length,
        )
        w = (t["end"] - t["start"]).to_numpy() / per_frag * eff * cn_factor
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

    variants = [normalize_variant(ref, v) for v in variants]
    # molecules from normal cells carry neither variants nor the fusion (no draw when pure, so
    # pure libraries are unchanged)
    normal = rng.random(n_u) >= tumour_share[cid] if purity < 1.0 else np.zeros(n_u, bool)
    carrier, covers = _assign_variants(rng, ref, variants, cid, ins_s, ins_e, normal)
    seqs, idx = _variant_sequences(ref, variants, carrier, start, end, gstart)
    fusion_mask = np.zeros(n_u, bool)
    if fusion is not None and fusion.fraction > 0:
        fseqs, fidx = _fusion_sequences(
            rng, ref, fusion, cid, start, end, carrier.any(axis=1) | normal
        )
        fusion_mask[fidx] = True
        seqs += fseqs
        idx += fidx
    buf = ref.seq
    if seqs:  # altered molecules live in an extension of the sequence buffer
        lens = np.array([len(x) for x in seqs], dtype=np.int64)
        gstart = gstart.copy()
        flen = flen.copy()
        gstart[idx] = len(ref.seq) + np.concatenate([[0], np.cumsum(lens)[:-1]])
        flen[idx] = lens
        buf = np.concatenate([ref.seq, *seqs])

    strand = rng.random(n_u) < 0.5  # True: R1 reads the fragment's reverse strand
    order, duplicate = _pcr_duplicates(rng, n_u, n_fragments - n_u)
    rl = np.minimum(read_length, flen[order])
    st = strand[order]
    r1, r2, q1, q2 = _sequence_reads(
        rng, buf, gstart[order], flen[order], rl, st, read_length, errors
    )
    lib = Library(
        r1=r1,
        r2=r2,
        q1=q1,
        q2=q2,
        length=rl,
        chrom=cid[order],
        start=start[order],
        end=end[order],
        duplicate=duplicate,
        on_target=on_target[order],
        fusion=fusion_mask[order],
        carrier=carrier[order],
        covers=covers[order],
        r1_reverse=st,
    )
    if out_r1 is not None and out_r2 is not None:
        write_fastq_pair(lib, out_r1, out_r2, read_prefix, compresslevel)
    return lib


def _assign_variants(rng, ref, variants, cid, ins_s, ins_e, normal):
    """Bernoulli(VAF) carriers among the tumour molecules (``~normal``) covering each variant
    (amplicon: the insert).

    Overlapping variants cannot share a molecule; the later one is drawn among the rest with
    VAF / (1 - earlier VAFs) so every variant keeps its marginal VAF."""
    n_u, nv = len(cid), len(variants)
    carrier = np.zeros((n_u, nv), bool)
    covers = np.zeros((n_u, nv), bool)
    for i, v in enumerate(variants):
        if not 0.0 <= v.vaf <= 1.0:
            raise UserError(f"variant {v.chrom}:{v.pos} VAF {v.vaf} is not within 0-1")
        vs, ve = v.span
        cov = (cid == ref.cid(v.chrom)) & (ins_s <= vs) & (ins_e >= ve)
        covers[:, i] = cov
        taken = np.zeros(n_u, bool)
        prior = 0.0
        for j in range(i):
            u = variants[j]
            if u.chrom == v.chrom and u.span[0] < ve and vs < u.span[1]:
                taken |= carrier[:, j]
                prior += u.vaf
        p = v.vaf / (1.0 - prior) if prior < 1.0 else 0.0
        carrier[:, i] = cov & ~taken & ~normal & (rng.random(n_u) < p)
    return carrier, covers


def _variant_sequences(ref, variants, carrier, start, end, gstart):
    """Sequence of every carrier molecule with its alleles applied (3' first keeps offsets)."""
    seqs, idx = [], []
    for r in np.flatnonzero(carrier.any(axis=1)):
        s, e = int(start[r]), int(end[r])
        seq = ref.seq[gstart[r] : gstart[r] + (e - s)].copy()
        for i in sorted(np.flatnonzero(carrier[r]), key=lambda k: -variants[k].pos):
            v = variants[i]
            o = v.pos - 1 - s
            seq = np.concatenate([seq[:o], encode(v.alt), seq[o + len(v.ref) :]])
        seqs.append(seq)
        idx.append(int(r))
    return seqs, idx


def _fusion_sequences(rng, ref, fusion: Fusion, cid, start, end, exclude):
    """Replace a ``fusion.fraction`` of the molecules covering either breakpoint by the same
    stretch of the fused allele: kept side up to the junction, then the partner's kept side."""
    n_u = len(cid)
    done = np.zeros(n_u, bool)
    seqs, idx = [], []
    for chrom, pos, keep, pchrom, ppos, pkeep in fusion.sides():
        c = ref.cid(chrom)
        if keep == "left":  # fragment must hold bases pos and pos+1 (1-based)
            cov = (cid == c) & (start <= pos - 1) & (end >= pos + 1)
            kept_len = pos - start
        else:
            cov = (cid == c) & (start <= pos - 2) & (end >= pos)
            kept_len = end - (pos - 1)
        cov &= ~exclude & ~done & (rng.random(n_u) < fusion.fraction)
        pblk = ref.block_of(pchrom, ppos - 1, ppos)
        if pblk is None:
            raise UserError(f"fusion partner {pchrom}:{ppos} is not on real bases")
        for r in np.flatnonzero(cov):
            m = int(end[r] - start[r]) - int(kept_len[r])  # bases taken from the partner
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
            seqs.append(seq)
            idx.append(int(r))
            done[r] = True
    return seqs, idx


def _pcr_duplicates(rng, n_u: int, n_dup: int):
    """Shuffled read-pair order over molecules, with ``n_dup`` PCR copies (gamma family sizes);
    the first occurrence of a molecule is the original, later ones are flagged duplicates."""
    if n_dup > 0:
        fam = rng.gamma(1.0, 1.0, n_u)
        parent = rng.choice(n_u, size=n_dup, p=fam / fam.sum())
        order = np.concatenate([np.arange(n_u), parent])
        order = order[rng.permutation(len(order))]
    else:
        order = rng.permutation(n_u)
    duplicate = np.ones(len(order), bool)
    _, first = np.unique(order, return_index=True)
    duplicate[first] = False
    return order, duplicate


def _sequence_reads(rng, buf, g, fl, rl, st, read_length: int, errors: ErrorModel):
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
    for c0 in range(0, n_pairs, _CHUNK):
        sl = slice(c0, min(c0 + _CHUNK, n_pairs))
        valid = j[None, :] < rl[sl, None]
        fwd = bufp[g32[sl, None] + j[None, :]]
        rev = _COMPLEMENT[bufp[e32[sl, None] - j[None, :]]]
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
_CHUNK = 65536  # read pairs per chunk (part of the seeded stream: changing it changes output)
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


def _fastq_bytes(reads, quals, length, prefix: str, first: int = 0, width: int = 0) -> bytes:
    """Vectorised FASTQ text: fixed-width record matrix, padding bytes (0) dropped at the end.

    Records are numbered from ``first``, zero-padded to ``width`` digits."""
    n, rl = reads.shape
    width = width or max(1, len(str(max(first + n - 1, 0))))
    head = f"@{prefix}:".encode()
    idx = np.arange(first, first + n, dtype=np.int64)
    digits = (idx[:, None] // 10 ** np.arange(width - 1, -1, -1)) % 10
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


def _replace_if_changed(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` over ``path`` unless the bytes are identical: an unchanged output keeps its
    mtime, so a re-simulation after a code change does not make Snakemake rerun everything."""
    if path.exists() and filecmp.cmp(tmp, path, shallow=False):
        tmp.unlink()
    else:
        tmp.replace(path)


def _write_fastq_gz(reads, quals, length, prefix: str, path: Path, level: int) -> None:
    n = len(length)
    width = max(1, len(str(max(n - 1, 0))))
    tmp = path.with_name(path.name + ".tmp")
    with (
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=level) as gz,
    ):
        for c0 in range(0, n, _CHUNK):
            sl = slice(c0, min(c0 + _CHUNK, n))
            gz.write(_fastq_bytes(reads[sl], quals[sl], length[sl], prefix, c0, width))
    _replace_if_changed(tmp, path)


def write_fastq_pair(lib: Library, out_r1, out_r2, prefix: str = "sim", level: int = 1) -> None:
    """Write R1/R2 gzipped FASTQ (mtime 0, no file name in the header: byte-reproducible)."""
    paths = [Path(out_r1), Path(out_r2)]
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=2) as pool:  # zlib releases the GIL
        jobs = [
            pool.submit(_write_fastq_gz, r, q, lib.length, prefix, p, level)
            for r, q, p in ((lib.r1, lib.q1, paths[0]), (lib.r2, lib.q2, paths[1]))
        ]
        for job in jobs:
            job.result()


# --------------------------------------------------------------------------------------------
# runs: the demo from config/config.yaml, or one library from explicit arguments


@dataclass
class SamplePlan:
    """One sample to simulate: where its FASTQs go and its truth."""

    sample: str
    line: str = ""
    condition: str = ""
    units: list[tuple[str, Path, Path]] = field(default_factory=list)  # (unit, fq1, fq2)
    copy_numbers: dict[str, float] = field(default_factory=dict)
    vafs: dict[int, float] = field(default_factory=dict)  # variant index -> VAF
    fusion_fraction: float = 0.0
    gc_bias: GCBias = GCBias()
    params: dict = field(default_factory=dict)  # per-sample simulate_library overrides


@dataclass
class RunPlan:
    reference: Path
    known_bed: Path | None
    targets: Path | None  # capture targets, or amplicon inserts (None: genes from primer names)
    primers: Path | None
    assay: str
    out_dir: Path
    seed: int
    samples: list[SamplePlan]
    variants: list[Variant]
    fusion: Fusion | None
    params: dict  # simulate_library keyword arguments shared by all samples


_LIB_KEYS = {  # config key -> simulate_library argument
    "read_length": "read_length",
    "fragment_mean": "fragment_mean",
    "fragment_sd": "fragment_sd",
    "duplicate_rate": "duplicate_rate",
    "off_target": "off_target",
    "ploidy": "ploidy",
    "purity": "purity",
    "efficiency_spread": "efficiency",
    "efficiency_jitter": "efficiency_jitter",
}


_SIM_KEYS = {
    "out_dir",
    "seed",
    "fragments",
    "assay",
    "targets",
    "primers",
    "known_bed",
    "fusion",
    "samples",
    "variants",
}
_SAMPLE_KEYS = {"copy_number", "fusion_fraction", "gc_bias", "fragments"}
_VARIANT_KEYS = {"gene", "hgvs_c", "hgvs_p", "chrom", "pos", "ref", "alt", "vaf"}


def _check_keys(section: Mapping, allowed: set[str], where: str) -> None:
    """A misspelt option must not silently fall back to its default."""
    if not isinstance(section, Mapping):
        raise UserError(f"{where}: expected a mapping, got {type(section).__name__}")
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise UserError(
            f"{where}: unknown key(s) {', '.join(map(str, unknown))} "
            f"(allowed: {', '.join(sorted(allowed))})"
        )


def _parse_junction_side(text: str, what: str) -> tuple[str, int, str]:
    try:
        chrom, pos, keep = str(text).rsplit(":", 2)
        if keep not in ("left", "right"):
            raise ValueError
        return chrom, int(pos), keep
    except ValueError:
        raise UserError(
            f"simulate.fusion.{what}: expected CONTIG:POS:left|right, got {text!r}"
        ) from None


def _read_sheet(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise UserError(f"sample sheet not found: {path}")
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment=None)


def plan_from_config(config_path: str | Path, overrides: dict) -> RunPlan:
    """Read config.yaml (``simulate:`` section, panel, reference) and the sample/unit sheets."""
    import yaml

    config_path = Path(config_path)
    if not config_path.exists():
        raise UserError(f"config file not found: {config_path}")
    cfg = yaml.safe_load(config_path.read_text()) or {}
    resolve_bundled(cfg, Path("."), source_checkout())
    sim = dict(cfg.get("simulate") or {})
    panel = cfg.get("panel") or {}
    where = f"{config_path}: simulate"
    _check_keys(sim, _SIM_KEYS | set(_LIB_KEYS), where)
    for name, opts in (sim.get("samples") or {}).items():
        _check_keys(opts or {}, _SAMPLE_KEYS | set(_LIB_KEYS), f"{where}.samples.{name}")
    for k, v in enumerate(sim.get("variants") or []):
        _check_keys(v or {}, _VARIANT_KEYS, f"{where}.variants[{k}]")
    assay = overrides.get("assay") or sim.get("assay") or panel.get("assay", "capture")
    targets = overrides.get("targets") or sim.get("targets")
    if targets is None and (assay == "capture" or panel.get("assay") == "amplicon"):
        targets = panel.get("targets")  # the configured panel's own targets / inserts
    primers = overrides.get("primers") or sim.get("primers") or panel.get("primers")
    if targets is None and assay == "capture":
        raise UserError(f"{config_path}: panel.targets is not set")
    if assay == "amplicon" and not primers:
        raise UserError(f"{config_path}: amplicon simulation needs panel.primers")
    samples = _read_sheet(Path(cfg.get("samples", "config/samples.tsv")))
    units = _read_sheet(Path(cfg.get("units", "config/units.tsv")))
    out_dir = Path(overrides.get("out_dir") or sim.get("out_dir", "demo_data"))
    relocate = overrides.get("out_dir") is not None
    per_sample = sim.get("samples") or {}
    unknown = sorted(set(per_sample) - set(samples["sample"]))
    if unknown:
        raise UserError(f"{where}.samples: {', '.join(unknown)} not in the sample sheet")
    variants: list[Variant] = []
    vafs: dict[str, dict[int, float]] = {s: {} for s in samples["sample"]}
    for k, v in enumerate(sim.get("variants") or []):
        try:
            variants.append(
                Variant(
                    str(v["chrom"]),
                    int(v["pos"]),
                    str(v["ref"]),
                    str(v["alt"]),
                    0.0,
                    str(v.get("gene", "")),
                    str(v.get("hgvs_c", "")),
                    str(v.get("hgvs_p", "")),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"{where}.variants[{k}]: needs chrom, pos, ref, alt ({exc})") from None
        for s, f in (v.get("vaf") or {}).items():
            if s not in vafs:
                raise UserError(f"{where}.variants[{k}].vaf: sample {s} not in the sample sheet")
            vafs[s][k] = float(f)
    fusion = None
    if sim.get("fusion"):
        fz = sim["fusion"]
        a = _parse_junction_side(fz.get("a", ""), "a")
        b = _parse_junction_side(fz.get("b", ""), "b")
        fusion = Fusion(*a, *b, name=str(fz.get("name", "fusion")))
    plans = []
    for row in samples.itertuples(index=False):
        name = row.sample
        opts = per_sample.get(name) or {}
        urows = units[units["sample"] == name]
        if urows.empty:
            raise UserError(f"{cfg.get('units')}: sample {name} has no unit row")
        ulist = []
        for u in urows.itertuples(index=False):
            fq1, fq2 = getattr(u, "fq1", ""), getattr(u, "fq2", "")
            if not fq1 or not fq2:
                raise UserError(
                    f"{cfg.get('units')}: sample {name} unit {u.unit}: simulation writes FASTQ "
                    "pairs, so fq1 and fq2 must both be named"
                )
            p1, p2 = Path(fq1), Path(fq2)
            if relocate:
                p1, p2 = out_dir / p1.name, out_dir / p2.name
            ulist.append((u.unit, p1, p2))
        gc = opts.get("gc_bias", [0.0, 0.0])
        plans.append(
            SamplePlan(
                sample=name,
                line=getattr(row, "line", ""),
                condition=getattr(row, "condition", ""),
                units=ulist,
                copy_numbers={str(g): float(c) for g, c in (opts.get("copy_number") or {}).items()},
                vafs=vafs[name],
                fusion_fraction=float(opts.get("fusion_fraction", 0.0)),
                gc_bias=GCBias(float(gc[0]), float(gc[1])),
                params={_LIB_KEYS[k]: opts[k] for k in _LIB_KEYS if k in opts}
                | ({"n_fragments": int(opts["fragments"])} if "fragments" in opts else {}),
            )
        )
    params = {_LIB_KEYS[k]: sim[k] for k in _LIB_KEYS if k in sim}
    if assay != (sim.get("assay") or panel.get("assay", "capture")):
        # the configured library shape belongs to the other assay: use this assay's defaults
        for key in ("duplicate_rate", "off_target", "efficiency"):
            params.pop(key, None)
    if overrides.get("fragments"):
        sim["fragments"] = overrides["fragments"]
    params["n_fragments"] = int(sim.get("fragments", 100_000))
    ref_cfg = cfg.get("reference") or {}
    fasta = Path(
        overrides.get("reference") or ref_cfg.get("fasta", "resources/reference/panel_GRCh38.fa")
    )
    known = overrides.get("known_bed") or sim.get("known_bed")
    return RunPlan(
        reference=fasta,
        known_bed=Path(known) if known else None,
        targets=Path(targets) if targets else None,
        primers=Path(primers) if primers and assay == "amplicon" else None,
        assay=assay,
        out_dir=out_dir,
        seed=int(overrides.get("seed") or sim.get("seed", 1)),
        samples=plans,
        variants=variants,
        fusion=fusion,
        params=params,
    )


def _load_targets(plan: RunPlan) -> pd.DataFrame:
    if plan.assay == "amplicon":
        from resistcall.panel import read_amplicons

        return read_amplicons(cast(Path, plan.primers), plan.targets)  # checked by load_plan
    return read_bed(cast(Path, plan.targets), names=("chrom", "start", "end", "gene"))


def _file_digest(path: Path | None) -> str:
    if path is None:
        return ""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def plan_digest(plan: RunPlan) -> str:
    """Hash of everything that determines the output bytes (inputs, parameters, code)."""
    code = Path(__file__).read_bytes()
    payload = {
        "version": __version__,
        "code": hashlib.sha256(code).hexdigest(),
        "reference": _file_digest(plan.reference),
        "known_bed": _file_digest(plan.known_bed),
        "targets": _file_digest(plan.targets),
        "primers": _file_digest(plan.primers),
        "plan": repr(
            (
                plan.assay,
                plan.seed,
                sorted(plan.params.items()),
                plan.variants,
                plan.fusion,
                plan.samples,
            )
        ),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def run_plan(plan: RunPlan, force: bool = False) -> pd.DataFrame:
    """Simulate every unit of every sample, write truth.tsv/truth.vcf.gz and a manifest.

    Skips all work when the manifest's hash matches and every output exists.
    """
    outputs = [p for s in plan.samples for _, p1, p2 in s.units for p in (p1, p2)]
    truth_tsv = plan.out_dir / "truth.tsv"
    truth_vcf = plan.out_dir / "truth.vcf.gz"
    manifest = plan.out_dir / ".simulate_manifest.json"
    digest = plan_digest(plan)
    everything = [*outputs, truth_tsv]
    if not force and manifest.exists() and all(p.exists() for p in everything):
        try:
            if json.loads(manifest.read_text()).get("digest") == digest:
                log.info("outputs are up to date (%s); nothing to do", manifest)
                return pd.read_csv(truth_tsv, sep="\t", dtype=str, keep_default_na=False)
        except (OSError, ValueError):
            pass
    ref = load_reference(plan.reference, plan.known_bed)
    variants = [normalize_variant(ref, v) for v in plan.variants]
    targets = _load_targets(plan)
    for sp in plan.samples:
        fusion = None
        if plan.fusion is not None and sp.fusion_fraction > 0:
            fusion = plan.fusion.with_fraction(sp.fusion_fraction)
        sample_variants = [
            Variant(v.chrom, v.pos, v.ref, v.alt, sp.vafs.get(k, 0.0), v.gene, v.hgvs_c, v.hgvs_p)
            for k, v in enumerate(variants)
            if sp.vafs.get(k, 0.0) > 0
        ]
        n_units = len(sp.units)
        for unit, fq1, fq2 in sp.units:
            params = dict(plan.params) | sp.params
            params["n_fragments"] = int(round(params.get("n_fragments", 100_000) / n_units))
            log.info("simulating %s/%s -> %s %s", sp.sample, unit, fq1, fq2)
            lib = simulate_library(
                ref,
                targets,
                assay=plan.assay,
                copy_numbers=sp.copy_numbers,
                variants=sample_variants,
                fusion=fusion,
                gc_bias=sp.gc_bias,
                efficiency_seed=plan.seed,
                seed=sample_seed(plan.seed, sp.sample, unit),
                read_prefix=f"{sp.sample}.{unit}",
                out_r1=fq1,
                out_r2=fq2,
                **params,
            )
            log.info(
                "%s/%s: %d pairs, %.1f%% duplicates, %.1f%% on target, %d fusion fragments",
                sp.sample,
                unit,
                lib.n,
                100 * lib.duplicate.mean(),
                100 * lib.on_target.mean(),
                int(lib.fusion.sum()),
            )
    truth = truth_table(plan, variants)
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    tmp = truth_tsv.with_name(truth_tsv.name + ".tmp")
    truth.to_csv(tmp, sep="\t", index=False, lineterminator="\n")
    _replace_if_changed(tmp, truth_tsv)
    write_truth_vcf(plan, variants, ref, truth_vcf)
    manifest.write_text(
        json.dumps({"digest": digest, "outputs": [str(p) for p in everything]}, indent=1) + "\n"
    )
    return truth


TRUTH_COLUMNS = [
    "sample",
    "line",
    "condition",
    "kind",
    "gene",
    "hgvs_c",
    "hgvs_p",
    "chrom",
    "pos",
    "genomic",
    "ref",
    "alt",
    "vaf",
    "copy_number",
    "expected",
]


def _status(vaf_p: float, vaf_r: float) -> str:
    """Expected change from parental to resistant (the snv STATUS vocabulary)."""
    if vaf_r > 0 and vaf_p == 0:
        return "acquired"
    if vaf_r == 0 and vaf_p > 0:
        return "lost"
    if vaf_r == 0 and vaf_p == 0:
        return "absent"
    return "enriched" if vaf_r >= 3 * vaf_p else "shared"


def truth_table(plan: RunPlan, variants: list[Variant]) -> pd.DataFrame:
    """Long table: every variant in every sample (VAF 0 = absent), every gene's copy number,
    the fusion. ``expected`` holds the comparison a resistant sample should show."""
    from resistcall.reference import genomic_label

    parental: dict[str, SamplePlan] = {}
    for sp in plan.samples:
        if sp.condition == "parental":
            parental.setdefault(sp.line, sp)
    genes = sorted(set(_load_targets(plan)["gene"]))
    ploidy = float(plan.params.get("ploidy", 2.0))
    rows = []
    for sp in plan.samples:
        par = parental.get(sp.line)
        for k, v in enumerate(variants):
            vaf = sp.vafs.get(k, 0.0)
            if sp.condition == "resistant" and par is not None:
                expected = _status(par.vafs.get(k, 0.0), vaf)
            else:
                expected = "present" if vaf > 0 else "absent"
            rows.append(
                [
                    sp.sample,
                    sp.line,
                    sp.condition,
                    v.kind,
                    v.gene,
                    v.hgvs_c,
                    v.hgvs_p,
                    v.chrom,
                    v.pos,
                    genomic_label(v.chrom, v.pos),
                    v.ref,
                    v.alt,
                    f"{vaf:g}",
                    "",
                    expected,
                ]
            )
        for g in genes:
            c = sp.copy_numbers.get(g, ploidy)
            expected = "gain" if c > ploidy else "loss" if c < ploidy else "neutral"
            rows.append(
                [
                    sp.sample,
                    sp.line,
                    sp.condition,
                    "cnv",
                    g,
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    f"{c:g}",
                    expected,
                ]
            )
        if plan.fusion is not None:
            f = plan.fusion
            rows.append(
                [
                    sp.sample,
                    sp.line,
                    sp.condition,
                    "fusion",
                    f.name,
                    "",
                    "",
                    f.chrom_b,
                    f.pos_b,
                    genomic_label(f.chrom_b, f.pos_b),
                    "",
                    f"{f.chrom_a}:{f.pos_a}:{f.keep_a}|{f.chrom_b}:{f.pos_b}:{f.keep_b}",
                    f"{sp.fusion_fraction:g}",
                    "",
                    "present" if sp.fusion_fraction > 0 else "absent",
                ]
            )
    return pd.DataFrame(rows, columns=TRUTH_COLUMNS)


def write_truth_vcf(plan: RunPlan, variants: list[Variant], ref: Reference, path: Path) -> None:
    """Small variants with the simulated VAF per sample (FORMAT/AF), bgzipped + tabix."""
    header = pysam.VariantHeader()
    for name, length in zip(ref.names, ref.lengths, strict=True):
        header.contigs.add(name, length=int(length))
    header.add_meta("source", f"resistcall simulate {__version__}")
    header.add_line('##INFO=<ID=GENE,Number=1,Type=String,Description="Gene">')
    header.add_line('##INFO=<ID=HGVSC,Number=1,Type=String,Description="HGVS c. (truth)">')
    header.add_line('##INFO=<ID=HGVSP,Number=1,Type=String,Description="HGVS p. (truth)">')
    header.add_line('##FORMAT=<ID=AF,Number=A,Type=Float,Description="Simulated VAF">')
    for sp in plan.samples:
        header.add_sample(sp.sample)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.vcf.gz")
    order = sorted(
        range(len(variants)), key=lambda k: (ref.cid(variants[k].chrom), variants[k].pos)
    )
    with pysam.VariantFile(str(tmp), "wz", header=header) as out:
        for k in order:
            v = variants[k]
            rec = out.new_record(contig=v.chrom, start=v.pos - 1, alleles=(v.ref, v.alt))
            rec.info["GENE"] = v.gene or "."
            if v.hgvs_c:
                rec.info["HGVSC"] = v.hgvs_c
            if v.hgvs_p:
                rec.info["HGVSP"] = v.hgvs_p
            for sp in plan.samples:
                vaf = sp.vafs.get(k, 0.0)
                rec.samples[sp.sample]["AF"] = (vaf,)
            out.write(rec)
    tmp.replace(path)
    pysam.tabix_index(str(path), preset="vcf", force=True)


def plan_from_args(args) -> RunPlan:
    """One sample from explicit arguments (benchmarks, users' own panels)."""
    if not args.reference or not args.targets:
        raise UserError("without --config, --reference and --targets are required")
    assay = args.assay or "capture"
    if assay == "amplicon" and not args.primers:
        raise UserError("--assay amplicon needs --primers (and --targets = amplicon inserts BED)")
    variants, vafs = [], {}
    for k, text in enumerate(args.variant or []):
        try:
            chrom, pos, r, a, vaf = text.rsplit(":", 4)
            variants.append(Variant(chrom, int(pos), r, a))
            vafs[k] = float(vaf)
        except ValueError:
            raise UserError(f"--variant {text!r}: expected CONTIG:POS:REF:ALT:VAF") from None
    cns = {}
    for text in args.copy_number or []:
        try:
            g, c = text.split("=")
            cns[g] = float(c)
        except ValueError:
            raise UserError(f"--copy-number {text!r}: expected GENE=COPIES") from None
    out_dir = Path(args.out_dir or ".")
    sample = args.sample or "sim"
    sp = SamplePlan(
        sample=sample,
        units=[("lane1", out_dir / f"{sample}_R1.fastq.gz", out_dir / f"{sample}_R2.fastq.gz")],
        copy_numbers=cns,
        vafs=vafs,
        fusion_fraction=args.fusion_fraction or 0.0,
        gc_bias=GCBias(*args.gc_bias) if args.gc_bias else GCBias(),
    )
    params = {"n_fragments": args.fragments or 100_000}
    for key in ("read_length", "duplicate_rate", "off_target"):
        if getattr(args, key) is not None:
            params[key] = getattr(args, key)
    if args.efficiency_spread is not None:
        params["efficiency"] = args.efficiency_spread
    return RunPlan(
        reference=Path(args.reference),
        known_bed=Path(args.known_bed) if args.known_bed else None,
        targets=Path(args.targets),
        primers=Path(args.primers) if args.primers else None,
        assay=assay,
        out_dir=out_dir,
        seed=args.seed if args.seed is not None else 1,
        samples=[sp],
        variants=variants,
        fusion=EML4_ALK_V1 if sp.fusion_fraction > 0 else None,
        params=params,
    )


def _cmd_simulate(args) -> None:
    if args.config:
        overrides = {
            k: getattr(args, k)
            for k in (
                "assay",
                "targets",
                "primers",
                "out_dir",
                "seed",
                "fragments",
                "reference",
                "known_bed",
            )
        }
        plan = plan_from_config(args.config, overrides)
    else:
        plan = plan_from_args(args)
    run_plan(plan, force=args.force)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="simulate paired-end panel FASTQs with a truth file (the demo data)",
        description="With --config: simulate every sample of the sample sheet into the fq1/fq2 "
        "paths of the units sheet, using the simulate: section (seed, fragments, per-sample "
        "truth); writes <out_dir>/truth.tsv and truth.vcf.gz. Without --config: one library "
        "from explicit arguments. Skips work when outputs exist for the same inputs.",
    )
    p.add_argument("--config", help="config.yaml (demo: config/config.yaml)")
    p.add_argument(
        "--out-dir",
        help="truth/manifest folder; with --config also moves the "
        "FASTQs there (file names from the units sheet)",
    )
    p.add_argument("--assay", choices=["capture", "amplicon"], help="default: panel.assay")
    p.add_argument("--targets", help="targets BED (capture) or amplicon-insert BED (amplicon)")
    p.add_argument("--primers", help="primer BED (amplicon)")
    p.add_argument("--reference", help="reference FASTA")
    p.add_argument("--known-bed", help="real-base blocks (default: <fasta>.known_sequence.bed)")
    p.add_argument("--seed", type=int)
    p.add_argument("--fragments", type=int, help="read pairs per sample")
    p.add_argument("--sample", help="sample name (without --config)")
    p.add_argument("--variant", action="append", metavar="CONTIG:POS:REF:ALT:VAF")
    p.add_argument("--copy-number", action="append", metavar="GENE=COPIES")
    p.add_argument("--fusion-fraction", type=float, help="EML4-ALK v1 fraction (0 = none)")
    p.add_argument("--gc-bias", type=float, nargs=2, metavar=("SLOPE", "CURVATURE"))
    p.add_argument("--read-length", type=int)
    p.add_argument("--duplicate-rate", type=float)
    p.add_argument("--off-target", type=float)
    p.add_argument("--efficiency-spread", type=float)
    p.add_argument("--force", action="store_true", help="simulate even if up to date")
    p.set_defaults(func=_cmd_simulate)
