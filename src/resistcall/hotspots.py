"""Known-table residues -> contig codon positions (for per-hotspot coverage verdicts).

The SNV stage reports, for every residue the knowledge table names, whether it was covered
deeply enough to call it wild type. This module turns each table protein change into the contig
positions of its codon(s) on the GTF model of its gene, so "not covered" can never be mistaken for
"wild type".
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd
import pysam

from resistcall.hgvs import translate
from resistcall.knowledge import MUTATION_TYPES, compound_parts, load_known, residue_span
from resistcall.reference import complement
from resistcall.transcripts import TranscriptSet, load_transcripts

log = logging.getLogger(__name__)

SITE_COLUMNS = ["gene", "hgvs_p", "residue", "chrom", "positions", "verified"]


def sites_from_table(known: pd.DataFrame, transcripts: TranscriptSet) -> pd.DataFrame:
    """One row per distinct gene + residue + protein change of the mutation rows.

    Compound rows are split into their parts; amplification and fusion rows have no codon and
    are skipped. ``positions`` lists the 1-based contig positions of every codon base of the
    residue(s), in genomic (ascending) order. ``verified`` is True when at least one row naming
    the change was checked against its source (``verification`` db or page, not recall): only
    those may give the caller a prior. Residues outside the gene's modelled exons are
    skipped with a warning (they cannot be assessed on this panel).
    """
    records: dict[tuple[str, str, str], dict] = {}
    rows = known[known["alteration_type"].isin(MUTATION_TYPES)]
    checked = rows["verification"].isin(("db", "page")) if "verification" in rows else None
    for i, (gene, hgvs_p) in enumerate(zip(rows["gene"], rows["hgvs_p"], strict=True)):
        row_verified = bool(checked.iloc[i]) if checked is not None else False
        tx = transcripts.by_gene.get(gene)
        for part in compound_parts(hgvs_p):
            span = residue_span(part)
            if span is None:
                log.warning("known table: cannot read a residue from %s %s", gene, part)
                continue
            label, first, last = span
            key = (gene, label, part)
            if key in records:
                records[key]["verified"] |= row_verified
                continue
            if tx is None:
                log.warning("known table: %s %s: gene has no model in the GTF", gene, part)
                continue
            positions: list[int] = []
            for residue in range(first, last + 1):
                codon = tx.codon_positions(residue)
                if codon is None:
                    positions = []
                    break
                positions.extend(codon)
            if not positions:
                log.warning("known table: %s %s: outside the modelled exons; skipped", gene, part)
                continue
            records[key] = {
                "gene": gene,
                "hgvs_p": part,
                "residue": label,
                "chrom": tx.chrom,
                "positions": sorted(positions),
                "verified": row_verified,
                "_order": (gene, first, part),
            }
    out = sorted(records.values(), key=lambda r: r["_order"])
    df = pd.DataFrame(out, columns=[*SITE_COLUMNS, "_order"]).drop(columns="_order")
    return df.reset_index(drop=True)


#: a single-residue missense (or nonsense) change in one-letter code, as the table writes it
MISSENSE = re.compile(r"^p\.([A-Z])(\d+)([A-Z*])$")


def named_alleles(sites: pd.DataFrame, transcripts: TranscriptSet, fasta: str | Path) -> list:
    """Per site row, the single-base substitutions ``(pos, alt)`` (1-based contig position,
    contig-strand base) that make exactly the row's protein change: each of the codon's 9
    substitutions translated on the gene's model (only the codon's 3 bases are read, so a
    whole-genome FASTA costs nothing): 1-3 for a named missense change (L1196M: 1; F1174L:
    3). Empty when no single base makes it: indels (``del/dup/ins/fs``), a residue with any
    change (KRAS ``p.G12``), or a change that needs two bases (ALK G1269S from GGA)."""
    out = []
    with pysam.FastaFile(str(fasta)) as fa:
        for row in sites.itertuples(index=False):
            m = MISSENSE.match(str(row.hgvs_p))
            tx = transcripts.by_gene[row.gene]  # sites_from_table keeps modelled genes only
            codon = tx.codon_positions(int(m[2])) if m else None
            found = []
            if m and codon:
                plus = tx.strand == "+"
                bases = [fa.fetch(row.chrom, p - 1, p).upper() for p in codon]
                coding = [b if plus else complement(b) for b in bases]
                for i, (p, ref) in enumerate(zip(codon, bases, strict=True)):
                    for alt in "ACGT":
                        if alt == ref:
                            continue
                        mutated = coding.copy()
                        mutated[i] = alt if plus else complement(alt)
                        if translate("".join(mutated)) == m[3]:
                            found.append((int(p), alt))
            out.append(sorted(found))
    return out


def sites_from_known(
    known_path: str | Path, gtf_path: str | Path, fasta: str | Path | None = None
) -> pd.DataFrame:
    """Columns ``gene, hgvs_p, residue, chrom, positions, verified`` for every mutation in the
    known table; with ``fasta`` also ``alleles`` (:func:`named_alleles`)."""
    transcripts = load_transcripts(gtf_path)
    sites = sites_from_table(load_known(known_path), transcripts)
    if fasta is not None:
        sites["alleles"] = named_alleles(sites, transcripts, fasta)
    return sites
