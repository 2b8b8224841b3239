"""The panel reference as arrays (real-base blocks) and base encoding."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
import pysam

from resistcall.errors import UserError
from resistcall.reference import read_bed
from resistcall.simulate.model import RunPlan

_ENCODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    _ENCODE[_b] = _i
    _ENCODE[ord(chr(_b).lower())] = _i
DECODE = np.frombuffer(b"ACGTN", dtype=np.uint8)
COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.uint8)


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
    return DECODE[codes].tobytes().decode()


def revcomp(codes: np.ndarray) -> np.ndarray:
    return COMPLEMENT[codes[::-1]]


def load_targets(plan: RunPlan) -> pd.DataFrame:
    if plan.assay == "amplicon":
        from resistcall.panel import read_amplicons

        return read_amplicons(cast(Path, plan.primers), plan.targets)  # checked by load_plan
    return read_bed(cast(Path, plan.targets), names=("chrom", "start", "end", "gene"))
