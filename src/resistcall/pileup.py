"""Allele and indel counting from BAMs: one pass over the reads, a compiled per-read kernel.

Why this module exists: deep amplicon data (10^4-10^5x) must be counted at about the speed of
decoding the BAM, and pysam's pileup defaults silently bias VAF (``max_depth=8000``,
``min_base_quality=13``, duplicates dropped, orphans ignored). Here every read of a region is
fetched once and its CIGAR walked once in C (``resistcall._kernel``, Cython against the system
htslib, which inflates BAM blocks with libdeflate); every filter comes from :class:`PileupParams`.
What is counted is what htslib's pileup engine (``samtools mpileup``; pysam
``pileup(stepper="samtools")``) would give with the same parameters, including its treatment of
overlapping mates: where a fragment's two mates overlap, one mate's base is kept (agreeing bases:
the summed quality, at most 200; disagreeing: the higher-quality base at 0.8 x its quality) and the
other's quality is set to 0, which the base-quality threshold then drops. The few deliberate
differences are listed in docs/snv.md ("Counting").

The result per region is a :class:`Counts`: per-position, per-allele (A C G T N and ``*`` =
spanned by a deletion), per-strand counts, quality sums, summed per-base error probabilities, a
table of insertion/deletion events keyed in VCF style (anchor base + inserted/deleted bases), and
one row per counted non-reference base or indel observation with its strand, read position and
fragment (``base_obs``, ``indel_obs``). Used by ``snv.py`` (calling) and by hotspot coverage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from resistcall import _kernel
from resistcall._kernel import Reader

#: Allele axis of the count arrays. ``*`` = read spans a deletion at this position.
ALLELES = ("A", "C", "G", "T", "N", "*")
_CODE = np.full(256, 4, dtype=np.uint8)  # reference letter -> allele index (else N)
for _i, _b in enumerate("ACGT"):
    _CODE[ord(_b)] = _i
#: 10^(-Q/10) per base quality, summed into ``err_sum``.
_ERR = np.power(10.0, -np.arange(256, dtype=np.float64) / 10.0)

#: SAM flags always skipped: unmapped, secondary, QC fail, supplementary.
BASE_FLAG_FILTER = 0x4 | 0x100 | 0x200 | 0x800
DUPLICATE_FLAG = 0x400

#: Columns of the per-observation tables (one row per counted non-reference base / indel).
OBS_COLUMNS = {
    "pos": "int64",  # 0-based reference position (indels: the anchor base before the event)
    "strand": "int8",  # 0 forward, 1 reverse
    "dist": "int32",  # distance to the nearest aligned read end (soft clips excluded)
    "cycle": "int32",  # position in the read from its 5' end (sequencing cycle, 0-based)
    "qual": "uint8",  # base quality after the overlapping-mate adjustment
    "frag": "uint64",  # fragment id: 64-bit FNV-1a hash of the read name (mates share it)
}


@dataclass(frozen=True)
class PileupParams:
    """Every counting parameter, explicit (see docs/snv.md, "Counting")."""

    min_base_quality: int = 25
    min_mapping_quality: int = 20
    #: count duplicates? capture: no (PCR copies inflate evidence); amplicon: yes (all reads
    #: of an amplicon share start/end, so duplicate marking would discard real molecules).
    keep_duplicates: bool = False
    #: count a fragment's overlapping mates once (htslib's overlap rule).
    ignore_overlaps: bool = True
    #: skip paired reads that are not in a proper pair (pysam's default; not ours).
    ignore_orphans: bool = False

    @classmethod
    def for_assay(cls, assay: str, **kwargs) -> PileupParams:
        if assay not in ("capture", "amplicon"):
            raise ValueError(f"assay must be capture or amplicon, not {assay!r}")
        return cls(keep_duplicates=(assay == "amplicon"), **kwargs)

    @property
    def flag_filter(self) -> int:
        return BASE_FLAG_FILTER | (0 if self.keep_duplicates else DUPLICATE_FLAG)


def _empty_obs(extra: dict[str, str]) -> pd.DataFrame:
    cols = {"pos": "int64", **extra, **{k: v for k, v in OBS_COLUMNS.items() if k != "pos"}}
    return pd.DataFrame({k: np.array([], dtype=v) for k, v in cols.items()})


def _empty_indels() -> pd.DataFrame:
    cols = {"pos": "int64", "ref": "object", "alt": "object", "fwd": "int64", "rev": "int64"}
    return pd.DataFrame({k: np.array([], dtype=v) for k, v in cols.items()})


@dataclass
class Counts:
    """Allele counts over one region of one BAM (positions are 0-based contig coordinates)."""

    contig: str
    positions: np.ndarray  # (n,) int64, 0-based
    ref: np.ndarray  # (n,) uint8 ASCII reference base (upper case)
    counts: np.ndarray  # (n, 6, 2) int32: position x ALLELES x strand (0 forward, 1 reverse)
    qual_sum: np.ndarray  # (n, 6) float64 sum of base qualities per allele
    err_sum: np.ndarray  # (n,) float64 sum of 10^(-Q/10) over counted bases
    indels: pd.DataFrame = field(default_factory=_empty_indels)
    #: one row per counted A/C/G/T base that differs from the reference: pos, allele (index
    #: into ALLELES), then OBS_COLUMNS
    base_obs: pd.DataFrame = field(default_factory=lambda: _empty_obs({"allele": "int8"}))
    #: one row per counted indel event: pos (anchor), ref, alt (VCF style, as aligned, not
    #: normalised), then OBS_COLUMNS
    indel_obs: pd.DataFrame = field(
        default_factory=lambda: _empty_obs({"ref": "object", "alt": "object"})
    )

    @property
    def depth(self) -> np.ndarray:
        """Reads counted at each position (bases plus deletion-spanning reads)."""
        return self.counts.sum(axis=(1, 2))


def count_region(
    reads: Reader,
    fasta: pysam.FastaFile,
    contig: str,
    start: int,
    end: int,
    params: PileupParams,
) -> Counts:
    """Count alleles per position in ``[start, end)`` (0-based, half-open) of ``contig``.

    ``reads``: the BAM/CRAM opened once (:class:`Reader`, reused for all its regions).
    Indel events are keyed at their anchor position (the reference base before the event) with
    VCF-style ``ref``/``alt`` strings, not yet left-normalised (``snv.normalise`` does that).
    """
    return _count_pass(reads, fasta, contig, [(start, end)], params)[0]


def _count_pass(
    reads: Reader,
    fasta: pysam.FastaFile,
    contig: str,
    spans: list[tuple[int, int]],
    params: PileupParams,
) -> list[Counts]:
    """:func:`count_region` for sorted, disjoint regions of one contig, in one pass over its
    reads (the kernel counts each region as its own query would: see ``_kernel.count_regions``).
    """
    refseqs, refs, counts, qual_sums, err_sums = [], [], [], [], []
    for start, end in spans:
        n = end - start
        refseq = fasta.fetch(contig, start, end + 1000).upper()
        ref = np.frombuffer(refseq[:n].encode("ascii"), dtype=np.uint8).copy()
        refseqs.append(refseq)
        refs.append(ref)
        counts.append(np.zeros((n, 6, 2), dtype=np.int32))
        qual_sums.append(np.zeros((n, 6), dtype=np.float64))
        err_sums.append(np.zeros(n, dtype=np.float64))
    found = _kernel.count_regions(
        reads,
        contig,
        np.array([s for s, _ in spans], dtype=np.int64),
        np.array([e for _, e in spans], dtype=np.int64),
        [_CODE[ref] for ref in refs],
        counts,
        qual_sums,
        err_sums,
        _ERR,
        params.flag_filter,
        params.min_mapping_quality,
        params.min_base_quality,
        params.ignore_overlaps,
        params.ignore_orphans,
    )
    out = []
    for k, (start, end) in enumerate(spans):
        base, indel, inserted = found[k]
        base_obs = pd.DataFrame(
            {"pos": base["pos"], "allele": base["kind"].astype(np.int8)}
            | {c: base[c] for c in OBS_COLUMNS if c != "pos"}
        )
        indel_obs = _indel_obs(indel, inserted, start, refseqs[k])
        out.append(
            Counts(
                contig=contig,
                positions=np.arange(start, end, dtype=np.int64),
                ref=refs[k],
                counts=counts[k],
                qual_sum=qual_sums[k],
                err_sum=err_sums[k],
                indels=_indel_table(indel_obs),
                base_obs=base_obs,
                indel_obs=indel_obs,
            )
        )
    return out


def _indel_obs(obs: dict, inserted: bytes, start: int, refseq: str) -> pd.DataFrame:
    """Kernel indel events (anchor, signed length, inserted bases) -> VCF-style ref/alt rows."""
    text = inserted.decode("ascii")
    ref, alt = [], []
    for p, k, off in zip(
        obs["pos"].tolist(), obs["kind"].tolist(), obs["boff"].tolist(), strict=True
    ):
        i = p - start
        anchor = refseq[i]
        if k > 0:
            ref.append(anchor)
            alt.append(anchor + text[off : off + k])
        else:
            ref.append(refseq[i : i + 1 - k])
            alt.append(anchor)
    strings = {"ref": np.array(ref, dtype=object), "alt": np.array(alt, dtype=object)}
    return pd.DataFrame(
        {"pos": obs["pos"]} | strings | {k: obs[k] for k in OBS_COLUMNS if k != "pos"}
    )


def _indel_table(obs: pd.DataFrame) -> pd.DataFrame:
    """Indel observations -> one row per (pos, ref, alt) with forward/reverse counts."""
    if not len(obs):
        return _empty_indels()
    tab = (
        obs.assign(fwd=obs["strand"] == 0, rev=obs["strand"] == 1)
        .groupby(["pos", "ref", "alt"], as_index=False, sort=True)[["fwd", "rev"]]
        .sum()
    )
    return tab.astype({"pos": "int64", "fwd": "int64", "rev": "int64"})


def count_regions(
    bam_path: str | Path,
    fasta_path: str | Path,
    regions: pd.DataFrame,
    params: PileupParams,
) -> list[Counts]:
    """Count every region (DataFrame with ``chrom start end``, 0-based) of one BAM, in order.

    The BAM (or CRAM, decoded with ``fasta_path``) is opened and its index loaded once, and
    the regions of a contig of a BAM are counted in one pass over its reads (overlapping
    regions, which merged regions never are, in more passes; a CRAM's regions one by one);
    each region's counts are those of :func:`count_region` on it alone."""
    found: dict[int, Counts] = {}
    starts = regions["start"].to_numpy().astype(np.int64)
    ends = regions["end"].to_numpy().astype(np.int64)
    # no BGZF block cache: a pass reads each block once, so a cache would only copy every block
    # into itself and hold up to 64 MB (peak RSS of counting a 16k BAM 229 -> 165 MB)
    with (
        Reader(bam_path, fasta_path, block_cache=0) as reads,
        pysam.FastaFile(str(fasta_path)) as fa,
    ):
        for contig, rows in _passes(regions, single=reads.is_cram):
            spans = [(int(starts[i]), int(ends[i])) for i in rows]
            found |= zip(rows, _count_pass(reads, fa, contig, spans, params), strict=True)
    return [found[i] for i in range(len(regions))]


def _passes(regions: pd.DataFrame, single: bool = False) -> list[tuple[str, list[int]]]:
    """Row numbers of ``regions`` grouped into passes: one contig, sorted by start, disjoint
    (``single``: one region per pass)."""
    by_contig: dict[str, list[int]] = {}
    for i, chrom in enumerate(regions["chrom"].astype(str).tolist()):
        by_contig.setdefault(chrom, []).append(i)
    starts = regions["start"].to_numpy()
    ends = regions["end"].to_numpy()
    out = []
    for contig, rows in by_contig.items():
        passes: list[list[int]] = []
        for i in sorted(rows, key=lambda r: (starts[r], ends[r])):
            fits = None if single else next((p for p in passes if ends[p[-1]] <= starts[i]), None)
            if fits is None:
                passes.append([i])
            else:
                fits.append(i)
        out += [(contig, p) for p in passes]
    return out


def read_positions(
    base_obs: pd.DataFrame,
    indel_obs: pd.DataFrame,
    pos: int,
    allele: str,
    indel: tuple[str, str] | None = None,
) -> np.ndarray:
    """Distance of each alt-supporting base to the nearest aligned read end, at one position.

    From the observation tables of one contig (``Counts.base_obs``/``indel_obs`` or the
    concatenated ones of ``snv.SampleCounts`` filtered to the contig). ``allele`` is a base for
    SNVs; for indels pass ``indel=(ref, alt)`` in VCF style at ``pos`` (the anchor), matched
    against the tables' ``pos``/``ref``/``alt`` as given (normalised in ``SampleCounts``).
    """
    if indel is None:
        at = (base_obs["pos"].to_numpy() == pos) & (
            base_obs["allele"].to_numpy() == ALLELES.index(allele)
        )
        return base_obs["dist"].to_numpy()[at].astype(np.int64)
    ref, alt = indel
    at = (
        (indel_obs["pos"].to_numpy() == pos)
        & (indel_obs["ref"].to_numpy() == ref)
        & (indel_obs["alt"].to_numpy() == alt)
    )
    return indel_obs["dist"].to_numpy()[at].astype(np.int64)
