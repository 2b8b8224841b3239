"""Transcript models from the panel GTF and c. <-> contig coordinate mapping.

The panel GTF (resources/reference/PROVENANCE.md section 4) holds partial models: the ALK model
starts at exon 19 (c.3068) and has no start or stop codon, KRAS stops at exon 4, and so on. The
HGVS c. number of every CDS row is therefore taken from its ``cds_c_start``/``cds_c_end``
attributes rather than counted from a start codon; a GTF without those attributes is numbered
by cumulative CDS length from c.1 (a full model). Everything is kept in *transcript order*
(5' -> 3'), so minus-strand genes such as ALK and KRAS need no special cases downstream.

Coordinates are 1-based inclusive contig positions throughout (GTF convention). pyranges reads
the GTF and answers the overlap queries (which transcript does a variant touch); per-transcript
arithmetic over a dozen exons is plain numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyranges as pr

from resistcall.annotation import load_annotation
from resistcall.errors import UserError


@dataclass(frozen=True)
class CPos:
    """One HGVS c. position: ``base`` with ``kind`` (cds/utr5/utr3) and an intronic ``offset``.

    ``str()`` renders HGVS: ``3605``, ``3605+5``, ``3606-12``, ``-14``, ``*27``, ``-14+3``.
    """

    base: int
    kind: str = "cds"  # cds | utr5 | utr3
    offset: int = 0

    def __str__(self) -> str:
        if self.kind == "utr5":
            core = f"-{self.base}"
        elif self.kind == "utr3":
            core = f"*{self.base}"
        else:
            core = str(self.base)
        if self.offset > 0:
            return f"{core}+{self.offset}"
        if self.offset < 0:
            return f"{core}{self.offset}"
        return core


@dataclass(frozen=True)
class Location:
    """Where a contig position lies on a transcript.

    region: ``cds``, ``utr5``, ``utr3`` (exonic), ``intron``, ``upstream``, ``downstream``.
    ``exon``/``intron`` numbers are the model's ``exon_number`` values (real exon numbers).
    """

    c: CPos
    region: str
    exon: int | None = None
    intron: int | None = None


@dataclass(frozen=True)
class Transcript:
    """A transcript model in transcript order (5' -> 3').

    exons: (start, end) contig intervals, transcript order. cds: (start, end, c_start, c_end)
    where c_start is the c. number of the row's 5'-most coding base. ``start_complete`` /
    ``end_complete`` say whether the model's 5'/3' end is the real transcript end (a partial
    model's flank is an unmodelled intron, not upstream/downstream sequence).
    """

    transcript_id: str
    gene: str
    chrom: str
    strand: str
    refseq: str | None
    exons: tuple[tuple[int, int], ...]
    exon_numbers: tuple[int, ...]
    cds: tuple[tuple[int, int, int, int], ...]
    has_stop: bool
    start_complete: bool
    end_complete: bool

    # ---- transcript-coordinate bookkeeping -------------------------------------------------
    @cached_property
    def _exon_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exon starts, ends and the transcript coordinate of the base before each exon.

        Transcript coordinates follow the spliced exons, except that an exon holding CDS is
        placed so that its coding bases sit at ``t = t_c1 + c - 1``; a model that skips exons
        (KIT lacks exons 10, 12, 14-16) thus gets a gap in t exactly as large as its gap in c.
        """
        starts = np.array([e[0] for e in self.exons], dtype=np.int64)
        ends = np.array([e[1] for e in self.exons], dtype=np.int64)
        lengths = ends - starts + 1
        cum = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        cds_by_exon: dict[int, tuple[int, int, int, int]] = {}
        for row in self.cds:
            hit = np.nonzero((starts <= row[0]) & (row[1] <= ends))[0]
            if hit.size == 0:
                raise UserError(
                    f"transcript {self.transcript_id}: CDS row {row[0]}-{row[1]} outside its exons"
                )
            cds_by_exon.setdefault(int(hit[0]), row)
        shift = 0
        t_c1: int | None = None
        for i in range(len(starts)):
            cum[i] += shift
            cds = cds_by_exon.get(i)
            if cds is None:
                continue
            five = cds[0] if self.strand == "+" else cds[1]
            within = five - starts[i] + 1 if self.strand == "+" else ends[i] - five + 1
            t_here = int(cum[i] + within)
            if t_c1 is None:
                t_c1 = t_here - (cds[2] - 1)
            else:
                want = t_c1 + cds[2] - 1
                shift += want - t_here
                cum[i] += want - t_here
        return starts, ends, cum

    def _t_of(self, pos: int) -> int | None:
        """Transcript coordinate (1-based along the spliced exons) of an exonic position."""
        starts, ends, cum = self._exon_arrays
        hit = np.nonzero((starts <= pos) & (pos <= ends))[0]
        if hit.size == 0:
            return None
        i = int(hit[0])
        within = pos - starts[i] + 1 if self.strand == "+" else ends[i] - pos + 1
        return int(cum[i] + within)

    def _pos_of_t(self, t: int) -> int | None:
        starts, ends, cum = self._exon_arrays
        lengths = ends - starts + 1
        inside = np.nonzero((cum < t) & (t <= cum + lengths))[0]
        if inside.size == 0:
            return None
        i = int(inside[0])
        within = t - int(cum[i])
        return int(starts[i] + within - 1) if self.strand == "+" else int(ends[i] - within + 1)

    def _five_prime(self, start: int, end: int) -> int:
        return start if self.strand == "+" else end

    def _three_prime(self, start: int, end: int) -> int:
        return end if self.strand == "+" else start

    @cached_property
    def _t_c1(self) -> int:
        """Transcript coordinate that c.1 has (may be < 1 for a model starting mid-CDS)."""
        s, e, c_start, _ = self.cds[0]
        t = self._t_of(self._five_prime(s, e))
        if t is None:
            raise UserError(f"transcript {self.transcript_id}: CDS row {s}-{e} outside its exons")
        return t - (c_start - 1)

    @cached_property
    def c_first(self) -> int:
        """c. number of the first modelled coding base (1 for a full model)."""
        return self.cds[0][2]

    @cached_property
    def c_last(self) -> int:
        """c. number of the last modelled coding base, stop codon included when modelled."""
        return self.cds[-1][3] + (3 if self.has_stop else 0)

    @property
    def partial(self) -> bool:
        return not (self.start_complete and self.end_complete) or self.c_first != 1

    @property
    def span(self) -> tuple[int, int]:
        return min(e[0] for e in self.exons), max(e[1] for e in self.exons)

    # ---- contig -> c. ----------------------------------------------------------------------
    def _c_of_t(self, t: int) -> CPos:
        c = t - self._t_c1 + 1
        if c < 1:
            return CPos(1 - c, "utr5")
        if c > self.c_last:
            return CPos(c - self.c_last, "utr3")
        return CPos(c)

    def locate(self, pos: int) -> Location:
        """HGVS c. position (with intronic offset) and region of one contig position."""
        t = self._t_of(pos)
        starts, ends, _ = self._exon_arrays
        if t is not None:
            i = int(np.nonzero((starts <= pos) & (pos <= ends))[0][0])
            c = self._c_of_t(t)
            region = c.kind if c.kind != "cds" else "cds"
            return Location(c, region, exon=self.exon_numbers[i])
        sign = 1 if self.strand == "+" else -1
        # distance upstream (5') of the first exon / downstream (3') of the last, transcript sense
        first5 = self._five_prime(*self.exons[0])
        last3 = self._three_prime(*self.exons[-1])
        d_up = (first5 - pos) * sign
        d_down = (pos - last3) * sign
        if d_up > 0:
            if self.start_complete:
                return Location(CPos(self._t_c1 - 1 + d_up, "utr5"), "upstream")
            c = self._c_of_t(1)
            return Location(CPos(c.base, c.kind, -d_up), "intron", intron=self.exon_numbers[0] - 1)
        if d_down > 0:
            t_last = int(self._exon_arrays[2][-1] + (ends[-1] - starts[-1] + 1))
            if self.end_complete:
                c_last = self._c_of_t(t_last)
                base = c_last.base + d_down if c_last.kind == "utr3" else d_down
                return Location(CPos(base, "utr3"), "downstream")
            c = self._c_of_t(t_last)
            return Location(CPos(c.base, c.kind, d_down), "intron", intron=self.exon_numbers[-1])
        # intronic: between exon i (3' end) and exon i+1 (5' start), transcript order
        for i in range(len(self.exons) - 1):
            a3 = self._three_prime(*self.exons[i])
            b5 = self._five_prime(*self.exons[i + 1])
            d1 = (pos - a3) * sign
            d2 = (b5 - pos) * sign
            if d1 > 0 and d2 > 0:
                # HGVS: the nearer exon anchors; the middle base of an odd intron takes "+".
                if d1 <= d2:
                    c = self.locate(a3).c
                    return Location(CPos(c.base, c.kind, d1), "intron", intron=self.exon_numbers[i])
                c = self.locate(b5).c
                return Location(CPos(c.base, c.kind, -d2), "intron", intron=self.exon_numbers[i])
        raise AssertionError(f"position {pos} not placed on {self.transcript_id}")  # unreachable

    # ---- c. -> contig ----------------------------------------------------------------------
    def contig_pos(self, c: int) -> int | None:
        """Contig position of coding base c.N (None when outside the modelled exons)."""
        if self.c_first <= c <= self.c_last:
            p = int(self.coding_positions[c - self.c_first])
            return p or None
        return self._pos_of_t(self._t_c1 + c - 1)

    def codon_positions(self, residue: int) -> list[int] | None:
        """Contig positions of codon ``residue`` bases 1, 2, 3 (None if not fully modelled)."""
        cs = (3 * residue - 2, 3 * residue - 1, 3 * residue)
        if cs[0] < self.c_first or cs[2] > self.c_last:
            return None
        out = [self.contig_pos(c) for c in cs]
        return None if any(p is None for p in out) else out  # type: ignore[return-value]

    @cached_property
    def coding_positions(self) -> np.ndarray:
        """Contig positions of c.c_first .. c.c_last in transcript order (0 where not modelled)."""
        out = np.zeros(self.c_last - self.c_first + 1, dtype=np.int64)
        for s, e, c_start, c_end in self.cds:
            run = np.arange(s, e + 1) if self.strand == "+" else np.arange(e, s - 1, -1)
            out[c_start - self.c_first : c_end - self.c_first + 1] = run
        if self.has_stop:  # the stop codon follows the last CDS base in transcript order
            for k in range(1, 4):
                c = self.cds[-1][3] + k
                out[c - self.c_first] = self._pos_of_t(self._t_c1 + c - 1) or 0
        return out

    @property
    def first_full_codon(self) -> int:
        """Residue number of the first codon whose three bases are all modelled."""
        return math.ceil((self.c_first - 1) / 3) + 1


# ---- loading -----------------------------------------------------------------------------------
def _int_attr(row: pd.Series, name: str) -> int | None:
    value = row.get(name)
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return None
    return int(value)


def _build(tid: str, rows: pd.DataFrame, path: Path) -> Transcript:
    strand = rows["Strand"].iloc[0]
    if strand not in ("+", "-"):
        raise UserError(f"{path}: transcript {tid} has no strand (+/-)")
    reverse = strand == "-"
    exons = rows[rows["Feature"] == "exon"].sort_values("Start", ascending=not reverse)
    cds = rows[rows["Feature"] == "CDS"].sort_values("Start", ascending=not reverse)
    if exons.empty:
        raise UserError(f"{path}: transcript {tid} has CDS rows but no exon rows")
    exon_iv = tuple((int(s) + 1, int(e)) for s, e in zip(exons["Start"], exons["End"], strict=True))
    if "exon_number" in exons and exons["exon_number"].notna().all():
        numbers = tuple(int(x) for x in exons["exon_number"])
    else:
        numbers = tuple(range(1, len(exon_iv) + 1))
    cds_rows: list[tuple[int, int, int, int]] = []
    next_c = 1
    for _, row in cds.iterrows():
        s, e = int(row["Start"]) + 1, int(row["End"])
        c_start, c_end = _int_attr(row, "cds_c_start"), _int_attr(row, "cds_c_end")
        if c_start is None:
            c_start, c_end = next_c, next_c + (e - s)
        if c_end is None or c_end - c_start != e - s:
            raise UserError(
                f"{path}: transcript {tid} CDS row {row['Chromosome']}:{s}-{e}: "
                f"cds_c_start/cds_c_end ({c_start}/{c_end}) disagree with row length {e - s + 1}"
            )
        if cds_rows and c_start <= cds_rows[-1][3]:
            raise UserError(
                f"{path}: transcript {tid} CDS row {row['Chromosome']}:{s}-{e}: c.{c_start} "
                f"does not come after c.{cds_rows[-1][3]} of the previous row"
            )
        cds_rows.append((s, e, c_start, c_end))
        next_c = c_end + 1
    features = set(rows["Feature"])
    first_exon_is_1 = numbers[0] == 1
    start_complete = first_exon_is_1 and ("start_codon" in features or "five_prime_utr" in features)
    end_complete = "stop_codon" in features
    refseq = (
        rows["refseq_equivalent"].dropna().iloc[0]
        if "refseq_equivalent" in rows and rows["refseq_equivalent"].notna().any()
        else None
    )
    return Transcript(
        transcript_id=tid,
        gene=str(rows["gene_name"].dropna().iloc[0]) if "gene_name" in rows else tid,
        chrom=str(rows["Chromosome"].iloc[0]),
        strand=strand,
        refseq=refseq,
        exons=exon_iv,
        exon_numbers=numbers,
        cds=tuple(cds_rows),
        has_stop="stop_codon" in features,
        start_complete=start_complete,
        end_complete=end_complete,
    )


class TranscriptSet:
    """All protein-coding transcript models of a GTF, with overlap queries (pyranges)."""

    def __init__(self, transcripts: list[Transcript]):
        self.transcripts = {t.transcript_id: t for t in transcripts}
        self.by_gene: dict[str, Transcript] = {}
        for t in transcripts:
            # one model per gene: annotation.choose picked it (MANE Select, ...)
            self.by_gene.setdefault(t.gene, t)
        spans = pd.DataFrame(
            {
                "Chromosome": [t.chrom for t in transcripts],
                "Start": [t.span[0] - 1 for t in transcripts],
                "End": [t.span[1] for t in transcripts],
                "transcript_id": [t.transcript_id for t in transcripts],
            }
        )
        self._spans = pr.PyRanges(spans) if len(spans) else None
        self._by_chrom: dict[str, list[Transcript]] = {}
        for t in sorted(transcripts, key=lambda t: t.transcript_id):
            self._by_chrom.setdefault(t.chrom, []).append(t)

    def overlapping(self, chrom: str, start: int, end: int, flank: int = 0) -> list[Transcript]:
        """Transcripts whose modelled span (+/- flank) overlaps contig interval [start, end].

        A contig holds a handful of models, so one comparison per model is enough here; batches
        of intervals go through :meth:`assign` (one pyranges join)."""
        return [
            t
            for t in self.nearest_in_contig(chrom)
            if t.span[0] - flank <= end and start <= t.span[1] + flank
        ]

    def assign(self, df: pd.DataFrame) -> pd.DataFrame:
        """Overlapping transcript ids for many intervals (columns chrom, start, end; 1-based)."""
        if self._spans is None or df.empty:
            return pd.DataFrame(columns=["idx", "transcript_id"])
        q = pr.PyRanges(
            pd.DataFrame(
                {
                    "Chromosome": df["chrom"].to_numpy(),
                    "Start": df["start"].to_numpy() - 1,
                    "End": df["end"].to_numpy(),
                    "idx": np.arange(len(df)),
                }
            )
        )
        hits = q.join(self._spans)
        if not len(hits):
            return pd.DataFrame(columns=["idx", "transcript_id"])
        return hits.df[["idx", "transcript_id"]].sort_values(["idx", "transcript_id"])

    def nearest_in_contig(self, chrom: str) -> list[Transcript]:
        """Transcripts on a contig (a panel contig holds one gene; partial flanks are intronic)."""
        return self._by_chrom.get(chrom, [])


def transcript_set(models: pd.DataFrame, path: str | Path) -> TranscriptSet:
    """Transcript models (one chosen transcript per gene, see annotation.py) as a TranscriptSet."""
    if models.empty or "transcript_id" not in models:
        return TranscriptSet([])
    coding = models[
        models["transcript_id"].isin(models.loc[models["Feature"] == "CDS", "transcript_id"])
    ]
    return TranscriptSet(
        [_build(str(tid), rows, Path(path)) for tid, rows in coding.groupby("transcript_id")]
    )


def load_transcripts(gtf_path: str | Path) -> TranscriptSet:
    """Coding transcript models of a GTF (the run's annotation cache or any GTF), one per gene."""
    return transcript_set(load_annotation(gtf_path).models, gtf_path)
