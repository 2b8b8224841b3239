"""Read-level evidence for genomic fusion junctions (helpers of ``resistcall fusion``).

Everything here works in GRCh38 coordinates (chromosome, 1-based position) so that BAMs aligned to
the panel contigs (``chrN_START_END``) and BAMs aligned to a whole genome (``chr2``) give the same
junctions. Three things live here:

* :class:`PanelSequence` - the panel FASTA held in memory, addressed in GRCh38, with a k-mer index
  used to place clipped read sequence when the aligner recorded no alignment for it;
* :class:`BamFrame` - how one BAM names its contigs (panel contigs or plain chromosomes);
* clip collection and junction-core matching, the per-read work of the caller.

A *breakend* is (chrom, pos, side): ``side = +1`` means the retained sequence ends at ``pos`` and
lies to its left (a right soft clip, ``xxM yyS``); ``side = -1`` means it starts at ``pos`` and
lies to its right (a left soft clip). The *outward* sequence of a clip is the clipped bases read
away from the breakend (right clip: as stored; left clip: reverse-complemented), so one rule places
every clip whatever its side.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pysam

from resistcall.errors import UserError
from resistcall.reference import check_bam_matches_reference, contig_offset

_COMP = str.maketrans("ACGTNacgtn", "TGCANtgcan")
SOFT_CLIP = 4
#: Illumina TruSeq adapter start; clips that begin with it are read-through, not junctions.
ADAPTER = "AGATCGGAAGAGC"


def revcomp(seq: str) -> str:
    return seq.translate(_COMP)[::-1]


@dataclass(frozen=True)
class Hit:
    """Placement of an outward sequence: ``seq[offset]`` lies at ``pos`` and the rest follows on
    ``strand`` (+: increasing positions, -: decreasing positions on the reverse strand)."""

    chrom: str
    pos: int
    strand: str
    offset: int
    identity: float
    matched: int


class PanelSequence:
    """Panel reference in memory, addressed by GRCh38 (chrom, pos), with a k-mer index.

    The panel is small (about 0.6 Mb, mostly N), so holding it and a dict of its real-base
    k-mers costs a few MB and lets clipped sequence be placed without an external aligner.
    """

    def __init__(self, fasta: str | Path, k: int = 16):
        fasta = Path(fasta)
        if not fasta.exists():
            raise UserError(f"reference FASTA not found: {fasta}")
        self.k = k
        self.path = fasta
        self.contigs: list[tuple[str, str, int, str]] = []  # (contig, chrom, offset, seq)
        with pysam.FastaFile(str(fasta)) as fa:
            for name in fa.references:
                chrom, offset = contig_offset(name)
                self.contigs.append((name, chrom, offset, fa.fetch(name).upper()))
        self.lengths = {c[0]: len(c[3]) for c in self.contigs}
        self._index: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for ci, (_, _, _, seq) in enumerate(self.contigs):
            for m in re.finditer(r"[ACGT]+", seq):
                s, e = m.span()
                for p in range(s, e - k + 1):
                    self._index[seq[p : p + k]].append((ci, p))

    def locate(self, chrom: str, pos: int) -> tuple[int, int] | None:
        """(contig index, 0-based index in its sequence) of a GRCh38 position, or None."""
        for ci, (_, c, off, seq) in enumerate(self.contigs):
            if c == chrom and off < pos <= off + len(seq):
                return ci, pos - off - 1
        return None

    def contig_label(self, chrom: str, pos: int) -> tuple[str, int]:
        """Panel contig and contig position of a GRCh38 position (the chromosome if outside)."""
        loc = self.locate(chrom, pos)
        if loc is None:
            return chrom, pos
        return self.contigs[loc[0]][0], loc[1] + 1

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Bases start..end (1-based, inclusive, GRCh38); positions outside the panel are N."""
        n = end - start + 1
        loc = self.locate(chrom, start)
        if loc is None or n <= 0:
            return "N" * max(n, 0)
        ci, i = loc
        piece = self.contigs[ci][3][i : i + n]
        return piece + "N" * (n - len(piece))

    def outward(self, chrom: str, pos: int, strand: str, n: int) -> str:
        """n bases starting at pos and walking along strand (- = reverse complement, leftwards)."""
        if strand == "+":
            return self.fetch(chrom, pos, pos + n - 1)
        return revcomp(self.fetch(chrom, pos - n + 1, pos))

    def place(self, seq: str, min_identity: float = 0.9) -> Hit | None:
        """Place an outward sequence on the panel by k-mer diagonal voting (both strands).

        The best diagonal must be unique (no other diagonal with as many k-mers) and the
        ungapped comparison from its first matching k-mer onwards must reach min_identity. Bases
        before the first match are reported through ``offset`` (non-templated insertion)."""
        k = self.k
        seq = seq.upper()
        if len(seq) < k:
            return None
        votes: Counter = Counter()
        span: dict = {}
        for strand, q in (("+", seq), ("-", revcomp(seq))):
            for i in range(len(q) - k + 1):
                for ci, p in self._index.get(q[i : i + k], ()):
                    key = (ci, p - i, strand)
                    votes[key] += 1
                    lo, hi = span.get(key, (i, i))
                    span[key] = (min(lo, i), max(hi, i))
        if not votes:
            return None
        ranked = votes.most_common(2)
        if len(ranked) == 2 and ranked[1][1] == ranked[0][1]:
            return None  # repeat: two equally good placements
        key = ranked[0][0]
        ci, diag, strand = key
        _, chrom, off, ref = self.contigs[ci]
        q = seq if strand == "+" else revcomp(seq)
        lo, hi = span[key]
        if strand == "+":
            # the outward start is q[0]: extend the match leftwards from the first k-mer
            start = lo
            while start > 0 and diag + start - 1 >= 0 and ref[diag + start - 1] == q[start - 1]:
                start -= 1
            stop = min(len(q), len(ref) - diag)
        else:
            # q is reversed: the outward start is q[-1]; extend rightwards from the last k-mer
            stop = hi + k
            while stop < len(q) and diag + stop < len(ref) and ref[diag + stop] == q[stop]:
                stop += 1
            start = max(0, -diag)
        seg_q = q[start:stop]
        seg_r = ref[diag + start : diag + stop]
        if not seg_q or len(seg_r) != len(seg_q):
            return None
        identity = sum(a == b for a, b in zip(seg_q, seg_r, strict=True)) / len(seg_q)
        if identity < min_identity:
            return None
        if strand == "+":
            offset, pos0 = start, diag + start
        else:
            offset, pos0 = len(q) - stop, diag + stop - 1
        return Hit(chrom, off + pos0 + 1, strand, offset, identity, len(seg_q))


class BamFrame:
    """How a BAM names the panel: its own panel contigs or whole chromosomes (GRCh38 names)."""

    def __init__(self, bam: pysam.AlignmentFile, bam_path: str, panel: PanelSequence):
        refs = dict(zip(bam.references, bam.lengths, strict=True))
        panel_names = set(panel.lengths)
        if panel_names & set(refs):
            problems = check_bam_matches_reference(bam_path, panel.path)
            bad = [p for p in problems if "length" in p]
            if bad:
                raise UserError(f"{bam_path}: aligned to a different reference: {bad[0]}")
            self.mode = "panel"
        else:
            chroms = {c[1] for c in panel.contigs}
            if not chroms & set(refs):
                raise UserError(
                    f"{bam_path}: contig names match neither the panel reference "
                    f"({sorted(panel_names)[0]}, ...) nor GRCh38 chromosomes "
                    f"({sorted(chroms)[0]}, ...)"
                )
            self.mode = "genome"
        self.refs = refs

    def to_genomic(self, contig: str, pos: int) -> tuple[str, int]:
        chrom, off = contig_offset(contig) if self.mode == "panel" else (contig, 0)
        return chrom, off + pos

    def region(self, panel: PanelSequence, chrom: str, start: int, end: int):
        """(contig, 0-based start, end) of a GRCh38 interval in this BAM, or None if absent."""
        if self.mode == "genome":
            if chrom not in self.refs:
                return None
            return chrom, max(start - 1, 0), min(end, self.refs[chrom])
        for name, c, off, seq in panel.contigs:
            if c == chrom and off < end and start <= off + len(seq) and name in self.refs:
                return name, max(start - 1 - off, 0), min(end - off, len(seq))
        return None


@dataclass(frozen=True)
class Clip:
    """One soft clip of one alignment, as a breakend in GRCh38."""

    name: str
    chrom: str
    pos: int
    side: int
    outward: str
    mapq: int


def clips_of(read: pysam.AlignedSegment, frame: BamFrame, min_clip: int) -> list[Clip]:
    """Soft clips of at least min_clip bases at either end of an alignment."""
    cig = read.cigartuples
    seq = read.query_sequence
    if not cig or seq is None:
        return []
    out = []
    if cig[-1][0] == SOFT_CLIP and cig[-1][1] >= min_clip:
        chrom, pos = frame.to_genomic(read.reference_name, read.reference_end)
        out.append(Clip(read.query_name, chrom, pos, +1, seq[read.query_alignment_end :],
                        read.mapping_quality))
    if cig[0][0] == SOFT_CLIP and cig[0][1] >= min_clip:
        chrom, pos = frame.to_genomic(read.reference_name, read.reference_start + 1)
        out.append(Clip(read.query_name, chrom, pos, -1,
                        revcomp(seq[: read.query_alignment_start]), read.mapping_quality))
    return out


def consensus(seqs: list[str], min_depth: int = 2) -> str:
    """Majority base at each offset of left-aligned outward sequences (stops below min_depth)."""
    if not seqs:
        return ""
    width = max(len(s) for s in seqs)
    arr = np.full((len(seqs), width), ord("N"), dtype=np.uint8)
    for i, s in enumerate(seqs):
        arr[i, : len(s)] = np.frombuffer(s.encode(), dtype=np.uint8)
    out = []
    for col in arr.T:
        col = col[col != ord("N")]
        if col.size < min_depth:
            break
        vals, counts = np.unique(col, return_counts=True)
        out.append(chr(int(vals[np.argmax(counts)])))
    return "".join(out)


def usable(read: pysam.AlignedSegment) -> bool:
    """Alignments that may carry evidence: mapped, not duplicate, not QC-failed.

    Secondary (0x100) and supplementary (0x800) records are kept on purpose: ``bwa mem -M``
    writes split parts as secondary, and they carry the clip that places the junction."""
    return not (read.is_unmapped or read.is_duplicate or read.is_qcfail)


def sa_entries(read: pysam.AlignedSegment) -> list[tuple[str, int, str, str]]:
    """(contig, 1-based pos, strand, cigar) of each SA-tag entry."""
    if not read.has_tag("SA"):
        return []
    out = []
    for entry in str(read.get_tag("SA")).split(";"):
        parts = entry.split(",")
        if len(parts) >= 4 and parts[1].isdigit():
            out.append((parts[0], int(parts[1]), parts[2], parts[3]))
    return out
