"""Gene fusions (e.g. EML4-ALK) from capture DNA reads (resistcall fusion).

Method (docs/fusion.md): soft clips inside the target gene that share a clip position are
grouped; their consensus clipped sequence is placed on the panel reference (k-mer index), which
names the partner breakend even when the aligner recorded no split alignment (``bwa mem -M``
writes split parts as secondary and usually drops the SA tag). Each junction is then scored by
distinct fragments: reads that contain the junction sequence (split reads: clipped, secondary,
supplementary or SA-linked parts on either side), and read pairs with one mate on each side
pointing at the junction (discordant pairs). Every sample gets a status row, so "not detected at
this depth" is never confused with "not looked at".
"""

from __future__ import annotations

import argparse
import bisect
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pysam

from resistcall import outputs
from resistcall.annotation import check_against_fasta, fasta_lengths, load_annotation
from resistcall.contracts import FUSION_COLUMNS, FUSION_DETECTED, NOT_ASSESSABLE
from resistcall.coverage import base_depths
from resistcall.distributions import poisson_at_least, poisson_pmf
from resistcall.errors import UserError
from resistcall.fusion_evidence import (
    ADAPTERS,
    BamFrame,
    Clip,
    PanelSequence,
    ReadInfo,
    consensus,
    informative,
    revcomp,
    split_junction,
    usable,
)
from resistcall.fusion_variants import KNOWN_VARIANTS, known_partners
from resistcall.fusion_vcf import write_vcf
from resistcall.options import add_options, from_args, option
from resistcall.qcgate import not_assessable, read_qc
from resistcall.reference import BUILD, BUILDS, contig_offset, preflight_bams

log = logging.getLogger(__name__)

#: Introns where the gene's fusion breakpoints cluster; their depth decides "not assessable".
BREAKPOINT_INTRONS = {"ALK": (19,), "ROS1": (31, 32, 33, 34), "RET": (11,)}

NA = "."
#: A reference larger than this (a whole genome) is held in memory only around the modelled
#: genes (+- WINDOW_PAD) for k-mer placement of clips; reads of a whole-genome BAM name far
#: partners through their SA tags (docs/fusion.md, docs/reference.md).
WHOLE_REFERENCE_LIMIT = 20_000_000
WINDOW_PAD = 100_000
#: most bases of a whole genome held for the modelled genes (:func:`held_windows`)
HELD_LIMIT = 50_000_000
#: k-mer size for "does the clipped sequence come from the target locus itself?"
LOCAL_K = 12
#: longest reference span of one alignment considered when looking reads up by start
READ_SPAN = 1000
#: spacing (bp) of the would-be breakpoints over the breakpoint region at which spanning
#: fragments are counted (:func:`spanning_fragments`)
SPAN_STEP = 50
#: probability of a call at the reported detection limit (:func:`detection_limit`)
POWER = 0.95


@dataclass(frozen=True)
class Settings:
    """Fusion calling settings: the ``fusion:`` config keys and ``resistcall fusion`` options
    (:mod:`resistcall.options`; docs/fusion.md)."""

    gene: str = option("ALK", "gene whose fusions are called (its 3' partner side), a GTF gene")
    min_fragments: int = option(5, "distinct supporting fragments to call a fusion", ge=1)
    min_split_reads: int = option(2, "of which split-read fragments", ge=1)
    min_depth: int = option(
        20, "median depth over the breakpoint region below which: not assessable", ge=1
    )
    min_clip: int = option(5, "shortest soft clip used as breakpoint evidence (bp)", ge=1)
    min_clip_match: int = option(
        3, "shortest clip compared with the fused sequence at a junction", ge=1
    )
    min_cluster_reads: int = option(1, "reads a clip cluster needs to become a candidate", ge=1)
    max_insert: int = option(1000, "largest insert size for discordant pairs", ge=1)
    anchor: int = option(8, "bases a split read must align on each side of the junction", ge=1)
    gene_pad: int = option(1000, "bp around the gene searched for breakpoints", ge=0)

    def __post_init__(self) -> None:
        if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.gene) is None:
            raise UserError(f"fusion gene must be a gene name such as ALK, not {self.gene!r}")


@dataclass
class Gene:
    name: str
    chrom: str
    start: int  # GRCh38, 1-based inclusive
    end: int
    strand: str
    exons: list[tuple[int, int, int]]  # (exon number, start, end) GRCh38
    coding: bool = True

    def location(self, pos: int) -> tuple[str, int | None, int | None]:
        """('exon n' | 'intron n' | ..., last exon before, first exon after) in transcript order."""
        ex = sorted(self.exons)
        if not ex:
            return "gene body (no model)", None, None
        for n, s, e in ex:
            if s <= pos <= e:
                return f"exon {n}", n, n
        for (n1, s1, e1), (n2, s2, e2) in zip(ex, ex[1:], strict=False):
            lo, hi = min(e1, e2) + 1, max(s1, s2) - 1
            if lo <= pos <= hi and n2 == n1 + 1:
                return f"intron {n1}", n1, n2
        first, last = ex[0], ex[-1]
        upstream = pos < first[1] if self.strand == "+" else pos > first[2]
        if upstream:
            return f"upstream of exon {first[0]}", None, first[0]
        return f"downstream of exon {last[0]}", last[0], None

    def breakpoint_region(self) -> tuple[int, int, str]:
        """GRCh38 span of the breakpoint-cluster introns (whole gene if unknown)."""
        spans = []
        for n in BREAKPOINT_INTRONS.get(self.name, ()):
            a = [x for x in self.exons if x[0] == n]
            b = [x for x in self.exons if x[0] == n + 1]
            if a and b:
                spans.append((min(a[0][2], b[0][2]) + 1, max(a[0][1], b[0][1]) - 1))
        if spans:
            label = ", ".join(f"intron {n}" for n in BREAKPOINT_INTRONS[self.name])
            return min(s for s, _ in spans), max(e for _, e in spans), f"{self.name} {label}"
        return self.start, self.end, f"{self.name} gene"


def load_genes(gtf: str | Path, fasta_lengths: dict[str, int]) -> dict[str, Gene]:
    """Genes of the annotation in GRCh38: exons of the chosen transcript where modelled, the span
    only otherwise (a partner named by position, exon unknown). Coding genes come first."""
    ann = check_against_fasta(load_annotation(gtf), gtf, fasta_lengths)
    models = ann.models[ann.models["Feature"] == "exon"]
    exons: dict[str, list[tuple[int, int, int]]] = {}
    for name, rows in models.groupby("gene_name", observed=True):
        chrom, off = contig_offset(str(rows["Chromosome"].iloc[0]))
        numbers = rows["exon_number"] if "exon_number" in rows else range(1, len(rows) + 1)
        exons[str(name)] = sorted(
            (int(n), off + int(s) + 1, off + int(e))
            for n, s, e in zip(numbers, rows["Start"], rows["End"], strict=True)
        )
    genes: dict[str, Gene] = {}
    spans = ann.spans.sort_values(["coding", "gene"], ascending=[False, True], kind="stable")
    for name, contig, start, end, strand, coding in zip(
        spans["gene"],
        spans["chrom"],
        spans["start"],
        spans["end"],
        spans["strand"],
        spans["coding"],
        strict=True,
    ):
        if name in genes:
            continue
        chrom, off = contig_offset(contig)
        ex = exons.get(name, [])
        lo = min((x[1] for x in ex), default=off + start)
        hi = max((x[2] for x in ex), default=off + end)
        genes[name] = Gene(name, chrom, lo, hi, strand, ex, bool(coding))
    return genes


def gene_at(genes: dict[str, Gene], chrom: str, pos: int) -> Gene | None:
    """First gene (coding genes first, load_genes order) whose span holds chrom:pos."""
    for g in genes.values():
        if g.chrom == chrom and g.start <= pos <= g.end:
            return g
    return None


@dataclass
class Junction:
    """A candidate junction seen from the target gene (target breakend + partner breakend)."""

    t_chrom: str
    t_pos: int  # maximal (through microhomology) retained end on the target
    t_side: int
    consensus: str
    p_chrom: str | None = None
    p_pos: int | None = None  # partner outward start, microhomology excluded
    p_side: int | None = None
    insertion: str = ""
    homology: str = ""
    split: set = field(default_factory=set)
    pairs: set = field(default_factory=set)
    #: unplaced partner: (chrom, lo, hi) where its split reads align (whole-genome BAMs)
    located: tuple[str, int, int] | None = None

    @property
    def partner_locus(self) -> str:
        """:attr:`located` as ``chrom:lo-hi`` (status sentence, VCF PARTNER_LOCUS); "" if none."""
        if self.located is None:
            return ""
        chrom, lo, hi = self.located
        return f"{chrom}:{lo}-{hi}"

    @property
    def p_strand(self) -> str:
        return "+" if self.p_side == -1 else "-"

    @property
    def partner(self) -> tuple[str, int]:
        """(chrom, outward start) of a placed partner; callers check ``p_pos is not None``."""
        assert self.p_chrom is not None and self.p_pos is not None, "partner not placed"
        return self.p_chrom, self.p_pos

    @property
    def p_pos_max(self) -> int:
        """Partner breakend extended through the microhomology (what its own clips show)."""
        pos, h = self.partner[1], len(self.homology)
        return pos - h if self.p_strand == "+" else pos + h


def _target_outward(panel: PanelSequence, chrom: str, pos: int, side: int, n: int) -> str:
    """n target bases ending at the breakend, read towards it (the outward frame)."""
    if side == +1:
        return panel.fetch(chrom, pos - n + 1, pos)
    return revcomp(panel.fetch(chrom, pos, pos + n - 1))


def _homology(panel: PanelSequence, j: Junction, limit: int = 30) -> str:
    """Bases at the end of the target side that the partner also has just before its start."""
    if j.p_pos is None or j.insertion:
        return ""
    tgt = _target_outward(panel, j.t_chrom, j.t_pos, j.t_side, limit)
    h = 0
    while h < limit:
        nxt = h + 1
        p_chrom, p_pos = j.partner
        start = p_pos - nxt if j.p_strand == "+" else p_pos + nxt
        before = panel.outward(p_chrom, start, j.p_strand, nxt)
        if "N" in before or before != tgt[-nxt:]:
            break
        h = nxt
    return tgt[len(tgt) - h :] if h else ""


def fused_outward(panel: PanelSequence, j: Junction, width: int = 60) -> tuple[str, int]:
    """(fused sequence in the target-outward frame, index of the first non-target base)."""
    tgt = _target_outward(panel, j.t_chrom, j.t_pos, j.t_side, width)
    if j.p_pos is not None:
        part = panel.outward(*j.partner, j.p_strand, width)
    else:
        part = j.consensus
    return tgt + j.insertion + part, len(tgt)


def find_candidates(
    bam, frame: BamFrame, panel: PanelSequence, target: Gene, genes: dict[str, Gene], cfg: Settings
):
    """Clip clusters in the target gene placed on the panel, plus reads with distant mates."""
    reg = frame.region(panel, target.chrom, target.start - cfg.gene_pad, target.end + cfg.gene_pad)
    clips: dict[tuple, list[Clip]] = {}
    distant: list[tuple] = []
    infos: list[ReadInfo] = []
    if reg is None:
        return [], distant, infos
    for read in bam.fetch(*reg):
        info = informative(read, frame)
        if info is not None:
            infos.append(info)
            for c in info.clips:
                if len(c.outward) >= cfg.min_clip:
                    clips.setdefault((c.chrom, c.pos, c.side), []).append(c)
        if usable(read) and (
            read.is_paired
            and not read.mate_is_unmapped
            and not read.is_secondary
            and not read.is_supplementary
        ):
            mchrom, mpos = frame.to_genomic(read.next_reference_name, read.next_reference_start + 1)
            chrom, pos = frame.to_genomic(read.reference_name, read.reference_start + 1)
            if mchrom != chrom or abs(mpos - pos) > 10 * cfg.max_insert:
                distant.append(
                    (
                        read.query_name,
                        chrom,
                        pos,
                        frame.to_genomic(read.reference_name, read.reference_end)[1],
                        read.is_reverse,
                        mchrom,
                        mpos,
                        read.mate_is_reverse,
                    )
                )
    k = panel.k
    local_seq = panel.fetch(
        target.chrom,
        target.start - cfg.gene_pad - 10 * cfg.max_insert,
        target.end + cfg.gene_pad + 10 * cfg.max_insert,
    )
    local = _kmers(local_seq, LOCAL_K) | _kmers(revcomp(local_seq), LOCAL_K)
    cands: list[Junction] = []
    for (chrom, pos, side), group in sorted(clips.items()):
        long = [c.outward for c in group if len(c.outward) >= k]
        if len({c.name for c in group if len(c.outward) >= k}) < cfg.min_cluster_reads:
            continue
        cons = consensus(long, min_depth=min(2, len(long)))
        if (
            len(cons) < k
            or _has_adapter(cons)
            or _low_complexity(cons)
            or _low_complexity(cons[:20])
        ):
            continue  # adapter read-through, poly-G / poly-T tails
        ahead = (
            panel.fetch(chrom, pos + 1, pos + 20)
            if side == +1
            else panel.fetch(chrom, pos - 20, pos - 1)
        )
        if "N" in ahead:
            continue  # the panel's known sequence ends here: clipped bases are just unknown
        j = Junction(chrom, pos, side, cons)
        hit = panel.place(cons)
        if hit is None:
            if len(local & _kmers(cons, LOCAL_K)) >= 2:
                continue  # clipped bases come from the target locus: indel, fold-back artefact
            # an unplaced partner is kept only where a fusion can make a product: the target
            # keeps its 3' part (ALK kinase) and breaks in its breakpoint-cluster region
            keeps_3p = (target.strand == "+") == (side == -1)
            lo, hi, _ = target.breakpoint_region()
            if not keeps_3p or not lo - 200 <= pos <= hi + 200:
                continue
        else:
            same_gene = gene_at(genes, hit.chrom, hit.pos)
            if hit.chrom == chrom and (
                abs(hit.pos - pos) < 10 * cfg.max_insert
                or (same_gene is not None and same_gene.name == target.name)
            ):
                continue  # local event (indel, small rearrangement inside the gene): not a fusion
            j.p_chrom, j.p_pos = hit.chrom, hit.pos
            j.p_side = -1 if hit.strand == "+" else +1
            j.insertion = cons[: hit.offset]
            j.homology = _homology(panel, j)
        cands.append(j)
    cands.extend(_split_candidates(infos, panel, target, cfg))
    infos.sort(key=lambda r: (r.chrom, r.start))
    return _dedupe(cands, clips), distant, infos


def _split_candidates(
    infos: list[ReadInfo], panel: PanelSequence, target: Gene, cfg: Settings
) -> list[Junction]:
    """Junctions read from split alignments (SA tags), needed where the target-side part is
    hard-clipped (bwa's supplementary records) so no clipped bases are stored with it."""
    seen: dict[tuple, set] = {}
    for r in infos:
        if r.part is None or not (
            target.start - cfg.gene_pad <= r.part.start <= target.end + cfg.gene_pad
        ):
            continue
        for sp in r.sa_parts:
            if sp.chrom == r.part.chrom and abs(sp.start - r.part.start) < 10 * cfg.max_insert:
                continue
            t_pos, t_side, p_max, p_side, overlap, gap = split_junction(r.part, sp)
            if gap:
                continue  # inserted bases unknown here; the soft-clipped part reports them
            key = (r.part.chrom, t_pos, t_side, sp.chrom, p_max, p_side, overlap)
            seen.setdefault(key, set()).add(r.name)
    out = []
    for t_chrom, t_pos, t_side, p_chrom, p_max, p_side, overlap in sorted(seen):
        p_pos = p_max + overlap if p_side == -1 else p_max - overlap
        strand = "+" if p_side == -1 else "-"
        partner_seq = panel.outward(p_chrom, p_pos, strand, 40)
        if "N" in partner_seq[:20]:
            continue  # partner not in the panel's known sequence
        j = Junction(t_chrom, t_pos, t_side, partner_seq, p_chrom, p_pos, p_side)
        j.homology = _homology(panel, j)
        out.append(j)
    return out


def _has_adapter(seq: str) -> bool:
    """An adapter core (at most one mismatch) within the first 30 clipped bases."""
    head = seq[:30]
    for probe in ADAPTERS:
        for i in range(len(head) - len(probe) + 1):
            window = head[i : i + len(probe)]
            if sum(a != b for a, b in zip(window, probe, strict=True)) <= 1:
                return True
    return False


def _kmers(seq: str, k: int) -> set[str]:
    return {seq[i : i + k] for i in range(len(seq) - k + 1) if "N" not in seq[i : i + k]}


def _low_complexity(seq: str) -> bool:
    """Poly-G tails (two-colour chemistry) and similar: one base over 60% of the sequence."""
    counts = [seq.count(b) for b in "ACGT"]
    return max(counts) > 0.6 * len(seq) if len(seq) > 20 else max(counts) > 0.7 * len(seq)


def _dedupe(cands: list[Junction], clips: dict) -> list[Junction]:
    """Keep one candidate per junction (neighbouring clip positions from sequencing errors)."""
    size = {id(j): len(clips.get((j.t_chrom, j.t_pos, j.t_side), ())) for j in cands}
    kept: list[Junction] = []
    for j in sorted(cands, key=lambda x: (-size[id(x)], x.t_pos)):
        dup = False
        for o in kept:
            if o.t_chrom == j.t_chrom and o.t_side == j.t_side and abs(o.t_pos - j.t_pos) <= 10:
                if (o.p_pos is None) == (j.p_pos is None) and (
                    o.p_pos is None
                    or (o.p_chrom == j.p_chrom and abs(o.partner[1] - j.partner[1]) <= 10)
                ):
                    dup = True
                    break
        if not dup:
            kept.append(j)
    return kept


def count_evidence(
    bam,
    frame: BamFrame,
    panel: PanelSequence,
    j: Junction,
    distant: list,
    infos: list[ReadInfo],
    cfg: Settings,
    claimed: frozenset[str] | set[str] = frozenset(),
) -> None:
    """Fill j.split (fragments with a read containing the junction) and j.pairs."""
    fused, at = fused_outward(panel, j)
    h, a = len(j.homology), cfg.anchor
    core = fused[at - h - a : at + len(j.insertion) + a]
    if len(core) < 2 * a + h or "N" in core:
        return
    cores = (core, revcomp(core))
    # expected outward clip sequence d bases before the breakend, seen from either side
    p_len = len(fused) - at - len(j.insertion) if j.p_pos is not None else 0
    from_partner = revcomp(fused)
    windows = [(j.t_chrom, j.t_pos, j.t_side, j.t_pos)]
    if j.p_pos is not None:
        windows.append((*j.partner, cast(int, j.p_side), j.partner[1]))
    starts = [(r.chrom, r.start) for r in infos]
    for wi, (chrom, pos, side, anchor_pos) in enumerate(windows):
        if wi == 0:  # target side: the reads already read once for candidate discovery
            lo = bisect.bisect_left(starts, (chrom, pos - 200 - READ_SPAN))
            hi = bisect.bisect_right(starts, (chrom, pos + 200))
            reads = [r for r in infos[lo:hi] if r.end >= pos - 200]
        else:
            reg = frame.region(panel, chrom, pos - 200, pos + 200)
            if reg is None:
                continue
            reads = [r for r in map(lambda x: informative(x, frame), bam.fetch(*reg)) if r]
        for read in reads:
            if cores[0] in read.seq or cores[1] in read.seq:
                j.split.add(read.name)
                continue
            for c in read.clips:
                if c.chrom != chrom or c.side != side:
                    continue
                if wi == 0:
                    d = (anchor_pos - c.pos) * side
                    expected = fused[at - d :] if 0 <= d <= h + 2 else ""
                else:
                    d = (c.pos - anchor_pos) * side
                    expected = from_partner[p_len + d :] if -2 <= d <= h else ""
                if expected and clip_supports(c.outward, expected, cfg.min_clip_match):
                    j.split.add(read.name)
            if j.p_pos is not None and wi == 0:
                for schrom, sg in read.sa:
                    if schrom == j.p_chrom and abs(sg - j.p_pos) <= 200:
                        j.split.add(read.name)
    w = cfg.max_insert
    if j.p_pos is None:
        _locate_unknown_partner(j, infos, cfg, panel, claimed)
        return
    for name, chrom, start, end, rev, mchrom, mpos, mrev in distant:
        if mchrom != j.p_chrom:
            continue
        near_t = _points_at_breakend(j, chrom, start, end, rev, w)
        if j.p_side == +1:
            near_p = (not mrev) and j.p_pos - w <= mpos <= j.p_pos
        else:
            near_p = mrev and j.p_pos - 200 <= mpos <= j.p_pos + w
        if near_t and near_p:
            j.pairs.add(name)


def _points_at_breakend(j: Junction, chrom: str, start: int, end: int, rev: bool, w: int) -> bool:
    """A target read on the kept side, within w of the breakend and pointing at it."""
    if chrom != j.t_chrom:
        return False
    if j.t_side == +1:
        return (not rev) and j.t_pos - w <= start <= j.t_pos
    return rev and j.t_pos <= end <= j.t_pos + w


def _locate_unknown_partner(
    j: Junction,
    infos: list[ReadInfo],
    cfg: Settings,
    panel: PanelSequence | None = None,
    claimed: frozenset[str] | set[str] = frozenset(),
) -> None:
    """Where an unplaced partner lies according to the aligner (whole-genome BAMs): the SA
    parts of the junction's own split reads. Recorded if >= 2 fragments agree within 2 kb and
    the place is not in the panel's known sequence (there the partner would have been placed).

    Distant mates are deliberately not used, neither for the locus nor as support: in the real
    hg38 BAMs, pairs from all over ALK intron 19 in both H3122 and HCC827 have mates at one
    off-target locus (chr2:32.92 Mb), which would make an "unknown partner" fusion out of
    nothing."""
    hits = [
        (sp.chrom, sp.start, r.name)
        for r in infos
        if r.name in j.split and r.name not in claimed
        for sp in r.sa_parts
        if sp.chrom != j.t_chrom or abs(sp.start - j.t_pos) > 10 * cfg.max_insert
    ]
    by_chrom: dict[str, list] = {}
    for h in hits:
        by_chrom.setdefault(h[0], []).append(h)
    best = None
    for _, group in sorted(by_chrom.items()):
        centre = int(np.median([g[1] for g in group]))
        near = [g for g in group if abs(g[1] - centre) <= 2000]
        if len({g[2] for g in near}) >= 2 and (best is None or len(near) > len(best)):
            best = near
    if best is None:
        return
    lo, hi = min(g[1] for g in best), max(g[1] for g in best)
    if panel is not None and "N" not in panel.fetch(best[0][0], (lo + hi) // 2, (lo + hi) // 2):
        return
    j.located = (best[0][0], lo, hi)


def located_partner_genes(junctions: list[Junction], genes: dict[str, Gene]) -> list[Gene]:
    """Coding genes holding the locus where an unplaced partner's split reads align (the SA
    parts, :func:`_locate_unknown_partner`), by name: on a whole genome the caller holds their
    sequence on demand and places the partner there like a modelled one (docs/fusion.md)."""
    found: dict[str, Gene] = {}
    for j in junctions:
        if j.p_pos is not None or j.located is None:
            continue
        chrom, lo, hi = j.located
        gene = next(
            (
                g
                for g in genes.values()
                if g.coding and g.chrom == chrom and g.start <= lo and hi <= g.end
            ),
            None,
        )
        if gene is not None:
            found[gene.name] = gene
    return [found[name] for name in sorted(found)]


def clip_supports(clip: str, expected: str, min_len: int) -> bool:
    """A clip supports a junction if it reads like the fused sequence beyond the breakend:
    exact for short clips (< 10 bases), at most 10% mismatches for longer ones."""
    if len(clip) < min_len or len(expected) < len(clip):
        return False
    mism = sum(a != b for a, b in zip(clip, expected, strict=False))
    return mism <= len(clip) // 10


def region_depth(
    bam_path: str, frame: BamFrame, panel: PanelSequence, target: Gene
) -> tuple[str, float]:
    """(label, median depth) over the target's breakpoint-cluster region; nan if absent.
    Depth as QC measures it (``coverage.base_depths``)."""
    start, end, label = target.breakpoint_region()
    reg = frame.region(panel, target.chrom, start, end)
    if reg is None or reg[2] <= reg[1]:
        return label, float("nan")
    region = pd.DataFrame([reg], columns=["chrom", "start", "end"])
    (cov,), _ = base_depths(bam_path, region, 0, panel.path)  # a CRAM: decoded with the FASTA
    return label, float(np.median(cov))


def spanning_fragments(
    bam, frame: BamFrame, panel: PanelSequence, target: Gene, cfg: Settings
) -> tuple[float, float]:
    """(n_span, n_split): median over would-be breakpoints every :data:`SPAN_STEP` bp of the
    breakpoint region of the fragments that would support a junction there if it existed, with
    the caller's evidence rules (docs/fusion.md "What detection_limit_af is"); nan if absent."""
    start, end, _ = target.breakpoint_region()
    positions = np.arange(start, end + 1, SPAN_STEP)
    counts = spanning_counts(bam, frame, panel, target.chrom, positions, cfg)
    if counts is None:
        return float("nan"), float("nan")
    span, split = counts
    return float(np.median(span)), float(np.median(split))


def spanning_counts(
    bam, frame: BamFrame, panel: PanelSequence, chrom: str, positions: np.ndarray, cfg: Settings
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per would-be breakpoint of ``positions`` (sorted, GRCh38 on ``chrom``): fragments that
    would support a junction there (n_span) and those of them that would be split reads
    (n_split); None if the BAM has no sequence there.

    At a position p (junction between p and p + 1), a fragment would be
    - a split read if any of its usable alignments (:func:`usable`: mapped, not duplicate, not
      QC-failed; secondary and supplementary included, as for split reads) crosses p with at
      least ``min_clip`` aligned reference bases on each side;
    - a discordant pair if it is a primary forward read, mate mapped and reverse on the same
      contig, template 1..``max_insert`` bp, that ends at or before p while its mate starts
      after p (the caller's pairs: primary reads pointing at the breakend).
    n_split counts the first kind, n_span the union (distinct read names)."""
    if positions.size == 0:
        return None
    lo_pos, hi_pos = int(positions[0]), int(positions[-1])
    reg = frame.region(panel, chrom, lo_pos - cfg.max_insert, hi_pos + cfg.max_insert)
    if reg is None or reg[2] <= reg[1]:
        return None
    split: list[set[str]] = [set() for _ in positions]
    pairs: list[set[str]] = [set() for _ in positions]
    c = cfg.min_clip
    for read in bam.fetch(*reg):
        name, contig, ref_end = read.query_name, read.reference_name, read.reference_end
        if not usable(read) or name is None or contig is None or ref_end is None:
            continue
        on, first = frame.to_genomic(contig, read.reference_start + 1)
        if on != chrom:
            continue
        last = first + ref_end - read.reference_start - 1
        # crosses p by >= c bases each side: first <= p - c + 1 and last >= p + c
        lo = int(np.searchsorted(positions, first + c - 1, "left"))
        hi = int(np.searchsorted(positions, last - c, "right"))
        for i in range(lo, hi):
            split[i].add(name)
        if (
            read.is_paired
            and not read.mate_is_unmapped
            and not read.is_secondary
            and not read.is_supplementary
            and not read.is_reverse
            and read.mate_is_reverse
            and read.next_reference_name == contig
            and 0 < read.template_length <= cfg.max_insert
        ):
            mate_first = frame.to_genomic(contig, read.next_reference_start + 1)[1]
            # read ends at or before p, mate starts after p: last <= p <= mate_first - 1
            lo = int(np.searchsorted(positions, last, "left"))
            hi = int(np.searchsorted(positions, mate_first - 1, "right"))
            for i in range(lo, hi):
                pairs[i].add(name)
    n_span = np.array([len(a | b) for a, b in zip(split, pairs, strict=True)])
    return n_span, np.array([len(a) for a in split])


def detection_power(
    f: float, n_span: float, n_split: float, min_fragments: int, min_split_reads: int
) -> float:
    """P(call) for a fusion at allele fraction f: split-read fragments S ~ Poisson(f n_split),
    pair-only fragments D ~ Poisson(f (n_span - n_split)), independent (Poisson thinning);
    a call needs S >= min_split_reads and S + D >= min_fragments."""
    lam_s, lam_d = f * n_split, f * max(n_span - n_split, 0.0)
    s, m = min_split_reads, min_fragments
    if lam_s <= 0:
        return 0.0  # min_split_reads >= 1 (Settings): no split read, no call
    alone = float(poisson_at_least(max(s, m), lam_s))  # S alone reaches both thresholds
    k = np.arange(s, m)  # S = k split reads, D >= m - k more from pairs
    return alone + float(np.sum(poisson_pmf(k, lam_s) * poisson_at_least(m - k, lam_d)))


def detection_limit(
    n_span: float,
    n_split: float,
    min_fragments: int,
    min_split_reads: int,
    power: float = POWER,
) -> float:
    """Smallest allele fraction f in (0, 1] detected with probability >= power
    (:func:`detection_power`); 1.0 when even f = 1 falls short; nan when n_span is nan.
    Found by bisection (power rises with f), to a relative 1e-6: deterministic."""
    if np.isnan(n_span) or np.isnan(n_split):
        return float("nan")
    if detection_power(1.0, n_span, n_split, min_fragments, min_split_reads) < power:
        return 1.0
    lo, hi = 0.0, 1.0
    while hi - lo > 1e-6 * hi:
        mid = (lo + hi) / 2
        if detection_power(mid, n_span, n_split, min_fragments, min_split_reads) >= power:
            hi = mid
        else:
            lo = mid
    return hi


def junction_row(
    sample: str,
    j: Junction,
    panel: PanelSequence,
    genes: dict[str, Gene],
    target: Gene,
    cfg: Settings,
    label: str,
    depth: float,
    span: tuple[float, float] = (float("nan"), float("nan")),
) -> dict:
    """One fusions.tsv row for a candidate junction (5'/3' from gene strands and sides);
    ``span`` = (n_span, n_split) of :func:`spanning_fragments`."""
    partner = gene_at(genes, j.partner[0], j.p_pos_max) if j.p_pos is not None else None
    # the retained part of a gene is its 3' part when the kept sequence lies downstream
    t_is_3p = (target.strand == "+") == (j.t_side == -1)
    t_loc, t_before, t_after = target.location(j.t_pos)
    t_contig, t_cpos = panel.contig_label(j.t_chrom, j.t_pos)
    t_bp = f"{t_contig}:{t_cpos}"
    t_gen = f"{j.t_chrom}:{j.t_pos}"
    if j.p_pos is None:
        p_name, p_bp, p_gen, p_loc, p_before, p_after = "unknown", NA, NA, NA, None, None
    else:
        pc, pp = panel.contig_label(j.partner[0], j.p_pos_max)
        p_bp, p_gen = f"{pc}:{pp}", f"{j.partner[0]}:{j.p_pos_max}"
        if partner is None:
            p_name, p_loc, p_before, p_after = "intergenic", NA, None, None
        else:
            p_name = partner.name
            p_loc, p_before, p_after = partner.location(j.p_pos_max)
    fused, at = fused_outward(panel, j, width=20 + len(j.homology))
    h = len(j.homology)
    left, right = fused[: at - h], fused[at - h : at + len(j.insertion) + 20]
    # junction in transcript sense of the 5' gene: target first if it is 5', else reverse
    if t_is_3p:
        p_sense = revcomp(right[h + len(j.insertion) :]) if j.p_pos is not None else revcomp(right)
        junction = (
            f"{p_sense}{revcomp(j.insertion).lower()}"
            + (f"[{revcomp(j.homology)}]" if h else "")
            + f"|{revcomp(left)}"
        )
        g5, g3, bp5, bp3, gen5, gen3, loc5, loc3 = (
            p_name,
            target.name,
            p_bp,
            t_bp,
            p_gen,
            t_gen,
            p_loc,
            t_loc,
        )
        last5, first3 = p_before, t_after
    else:
        junction = (
            f"{left}"
            + (f"[{j.homology}]" if h else "")
            + f"|{j.insertion.lower()}{right[h + len(j.insertion) :]}"
        )
        g5, g3, bp5, bp3, gen5, gen3, loc5, loc3 = (
            target.name,
            p_name,
            t_bp,
            p_bp,
            t_gen,
            p_gen,
            t_loc,
            p_loc,
        )
        last5, first3 = t_before, p_after
    exons = NA
    if last5 is not None and first3 is not None and p_name not in ("unknown", "intergenic"):
        exons = f"{g5[0]}{last5};{g3[0]}{first3}"
    variant = KNOWN_VARIANTS.get((g5, last5, g3, first3), NA)
    frags = j.split | j.pairs
    called = len(frags) >= cfg.min_fragments and len(j.split) >= cfg.min_split_reads
    name = f"{g5}-{g3}" + (f" {variant}" if variant != NA else "")
    status = (
        f"{name} detected: {len(frags)} fragments ({len(j.split)} split reads, "
        f"{len(j.pairs)} discordant pairs)"
        if called
        else f"{name} candidate below threshold: {len(frags)} fragments"
    )
    if not t_is_3p:
        status += f"; {target.name} keeps its 5' part (reciprocal side, no {target.name} kinase)"
    if j.p_pos is None:
        status += (
            f"; partner not in the panel reference, its reads align at {j.partner_locus}"
            if j.partner_locus
            else "; partner not in the panel reference"
        )
    return {
        "sample": sample,
        "gene_5p": g5,
        "gene_3p": g3,
        "breakpoint_5p": bp5,
        "breakpoint_3p": bp3,
        "genomic_5p": gen5,
        "genomic_3p": gen3,
        "location_5p": loc5,
        "location_3p": loc3,
        "exons": exons,
        "variant": variant,
        "split_reads": len(j.split),
        "discordant_pairs": len(j.pairs),
        "fragments": len(frags),
        "microhomology": j.homology or NA,
        "inserted_sequence": j.insertion or NA,
        "junction_sequence": junction,
        "partner_sequence": j.consensus if j.p_pos is None else NA,
        "call": FUSION_DETECTED if called else "below threshold",
        "min_fragments": cfg.min_fragments,
        "min_split_reads": cfg.min_split_reads,
        "breakpoint_region": label,
        "region_depth": _fmt_depth(depth),
        "spanning_fragments": _fmt_count(span[0]),
        "spanning_split_reads": _fmt_count(span[1]),
        "detection_limit_af": _limit(cfg, depth, span),
        "status": status,
        "_junction": j,
    }


def _fmt_depth(depth: float) -> str:
    return NA if np.isnan(depth) else f"{depth:.0f}"


def _fmt_count(n: float) -> str:
    """A median count as shown (and used by :func:`_limit`): integer, or .5 between two."""
    if np.isnan(n):
        return NA
    return f"{n:.0f}" if n == int(n) else f"{n:.1f}"


def _limit(cfg: Settings, depth: float, span: tuple[float, float]) -> str:
    """95%-power detection limit (:func:`detection_limit`) from the spanning fragments, 3
    significant digits; '.' where the region has no reads."""
    n_span, n_split = span
    if np.isnan(depth) or depth <= 0 or np.isnan(n_span) or np.isnan(n_split):
        return NA
    f = detection_limit(n_span, n_split, cfg.min_fragments, cfg.min_split_reads)
    return f"{f:.3g}"


def status_row(
    sample: str,
    target: Gene,
    cfg: Settings,
    label: str,
    depth: float,
    n_below: int,
    qc_reason: str | None = None,
    span: tuple[float, float] = (float("nan"), float("nan")),
) -> dict:
    """Per-sample row: 'not detected' (with the depth and spanning fragments it rests on) or
    'not assessable' (too little depth, or ``qc_reason``: the sample failed QC or its reads are
    too short)."""
    assessable = not np.isnan(depth) and depth >= cfg.min_depth and qc_reason is None
    # a limit is what a negative rests on: none for a sample that could not be assessed
    limit = _limit(cfg, depth, span) if assessable else NA
    if qc_reason is not None:
        call, reason = NOT_ASSESSABLE, qc_reason
        status = f"{target.name} fusion not assessable: {qc_reason}"
    elif assessable:
        call = "not detected"
        status = (
            f"no {target.name} fusion detected at median {depth:.0f}x over {label}: "
            f"{_fmt_count(span[0])} fragments span a breakpoint there, enough to detect a "
            f"fusion at allele fraction >= {limit} with 95% power "
            f"(>= {cfg.min_fragments} fragments, >= {cfg.min_split_reads} split reads)"
        )
        reason = NA
    else:
        call = NOT_ASSESSABLE
        shown = "no reads" if np.isnan(depth) else f"median {depth:.0f}x"
        reason = f"{shown} over {label} (< {cfg.min_depth}x)"
        status = f"{target.name} fusion not assessable: {reason}"
    if n_below:
        status += f"; {n_below} candidate(s) below threshold listed"
    row: dict[str, Any] = dict.fromkeys(FUSION_COLUMNS, NA)
    row.update(
        sample=sample,
        gene_3p=target.name,
        split_reads=0,
        discordant_pairs=0,
        fragments=0,
        call=call,
        min_fragments=cfg.min_fragments,
        min_split_reads=cfg.min_split_reads,
        breakpoint_region=label,
        region_depth=_fmt_depth(depth),
        spanning_fragments=_fmt_count(span[0]),
        spanning_split_reads=_fmt_count(span[1]),
        detection_limit_af=limit,
        status=status,
        reason=reason,
    )
    return row


def call_sample(
    bam_path: str,
    sample: str,
    panel: PanelSequence,
    genes: dict[str, Gene],
    target: Gene,
    cfg: Settings,
    qc: dict[str, dict] | None = None,
) -> list[dict]:
    """All rows of one BAM: detected/below-threshold junctions, then a status row if needed.

    A sample that failed QC (``qc``, from its qc.json) gets only a 'not assessable' row; one
    whose reads are too short for fusion evidence keeps what was detected, and 'not detected'
    becomes 'not assessable'."""
    qc_reason = not_assessable(qc or {}, sample, "fusion")
    with pysam.AlignmentFile(bam_path, reference_filename=str(panel.path)) as bam:
        frame = BamFrame(bam, bam_path, panel)
        cands, distant, infos = find_candidates(bam, frame, panel, target, genes, cfg)
        # placed junctions first: their fragments are not available to locate unplaced partners
        claimed: set[str] = set()
        for j in sorted(cands, key=lambda c: c.p_pos is None):
            count_evidence(bam, frame, panel, j, distant, infos, cfg, claimed)
            if j.p_pos is not None:
                claimed |= j.split | j.pairs
        label, depth = region_depth(bam_path, frame, panel, target)
        span = spanning_fragments(bam, frame, panel, target, cfg)
    rows = [
        junction_row(sample, j, panel, genes, target, cfg, label, depth, span)
        for j in cands
        if len(j.split | j.pairs) >= 2
    ]
    rows.sort(key=lambda r: (r["call"] != FUSION_DETECTED, -r["fragments"], r["genomic_3p"]))
    log.info(
        "%s: %s-aligned BAM, %d clip clusters, %d junction rows",
        sample,
        frame.mode,
        len(cands),
        len(rows),
    )
    if qc_reason is not None and (qc or {})[sample]["status"] == "fail":
        return [status_row(sample, target, cfg, label, depth, 0, qc_reason, span)]
    if not any(r["call"] == FUSION_DETECTED for r in rows):
        rows.append(status_row(sample, target, cfg, label, depth, len(rows), qc_reason, span))
    return rows


def write_tsv(rows: list[dict], out: Path) -> None:
    df = pd.DataFrame(
        [{c: r.get(c, NA) for c in FUSION_COLUMNS} for r in rows], columns=list(FUSION_COLUMNS)
    )
    outputs.write_tsv(df, out)


def run(
    reference: str,
    gtf: str,
    bams: list[str],
    out: str,
    vcf: str | None,
    cfg: Settings,
    qc: dict[str, dict] | None = None,
    build: str = BUILD,
) -> pd.DataFrame:
    """Call fusions of ``cfg.gene`` in every BAM; write fusions.tsv (and the breakend VCF, whose
    header names ``build``)."""
    gene = cfg.gene
    lengths = fasta_lengths(reference)
    genes = load_genes(gtf, lengths)
    if gene not in genes and gene in set(load_annotation(gtf).spans["gene"]):
        # a FASTA without the gene's chromosome (resistcall validate warned "not assessable")
        samples = preflight_bams(bams, reference, match_bams=False)
        absent = Gene(gene, NA, 0, 0, "+", [])
        reason = f"gene {gene} is on no contig of the reference FASTA"
        rows = [status_row(s, absent, cfg, NA, np.nan, 0, reason) for s in samples]
        # the VCF needs only the FASTA's contigs: no sequence is held (windows=[])
        return _written(rows, samples, PanelSequence(reference, windows=[]), out, vcf, build)
    if gene not in genes or not genes[gene].exons:
        modelled = sorted(g.name for g in genes.values() if g.exons)
        raise UserError(f"{gtf}: gene {gene} has no exon rows (genes: {', '.join(modelled)})")
    windows = None
    if sum(lengths.values()) > WHOLE_REFERENCE_LIMIT:
        windows = held_windows(genes, lengths, gene)
    panel = PanelSequence(reference, windows=windows)
    target = genes[gene]
    # panel- or GRCh38-aligned BAMs are both read (BamFrame), so no @SQ-vs-FASTA check here,
    # but a CRAM is decoded with the FASTA: it must have been written with it
    samples = preflight_bams(bams, reference, match_bams=False)
    called = list(zip(bams, samples, strict=True))
    rows = [r for b, s in called for r in call_sample(b, s, panel, genes, target, cfg, qc)]
    located = located_partner_genes([r["_junction"] for r in rows if "_junction" in r], genes)
    if windows is not None and located:
        # partners outside the held genes that the aligner (SA parts) puts inside a GTF gene:
        # hold that gene too and call again, so they are placed, named and scored like a
        # modelled partner (every sample with the same held sequence)
        log.info("holding partner gene(s) located by split reads: %s", [g.name for g in located])
        panel = PanelSequence(reference, windows=windows + [_window(g) for g in located])
        rows = [r for b, s in called for r in call_sample(b, s, panel, genes, target, cfg, qc)]
    return _written(rows, samples, panel, out, vcf, build)


def held_windows(
    genes: dict[str, Gene], lengths: dict[str, int], target: str
) -> list[tuple[str, int, int]]:
    """Whole-genome windows held in memory: every modelled gene's (the run's annotation cache
    models tens of genes). A GTF modelling far more, such as a whole GENCODE given to
    ``resistcall fusion`` by hand, would hold most of the genome: above :data:`HELD_LIMIT`
    bases only the fusion gene and its known partners are held (others are still named by
    their span, or held on demand where split reads locate them)."""
    modelled = [g for g in genes.values() if g.exons and g.chrom in lengths]
    windows = [_window(g) for g in modelled]
    if sum(hi - lo for _, lo, hi in windows) <= HELD_LIMIT:
        return windows
    keep = {target} | known_partners({target})
    log.warning(
        "%d modelled genes would hold over %d Mb of the genome: holding %s only (give the "
        "stage the run's annotation cache, results/reference/annotation.gtf)",
        len(modelled),
        HELD_LIMIT // 1_000_000,
        ", ".join(sorted(keep & {g.name for g in modelled})),
    )
    return [_window(g) for g in modelled if g.name in keep]


def _window(gene: Gene) -> tuple[str, int, int]:
    """Reference window held for a gene on a whole genome: its span +- WINDOW_PAD."""
    return gene.chrom, gene.start - WINDOW_PAD, gene.end + WINDOW_PAD


def _written(
    rows: list[dict],
    samples: list[str],
    panel: PanelSequence,
    out: str,
    vcf: str | None,
    build: str,
) -> pd.DataFrame:
    """Write fusions.tsv (and the breakend VCF) and return the rows as a table."""
    write_tsv(rows, Path(out))
    if vcf:
        write_vcf(rows, samples, panel, Path(vcf), build)
    return pd.DataFrame(
        [{c: r.get(c, NA) for c in FUSION_COLUMNS} for r in rows], columns=list(FUSION_COLUMNS)
    )


def _cmd_fusion(args: argparse.Namespace) -> None:
    settings = from_args(Settings, args)
    qc = read_qc(args.qc)
    run(args.reference, args.gtf, args.bam, args.out, args.vcf, settings, qc, args.build)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "fusion",
        help="gene fusions (EML4-ALK ...) from clipped, split and discordant reads",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--reference", required=True, help="panel FASTA (.fai beside it)")
    p.add_argument(
        "--build", default=BUILD, choices=BUILDS, help="reference build (VCF ##assembly)"
    )
    p.add_argument("--gtf", required=True, help="transcript models in contig coordinates")
    p.add_argument(
        "--bam",
        required=True,
        nargs="+",
        help="indexed BAMs (panel contigs or GRCh38 chromosome names)",
    )
    p.add_argument("--out", required=True, help="fusions.tsv")
    p.add_argument("--vcf", help="breakend VCF (.vcf.gz, bgzipped + .tbi)")
    p.add_argument(
        "--qc",
        nargs="+",
        help="qc.json of the samples (resistcall qc): a sample that failed QC or whose reads "
        "are too short for fusion evidence gets 'not assessable'",
    )
    add_options(p, Settings)
    p.set_defaults(func=_cmd_fusion)
