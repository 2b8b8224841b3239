"""Read-based phasing of compound-mutation parts that lie within one fragment.

Two parts are phased from the read pairs (fragments, by query name) that cover both positions:
a fragment carrying both alternate alleles supports *cis*; one carrying either alone (while
covering the other position with the reference allele) supports *trans*. Each position is read
from one pysam pileup column (``get_query_names``/``get_query_sequences``), so the cost is one
column per part, not a Python loop over the whole region.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pysam

#: parts further apart than this cannot share a fragment in panel data
MAX_DISTANCE = 500
#: fragments needed to call cis (both alleles) or trans (each allele alone)
MIN_FRAGMENTS = 2


@dataclass(frozen=True)
class Allele:
    chrom: str
    pos: int  # VCF POS (1-based)
    ref: str
    alt: str


def _column_sets(bam: pysam.AlignmentFile, a: Allele) -> tuple[set[str], set[str]]:
    """(fragments covering the allele's position, fragments carrying the alternate allele)."""
    cover: set[str] = set()
    carry: set[str] = set()
    # SNV/MNV: the first differing base; indel: the VCF anchor base with its +n/-n suffix
    offset = 0
    if len(a.ref) == len(a.alt):
        offset = next(i for i, (r, x) in enumerate(zip(a.ref, a.alt, strict=True)) if r != x)
    col_pos = a.pos + offset
    for col in bam.pileup(
        a.chrom,
        col_pos - 1,
        col_pos,
        truncate=True,
        stepper="nofilter",
        max_depth=1_000_000,
        min_base_quality=0,
        ignore_orphans=False,
        ignore_overlaps=False,
        flag_filter=0xF04,
    ):
        names = col.get_query_names()
        seqs = col.get_query_sequences(add_indels=True)
        for name, s in zip(names, seqs, strict=True):
            if not s:
                continue  # deletion spanning the column (no base): covers but no call
            s = s.upper()
            cover.add(name)
            if len(a.ref) == len(a.alt):
                if s[0] == a.alt[offset]:
                    carry.add(name)
            elif len(a.ref) > len(a.alt):
                if s[1:].startswith(f"-{len(a.ref) - len(a.alt)}"):
                    carry.add(name)
            elif s[1:] == f"+{len(a.alt) - len(a.ref)}{a.alt[len(a.ref) :]}":
                carry.add(name)
    return cover, carry


def phase_pair(bam_path: str, a: Allele, b: Allele, reference: str | Path | None = None) -> dict:
    """Phase two alleles from one BAM (a CRAM: decoded with ``reference``); returns counts and
    status (cis/trans/cis+trans/unknown)."""
    distance = abs(a.pos - b.pos)
    out = {
        "reads_both": 0,
        "reads_a_only": 0,
        "reads_b_only": 0,
        "reads_spanning": 0,
        "distance": distance,
        "status": "unknown",
    }
    if a.chrom != b.chrom or distance > MAX_DISTANCE:
        return out
    ref_file = None if reference is None else str(reference)
    with pysam.AlignmentFile(bam_path, reference_filename=ref_file) as bam:
        cover_a, alt_a = _column_sets(bam, a)
        cover_b, alt_b = _column_sets(bam, b)
    spanning = cover_a & cover_b
    both = alt_a & alt_b
    a_only = (alt_a & cover_b) - alt_b
    b_only = (alt_b & cover_a) - alt_a
    out.update(
        reads_both=len(both),
        reads_a_only=len(a_only),
        reads_b_only=len(b_only),
        reads_spanning=len(spanning),
    )
    cis = len(both) >= MIN_FRAGMENTS
    trans = len(a_only) >= MIN_FRAGMENTS and len(b_only) >= MIN_FRAGMENTS
    if cis and trans:
        out["status"] = "cis+trans"
    elif cis:
        out["status"] = "cis"
    elif trans and not both:
        out["status"] = "trans"
    return out


def combine(statuses: list[str]) -> str:
    """Phase of a compound from its pairwise phases."""
    if statuses and all(s == "cis" for s in statuses):
        return "cis"
    if any(s == "trans" for s in statuses):
        return "trans"
    if any(s == "cis+trans" for s in statuses):
        return "cis+trans"
    return "unknown"
