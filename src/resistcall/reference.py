"""Panel reference conventions: contig names ``chrN_START_END`` map linearly onto GRCh38."""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pysam

from resistcall.errors import UserError

log = logging.getLogger(__name__)
_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")
_CONTIG = re.compile(r"^(?P<chrom>chr[0-9XYM]+)_(?P<start>\d+)_(?P<end>\d+)$")
BUILD = "GRCh38"  # the bundled panel reference
BUILDS = ("GRCh38", "GRCh37")  # what --build takes (VCF header ##assembly)


def contig_offset(contig: str) -> tuple[str, int]:
    """Return (GRCh38 chromosome, offset) with ``genomic = offset + contig_position``.

    Contigs that are not panel-style (e.g. a whole-genome ``chr2``) map onto themselves.
    """
    m = _CONTIG.match(contig)
    if m is None:
        return contig, 0
    return m["chrom"], int(m["start"]) - 1


def fasta_md5(path: str | Path) -> str:
    """md5 of the FASTA file (names the reference in VCF headers without an absolute path)."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def reference_header(fasta_path: str | Path, build: str | None = None) -> list[str]:
    """VCF header lines naming the reference by file name + md5 and its build (no paths)."""
    lines = [f"##reference={Path(fasta_path).name}", f"##reference_md5={fasta_md5(fasta_path)}"]
    return [*lines, f"##assembly={build}"] if build else lines


BWA_SUFFIXES = (".amb", ".ann", ".bwt", ".pac", ".sa")


def bwa_prefix(fasta: str, given: str | None, build_at: str) -> str:
    """The bwa index a run aligns with: ``given`` (config reference.bwa_index), else an index
    next to the FASTA (FASTA.bwt, ...), else ``build_at`` (built once by rule bwa_index)."""
    if given:
        return given
    if all(Path(f"{fasta}{suffix}").exists() for suffix in BWA_SUFFIXES):
        return fasta
    return build_at


def genome_size(fasta: str | Path) -> int:
    """Total length of the FASTA's contigs from its .fai (0 when not indexed yet)."""
    fai = Path(f"{fasta}.fai")
    if not fai.is_file():
        return 0
    return sum(int(line.split("\t")[1]) for line in fai.read_text().splitlines() if line)


def complement(seq: str) -> str:
    return seq.translate(_COMPLEMENT)


def revcomp(seq: str) -> str:
    """Reverse complement (minus-strand genes such as ALK are read this way)."""
    return complement(seq)[::-1]


def to_genomic(contig: str, pos: int) -> tuple[str, int]:
    """1-based contig position -> 1-based GRCh38 (chromosome, position)."""
    chrom, offset = contig_offset(contig)
    return chrom, offset + pos


def genomic_label(contig: str, pos: int) -> str:
    chrom, gpos = to_genomic(contig, pos)
    return f"{chrom}:{gpos}"


def read_bed(
    path: str | Path, names: tuple[str, ...] = ("chrom", "start", "end", "name")
) -> pd.DataFrame:
    """Read a BED file (0-based half-open) with explicit dtypes; extra columns are dropped.

    Blank, ``#``, ``track`` and ``browser`` lines are skipped (vendor BEDs often start with a
    ``track`` line), as the input checks (:mod:`resistcall.inputs.beds`) skip them."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"BED file not found: {path}")
    lines = [
        line
        for line in path.read_text(errors="replace").splitlines()
        if line.strip() and not line.startswith(("#", "track", "browser"))
    ]
    df = pd.read_csv(
        io.StringIO("\n".join(lines)),
        sep="\t",
        header=None,
        comment="#",
        dtype=str,
        keep_default_na=False,
    )
    if df.shape[1] < len(names):
        raise UserError(f"{path}: expected at least {len(names)} columns, found {df.shape[1]}")
    df = df.iloc[:, : len(names)]
    df.columns = list(names)
    for col in ("start", "end"):
        bad = ~df[col].str.fullmatch(r"\d+")
        if bad.any():
            row = int(bad.idxmax()) + 1
            value = df[col][bad].iloc[0]
            raise UserError(f"{path}: row {row}: column {col} is not an integer: {value!r}")
        df[col] = df[col].astype("int64")
    bad = df["end"] <= df["start"]
    if bad.any():
        raise UserError(f"{path}: row {int(bad.idxmax()) + 1}: end <= start")
    return df


def bam_sample(bam_path: str | Path) -> str:
    """Sample name from the BAM's @RG SM tag (the name every output column uses).

    A BAM or CRAM without any @RG line (e.g. public cell-line BAMs) is named after its file
    (extension removed), with a warning; read groups that disagree on SM, or lack it, are an
    error."""
    with pysam.AlignmentFile(str(bam_path)) as bam:
        groups = bam.header.to_dict().get("RG", [])
    if not groups:
        name = Path(bam_path).name.removesuffix(".bam").removesuffix(".cram")
        log.warning("%s: no @RG header line; using the file name %r as sample name", bam_path, name)
        return name
    names = {rg.get("SM") for rg in groups if rg.get("SM")}
    if len(names) != 1:
        raise UserError(
            f"{bam_path}: expected exactly one @RG SM sample name, found {sorted(names)}"
        )
    return names.pop()


def _dict_md5(fasta_path: str | Path) -> dict[str, str]:
    """M5 per contig from the FASTA's sequence dictionary (``ref.dict`` or ``ref.fa.dict``)."""
    fasta = Path(fasta_path)
    for path in (fasta.with_suffix(".dict"), Path(f"{fasta}.dict")):
        if path.is_file():
            with pysam.AlignmentFile(str(path), "r", check_sq=False) as d:
                return {sq["SN"]: sq["M5"] for sq in d.header.to_dict().get("SQ", []) if "M5" in sq}
    return {}


def fasta_sq(fasta_path: str | Path) -> list[dict]:
    """The FASTA's contigs as SAM @SQ lines (SN, LN from the .fai; M5 from its .dict, if any):
    the header every BAM of the run carries."""
    with pysam.FastaFile(str(fasta_path)) as fa:
        contigs = list(zip(fa.references, fa.lengths, strict=True))
    md5 = _dict_md5(fasta_path)
    return [
        {"SN": name, "LN": length, **({"M5": md5[name]} if name in md5 else {})}
        for name, length in contigs
    ]


def preflight_bams(
    bams: Sequence[str | Path],
    reference: str | Path | None = None,
    unique: bool = True,
    match_bams: bool = True,
) -> list[str]:
    """The one check every stage runs on its BAMs before any work; returns their sample names.

    Each BAM must exist and be indexed (.bai/.csi); with ``reference``, its @SQ lines must match
    the FASTA (``match_bams=False``: only a CRAM's, for a stage that also reads BAMs aligned
    elsewhere); its name comes from :func:`bam_sample`; with ``unique``, names must differ.
    A CRAM is decoded with ``reference``: without one it is an error here, not whatever htslib
    finds (its REF_PATH, or a download by M5) when the reads are decoded.
    """
    for bam in bams:
        if not Path(bam).exists():
            raise UserError(f"BAM not found: {bam}")
        ref_file = None if reference is None else str(reference)  # CRAM decoding needs it
        with pysam.AlignmentFile(str(bam), reference_filename=ref_file) as handle:
            cram = handle.is_cram
            if cram and reference is None:
                raise UserError(
                    f"{bam}: a CRAM is decoded with the reference FASTA it was written with, "
                    "and none was given (--reference)"
                )
            if not handle.has_index():
                raise UserError(f"{bam}: no index (.bai/.csi/.crai); run samtools index")
        if reference is not None and (match_bams or cram):
            problems = check_bam_matches_reference(bam, reference)
            if problems:
                raise UserError(f"{bam}: does not match {reference}: {problems[0]}")
    names = [bam_sample(b) for b in bams]
    if unique and len(set(names)) != len(names):
        raise UserError(f"two BAMs share an @RG SM sample name: {names}")
    return names


def check_bam_matches_reference(bam_path: str | Path, fasta_path: str | Path) -> list[str]:
    """Problems if the BAM/CRAM was aligned to another genome than the FASTA.

    Compatible: every FASTA contig is in the unit's header with the same length (and the same M5
    where both the header and the FASTA's .dict carry one). Extra contigs in the unit (alt,
    decoy, other chromosomes) are fine: a whole-genome BAM works against a partial FASTA."""
    with pysam.FastaFile(str(fasta_path)) as fa:
        ref = dict(zip(fa.references, fa.lengths, strict=True))
    with pysam.AlignmentFile(str(bam_path), reference_filename=str(fasta_path)) as bam:
        sq = {s["SN"]: s for s in bam.header.to_dict().get("SQ", [])}
    problems = []
    missing = sorted(name for name in ref if name not in sq)
    if missing:
        problems.append(
            f"reference contigs absent from the BAM header: {', '.join(missing[:3])}"
            + (f" (+{len(missing) - 3} more)" if len(missing) > 3 else "")
        )
    for name, length in ref.items():
        if name in sq and int(sq[name]["LN"]) != length:
            problems.append(
                f"contig {name} has length {sq[name]['LN']} in the BAM but {length} in the "
                "reference"
            )
    md5 = _dict_md5(fasta_path)
    for name, m5 in md5.items():
        theirs = sq.get(name, {}).get("M5")
        if theirs and theirs.lower() != m5.lower():
            problems.append(f"contig {name} has M5 {theirs} in the BAM but {m5} in the reference")
    return problems
