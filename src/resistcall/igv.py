"""An IGV desktop session per line: the reads behind every finding (``resistcall igv-session``).

The session (IGV's session XML, version 8) loads the run's reference FASTA as the genome and,
as tracks, the line's final BAMs (parental first, then the resistant samples, as given), the
line's snv.vcf.gz and fusions.vcf.gz, the panel targets and the annotation cache's genes. Every
finding of hits.tsv with a position becomes a region of interest, listed by IGV's Region
Navigator (Regions > Region Navigator): small variants at their VCF alleles, fusions at both
breakpoints (fusions.tsv), copy-number calls over their gene's targets. Paths are relative to
the session file (IGV resolves them against its folder), so the session names no run folder and
opens wherever the results are, as long as the files keep their places (README.md, "Looking at
the reads in IGV").

:func:`finding_regions` and :func:`session_xml` are pure (tables and paths in, XML text out);
:func:`write_session` reads the files and writes the session.
"""

from __future__ import annotations

import argparse
import logging
import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from resistcall import contracts
from resistcall.annotation import fasta_lengths
from resistcall.errors import UserError
from resistcall.outputs import write_text
from resistcall.reference import read_bed
from resistcall.tables import read_table

log = logging.getLogger(__name__)

#: IGV session format version written (IGV 2.x desktop writes 8)
SESSION_VERSION = "8"
#: bases shown on each side of the finding the session opens at
LOCUS_PAD = 50
#: kinds of hits.tsv whose rows carry VCF coordinates
SMALL_KINDS = ("snv", "mnv", "indel")
#: fusions.tsv side -> how a region names it
SIDES = {"5p": "5'", "3p": "3'"}


@dataclass(frozen=True)
class Region:
    """One region of interest: IGV's coordinates (0-based start, end exclusive, as BED)."""

    chrom: str
    start: int
    end: int
    description: str
    #: a change a resistant sample acquired or enriched (PASS): the session opens at the first
    selected: bool = False


@dataclass(frozen=True)
class Track:
    """One resource of the session: its path relative to the session file, and its name."""

    path: str
    name: str


def _cell(value: object) -> str:
    """A table cell as text; empty, NaN and the contracts' "." as ""."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    text = str(value).strip()
    return "" if text in (".", "nan") else text


def _description(row: Mapping[str, object], change: str) -> str:
    parts = [_cell(row["gene"]), change, _cell(row["sample"]), _cell(row["status"])]
    flt = _cell(row["filter"])
    if flt and flt != "PASS":
        parts.append(f"[{flt}]")
    return " ".join(p for p in parts if p)


def _breakpoint(value: object) -> tuple[str, int] | None:
    """``contig:pos`` of fusions.tsv (1-based), or None (partner not in the reference)."""
    text = _cell(value)
    chrom, sep, pos = text.rpartition(":")
    if not sep or not chrom or not pos.isdigit():
        return None
    return chrom, int(pos)


def finding_regions(
    hits: pd.DataFrame, fusions: pd.DataFrame | None = None, targets: pd.DataFrame | None = None
) -> list[Region]:
    """One region per finding of hits.tsv that has a place, in hits.tsv's order.

    Small variants (snv, mnv, indel): the VCF allele's reference bases at ``chrom``/``pos``.
    Fusions: both breakpoints of each detected junction of that sample and gene pair in
    fusions.tsv (a breakpoint outside the reference is left out). Copy number: the span of the
    gene's targets (BED ``name`` = gene) when they lie on one contig. Compounds: none (their
    parts are their own rows)."""
    fusion_rows = (
        fusions if fusions is not None else pd.DataFrame(columns=contracts.IGV_READS["fusions"])
    )
    detected = fusion_rows[fusion_rows["call"].map(_cell) == contracts.FUSION_DETECTED]
    spans: dict[str, tuple[str, int, int]] = {}
    if targets is not None:
        for gene, rows in targets.groupby("name", sort=False):
            chrom = str(rows["chrom"].iloc[0])
            if (rows["chrom"] == chrom).all():
                spans[str(gene)] = (chrom, int(rows["start"].min()), int(rows["end"].max()))
    regions: list[Region] = []
    for row in hits.to_dict("records"):
        kind = _cell(row["kind"])
        if kind in SMALL_KINDS:
            contig, pos, ref = _cell(row["chrom"]), _cell(row["pos"]), _cell(row["ref"])
            if not contig or not pos:
                continue
            start = int(float(pos)) - 1
            end = start + max(len(ref), 1)
            text = _description(row, _cell(row["hgvs_p"]))
            chosen = _cell(row["status"]) in ("acquired", "enriched") and _cell(row["filter"]) in (
                "PASS",
                "",
            )
            regions.append(Region(contig, start, end, text, chosen))
        elif kind == "fusion":
            gene_5p, _, gene_3p = _cell(row["gene"]).partition("::")
            junctions = detected[
                (detected["sample"].map(_cell) == _cell(row["sample"]))
                & (detected["gene_5p"].map(_cell) == gene_5p)
                & (detected["gene_3p"].map(_cell) == gene_3p)
            ]
            for junction in junctions.to_dict("records"):
                for side, label in SIDES.items():
                    place = _breakpoint(junction[f"breakpoint_{side}"])
                    if place is not None:
                        text = _description(row, f"fusion {label} breakpoint")
                        regions.append(Region(place[0], place[1] - 1, place[1], text))
        elif kind == "cnv" and _cell(row["gene"]) in spans:
            contig, start, end = spans[_cell(row["gene"])]
            change = f"copy number {_cell(row['copy_number'])}"
            regions.append(Region(contig, start, end, _description(row, change)))
    return regions


def initial_locus(regions: Sequence[Region], contigs: Mapping[str, int]) -> str:
    """IGV locus (1-based, inclusive) around the first change a resistant sample acquired or
    enriched with PASS (what the reader came to see), else the first region, clipped to its
    contig; the first contig when there is no region."""
    if not regions:
        name, length = next(iter(contigs.items()))
        return f"{name}:1-{length}"
    first = next((r for r in regions if r.selected), regions[0])
    start = max(first.start - LOCUS_PAD, 0) + 1
    end = min(first.end + LOCUS_PAD, contigs.get(first.chrom, first.end + LOCUS_PAD))
    return f"{first.chrom}:{start}-{end}"


def session_xml(
    genome: str,
    tracks: Sequence[Track],
    regions: Sequence[Region],
    contigs: Mapping[str, int],
) -> str:
    """The session document: ``genome`` and track paths as given (relative to the session
    file), tracks in the given order, one RegionOfInterest per region. ``contigs`` (the FASTA's
    .fai: name -> length) must hold every region's contig: a name the genome lacks would put the
    region nowhere in IGV."""
    absent = sorted({r.chrom for r in regions} - set(contigs))
    if absent:
        raise UserError(
            f"finding(s) on contig(s) the reference FASTA does not have: {', '.join(absent)}"
        )
    root = ET.Element(
        "Session",
        {
            "genome": genome,
            "hasGeneTrack": "false",
            "hasSequenceTrack": "true",
            "locus": initial_locus(regions, contigs),
            "version": SESSION_VERSION,
        },
    )
    resources = ET.SubElement(root, "Resources")
    for track in tracks:
        ET.SubElement(resources, "Resource", {"name": track.name, "path": track.path})
    if regions:
        listed = ET.SubElement(root, "Regions")
        for region in regions:
            ET.SubElement(
                listed,
                "RegionOfInterest",
                {
                    "chromosome": region.chrom,
                    "start": str(region.start),
                    "end": str(region.end),
                    "description": region.description,
                },
            )
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def relative_to(path: str | Path, folder: str | Path) -> str:
    """``path`` relative to ``folder`` (POSIX separators), as IGV resolves it from there.

    The plain relative path is kept when it reaches the file (the run folder can then be moved
    as a whole); when a symlinked folder on the way makes ``..`` land elsewhere, the path
    between the real locations is used."""
    plain = os.path.relpath(os.path.abspath(path), os.path.abspath(folder))
    if not os.path.exists(os.path.join(folder, plain)) or not os.path.samefile(
        os.path.join(folder, plain), path
    ):
        plain = os.path.relpath(os.path.realpath(path), os.path.realpath(folder))
    return Path(plain).as_posix()


def write_session(
    out: str | Path,
    reference: str | Path,
    bams: Sequence[str | Path],
    hits: str | Path,
    fusions: str | Path | None = None,
    snv_vcf: str | Path | None = None,
    fusions_vcf: str | Path | None = None,
    targets: str | Path | None = None,
    annotation: str | Path | None = None,
) -> list[Region]:
    """Write ``out`` for a line's files (BAMs parental first); return the regions written."""
    folder = Path(out).parent
    for path in [reference, *bams, hits, fusions, snv_vcf, fusions_vcf, targets, annotation]:
        if path is not None and not Path(path).is_file():
            raise UserError(f"file for the IGV session not found: {path}")
    hits_df = read_table(hits, contracts.IGV_READS["hits"], "hits table")
    fusions_df = (
        read_table(fusions, contracts.IGV_READS["fusions"], "fusion table") if fusions else None
    )
    targets_df = read_bed(targets) if targets else None
    regions = finding_regions(hits_df, fusions_df, targets_df)
    tracks = [Track(relative_to(bam, folder), Path(bam).name.removesuffix(".bam")) for bam in bams]
    named = [
        (snv_vcf, "SNVs and indels"),
        (fusions_vcf, "fusions"),
        (targets, "panel targets"),
        (annotation, "genes (transcript models used)"),
    ]
    tracks += [Track(relative_to(path, folder), name) for path, name in named if path]
    text = session_xml(relative_to(reference, folder), tracks, regions, fasta_lengths(reference))
    write_text(out, text)
    log.info("%d tracks, %d regions of interest in %s", len(tracks), len(regions), out)
    return regions


def _cmd_igv_session(args: argparse.Namespace) -> None:
    write_session(
        args.out,
        args.reference,
        args.bam,
        args.hits,
        fusions=args.fusions,
        snv_vcf=args.vcf,
        fusions_vcf=args.fusions_vcf,
        targets=args.targets,
        annotation=args.annotation,
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "igv-session",
        help="IGV desktop session of a line: BAMs, VCFs, targets, one region per finding",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--reference", type=Path, required=True, help="reference FASTA (with .fai)")
    p.add_argument(
        "--bam", type=Path, nargs="+", required=True, help="the line's BAMs, parental first"
    )
    p.add_argument("--hits", type=Path, required=True, help="hits.tsv of the line")
    p.add_argument("--fusions", type=Path, help="fusions.tsv (fusion breakpoints)")
    p.add_argument("--vcf", type=Path, help="snv.vcf.gz of the line")
    p.add_argument("--fusions-vcf", type=Path, help="fusions.vcf.gz of the line")
    p.add_argument("--targets", type=Path, help="panel targets BED (name = gene)")
    p.add_argument("--annotation", type=Path, help="GTF shown as the gene track")
    p.add_argument("--out", type=Path, required=True, help="session file (igv_session.xml)")
    p.set_defaults(func=_cmd_igv_session)
