"""Vectorised allele and indel counting from BAMs with every pysam pileup parameter explicit.

Why this module exists: pysam's defaults silently bias VAF in deep panel data (``max_depth=8000``,
``min_base_quality=13``, duplicates dropped by ``flag_filter``, orphans ignored). Here each
parameter comes from :class:`PileupParams`, and counting uses htslib's column engine
(``PileupColumn.get_query_sequences`` / ``get_query_qualities``, C level) plus numpy per column,
so there is no per-read Python loop over a deep pileup. Overlapping mates of one fragment are
counted once by htslib (``ignore_overlaps=True`` zeroes the quality of one mate's base, which the
base-quality threshold then drops, and gives the kept base 0.8 x the summed quality when the mates
agree). ``stepper="samtools"`` is used because it is the pysam stepper that honours both
``flag_filter`` and ``min_mapping_quality`` (``"nofilter"`` ignores both, ``"all"`` ignores the
mapping-quality threshold).

The result per region is a :class:`Counts`: per-position, per-allele (A C G T N and ``*`` =
spanned by a deletion), per-strand counts, quality sums, summed per-base error probabilities,
and a table of insertion/deletion events keyed in VCF style (anchor base + inserted/deleted
bases). Used by ``snv.py`` (calling) and by hotspot coverage.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

#: Allele axis of the count arrays. ``*`` = read spans a deletion at this position.
ALLELES = ("A", "C", "G", "T", "N", "*")
_CODE = np.full(256, 4, dtype=np.int8)  # anything unexpected counts as N
for _i, _b in enumerate("ACGTN*"):
    _CODE[ord(_b)] = _i
    _CODE[ord(_b.lower())] = _i
_REVERSE = np.zeros(256, dtype=bool)
for _b in "acgtn":
    _REVERSE[ord(_b)] = True
_INDEL = re.compile(r"[+-]\d+[ACGTNacgtn]+")
_INDEL_PARTS = re.compile(r"([ACGTNacgtn*])([+-])(\d+)([ACGTNacgtn]+)")

#: SAM flags always skipped: unmapped, secondary, QC fail, supplementary.
BASE_FLAG_FILTER = 0x4 | 0x100 | 0x200 | 0x800
DUPLICATE_FLAG = 0x400


@dataclass(frozen=True)
class PileupParams:
    """Every pileup parameter, explicit (see docs/snv.md, "Pileup")."""

    min_base_quality: int = 25
    min_mapping_quality: int = 20
    #: htslib ``max_depth``; large enough never to cap (amplicon depth reaches 10^5).
    max_depth: int = 10_000_000
    #: count duplicates? capture: no (PCR copies inflate evidence); amplicon: yes (all reads
    #: of an amplicon share start/end, so duplicate marking would discard real molecules).
    keep_duplicates: bool = False
    #: count a fragment's overlapping mates once (htslib overlap detection).
    ignore_overlaps: bool = True
    #: keep reads whose mate is unmapped (pysam's default silently drops them).
    ignore_orphans: bool = False

    @classmethod
    def for_assay(cls, assay: str, **kwargs) -> PileupParams:
        if assay not in ("capture", "amplicon"):
            raise ValueError(f"assay must be capture or amplicon, not {assay!r}")
        return cls(keep_duplicates=(assay == "amplicon"), **kwargs)

    @property
    def flag_filter(self) -> int:
        return BASE_FLAG_FILTER | (0 if self.keep_duplicates else DUPLICATE_FLAG)


@dataclass
class Counts:
    """Allele counts over one region of one BAM (positions are 0-based contig coordinates)."""

    contig: str
    positions: np.ndarray  # (n,) int64, 0-based
    ref: np.ndarray  # (n,) uint8 ASCII reference base (upper case)
    counts: np.ndarray  # (n, 6, 2) int32: position x ALLELES x strand (0 forward, 1 reverse)
    qual_sum: np.ndarray  # (n, 6) float64 sum of base qualities per allele
    err_sum: np.ndarray  # (n,) float64 sum of 10^(-Q/10) over counted bases
    indels: pd.DataFrame = field(default_factory=lambda: _empty_indels())

    @property
    def depth(self) -> np.ndarray:
        """Reads counted at each position (bases plus deletion-spanning reads)."""
        return self.counts.sum(axis=(1, 2))


def _empty_indels() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pos": pd.Series(dtype="int64"),
            "ref": pd.Series(dtype=str),
            "alt": pd.Series(dtype=str),
            "fwd": pd.Series(dtype="int64"),
            "rev": pd.Series(dtype="int64"),
        }
    )


def _open_fasta_seq(fasta: pysam.FastaFile, contig: str, start: int, end: int) -> str:
    return fasta.fetch(contig, start, end).upper()


def _pileup(bam: pysam.AlignmentFile, contig: str, start: int, end: int, params: PileupParams):
    """Pileup columns with every parameter explicit (samtools stepper: flag + MAPQ filters)."""
    return bam.pileup(
        contig,
        start,
        end,
        truncate=True,
        stepper="samtools",
        flag_filter=params.flag_filter,
        max_depth=params.max_depth,
        min_base_quality=params.min_base_quality,
        min_mapping_quality=params.min_mapping_quality,
        ignore_overlaps=params.ignore_overlaps,
        ignore_orphans=params.ignore_orphans,
        compute_baq=False,
        redo_baq=False,
    )


def count_region(
    bam: pysam.AlignmentFile,
    fasta: pysam.FastaFile,
    contig: str,
    start: int,
    end: int,
    params: PileupParams,
) -> Counts:
    """Count alleles per position in ``[start, end)`` (0-based, half-open) of ``contig``.

    Indel events are keyed at their anchor position (the reference base before the event) with
    VCF-style ``ref``/``alt`` strings, not yet left-normalised (``snv.normalise`` does that).
    """
    n = end - start
    counts = np.zeros((n, 6, 2), dtype=np.int32)
    qual_sum = np.zeros((n, 6), dtype=np.float64)
    err_sum = np.zeros(n, dtype=np.float64)
    refseq = _open_fasta_seq(fasta, contig, start, end + 1000)
    indel_counter: Counter[tuple[int, str, str, int]] = Counter()
    columns = _pileup(bam, contig, start, end, params)
    for col in columns:
        i = col.reference_pos - start
        seqs = col.get_query_sequences(mark_matches=False, mark_ends=False, add_indels=True)
        if not seqs:
            continue
        quals = np.asarray(col.get_query_qualities(), dtype=np.float64)
        joined = "\x00".join(seqs)
        if len(joined) != 2 * len(seqs) - 1:  # some read carries an indel after its base
            for tok in _INDEL_PARTS.finditer(joined):
                _, sign, length, bases = tok.groups()
                reverse = bases[0].islower()
                indel_counter[(i, sign, bases.upper(), int(reverse))] += 1
            joined = _INDEL.sub("", joined)
        raw = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)[::2]
        codes = _CODE[raw]
        strand = _REVERSE[raw].astype(np.int8)
        counts[i] += np.bincount(codes * 2 + strand, minlength=12).reshape(6, 2).astype(np.int32)
        qual_sum[i] += np.bincount(codes, weights=quals, minlength=6)
        err_sum[i] = float(np.power(10.0, -quals / 10.0).sum())
    ref = np.frombuffer(refseq[:n].encode("ascii"), dtype=np.uint8).copy()
    indels = _indel_table(indel_counter, start, refseq)
    return Counts(
        contig=contig,
        positions=np.arange(start, end, dtype=np.int64),
        ref=ref,
        counts=counts,
        qual_sum=qual_sum,
        err_sum=err_sum,
        indels=indels,
    )


def _indel_table(counter: Counter, start: int, refseq: str) -> pd.DataFrame:
    """Counter of (offset, sign, bases, reverse) -> VCF-style rows with per-strand counts."""
    if not counter:
        return _empty_indels()
    merged: dict[tuple[int, str, str], list[int]] = {}
    for (i, sign, bases, reverse), k in counter.items():
        anchor = refseq[i]
        if sign == "+":
            ref, alt = anchor, anchor + bases
        else:  # pysam writes N for deleted bases; take them from the reference
            ref, alt = refseq[i : i + 1 + len(bases)], anchor
        merged.setdefault((start + i, ref, alt), [0, 0])[reverse] += k
    rows = [(p, r, a, f, v) for (p, r, a), (f, v) in sorted(merged.items())]
    df = pd.DataFrame(rows, columns=["pos", "ref", "alt", "fwd", "rev"])
    return df.astype({"pos": "int64", "fwd": "int64", "rev": "int64"})


def count_regions(
    bam_path: str | Path,
    fasta_path: str | Path,
    regions: pd.DataFrame,
    params: PileupParams,
) -> list[Counts]:
    """Count every region (DataFrame with ``chrom start end``, 0-based) of one BAM, in order."""
    out = []
    with pysam.AlignmentFile(str(bam_path)) as bam, pysam.FastaFile(str(fasta_path)) as fa:
        for row in regions.itertuples(index=False):
            out.append(count_region(bam, fa, row.chrom, int(row.start), int(row.end), params))
    return out


def read_positions(
    bam: pysam.AlignmentFile,
    contig: str,
    pos: int,
    params: PileupParams,
    allele: str,
    indel: tuple[str, str] | None = None,
) -> np.ndarray:
    """Distance of each alt-supporting base to the nearest aligned read end, at one position.

    A per-read loop, so it is only run for the few candidate sites that reach the filters.
    ``allele`` is a base for SNVs; for indels pass ``indel=(ref, alt)`` in VCF style at ``pos``
    (the anchor) and any ``allele``.
    """
    dist = []
    for col in _pileup(bam, contig, pos, pos + 1, params):
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
