"""Breakend VCF of ``resistcall fusion`` (VCF 4.2 section 5.4), written with pysam.

Each junction is a pair of BND records joined by MATEID, or one single-breakend record when
the partner is not in the reference. Positions are the FASTA's contigs; INFO GENOMIC gives the
chromosome position (of a panel contig: GRCh38) in the build of the header's ##assembly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import pysam

from resistcall.contracts import FUSION_DETECTED
from resistcall.fusion_evidence import PanelSequence, revcomp
from resistcall.outputs import atomic_paths
from resistcall.reference import reference_header

NA = "."


def breakend_alt(t: str, side: int, mate: str | None, mate_side: int | None, ins_out: str) -> str:
    """VCF 4.2 breakend ALT; ins_out is inserted sequence in this breakend's outward frame."""
    if side == +1:
        body = t + ins_out
        if mate is None:
            return body + "."
        return body + (f"]{mate}]" if mate_side == +1 else f"[{mate}[")
    body = revcomp(ins_out) + t
    if mate is None:
        return "." + body
    return (f"]{mate}]" if mate_side == +1 else f"[{mate}[") + body


def write_vcf(
    rows: list[dict], samples: list[str], panel: PanelSequence, out: Path, build: str
) -> None:
    """Breakend records (two per junction, one for an unknown partner), one column per sample."""
    junctions: dict[tuple, dict] = {}
    for r in rows:
        j = r.get("_junction")
        if j is None:
            continue
        jkey = (j.t_chrom, j.t_pos, j.t_side, j.p_chrom, j.p_pos, j.p_side)
        entry = junctions.setdefault(jkey, {"j": j, "rows": {}, "called": False})
        entry["rows"][r["sample"]] = r
        entry["called"] |= r["call"] == FUSION_DETECTED
    header = pysam.VariantHeader()
    for name, length in panel.lengths.items():  # the FASTA's .fai
        header.contigs.add(name, length=length)
    for line in (
        '##INFO=<ID=SVTYPE,Number=1,Type=String,Description="Type of structural variant">',
        '##INFO=<ID=MATEID,Number=.,Type=String,Description="ID of mate breakend">',
        '##INFO=<ID=EVENT,Number=1,Type=String,Description="ID of the fusion event">',
        '##INFO=<ID=HOMLEN,Number=.,Type=Integer,Description="Length of microhomology at the '
        'junction">',
        '##INFO=<ID=HOMSEQ,Number=.,Type=String,Description="Microhomology sequence">',
        '##INFO=<ID=CIPOS,Number=2,Type=Integer,Description="Breakend position range allowed by '
        'the microhomology">',
        '##INFO=<ID=GENE,Number=1,Type=String,Description="Gene at this breakend">',
        '##INFO=<ID=FUSION,Number=1,Type=String,Description="5prime-3prime gene pair">',
        '##INFO=<ID=VARIANT,Number=1,Type=String,Description="Named fusion variant '
        '(EML4-ALK v1 ...)">',
        '##INFO=<ID=EXONS,Number=1,Type=String,Description="Last 5prime exon - first 3prime exon '
        'kept, e.g. E13-A20">',
        '##INFO=<ID=GENOMIC,Number=1,Type=String,Description="Chromosome position of this '
        'breakend (build: ##assembly)">',
        '##INFO=<ID=PARTNER_SEQ,Number=1,Type=String,Description="Clipped consensus of an '
        'unplaced partner">',
        '##INFO=<ID=PARTNER_LOCUS,Number=1,Type=String,Description="Where reads of an '
        'unplaced partner align (SA parts, mates)">',
        '##FORMAT=<ID=SR,Number=1,Type=Integer,Description="Fragments with a split read">',
        '##FORMAT=<ID=PR,Number=1,Type=Integer,Description="Fragments as discordant pairs">',
        '##FORMAT=<ID=FR,Number=1,Type=Integer,Description="Distinct supporting fragments">',
        '##FORMAT=<ID=FT,Number=1,Type=String,Description="Per-sample call">',
        '##FILTER=<ID=LowSupport,Description="Below the evidence threshold in every sample">',
    ):
        header.add_line(line)
    for line in reference_header(panel.path, build):  # file name + md5 and build, no path
        header.add_line(line)
    for s in samples:
        header.add_sample(s)
    records: list[_Breakend] = []
    for n, entry in enumerate(junctions.values(), start=1):
        j = entry["j"]
        any_row = next(iter(entry["rows"].values()))
        event = {
            "EVENT": f"fusion{n}",
            "FUSION": f"{any_row['gene_5p']}-{any_row['gene_3p']}",
            "VARIANT": any_row["variant"],
            "EXONS": any_row["exons"].replace(";", "-"),
        }
        for b in _breakends(entry, event, panel, (f"fusion{n}_1", f"fusion{n}_2")):
            if b.contig not in header.contigs:
                header.contigs.add(b.contig)
            records.append(b)
    order = {name: i for i, name in enumerate(header.contigs)}
    records.sort(key=lambda b: (order[b.contig], b.pos, b.id))
    with atomic_paths(out) as (tmp,):
        with pysam.VariantFile(str(tmp), "wz", header=header) as vf:
            for b in records:
                vf.write(_record(vf, b, samples))
        pysam.tabix_index(str(tmp), preset="vcf", force=True)


class _Breakend(NamedTuple):
    """One BND record before it is written: where it sits and what it carries."""

    contig: str
    pos: int
    id: str
    ref: str
    alt: str
    mate: str | None
    genomic: str
    homology: str
    ci: tuple[int, int]
    extra: dict[str, str]
    entry: dict[str, Any]
    event: dict[str, str]


def _breakends(
    entry: dict[str, Any], event: dict[str, str], panel: PanelSequence, ids: tuple[str, str]
) -> list[_Breakend]:
    """The junction's breakends: a mate pair, or one single breakend for an unplaced partner."""
    j = entry["j"]
    h = len(j.homology)
    t_contig, t_cpos = panel.contig_label(j.t_chrom, j.t_pos)
    t_base = panel.fetch(j.t_chrom, j.t_pos, j.t_pos)
    common = {"homology": j.homology, "entry": entry, "event": event}
    if j.p_pos is None:
        extra = {"PARTNER_SEQ": j.consensus}
        if j.partner_locus:
            extra["PARTNER_LOCUS"] = j.partner_locus
        alt = breakend_alt(t_base, j.t_side, None, None, j.consensus)
        single = (t_contig, t_cpos, ids[0], t_base, alt, None, f"{j.t_chrom}:{j.t_pos}")
        return [_Breakend(*single, ci=(0, 0), extra=extra, **common)]
    p_contig, p_cpos = panel.contig_label(j.p_chrom, j.p_pos)
    p_base = panel.fetch(j.p_chrom, j.p_pos, j.p_pos)
    t_alt = breakend_alt(t_base, j.t_side, f"{p_contig}:{p_cpos}", j.p_side, j.insertion)
    p_alt = breakend_alt(p_base, j.p_side, f"{t_contig}:{t_cpos}", j.t_side, revcomp(j.insertion))
    t = (t_contig, t_cpos, ids[0], t_base, t_alt, ids[1], f"{j.t_chrom}:{j.t_pos}")
    p = (p_contig, p_cpos, ids[1], p_base, p_alt, ids[0], f"{j.p_chrom}:{j.p_pos}")
    return [
        _Breakend(*t, ci=(-h, 0) if j.t_side == +1 else (0, h), extra={}, **common),
        _Breakend(*p, ci=(-h, 0) if j.p_side == -1 else (0, h), extra={}, **common),
    ]


def _record(vf: pysam.VariantFile, b: _Breakend, samples: list[str]) -> Any:
    """The pysam record of one breakend, with one FORMAT column per sample."""
    rec = vf.new_record(
        contig=b.contig,
        start=b.pos - 1,
        stop=b.pos,
        id=b.id,
        alleles=(b.ref, b.alt),
        filter="PASS" if b.entry["called"] else "LowSupport",
    )
    rec.info["SVTYPE"] = "BND"
    if b.mate:
        rec.info["MATEID"] = (b.mate,)
    rec.info["EVENT"] = b.event["EVENT"]
    rec.info["FUSION"] = b.event["FUSION"]
    for key in ("VARIANT", "EXONS"):
        if b.event[key] != NA:
            rec.info[key] = b.event[key]
    rec.info["GENOMIC"] = b.genomic
    rec.info["HOMLEN"] = (len(b.homology),)
    if b.homology:
        rec.info["HOMSEQ"] = (b.homology,)
        rec.info["CIPOS"] = b.ci
    for key, val in b.extra.items():
        rec.info[key] = val
    for s in samples:
        r = b.entry["rows"].get(s)
        fmt = rec.samples[s]
        fmt["SR"] = r["split_reads"] if r else 0
        fmt["PR"] = r["discordant_pairs"] if r else 0
        fmt["FR"] = r["fragments"] if r else 0
        fmt["FT"] = (r["call"] if r else "absent").replace(" ", "_")
    return rec
