"""Fragments (capture/amplicon/off-target), alleles carried, PCR duplicates: one library."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from resistcall.errors import UserError
from resistcall.simulate.fastq import write_fastq_pair
from resistcall.simulate.genome import Reference, decode, encode, load_reference, revcomp
from resistcall.simulate.model import ErrorModel, Fusion, GCBias, Library, Variant
from resistcall.simulate.reads import sequence_reads


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
    amplicon_gc: str = "product",
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
    ``amplicon_gc``: the sequence whose GC sets an amplicon's yield, the whole PCR product
    (``product``, primers included) or the ``insert`` alone (panels whose yield follows it).
    ``duplicate_rate``/``off_target`` default to 0.15/0.12 for capture and 0/0.01 for amplicon.
    ``purity`` < 1 admixes normal cells: a fraction ``1 - purity`` of the cells carry
    ``ploidy`` copies of every gene, no variant and no fusion; copy numbers, variant VAFs and
    the fusion fraction then describe the tumour cells' DNA only.
    """
    if assay not in ("capture", "amplicon"):
        raise UserError(f"assay must be capture or amplicon, not {assay!r}")
    if amplicon_gc not in ("product", "insert"):
        raise UserError(f"amplicon_gc must be product or insert, not {amplicon_gc!r}")
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
        lo, hi = ("start", "end") if amplicon_gc == "product" else ("insert_start", "insert_end")
        span = (t[hi] - t[lo]).to_numpy(np.int64)
        gstart = ref.offsets[t["cid"].to_numpy()] + t[lo].to_numpy(np.int64)
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
    r1, r2, q1, q2 = sequence_reads(
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
