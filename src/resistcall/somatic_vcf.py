"""Tumour/normal VCF per resistant sample for VEP, PCGR and bcftools (``resistcall somatic-vcf``).

The line's ``snv.vcf.gz`` holds every sample of a line on the reference's contigs. Annotators
want one tumour/normal pair in chromosome coordinates, so this stage takes the parental
(NORMAL) and one resistant sample (TUMOR) from it, keeps the records whose alt the resistant
sample carries (STATUS acquired, enriched or shared), splits and left-aligns them with
``bcftools norm`` against the reference, and lifts panel contigs ``chrN_START_END`` onto ``chrN``
(``genomic = START - 1 + pos``) with the real GRCh38 chromosome lengths. Contigs that are already
chromosomes (a whole-genome reference) keep their coordinates and FASTA lengths. Format and
fields: docs/snv.md ("Somatic VCF").
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pandas as pd
import pysam
import pysam.bcftools

from resistcall import __version__, contracts
from resistcall.errors import UserError
from resistcall.meta_line import parse_meta
from resistcall.outputs import atomic_paths
from resistcall.reference import BUILD, contig_offset, reference_header

log = logging.getLogger(__name__)

#: GRCh38 chromosome lengths shipped with the workflow (provenance in resources/reference/)
CHROM_SIZES = "resources/reference/GRCh38.chrom_sizes.tsv"
FORMATS = (
    ("GT", "1", "String", "Genotype: 0/1 if the alt is detected in this sample, else 0/0"),
    ("AD", "R", "Integer", "Reads supporting ref and alt"),
    ("AF", "A", "Float", "Alt allele fraction AD[alt]/DP"),
    ("DP", "1", "Integer", "Read depth (fragments; overlapping mates once)"),
)
#: INFO copies of each side's FORMAT DP/AF: PCGR reads tumour/control depth and allele fraction
#: from INFO tags only (``pcgr --tumor_dp_tag TDP --tumor_af_tag TVAF --control_dp_tag CDP
#: --control_af_tag CVAF``; tag names as in PCGR's input documentation). (tag, role, FORMAT key)
PAIR_INFO = (
    ("TDP", "tumor", "DP", "Integer", "Read depth of the TUMOR (resistant) sample: its FORMAT DP"),
    ("TVAF", "tumor", "AF", "Float", "Alt allele fraction of the TUMOR sample: its FORMAT AF"),
    ("CDP", "normal", "DP", "Integer", "Read depth of the NORMAL (parental) sample: its FORMAT DP"),
    ("CVAF", "normal", "AF", "Float", "Alt allele fraction of the NORMAL sample: its FORMAT AF"),
)


@dataclass(frozen=True)
class Placement:
    """Where a reference contig lies on its chromosome: ``chrom_pos = offset + contig_pos``."""

    chrom: str
    offset: int


def read_chrom_sizes(path: str | Path) -> dict[str, int]:
    """TSV ``chrom length`` (``#`` comments allowed) -> {chrom: length}, in file order."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"chromosome sizes table not found: {path}")
    table = pd.read_csv(
        path, sep="\t", comment="#", header=None, names=["chrom", "length"], dtype=str
    )
    bad = ~table["length"].fillna("").str.fullmatch(r"[1-9]\d*")
    if bad.any():
        row = table[bad].iloc[0]
        raise UserError(f"{path}: chromosome {row.chrom}: length is not a positive integer")
    return dict(zip(table["chrom"], table["length"].astype(int), strict=True))


def placements(
    contigs: dict[str, int], chrom_sizes: dict[str, int]
) -> tuple[dict[str, Placement], list[tuple[str, int, bool]]]:
    """Placement of every reference contig, and the output's contig lines (name, length, lifted).

    Panel contigs go to their chromosome (which must be in ``chrom_sizes`` and long enough);
    other contigs are chromosomes already. Lifted chromosomes come in ``chrom_sizes`` order
    (all of them, so the header is the standard GRCh38 one), then the rest in FASTA order.
    """
    placed: dict[str, Placement] = {}
    own: dict[str, int] = {}
    for contig, length in contigs.items():
        chrom, offset = contig_offset(contig)
        if chrom == contig:
            own[contig] = length
        elif chrom not in chrom_sizes:
            raise UserError(f"reference contig {contig}: chromosome {chrom} has no {BUILD} length")
        elif offset + length > chrom_sizes[chrom]:
            raise UserError(
                f"reference contig {contig} ends past {chrom} ({chrom_sizes[chrom]} bp in {BUILD})"
            )
        placed[contig] = Placement(chrom, offset)
    lifted = any(p.chrom != c for c, p in placed.items())
    clash = sorted(set(own) & set(chrom_sizes)) if lifted else []
    if clash:
        raise UserError(f"reference has both panel contigs and whole chromosomes ({clash[0]})")
    lines = [(c, n, True) for c, n in chrom_sizes.items()] if lifted else []
    lines += [(c, n, False) for c, n in own.items()]
    return placed, lines


def _header(
    source: pysam.VariantHeader,
    contigs: list[tuple[str, int, bool]],
    reference: str,
    normal: str,
    tumor: str,
) -> pysam.VariantHeader:
    h = pysam.VariantHeader()
    h.add_line(f"##source=resistcall somatic-vcf {__version__}")
    for line in reference_header(reference):  # file name + md5, no path
        h.add_line(line)
    for name, length, lifted in contigs:
        if lifted:
            h.add_line(f"##contig=<ID={name},length={length},assembly={BUILD}>")
        else:
            h.contigs.add(name, length=length)
    h.add_line(f"##normal_sample={normal}")
    h.add_line(f"##tumor_sample={tumor}")
    for meta in source.records:  # the build, the panel of normals the calls used, a failed parental
        if meta.key in ("assembly", "resistcall_pon", "parental_not_assessable"):
            h.add_line(str(meta).rstrip("\n"))
        elif meta.key == "sample_not_assessable" and _meta_sample(meta) == tumor:
            h.add_line(str(meta).rstrip("\n"))  # this TUMOR failed QC
    for name, record in source.filters.items():
        if name != "PASS":
            h.filters.add(name, None, None, cast(str, record.description))
    h.filters.add(
        UNCOMPARED,
        None,
        None,
        "The NORMAL or the TUMOR failed QC (##parental_not_assessable, ##sample_not_assessable): "
        "the TUMOR's own call, not a somatic call; annotators that keep PASS records skip it",
    )
    h.info.add(
        "SOMATIC",
        0,
        "Flag",
        "Acquired: detected in the TUMOR (resistant) sample, not in the "
        "NORMAL (parental) sample, and significantly above it",
    )
    h.info.add(
        "STATUS",
        1,
        "String",
        f"TUMOR vs NORMAL: acquired, enriched or shared; {UNCOMPARED} for every record when "
        "the NORMAL or the TUMOR failed QC (##parental_not_assessable, "
        "##sample_not_assessable): the TUMOR genotype's calls, not a comparison",
    )
    for key in ("TYPE", "HOTSPOT"):
        record = source.info[key]
        h.info.add(key, record.number, record.type, cast(str, record.description))
    for key, _, _, kind, description in PAIR_INFO:
        h.info.add(key, 1, kind, description)
    for key, number, kind, description in FORMATS:
        h.formats.add(key, number, kind, description)
    h.add_sample(normal)
    h.add_sample(tumor)
    return h


def _check_samples(source: pysam.VariantFile, path: str, normal: str, tumor: str) -> None:
    names = list(source.header.samples)
    for role, name in (("normal", normal), ("tumor", tumor)):
        if name not in names:
            raise UserError(f"{path}: no sample {name!r} ({role}); samples are {names}")
    parental = [r.value for r in source.header.records if r.key == "parental"]
    if parental and parental[0] != normal:
        raise UserError(f"{path}: the parental is {parental[0]}, not {normal}")


#: INFO/STATUS of every record when the parental failed QC (a VCF value has no spaces)
UNCOMPARED = contracts.NOT_ASSESSABLE.replace(" ", "_")
SNV_PRESENT = contracts.SNV_PRESENT


def _meta_sample(meta) -> str | None:
    try:
        return parse_meta(str(meta))[1].get("Sample")
    except ValueError:
        return None


def _not_assessable(header: pysam.VariantHeader, tumor: str) -> str | None:
    """Why the pair cannot be compared: the snv VCF's parental (``##parental_not_assessable``)
    or this tumour (``##sample_not_assessable`` with its Sample) failed QC; None otherwise."""
    for r in header.records:
        if r.key == "parental_not_assessable":
            return str(r.value)
        if r.key == "sample_not_assessable" and _meta_sample(r) == tumor:
            return parse_meta(str(r))[1].get("Reason") or "sample failed QC"
    return None


def _carries(sample) -> bool:
    """The sample's genotype holds an alt (``resistcall snv`` writes 0/1 only when detected)."""
    return any(a not in (None, 0) for a in (sample.get("GT") or ()))


def _select(path: str, normal: str, tumor: str, out: Path, uncompared: bool) -> int:
    """The records the tumour carries, two columns (NORMAL, TUMOR), in contig coordinates.
    ``uncompared`` (the parental or this tumour not assessable): the records whose TUMOR
    genotype holds the alt (the sample's own calls), never an empty file that reads "no
    variants"."""
    with pysam.VariantFile(path) as source:
        source.subset_samples([normal, tumor])
        n = 0
        with pysam.VariantFile(str(out), "w", header=source.header) as sink:
            for rec in source:
                tumour = rec.samples[tumor]
                if _carries(tumour) if uncompared else tumour.get("STATUS") in SNV_PRESENT:
                    sink.write(rec)
                    n += 1
    return n


def _normalise(path: Path, reference: str, out: Path) -> None:
    """Split multi-allelic records and left-align indels (``bcftools norm``, bundled in pysam);
    a REF that disagrees with the reference is an error (wrong FASTA for this VCF)."""
    try:
        pysam.bcftools.norm(
            "-f", reference, "-m", "-any", "-c", "e", "-o", str(out), str(path),
            catch_stdout=False,
        )  # fmt: skip
    except pysam.utils.SamtoolsError as exc:
        raise UserError(f"bcftools norm against {reference} failed: {exc}") from None


def _lifted_records(
    path: Path, placed: dict[str, Placement], order: dict[str, int]
) -> list[tuple[tuple, pysam.VariantRecord]]:
    records = []
    with pysam.VariantFile(str(path)) as source:
        for rec in source:
            where = placed[rec.contig]
            key = (order[where.chrom], rec.pos + where.offset, rec.ref, rec.alts)
            records.append((key, rec))
    return sorted(records, key=lambda item: item[0])


def _lifted(
    sink: pysam.VariantFile,
    rec: pysam.VariantRecord,
    where: Placement,
    normal: str,
    tumor: str,
    uncompared: bool = False,
) -> pysam.VariantRecord:
    new = sink.new_record(
        contig=where.chrom,
        start=rec.start + where.offset,
        alleles=rec.alleles,
        id=rec.id,
        filter=[*[f for f in rec.filter if f != "PASS"], UNCOMPARED]
        if uncompared
        else list(rec.filter) or ["PASS"],
    )
    status = UNCOMPARED if uncompared else rec.samples[tumor]["STATUS"]
    new.info["STATUS"] = status
    new.info["SOMATIC"] = status == "acquired"
    new.info["TYPE"] = rec.info["TYPE"]
    new.info["HOTSPOT"] = rec.info.get("HOTSPOT", False)
    for key, role, source_key, _, _ in PAIR_INFO:
        value = rec.samples[tumor if role == "tumor" else normal].get(source_key)
        if isinstance(value, tuple):  # AF is Number=A: one ALT per record after the split
            value = value[0]
        if value is not None:
            new.info[key] = value
    for name in (normal, tumor):
        for key, *_ in FORMATS:
            new.samples[name][key] = rec.samples[name][key]
    return new


def write_somatic_vcf(
    snv_vcf: str,
    reference: str,
    normal: str,
    tumor: str,
    out: str | Path,
    chrom_sizes: str | Path,
) -> int:
    """Write ``out`` (bgzipped + .tbi); return the number of records."""
    with pysam.FastaFile(reference) as fasta:
        contigs = dict(zip(fasta.references, fasta.lengths, strict=True))
    placed, contig_lines = placements(contigs, read_chrom_sizes(chrom_sizes))
    order = {name: i for i, (name, _, _) in enumerate(contig_lines)}
    with tempfile.TemporaryDirectory(dir=Path(out).parent) as scratch, atomic_paths(out) as (tmp,):
        selected, normed = Path(scratch) / "selected.vcf", Path(scratch) / "norm.vcf"
        with pysam.VariantFile(snv_vcf) as source:
            _check_samples(source, snv_vcf, normal, tumor)
            header = _header(source.header, contig_lines, reference, normal, tumor)
            uncompared = _not_assessable(source.header, tumor) is not None
        _select(snv_vcf, normal, tumor, selected, uncompared)
        _normalise(selected, reference, normed)
        records = _lifted_records(normed, placed, order)
        with pysam.VariantFile(str(tmp), "wz", header=header) as sink:
            for _, rec in records:
                sink.write(_lifted(sink, rec, placed[rec.contig], normal, tumor, uncompared))
        pysam.tabix_index(str(tmp), preset="vcf", force=True)
    log.info("%s: %d records (%s vs %s)", out, len(records), tumor, normal)
    return len(records)


def _cmd_somatic_vcf(args: argparse.Namespace) -> None:
    write_somatic_vcf(args.vcf, args.reference, args.normal, args.tumor, args.out, args.chrom_sizes)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "somatic-vcf",
        help="tumour/normal VCF of one resistant sample in chromosome coordinates",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--vcf", required=True, help="the line's snv.vcf.gz (resistcall snv)")
    p.add_argument("--reference", required=True, help="reference FASTA (+ .fai) of that VCF")
    p.add_argument("--normal", required=True, help="parental sample name (NORMAL column)")
    p.add_argument("--tumor", required=True, help="resistant sample name (TUMOR column)")
    p.add_argument(
        "--chrom-sizes",
        required=True,
        help=f"chromosome lengths (chrom, length TSV) for panel contigs, e.g. {CHROM_SIZES}",
    )
    p.add_argument("--out", required=True, help="output .vcf.gz (tabix index written too)")
    p.set_defaults(func=_cmd_somatic_vcf)
