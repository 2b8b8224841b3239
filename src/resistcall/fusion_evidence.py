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

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pysam

from resistcall.errors import UserError
from resistcall.reference import check_bam_matches_reference, contig_offset, revcomp

SOFT_CLIP = 4
#: Adapter starts (TruSeq with and without its first two bases, which often match the reference
#: by chance and stay aligned; Nextera); clips holding one are read-through of short inserts.
ADAPTERS = ("AGATCGGAAG", "ATCGGAAGAG", "CTGTCTCTTA")


_CODE = np.full(256, -1, dtype=np.int64)
for _i, _b in enumerate(b"ACGT"):
    _CODE[_b] = _i
    _CODE[_b + 32] = _i  # lower case


def kmer_codes(seq: str, k: int) -> np.ndarray:
    """2-bit code of every k-mer of seq (k <= 31); -1 where the k-mer holds a non-ACGT base."""
    n = len(seq) - k + 1
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    base = _CODE[np.frombuffer(seq.encode(), dtype=np.uint8)]
    bad = np.convolve((base < 0).astype(np.int64), np.ones(k, dtype=np.int64), "valid") > 0
    vals = np.where(base < 0, 0, base)
    codes = np.zeros(n, dtype=np.int64)
    for j in range(k):  # k vectorised passes, not a loop over positions
        codes = (codes << 2) | vals[j : j + n]
    codes[bad] = -1
    return codes


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

    def __init__(
        self, fasta: str | Path, k: int = 16, windows: list[tuple[str, int, int]] | None = None
    ):
        """``windows`` (contig, start, end; 1-based): hold only these parts of the reference
        (a whole genome does not fit a k-mer index; its BAMs carry SA tags for far partners)."""
        fasta = Path(fasta)
        if not fasta.exists():
            raise UserError(f"reference FASTA not found: {fasta}")
        self.k = k
        self.path = fasta
        # (contig, chrom, GRCh38 offset of the held sequence, seq); starts: its contig start - 1
        self.contigs: list[tuple[str, str, int, str]] = []
        self.starts: list[int] = []
        with pysam.FastaFile(str(fasta)) as fa:
            self.lengths = dict(zip(fa.references, fa.lengths, strict=True))
            parts = [(n, 1, n_len) for n, n_len in self.lengths.items()]
            if windows is not None:
                parts = _merge_windows(windows, self.lengths)
            for name, start, end in parts:
                chrom, offset = contig_offset(name)
                self.contigs.append(
                    (name, chrom, offset + start - 1, fa.fetch(name, start - 1, end).upper())
                )
                self.starts.append(start - 1)
        # k-mer index as sorted 2-bit codes (numpy), not a dict of strings: builds in ~0.1 s
        # (seeded empty, so that a reference held with no window gives an empty index)
        codes, where = [kmer_codes("", k)], [np.empty((0, 2), dtype=np.int64)]
        for ci, (_, _, _, seq) in enumerate(self.contigs):
            c = kmer_codes(seq, k)
            ok = np.flatnonzero(c >= 0)
            codes.append(c[ok])
            where.append(np.column_stack([np.full(ok.size, ci), ok]))
        allc = np.concatenate(codes)
        order = np.argsort(allc, kind="stable")
        self._codes = allc[order]
        self._where = np.concatenate(where)[order]

    def lookup(self, kmers_of: str) -> list[list[tuple[int, int]]]:
        """For each k-mer of a sequence (in order): its (contig index, 0-based pos) occurrences."""
        q = kmer_codes(kmers_of, self.k)
        lo = np.searchsorted(self._codes, q, side="left")
        hi = np.searchsorted(self._codes, q, side="right")
        return [
            [] if c < 0 else [(int(a), int(b)) for a, b in self._where[l_:h_]]
            for c, l_, h_ in zip(q, lo, hi, strict=True)
        ]

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
        return self.contigs[loc[0]][0], self.starts[loc[0]] + loc[1] + 1

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
            for i, occurrences in enumerate(self.lookup(q)):
                for ci, p in occurrences:
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


def _merge_windows(
    windows: list[tuple[str, int, int]], lengths: dict[str, int]
) -> list[tuple[str, int, int]]:
    """Windows clipped to their contigs and merged (a base held twice would make every k-mer
    placement there ambiguous)."""
    out: list[tuple[str, int, int]] = []
    for name, start, end in sorted(
        (n, max(1, s), min(e, lengths[n])) for n, s, e in windows if n in lengths
    ):
        if out and out[-1][0] == name and start <= out[-1][2] + 1:
            out[-1] = (name, out[-1][1], max(out[-1][2], end))
        elif start <= end:
            out.append((name, start, end))
    return out


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
        self._offsets: dict[str, tuple[str, int]] = {}

    def to_genomic(self, contig: str, pos: int) -> tuple[str, int]:
        try:
            chrom, off = self._offsets[contig]
        except KeyError:
            chrom, off = contig_offset(contig) if self.mode == "panel" else (contig, 0)
            self._offsets[contig] = (chrom, off)
        return chrom, off + pos

    def region(self, panel: PanelSequence, chrom: str, start: int, end: int):
        """(contig, 0-based start, end) of a GRCh38 interval in this BAM, or None if absent."""
        if self.mode == "genome":
            if chrom not in self.refs:
                return None
            return chrom, max(start - 1, 0), min(end, self.refs[chrom])
        for (name, c, off, seq), first in zip(panel.contigs, panel.starts, strict=True):
            if c == chrom and off < end and start <= off + len(seq) and name in self.refs:
                off -= first  # GRCh38 offset of the contig itself
                return name, max(start - 1 - off, 0), min(end - off, panel.lengths[name])
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
    name, contig, ref_end = read.query_name, read.reference_name, read.reference_end
    if not cig or seq is None or name is None or contig is None or ref_end is None:
        return []  # unmapped or sequence-less alignments have no clips to place
    out = []
    if cig[-1][0] == SOFT_CLIP and cig[-1][1] >= min_clip:
        chrom, pos = frame.to_genomic(contig, ref_end)
        out.append(
            Clip(
                name,
                chrom,
                pos,
                +1,
                seq[read.query_alignment_end :],
                read.mapping_quality,
            )
        )
    if cig[0][0] == SOFT_CLIP and cig[0][1] >= min_clip:
        chrom, pos = frame.to_genomic(contig, read.reference_start + 1)
        out.append(
            Clip(
                name,
                chrom,
                pos,
                -1,
                revcomp(seq[: read.query_alignment_start]),
                read.mapping_quality,
            )
        )
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


_QUERY_OPS = (0, 1, 7, 8)  # M I = X: aligned query bases
_REF_OPS = (0, 2, 3, 7, 8)  # M D N = X: reference bases
_CLIP_OPS = (4, 5)


@dataclass(frozen=True)
class Part:
    """One alignment of a read, with its place in the read as sequenced (not as stored)."""

    chrom: str
    start: int  # GRCh38, 1-based inclusive
    end: int
    reverse: bool
    q_start: int
    q_end: int


def make_part(chrom: str, start: int, reverse: bool, cigar: list[tuple[int, int]]) -> Part:
    lead = cigar[0][1] if cigar[0][0] in _CLIP_OPS else 0
    aligned = sum(n for op, n in cigar if op in _QUERY_OPS)
    total = sum(n for op, n in cigar if op in _QUERY_OPS or op in _CLIP_OPS)
    span = sum(n for op, n in cigar if op in _REF_OPS)
    qs, qe = lead, lead + aligned
    if reverse:
        qs, qe = total - qe, total - qs
    return Part(chrom, start, start + span - 1, reverse, qs, qe)


def parse_cigar(cigar: str) -> list[tuple[int, int]]:
    """CIGAR string (e.g. from an SA tag) -> pysam cigartuples, using pysam's own parser."""
    seg = pysam.AlignedSegment()
    seg.cigarstring = cigar
    return seg.cigartuples or []


def split_junction(a: Part, b: Part) -> tuple[int, int, int, int, int, int]:
    """Where a read passes from part a to part b (either order in the read):
    (a_pos, a_side, b_pos, b_side, overlap, gap). Both positions are the outermost aligned bases;
    overlap = read bases claimed by both parts (microhomology), gap = bases in neither."""
    first, second = (a, b) if a.q_start <= b.q_start else (b, a)
    end_first = (first.start, -1) if first.reverse else (first.end, +1)
    start_second = (second.end, +1) if second.reverse else (second.start, -1)
    overlap = max(0, first.q_end - second.q_start)
    gap = max(0, second.q_start - first.q_end)
    if first is a:
        return (*end_first, *start_second, overlap, gap)
    return (*start_second, *end_first, overlap, gap)


@dataclass(frozen=True)
class ReadInfo:
    """What the caller keeps of an alignment that may show a junction (GRCh38 coordinates)."""

    name: str
    chrom: str
    start: int
    end: int
    seq: str
    clips: tuple[Clip, ...]
    sa: tuple[tuple[str, int], ...]
    part: Part | None = None
    sa_parts: tuple[Part, ...] = ()


def informative(read: pysam.AlignedSegment, frame: BamFrame) -> ReadInfo | None:
    """Keep clipped, split (secondary, supplementary, SA-tagged) or mismatch-rich (NM >= 2)
    alignments; a read that crosses a junction by >= 8 bases without being clipped carries
    several mismatches, so plain matching reads cannot show one and are skipped."""
    name, contig, ref_end = read.query_name, read.reference_name, read.reference_end
    seq, cigar = read.query_sequence, read.cigartuples
    if not usable(read) or seq is None or None in (name, contig, ref_end, cigar):
        return None
    assert name is not None and contig is not None and ref_end is not None and cigar is not None
    clips = clips_of(read, frame, 1)
    sa = tuple(frame.to_genomic(c, p) for c, p, _, _ in sa_entries(read))
    nm = int(read.get_tag("NM")) if read.has_tag("NM") else 99
    if not (clips or sa or read.is_secondary or read.is_supplementary or nm >= 2):
        return None
    chrom, start = frame.to_genomic(contig, read.reference_start + 1)
    end = frame.to_genomic(contig, ref_end)[1]
    part: Part | None = None
    sa_parts: tuple[Part, ...] = ()
    entries = sa_entries(read)
    if entries:
        part = make_part(chrom, start, read.is_reverse, cigar)
        sa_parts = tuple(
            make_part(*frame.to_genomic(c, p), strand == "-", parse_cigar(cig))
            for c, p, strand, cig in entries
        )
    return ReadInfo(name, chrom, start, end, seq, tuple(clips), sa, part, sa_parts)
