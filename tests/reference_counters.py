"""Reference counters in pure Python over pysam, for tests and bench/speed only.

``reference_counts`` is how ``resistcall.pileup`` counted before the compiled per-read kernel:
htslib's column pileup (pysam, samtools stepper), ``get_query_sequences(add_indels=True)`` per
column. The kernel must give the same counts; the deliberate differences (docs/snv.md,
"Counting") are: reads spanning a deletion (``*``) carry their strand (pysam never lower-cases
``*``, so every one was forward here), and reference skips (CIGAR ``N``) are not counted (here
they were counted as ``N``). ``reference_fragment_spans`` is the per-read Python loop that
``resistcall.coverage.fragment_spans`` replaced.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pandas as pd
import pysam

from resistcall.pileup import PileupParams

_CODE = np.full(256, 4, dtype=np.int8)  # anything unexpected counts as N
for _i, _b in enumerate("ACGTN*"):
    _CODE[ord(_b)] = _i
    _CODE[ord(_b.lower())] = _i
_REVERSE = np.zeros(256, dtype=bool)
for _b in "acgtn":
    _REVERSE[ord(_b)] = True
_INDEL = re.compile(r"[+-]\d+[ACGTNacgtn]+")
_INDEL_PARTS = re.compile(r"([ACGTNacgtn*])([+-])(\d+)([ACGTNacgtn]+)")


def pileup_columns(bam: pysam.AlignmentFile, contig: str, start: int, end: int, p: PileupParams):
    """htslib pileup with every parameter explicit (samtools stepper: flag + MAPQ filters)."""
    return bam.pileup(
        contig,
        start,
        end,
        truncate=True,
        stepper="samtools",
        flag_filter=p.flag_filter,
        max_depth=10_000_000,
        min_base_quality=p.min_base_quality,
        min_mapping_quality=p.min_mapping_quality,
        ignore_overlaps=p.ignore_overlaps,
        ignore_orphans=p.ignore_orphans,
        compute_baq=False,
        redo_baq=False,
    )


def reference_counts(
    bam: pysam.AlignmentFile,
    fasta: pysam.FastaFile,
    contig: str,
    start: int,
    end: int,
    params: PileupParams,
) -> dict:
    """counts (n, 6, 2), qual_sum (n, 6), err_sum (n,), indels (pos ref alt fwd rev)."""
    n = end - start
    counts = np.zeros((n, 6, 2), dtype=np.int32)
    qual_sum = np.zeros((n, 6), dtype=np.float64)
    err_sum = np.zeros(n, dtype=np.float64)
    refseq = fasta.fetch(contig, start, end + 1000).upper()
    indel_counter: Counter[tuple[int, str, str, int]] = Counter()
    for col in pileup_columns(bam, contig, start, end, params):
        i = col.reference_pos - start
        seqs = col.get_query_sequences(mark_matches=False, mark_ends=False, add_indels=True)
        if not seqs:
            continue
        quals = np.asarray(col.get_query_qualities(), dtype=np.float64)
        joined = "\x00".join(seqs)
        if len(joined) != 2 * len(seqs) - 1:  # some read carries an indel after its base
            for tok in _INDEL_PARTS.finditer(joined):
                _, sign, _length, bases = tok.groups()
                reverse = bases[0].islower()
                indel_counter[(i, sign, bases.upper(), int(reverse))] += 1
            joined = _INDEL.sub("", joined)
        raw = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)[::2]
        codes = _CODE[raw]
        strand = _REVERSE[raw].astype(np.int8)
        counts[i] += np.bincount(codes * 2 + strand, minlength=12).reshape(6, 2).astype(np.int32)
        qual_sum[i] += np.bincount(codes, weights=quals, minlength=6)
        err_sum[i] = float(np.power(10.0, -quals / 10.0).sum())
    merged: dict[tuple[int, str, str], list[int]] = {}
    for (i, sign, bases, reverse), k in indel_counter.items():
        anchor = refseq[i]
        if sign == "+":
            ref, alt = anchor, anchor + bases
        else:
            ref, alt = refseq[i : i + 1 + len(bases)], anchor
        merged.setdefault((start + i, ref, alt), [0, 0])[reverse] += k
    rows = [(p, r, a, f, v) for (p, r, a), (f, v) in sorted(merged.items())]
    indels = pd.DataFrame(rows, columns=["pos", "ref", "alt", "fwd", "rev"])
    indels = indels.astype({"pos": "int64", "fwd": "int64", "rev": "int64"})
    return {"counts": counts, "qual_sum": qual_sum, "err_sum": err_sum, "indels": indels}


def reference_read_positions(
    bam: pysam.AlignmentFile,
    contig: str,
    pos: int,
    params: PileupParams,
    allele: str,
    indel: tuple[str, str] | None = None,
) -> np.ndarray:
    """Distance of each alt-supporting base to the nearest aligned read end (per-read loop)."""
    dist = []
    for col in pileup_columns(bam, contig, pos, pos + 1, params):
        for read in col.pileups:
            if read.is_refskip or read.query_position is None:
                continue
            aln = read.alignment
            qpos = read.query_position
            quals = aln.query_qualities
            if quals is not None and quals[qpos] < params.min_base_quality:
                continue
            if indel is None:
                if read.is_del or aln.query_sequence[qpos] != allele:
                    continue
            else:
                ref, alt = indel
                want = len(alt) - len(ref)
                if read.indel != want:
                    continue
                if want > 0 and aln.query_sequence[qpos + 1 : qpos + 1 + want] != alt[1:]:
                    continue
            start, end = aln.query_alignment_start, aln.query_alignment_end
            dist.append(min(qpos - start, end - 1 - qpos))
    return np.asarray(dist, dtype=np.int64)


def compare(new, old: dict) -> list[str]:
    """Differences between a ``pileup.Counts`` and :func:`reference_counts` beyond the
    documented ones ('*' strand); empty when they agree."""
    problems = []
    a, b = new.counts.copy(), old["counts"].copy()
    for c in (a, b):  # '*' strand: documented difference, compare the total
        c[:, 5, 0] = c[:, 5].sum(axis=1)
        c[:, 5, 1] = 0
    bad = np.flatnonzero((a != b).any(axis=(1, 2)))
    if len(bad):
        i = bad[0]
        problems.append(
            f"counts differ at {len(bad)} positions, first {new.positions[i]}: "
            f"{a[i].tolist()} vs {b[i].tolist()}"
        )
    if not np.array_equal(new.qual_sum, old["qual_sum"]):
        problems.append("qual_sum differs")
    if not np.allclose(new.err_sum, old["err_sum"], rtol=1e-12, atol=0):
        problems.append("err_sum differs")
    ni = new.indels.reset_index(drop=True)
    oi = old["indels"].reset_index(drop=True)
    if ni.values.tolist() != oi.values.tolist() or list(ni.columns) != list(oi.columns):
        problems.append(f"indels differ:\n{ni}\nvs\n{oi}")
    return problems


def reference_fragment_spans(
    bam_path, windows: pd.DataFrame, min_mapq: int = 20, count_duplicates: bool = False
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The former pure-Python ``coverage.fragment_spans`` (one pysam object per read)."""
    skip = 0x4 | 0x100 | 0x200 | 0x800 | (0 if count_duplicates else 0x400)
    out: dict[str, tuple[list[int], list[int], list[bool]]] = {}
    with pysam.AlignmentFile(str(bam_path)) as bam:
        for w in windows.itertuples(index=False):
            if w.chrom not in bam.references:
                continue
            starts, ends, dups = out.setdefault(w.chrom, ([], [], []))
            for read in bam.fetch(w.chrom, w.start, w.end):
                flag = read.flag
                if flag & skip:
                    continue
                pos = read.reference_start
                if pos < w.start:
                    continue
                if flag & 0x1 and not flag & 0x8:
                    tlen = abs(read.template_length)
                    if 0 < tlen <= 2000 and read.next_reference_id == read.reference_id:
                        mpos = read.next_reference_start
                        if mpos < pos or (mpos == pos and flag & 0x80):
                            continue
                        if read.mapping_quality >= min_mapq:
                            starts.append(pos)
                            ends.append(pos + tlen)
                            dups.append(bool(flag & 0x400))
                        continue
                    if flag & 0x80:
                        continue
                if read.mapping_quality >= min_mapq:
                    starts.append(pos)
                    ends.append(read.reference_end)
                    dups.append(bool(flag & 0x400))
    return {
        contig: (np.asarray(s, dtype=np.int64), np.asarray(e, dtype=np.int64), np.asarray(d))
        for contig, (s, e, d) in out.items()
    }
