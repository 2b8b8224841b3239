"""Fragment counts per target from a BAM, and target GC from the reference.

A fragment (read pair, or single read) is counted once: a pair is read from its leftmost
mate, and the fragment's span comes from that mate's position and the template length.
Capture targets count every fragment that overlaps them; amplicon inserts count the fragments
whose midpoint lies in the insert (nearest insert centre wins where tiled amplicons overlap),
so a fragment is never split between neighbouring amplicons. Reads are only fetched from the
targets extended ``FETCH_PAD`` bp to the left (merged), so off-target reads in large introns
are never decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyranges as pr
import pysam

from resistcall import _kernel
from resistcall.errors import UserError

#: Flags never counted: unmapped, secondary, QC fail, supplementary.
FLAG_SKIP = 0x4 | 0x100 | 0x200 | 0x800
FLAG_DUP = 0x400
#: Reads left out of base depth: unmapped, secondary, QC fail, duplicate (pysam's
#: ``read_callback="all"``); supplementary alignments count where they align.
DEPTH_SKIP = 0x4 | 0x100 | 0x200 | FLAG_DUP
#: Longest fragment counted; fetch windows are targets extended left by this much, merged.
FETCH_PAD = 600
#: Template lengths beyond this are treated as chimeric pairs: the read's own span is used.
MAX_FRAGMENT = 2000


def fetch_windows(targets: pd.DataFrame, pad: int = FETCH_PAD) -> pd.DataFrame:
    """Targets extended ``pad`` bp to the left and merged (pyranges). A fragment is read from
    its leftmost mate, which lies at most ``pad`` bp before any target the fragment overlaps;
    windows are further apart than any read, so no read is fetched twice."""
    gr = pr.PyRanges(
        pd.DataFrame(
            {
                "Chromosome": targets["chrom"].to_numpy(),
                "Start": np.maximum(targets["start"].to_numpy() - pad, 0),
                "End": targets["end"].to_numpy(),
            }
        )
    )
    merged = gr.merge(slack=pad).df
    return merged.rename(columns={"Chromosome": "chrom", "Start": "start", "End": "end"})[
        ["chrom", "start", "end"]
    ].astype({"chrom": str})


def base_depths(
    bam_path: str | Path,
    regions: pd.DataFrame,
    merge_gap: int,
    reference: str | Path | None = None,
) -> tuple[list[np.ndarray], int]:
    """Per-base depth of each region (``chrom start end``, 0-based half-open, in row order) and
    the number of reads overlapping any region, each read once.

    Depth at a position = reads with an A/C/G/T base aligned there (``_kernel.base_depth``,
    flags ``DEPTH_SKIP`` left out, no quality threshold): the depth a pileup could use before
    its own quality filters. Regions closer than ``merge_gap`` are read in one query, so a
    read is decoded once; a contig absent from the BAM has depth 0. A CRAM is decoded with
    ``reference``.
    """
    chrom = regions["chrom"].astype(str).to_numpy()
    start = regions["start"].to_numpy(dtype=np.int64)
    end = regions["end"].to_numpy(dtype=np.int64)
    depths = [np.zeros(e - s, dtype=np.int32) for s, e in zip(start, end, strict=True)]
    if not len(regions):
        return depths, 0
    windows = (
        pr.PyRanges(pd.DataFrame({"Chromosome": chrom, "Start": start, "End": end}))
        .merge(slack=merge_gap)
        .df
    )
    reads_total = 0
    with _kernel.Reader(bam_path, reference) as reads:
        known = set(reads.references)
        for w in windows.itertuples(index=False):
            c, ws, we = str(w.Chromosome), int(w.Start), int(w.End)
            if c not in known:
                continue
            depth, n_reads = _kernel.base_depth(reads, c, ws, we, DEPTH_SKIP)
            reads_total += n_reads
            for i in np.flatnonzero((chrom == c) & (start >= ws) & (end <= we)):
                depths[i] = depth[start[i] - ws : end[i] - ws]
    return depths, reads_total


def fragment_spans(
    bam_path: str | Path,
    windows: pd.DataFrame,
    min_mapq: int = 20,
    count_duplicates: bool = False,
    reference: str | Path | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per contig, fragment starts and ends (0-based half-open) of counted fragments, and
    whether each is a marked duplicate (all False unless ``count_duplicates``).

    A properly placed pair (both mates on the contig, |TLEN| <= ``MAX_FRAGMENT``) is counted
    once, from its leftmost mate (read 1 on a tie), as the span ``[pos, pos + |TLEN|)``; other
    reads (single-end, mate unmapped, chimeric pairs: read 1 only) count their own span.
    Not counted: unmapped, secondary, supplementary, QC-fail, MAPQ < ``min_mapq``, and
    duplicates unless ``count_duplicates`` (amplicon data is not deduplicated). Reads starting
    before a window are not counted from it (the fragment is longer than the pad). The per-read
    loop is compiled (``resistcall._kernel.fragment_spans``); the windows of a contig are read in
    one pass (htslib's multi-region iterator: every BAM block decompressed once). A CRAM is
    decoded with ``reference`` and read one window per call, with a plain query: htslib 1.16's
    multi-region iterator skips reads of a CRAM (``_kernel.count_regions``); a read counts from
    the window holding its start either way, so the spans are the same.
    """
    skip = FLAG_SKIP | (0 if count_duplicates else FLAG_DUP)
    out: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    with _kernel.Reader(bam_path, reference) as reads:
        known = set(reads.references)
        for chrom, w in windows.groupby("chrom", sort=False):
            if chrom not in known:
                continue
            w = w.sort_values("start")
            starts, ends = w["start"].to_numpy(np.int64), w["end"].to_numpy(np.int64)
            passes = [slice(i, i + 1) for i in range(len(w))] if reads.is_cram else [slice(None)]
            parts = [
                _kernel.fragment_spans(
                    reads, str(chrom), starts[g], ends[g], skip, min_mapq, MAX_FRAGMENT
                )
                for g in passes
            ]
            out[str(chrom)] = (
                np.concatenate([part[0] for part in parts]),
                np.concatenate([part[1] for part in parts]),
                np.concatenate([part[2] for part in parts]),
            )
    return out


def count_overlaps(
    t_start: np.ndarray, t_end: np.ndarray, f_start: np.ndarray, f_end: np.ndarray
) -> np.ndarray:
    """Fragments overlapping each target: #(start < t_end) - #(end <= t_start)."""
    fs = np.sort(f_start)
    fe = np.sort(f_end)
    return np.searchsorted(fs, t_end, side="left") - np.searchsorted(fe, t_start, side="right")


def count_midpoints(
    t_start: np.ndarray, t_end: np.ndarray, f_start: np.ndarray, f_end: np.ndarray
) -> np.ndarray:
    """Fragments whose midpoint lies in a target; overlapping targets: nearest centre wins."""
    n = len(t_start)
    counts = np.zeros(n, dtype=np.int64)
    if n == 0 or len(f_start) == 0:
        return counts
    centre = (t_start + t_end) / 2.0
    order = np.argsort(centre, kind="stable")
    c_sorted = centre[order]
    mid = (f_start + f_end) / 2.0
    right = np.clip(np.searchsorted(c_sorted, mid), 0, n - 1)
    left = np.clip(right - 1, 0, n - 1)
    pick = np.where(np.abs(mid - c_sorted[left]) <= np.abs(mid - c_sorted[right]), left, right)
    idx = order[pick]
    inside = (mid >= t_start[idx]) & (mid < t_end[idx])
    np.add.at(counts, idx[inside], 1)
    return counts


@dataclass(frozen=True)
class TargetCounts:
    """Fragments per target row, in input order, from one BAM.

    ``fragments`` are what the copy-number model counts: capture leaves marked duplicates out,
    amplicon keeps them (its fragments share their ends by design). ``with_duplicates`` also
    counts marked duplicates; their difference shows duplicate-marking saturation of deep
    targets (``saturation``)."""

    fragments: np.ndarray
    with_duplicates: np.ndarray


def count_targets(
    bam_path: str | Path,
    targets: pd.DataFrame,
    assay: str,
    min_mapq: int = 20,
    reference: str | Path | None = None,
) -> TargetCounts:
    """Fragment counts per target row (targets: ``chrom start end gene``), in input order
    (``reference``: the FASTA a CRAM is decoded with), with and without marked duplicates
    from one pass over the reads."""
    if assay not in ("capture", "amplicon"):
        raise UserError(f"unknown assay {assay!r}: expected capture or amplicon")
    spans = fragment_spans(
        bam_path,
        fetch_windows(targets),
        min_mapq=min_mapq,
        count_duplicates=True,
        reference=reference,
    )
    counts = np.zeros((2, len(targets)), dtype=np.int64)
    counter = count_midpoints if assay == "amplicon" else count_overlaps
    for contig, rows in targets.groupby("chrom", sort=False).indices.items():
        if contig not in spans:
            continue
        f_start, f_end, dup = spans[contig]
        t_start = targets["start"].to_numpy()[rows]
        t_end = targets["end"].to_numpy()[rows]
        counts[1, rows] = counter(t_start, t_end, f_start, f_end)
        counts[0, rows] = counts[1, rows]
        if assay == "capture":  # both counters add up over fragments: count only the duplicates
            counts[0, rows] -= counter(t_start, t_end, f_start[dup], f_end[dup])
    return TargetCounts(counts[0], counts[1])


#: GC is measured over the sequence the counted fragments carry: a capture target plus half a
#: typical fragment either side; an amplicon insert plus its primers.
GC_PAD = {"capture": 100, "amplicon": 20}


def target_gc(fasta_path: str | Path, targets: pd.DataFrame, pad: int = 0) -> np.ndarray:
    """GC fraction of each target's reference sequence, extended by ``pad`` bp each side
    (N bases left out, so padding into unknown sequence is harmless; NaN if all N)."""
    path = Path(fasta_path)
    if not path.exists():
        raise UserError(f"reference FASTA not found: {path}")
    gc = np.full(len(targets), np.nan)
    with pysam.FastaFile(str(path)) as fa:
        known = set(fa.references)
        for i, t in enumerate(targets.itertuples(index=False)):
            if t.chrom not in known:
                raise UserError(f"{path}: target contig {t.chrom} is not in the reference")
            start = max(0, t.start - pad)
            end = min(fa.get_reference_length(t.chrom), t.end + pad)
            seq = np.frombuffer(fa.fetch(t.chrom, start, end).upper().encode(), dtype="S1")
            acgt = np.isin(seq, [b"A", b"C", b"G", b"T"]).sum()
            if acgt:
                gc[i] = np.isin(seq, [b"G", b"C"]).sum() / acgt
    return gc
