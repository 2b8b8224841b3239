"""HGVS c./p. nomenclature and Sequence Ontology consequence of one variant on one transcript.

Method (docs/annotate.md): trim the alleles, shift indels to the most 3' position in transcript
orientation (HGVS 3' rule; for minus-strand ALK/KRAS that is leftward on the contig), number
them on the transcript model (:mod:`resistcall.transcripts`), then apply the variant to the
spliced coding sequence and compare the translated peptides. The protein change is the
difference left after removing the common prefix first (the protein 3' rule) and then the
common suffix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pysam

from resistcall.reference import complement, revcomp
from resistcall.transcripts import CPos, Transcript, TranscriptSet

_BASES = "TCAG"
_AA = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
CODON_TABLE = {
    a + b + c: _AA[16 * i + 4 * j + k]
    for i, a in enumerate(_BASES)
    for j, b in enumerate(_BASES)
    for k, c in enumerate(_BASES)
}

#: ALK kinase domain, UniProt Q9UM73 residues 1116-1392
KINASE_DOMAINS = {"ALK": (1116, 1392)}
#: How far beyond a complete model an upstream/downstream label is given (bases)
FLANK = 5000


def translate(seq: str, to_stop: bool = False) -> str:
    """Translate complete codons of ``seq`` (standard code; X for codons with N)."""
    out = []
    for i in range(0, len(seq) - len(seq) % 3, 3):
        aa = CODON_TABLE.get(seq[i : i + 3].upper(), "X")
        out.append(aa)
        if to_stop and aa == "*":
            break
    return "".join(out)


@dataclass(frozen=True)
class Annotation:
    gene: str
    transcript: str | None
    refseq: str | None
    hgvs_c: str
    hgvs_p: str
    consequence: str
    exon: str
    kinase_domain: bool
    residue_start: int | None = None
    residue_end: int | None = None


class ContigCache:
    """Whole-contig sequences from the FASTA (panel contigs are <= 200 kb)."""

    def __init__(self, fasta: pysam.FastaFile):
        self.fasta = fasta
        self._seq: dict[str, str] = {}
        self._cds: dict[tuple[str, int, int], str | None] = {}

    def seq(self, chrom: str) -> str:
        if chrom not in self._seq:
            self._seq[chrom] = self.fasta.fetch(chrom).upper()
        return self._seq[chrom]

    def coding(self, tx: Transcript, lo: int, hi: int) -> str | None:
        """Coding-strand sequence of c.lo..c.hi (None if a base is not modelled)."""
        key = (tx.transcript_id, lo, hi)
        if key not in self._cds:
            pos = tx.coding_positions[lo - tx.c_first : hi - tx.c_first + 1]
            if (pos == 0).any():
                self._cds[key] = None
            else:
                arr = np.frombuffer(self.seq(tx.chrom).encode(), dtype="S1")
                cds = b"".join(arr[pos - 1]).decode()
                self._cds[key] = cds if tx.strand == "+" else complement(cds)
        return self._cds[key]

    def bases(self, chrom: str, start: int, end: int) -> str:
        """1-based inclusive contig interval (empty when end < start)."""
        return self.seq(chrom)[start - 1 : end] if end >= start else ""


# ---- allele normalisation ------------------------------------------------------------------
def trim(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """Remove the shared suffix, then the shared prefix. ``pos`` becomes the first changed base
    (for a pure insertion: the base after the insertion point)."""
    ref, alt = ref.upper(), alt.upper()
    while ref and alt and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    while ref and alt and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    return pos, ref, alt


def shift(
    seq: str, pos: int, ref: str, alt: str, rightward: bool, lo: int, hi: int
) -> tuple[int, str, str]:
    """Shift a pure deletion/insertion as far as the repeat allows within contig [lo, hi]."""
    if ref and alt:
        return pos, ref, alt
    allele = ref or alt
    n = len(allele)
    if rightward:
        # deletion occupies [pos, pos+n-1]; insertion sits before pos
        nxt = pos + n if ref else pos
        while nxt <= hi and nxt <= len(seq) and seq[nxt - 1] == allele[0]:
            allele = allele[1:] + allele[0]
            pos += 1
            nxt += 1
    else:
        prv = pos - 1
        while prv >= lo and prv >= 1 and seq[prv - 1] == allele[-1]:
            allele = allele[-1] + allele[:-1]
            pos -= 1
            prv -= 1
    return (pos, allele, "") if ref else (pos, "", allele)


# ---- protein description -----------------------------------------------------------------------
def _protein_change(ref_pep: str, alt_pep: str, r0: int, frameshift: bool) -> tuple[str, str]:
    """HGVS p. (one-letter) and SO consequence from reference/variant peptides starting at r0."""
    k = 0
    while k < len(ref_pep) and k < len(alt_pep) and ref_pep[k] == alt_pep[k]:
        if ref_pep[k] == "*":
            break
        k += 1
    if k < len(ref_pep) and k < len(alt_pep) and ref_pep[k] == alt_pep[k] == "*":
        return "", "synonymous_variant"  # identical through the stop codon
    if frameshift and k >= len(alt_pep):
        # the shifted frame runs off the end of a partial model before any residue changes
        return "p.?", "frameshift_variant"
    if k >= len(ref_pep) and k >= len(alt_pep):
        return "", "synonymous_variant"
    r = r0 + k
    ref_aa = ref_pep[k] if k < len(ref_pep) else "?"
    if ref_aa == "X" or (k < len(alt_pep) and alt_pep[k] == "X"):
        return "p.?", "coding_sequence_variant"  # first difference in an unknown codon
    if r == 1 and ref_aa == "M":  # any change of the initiator methionine
        return "p.M1?", "start_lost"
    if frameshift:
        if k >= len(alt_pep):
            return f"p.{ref_aa}{r}fs*?", "frameshift_variant"
        if alt_pep[k] == "*":
            return f"p.{ref_aa}{r}*", "stop_gained"
        stop = alt_pep.find("*", k)
        tail = f"*{stop - k + 1}" if stop >= 0 and "X" not in alt_pep[k:stop] else "*?"
        return f"p.{ref_aa}{r}{alt_pep[k]}fs{tail}", "frameshift_variant"
    # in frame: trim the common suffix (never into the prefix)
    m = 0
    while m < min(len(ref_pep), len(alt_pep)) - k and ref_pep[-1 - m] == alt_pep[-1 - m]:
        m += 1
    deleted = ref_pep[k : len(ref_pep) - m]
    inserted = alt_pep[k : len(alt_pep) - m]
    if ref_aa == "*":
        new = alt_pep[k] if k < len(alt_pep) else "?"
        stop = alt_pep.find("*", k + 1)
        tail = f"*{stop - k}" if stop >= 0 else "*?"
        return f"p.*{r}{new}ext{tail}", "stop_lost"
    if "*" in inserted:  # stop gained inside an in-frame change: stop at the first stop
        inserted = inserted[: inserted.index("*") + 1]
        if inserted == "*":
            return f"p.{ref_aa}{r}*", "stop_gained"
        deleted = deleted[: len(inserted)] or deleted
    if len(deleted) == 1 and len(inserted) == 1:
        if r == 1 and deleted == "M":
            return "p.M1?", "start_lost"
        return f"p.{deleted}{r}{inserted}", "missense_variant"
    if deleted and not inserted:
        if len(deleted) == 1:
            return f"p.{deleted}{r}del", "inframe_deletion"
        return f"p.{deleted[0]}{r}_{deleted[-1]}{r + len(deleted) - 1}del", "inframe_deletion"
    if inserted and not deleted:
        n = len(inserted)
        if k >= n and ref_pep[k - n : k] == inserted:
            if n == 1:
                return f"p.{inserted}{r - 1}dup", "inframe_insertion"
            return f"p.{inserted[0]}{r - n}_{inserted[-1]}{r - 1}dup", "inframe_insertion"
        if k == 0:
            return "p.?", "inframe_insertion"
        return f"p.{ref_pep[k - 1]}{r - 1}_{ref_aa}{r}ins{inserted}", "inframe_insertion"
    span = f"{deleted[0]}{r}"
    if len(deleted) > 1:
        span += f"_{deleted[-1]}{r + len(deleted) - 1}"
    kind = "protein_altering_variant"
    if len(deleted) > len(inserted):
        kind = "inframe_deletion"
    elif len(inserted) > len(deleted):
        kind = "inframe_insertion"
    elif len(deleted) > 1:
        kind = "missense_variant"
    return f"p.{span}delins{inserted}", kind


# ---- main entry ------------------------------------------------------------------------------
def placements(seq: str, pos: int, ref: str, alt: str) -> list[tuple[int, str, str]]:
    """Every equivalent placement of a pure deletion/insertion in a repeat, left to right."""
    p, r, a = shift(seq, pos, ref, alt, False, 1, len(seq))
    out = [(p, r, a)]
    allele = r or a
    while True:
        nxt = p + len(allele) if r else p
        if nxt > len(seq) or seq[nxt - 1] != allele[0]:
            return out
        allele = allele[1:] + allele[0]
        p += 1
        r, a = (allele, "") if r else ("", allele)
        out.append((p, r, a))


def _touched(seq: str, tx_plus: bool, p: int, r: str, a: str) -> list[int]:
    """Bases a placement describes: deleted bases, duplicated bases, or insertion flanks."""
    if r:
        return list(range(p, p + len(r)))
    n = len(a)
    before = (p - n, p - 1) if tx_plus else (p, p + n - 1)
    if seq[before[0] - 1 : before[1]] == a:
        return list(range(before[0], before[1] + 1))
    return [p - 1, p]


def place_indel(tx: Transcript, seq: str, pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """HGVS 3' rule in transcript orientation, kept off exon/intron junctions where possible.

    Among all equivalent placements of the indel, take the most 3' one whose described bases
    lie in one exon; failing that, in one intron; failing that, the most 3' placement (a change
    that truly spans a junction)."""
    plus = tx.strand == "+"
    options = placements(seq, pos, ref, alt)
    if not plus:
        options = options[::-1]
    ordered = options[::-1]  # most 3' first
    regions = []
    for opt in ordered:
        locs = [tx.locate(x) for x in _touched(seq, plus, *opt)]
        exons = {loc.exon for loc in locs}
        introns = {loc.intron for loc in locs}
        regions.append((opt, exons, introns))
    for opt, exons, _ in regions:
        if None not in exons and len(exons) == 1:
            return opt
    for opt, exons, introns in regions:
        if None not in introns and len(introns) == 1 and exons == {None}:
            return opt
    return ordered[0]


def _c_label(tx: Transcript, a: int, b: int) -> tuple[str, list[CPos]]:
    """c. range label for contig interval [a, b] in transcript order."""
    five, three = (a, b) if tx.strand == "+" else (b, a)
    c5, c3 = tx.locate(five).c, tx.locate(three).c
    return (str(c5) if five == three else f"{c5}_{c3}"), [c5, c3]


def _exon_label(tx: Transcript, positions: list[int]) -> str:
    loc = tx.locate(positions[0])
    if loc.exon is not None:
        return str(loc.exon)
    if loc.intron is not None:
        return f"intron {loc.intron}"
    return ""


def annotate_on(tx: Transcript, contigs: ContigCache, pos: int, ref: str, alt: str) -> Annotation:
    """HGVS c./p. and consequence of a VCF allele on one transcript model."""
    seq = contigs.seq(tx.chrom)
    p, r, a = trim(pos, ref, alt)
    if not r and not a:
        return Annotation(tx.gene, tx.transcript_id, tx.refseq, "", "", "no_change", "", False)
    if not (r and a):
        p, r, a = place_indel(tx, seq, p, r, a)
    plus = tx.strand == "+"
    cs = (lambda s: s) if plus else revcomp

    # ---- c. ----
    if r:
        first, last = p, p + len(r) - 1
        label, cpos = _c_label(tx, first, last)
        if len(r) == 1 and len(a) == 1:
            hgvs_c = f"c.{label}{cs(r)}>{cs(a)}"
        elif not a:
            hgvs_c = f"c.{label}del"
        else:
            hgvs_c = f"c.{label}delins{cs(a)}"
        affected = list(range(first, last + 1))
    else:
        n = len(a)
        # the n bases 5' of the insertion in transcript orientation
        before = (p - n, p - 1) if plus else (p, p + n - 1)
        if contigs.bases(tx.chrom, *before) == a:
            label, cpos = _c_label(tx, *before)
            hgvs_c = f"c.{label}dup"
            affected = list(range(before[0], before[1] + 1))
        else:
            label, cpos = _c_label(tx, p - 1, p)
            hgvs_c = f"c.{label}ins{cs(a)}"
            affected = [p - 1, p]

    locs = [tx.locate(x) for x in affected]
    regions = {loc.region for loc in locs}
    exon = _exon_label(tx, affected)
    kd_range = KINASE_DOMAINS.get(tx.gene)
    in_kd = False

    if "cds" in regions and regions <= {"cds"}:
        hgvs_p, consequence, res = _coding(tx, contigs, p, r, a, cpos)
        if kd_range and res:
            in_kd = res[0] <= kd_range[1] and res[1] >= kd_range[0]
        splice = _near_boundary(tx, affected)
        if splice and consequence not in ("frameshift_variant",):
            consequence += "&splice_region_variant"
        return Annotation(
            tx.gene,
            tx.transcript_id,
            tx.refseq,
            hgvs_c,
            hgvs_p,
            consequence,
            exon,
            in_kd,
            *(res or (None, None)),
        )
    offsets = [loc.c.offset for loc in locs if loc.region == "intron"]
    if offsets or ("cds" in regions):
        # intronic, or an exon/intron-spanning change: splice class from the nearest base
        nearest = min((abs(o) for o in offsets), default=0)
        sign = next((o for o in offsets if abs(o) == nearest), 0)
        if "cds" in regions or nearest <= 2:
            consequence = "splice_donor_variant" if sign > 0 else "splice_acceptor_variant"
            if "cds" in regions and sign == 0:
                consequence = "splice_region_variant"
        elif nearest <= 8:
            consequence = "splice_region_variant&intron_variant"
        else:
            consequence = "intron_variant"
        if kd_range:
            c_anchor = next((loc.c.base for loc in locs if loc.c.kind == "cds"), None)
            if c_anchor is not None:
                res_anchor = (c_anchor + 2) // 3
                in_kd = kd_range[0] <= res_anchor <= kd_range[1] and nearest <= 8
        hgvs_p = "p.?" if consequence.startswith(("splice_donor", "splice_acceptor")) else ""
        return Annotation(
            tx.gene, tx.transcript_id, tx.refseq, hgvs_c, hgvs_p, consequence, exon, in_kd
        )
    region = locs[0].region
    consequence = {
        "utr5": "5_prime_UTR_variant",
        "utr3": "3_prime_UTR_variant",
        "upstream": "upstream_gene_variant",
        "downstream": "downstream_gene_variant",
    }.get(region, "non_coding_transcript_variant")
    return Annotation(tx.gene, tx.transcript_id, tx.refseq, hgvs_c, "", consequence, exon, False)


def _near_boundary(tx: Transcript, affected: list[int], distance: int = 3) -> bool:
    """An exonic change within ``distance`` bases of an exon/intron junction."""
    five_end = tx.exons[0][0] if tx.strand == "+" else tx.exons[0][1]
    three_end = tx.exons[-1][1] if tx.strand == "+" else tx.exons[-1][0]
    for s, e in tx.exons:
        for edge in (s, e):
            if edge == five_end and tx.start_complete or edge == three_end and tx.end_complete:
                continue
            if any(abs(x - edge) < distance for x in affected):
                return True
    return False


def _segment(tx: Transcript, c: int) -> tuple[int, int]:
    """The contiguous modelled c. range that holds coding base c (models may skip exons)."""
    runs: list[list[int]] = []
    for _, _, c_start, c_end in tx.cds:
        if runs and c_start == runs[-1][1] + 1:
            runs[-1][1] = c_end
        else:
            runs.append([c_start, c_end])
    if tx.has_stop:
        runs[-1][1] += 3
    for lo, hi in runs:
        if lo <= c <= hi:
            return lo, hi
    return runs[-1][0], runs[-1][1]


def _coding(
    tx: Transcript, contigs: ContigCache, p: int, r: str, a: str, cpos: list[CPos]
) -> tuple[str, str, tuple[int, int] | None]:
    """Protein change of an all-coding variant: apply it to the spliced CDS and translate."""
    plus = tx.strand == "+"
    c5 = cpos[0].base
    c3 = cpos[-1].base
    seg_lo, seg_hi = _segment(tx, c5)
    ref_cds = contigs.coding(tx, seg_lo, seg_hi)
    if ref_cds is None:
        return "p.?", "coding_sequence_variant", None
    contig = contigs.seq(tx.chrom)
    positions = tx.coding_positions[seg_lo - tx.c_first : seg_hi - tx.c_first + 1]
    # downstream sequence for frameshifts that read past the modelled stop (complete models)
    tail = ""
    if tx.end_complete:
        last = int(positions[-1])
        if plus:
            tail = contig[last : last + 3000]
        else:
            tail = revcomp(contig[max(0, last - 3001) : last - 1])
    ins_cs = a if plus else revcomp(a)
    if r:
        i0 = min(c5, c3) - seg_lo
        i1 = max(c5, c3) - seg_lo + 1
    else:
        # insertion between contig p-1 and p: place it after its 5' flank (transcript sense),
        # or before its 3' flank when the 5' flank is not coding (insertion at an exon start)
        five, three = (p - 1, p) if plus else (p, p - 1)
        loc5, loc3 = tx.locate(five), tx.locate(three)
        if loc5.region == "cds":
            i0 = i1 = loc5.c.base + 1 - seg_lo
        else:
            i0 = i1 = loc3.c.base - seg_lo
    start = (3 - (seg_lo - 1) % 3) % 3  # index of the first complete codon
    end = start + ((len(ref_cds) - start) // 3) * 3  # after the last complete codon
    if i0 < start or max(i0, i1 - 1) >= end:
        # a codon the model holds only in part (partial model ends): protein unknown
        return "p.?", "coding_sequence_variant", None
    codon_lo = start + ((i0 - start) // 3) * 3
    codon_hi = start + ((max(i1, i0 + 1) - 1 - start) // 3) * 3 + 3
    if "N" in ref_cds[codon_lo:codon_hi]:
        # the reference codon is not known (N padding in the panel reference)
        return "p.?", "coding_sequence_variant", None
    frameshift = (len(ins_cs) - (i1 - i0)) % 3 != 0
    # Translate from a few codons before the change (left context for dup detection) rather
    # than the whole segment; in-frame changes only need a window after it, since the peptides
    # re-align once the change is passed (the same number of codons follows in both).
    margin = 3 * (10 + len(ins_cs) // 3)
    begin = max(start, start + ((i0 - start) // 3) * 3 - margin)
    r0 = (seg_lo + begin + 2) // 3
    alt_cds = ref_cds[begin:i0] + ins_cs + ref_cds[i1:]
    ref_run = ref_cds[begin:]
    if frameshift:
        ref_pep = translate(ref_run + tail, to_stop=True)
        alt_pep = translate(alt_cds + tail, to_stop=True)
    else:
        after = i1 + margin + 3 * (len(ins_cs) // 3)
        ref_pep = translate(ref_cds[begin:after], to_stop=True)
        alt_pep = translate(alt_cds[: i0 - begin + len(ins_cs) + (after - i1)], to_stop=True)
        if after >= len(ref_cds) and tail:  # the window reaches the modelled stop
            ref_pep = translate(ref_run + tail, to_stop=True)
            alt_pep = translate(alt_cds + tail, to_stop=True)
    hgvs_p, consequence = _protein_change(ref_pep, alt_pep, r0, frameshift)
    if r:
        res_first = (seg_lo + i0 + 2) // 3
        res_last = (seg_lo + i1 - 1 + 2) // 3
    else:  # insertion/dup: the residues of the flanking (or duplicated) bases
        res_first, res_last = (min(c5, c3) + 2) // 3, (max(c5, c3) + 2) // 3
    if consequence == "synonymous_variant":
        res = res_first
        hgvs_p = f"p.{ref_pep[res - r0]}{res}="
    return hgvs_p, consequence, (res_first, res_last)


def choose_transcript(
    transcripts: TranscriptSet, chrom: str, pos: int, end: int
) -> Transcript | None:
    """The model a variant is described on: an overlapping one, else the nearest on the contig
    (a partial model's flank is an unmodelled intron; a complete one's within FLANK bases)."""
    hits = transcripts.overlapping(chrom, pos, end)
    if hits:
        return hits[0]
    best, best_d = None, None
    for tx in transcripts.nearest_in_contig(chrom):
        s, e = tx.span
        d = s - end if end < s else pos - e
        partial_side = (
            end < s and not (tx.start_complete if tx.strand == "+" else tx.end_complete)
        ) or (pos > e and not (tx.end_complete if tx.strand == "+" else tx.start_complete))
        if not partial_side and d > FLANK:
            continue
        if best_d is None or d < best_d:
            best, best_d = tx, d
    return best


def annotate_variant(
    transcripts: TranscriptSet, contigs: ContigCache, chrom: str, pos: int, ref: str, alt: str
) -> Annotation:
    """Annotate one VCF allele on the model it falls on (intergenic when none)."""
    tx = choose_transcript(transcripts, chrom, pos, pos + max(len(ref) - 1, 0))
    if tx is None:
        return Annotation("", None, None, "", "", "intergenic_variant", "", False)
    return annotate_on(tx, contigs, pos, ref, alt)
