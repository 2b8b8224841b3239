"""Cheap checks of the files a config and sheets name: exist, readable, first FASTQ record,
mates, BAM header and EOF block, reference FASTA index. Nothing here reads a whole file."""

from __future__ import annotations

import gzip
import os
import zlib
from itertools import islice
from pathlib import Path
from typing import Any

import pandas as pd
import pysam

from resistcall.reference import check_bam_matches_reference, contig_offset

#: The 28-byte empty BGZF block that ends every complete BAM (SAM spec, section 4.1.2).
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
_GZIP_MAGIC = b"\x1f\x8b"
SEQ_CHARS = b"ACGTNacgtnRYSWKMBDHVryswkmbdhv.-"
QUAL_CHARS = bytes(range(33, 127))

#: What to do about a unit without reads (a library that failed on the sequencer).
NO_READS = (
    "contains no reads: a library that failed sequencing; remove its unit from units.tsv (and "
    "the sample from samples.tsv if it has no other unit)"
)


#: Folder of the files shipped with resistcall (reference, panel BEDs, known-resistance table).
BUNDLE_DIR = "resources"
#: Config keys that may name a shipped file (a path under ``resources/``).
BUNDLED_KEYS = (
    ("reference", "fasta"),
    ("reference", "gtf"),
    ("panel", "targets"),
    ("panel", "snv_regions"),
    ("panel", "primers"),
    ("known_resistance",),
    ("simulate", "known_bed"),
)


def source_checkout() -> Path | None:
    """The checkout this package was installed from (editable or source install), which holds
    the shipped ``resources/``; None for an installed wheel without them."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / BUNDLE_DIR).is_dir() and (root / "workflow").is_dir() else None


def resolve_bundled(config: dict[str, Any], base_dir: Path, root: Path | None) -> dict[str, Any]:
    """Point config paths under ``resources/`` that name a file shipped with resistcall at the
    copy in ``root`` (the workflow's own checkout), in place, and return ``config``.

    A workflow used as a module (or run with ``--directory``) runs in the user's folder: the
    user's config and sheets resolve there, the shipped reference and tables never do (a
    same-named file in the user's folder is not used). A clone run in place (``root`` is
    ``base_dir``) keeps its paths as written. Paths outside ``resources/``, absolute paths and
    names not shipped are left to the user's folder."""
    if root is None or Path(base_dir).resolve() == Path(root).resolve():
        return config
    for keys in BUNDLED_KEYS:
        node: Any = config
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        value = node.get(keys[-1]) if isinstance(node, dict) else None
        if not isinstance(value, str) or Path(value).parts[:1] != (BUNDLE_DIR,):
            continue
        shipped = Path(root).resolve() / value
        if shipped.is_file():
            node[keys[-1]] = str(shipped)
    return config


def resolve(base_dir: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else Path(os.path.normpath(base_dir / p))


def where(base_dir: Path, value: str) -> str:
    """Path as written, plus where it was looked for when relative (the usual confusion)."""
    if Path(value).is_absolute():
        return value
    return f"{value} (looked for {Path(base_dir).resolve() / value})"


def file_problem(path: Path) -> str | None:
    """Why a file cannot be used as input (short reason), or None."""
    if not path.exists():
        return "file not found"
    if not path.is_file():
        return "not a regular file"
    if not os.access(path, os.R_OK):
        return "file is not readable (permissions)"
    if path.stat().st_size == 0:
        return "file is empty"
    return None


def is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def is_bgzf(path: Path) -> bool:
    """True when the file starts with a BGZF block (gzip with the ``BC`` extra field)."""
    with path.open("rb") as handle:
        head = handle.read(16)
    return head[:4] == b"\x1f\x8b\x08\x04" and head[12:14] == b"BC"


#: Magic bytes of compressions a FASTQ sometimes arrives in that aligners do not read.
_OTHER_COMPRESSION = {b"BZh": "bzip2", b"\x28\xb5\x2f\xfd": "zstd", b"\xfd7zXZ\x00": "xz"}
#: Phred+64 qualities start at '@' (Q0); Phred+33 from current instruments end at 'K' (Q42).
PHRED64_MIN, PHRED33_MAX = ord("@"), ord("K")


def record_problem(record: tuple[bytes, ...], number: int) -> str | None:
    """Shape of one FASTQ record (4 lines); None when fine."""
    header, seq, plus, qual = (line.rstrip(b"\n") for line in record)
    if not header.startswith(b"@") or len(header) < 2:
        return f"record {number}: header line does not start with '@' (found {header[:40]!r})"
    if not plus.startswith(b"+"):
        return f"record {number}: third line does not start with '+' (found {plus[:40]!r})"
    if len(seq) != len(qual):
        return (
            f"record {number}: sequence has {len(seq)} bases but quality has {len(qual)} characters"
        )
    bad = seq.translate(None, SEQ_CHARS)
    if bad:
        return f"record {number}: sequence contains invalid character {bad[:1]!r}"
    bad = qual.translate(None, QUAL_CHARS)
    if bad:
        return f"record {number}: quality contains invalid character {bad[:1]!r}"
    return None


def fastq_head(path: Path) -> tuple[str | None, bytes]:
    """Cheap look at a FASTQ: compression matches the name, first record is FASTQ-shaped.

    Returns (problem or None, first header line).
    """
    with path.open("rb") as handle:
        magic = handle.read(6)
    for prefix, kind in _OTHER_COMPRESSION.items():
        if magic.startswith(prefix):
            return (
                f"{kind}-compressed: resistcall reads gzip or plain FASTQ; recompress it "
                f"(e.g. `{kind} -dc FILE | gzip > FILE.fastq.gz`)",
                b"",
            )
    gz = is_gzip(path)
    if path.name.endswith(".gz") and not gz:
        return "file name ends in .gz but the file is not gzip-compressed", b""
    try:
        with gzip.open(path, "rb") if gz else path.open("rb") as handle:
            record = tuple(handle.readline() for _ in range(4))
    except (OSError, EOFError, zlib.error) as exc:
        return f"cannot be decompressed ({exc})", b""
    if not record[0]:
        return NO_READS, b""
    if not record[3]:
        return "ends inside the first FASTQ record (truncated?)", b""
    if record[0].endswith(b"\r\n"):
        return "has Windows line endings (CRLF): convert it with dos2unix", b""
    problem = record_problem(record, 1)
    if problem:
        return f"not FASTQ: {problem}", b""
    qual = record[3].rstrip()
    if min(qual) >= PHRED64_MIN and max(qual) > PHRED33_MAX:
        return (
            "quality scores look Phred+64 (Illumina 1.3-1.7 encoding: no character below '@', "
            f"some above '{chr(PHRED33_MAX)}'); convert to Phred+33, e.g. `seqtk seq -Q64 -V`",
            b"",
        )
    return None, record[0].rstrip()


def mate_problem(head1: bytes, head2: bytes, fq1: str) -> str | None:
    """First records of fq1/fq2 must be mates: same name, and not R2-then-R1 (Illumina)."""
    name1, name2 = (strip_mate(read_names([h]))[0][1:] for h in (head1, head2))
    if name1 != name2:
        return (
            f"first read name {name2.decode(errors='replace')!r} differs from "
            f"{name1.decode(errors='replace')!r} in {fq1}: the files are not mates"
        )
    read1, read2 = (
        h.split(None, 1)[1][:2] if len(h.split(None, 1)) > 1 else b"" for h in (head1, head2)
    )
    if (read1, read2) == (b"2:", b"1:") or (head1.endswith(b"/2") and head2.endswith(b"/1")):
        return "fq1 holds read 2 and fq2 holds read 1 (from the read headers): swap them"
    return None


def bgzf_eof_present(path: str | Path) -> bool:
    """True when the file ends with the BGZF EOF block (a BAM that was written completely)."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() < len(BGZF_EOF):
            return False
        handle.seek(-len(BGZF_EOF), os.SEEK_END)
        return handle.read() == BGZF_EOF


def open_alignments(path: str | Path, fasta: str | Path | None = None) -> pysam.AlignmentFile:
    """A BAM, or a CRAM (recognised by its magic bytes, whatever its name) decoded with
    ``fasta``, opened without requiring @SQ lines."""
    with open(path, "rb") as handle:
        cram = handle.read(4) == b"CRAM"
    if cram:
        reference = str(fasta) if fasta else None
        # htslib logs "[E::cram_index_load] Could not retrieve index file" for an unindexed
        # CRAM, which needs none here: a line that reads as an error under a clean validate
        previous = pysam.set_verbosity(0)
        try:
            return pysam.AlignmentFile(
                str(path), "rc", check_sq=False, reference_filename=reference
            )
        finally:
            pysam.set_verbosity(previous)
    return pysam.AlignmentFile(str(path), "rb", check_sq=False)


def has_index(path: Path, fasta: Path | None) -> bool:
    """A BAM/CRAM with its index (.bai/.csi/.crai), as region fetches need."""
    with open_alignments(path, fasta) as bam:
        return bool(bam.has_index())


def bam_head_problems(path: Path, fasta: Path | None, fasta_shown: str = "") -> list[str]:
    """Cheap BAM/CRAM checks: not truncated, header readable, @SQ lines match the reference."""
    with path.open("rb") as handle:
        cram = handle.read(4) == b"CRAM"
    if not cram and not bgzf_eof_present(path):
        return ["BAM is truncated or not BGZF-compressed (the BGZF end-of-file block is missing)"]
    try:
        with open_alignments(path, fasta) as bam:
            n_sq = len(bam.references)
            sm = sorted({rg["SM"] for rg in bam.header.to_dict().get("RG", []) if "SM" in rg})
            flags = [read.flag for read in islice(bam.fetch(until_eof=True), 1000)]
    except (ValueError, OSError) as exc:
        return [f"cannot be opened as BAM ({exc})"]
    if len(sm) > 1:
        # the workflow relabels a unit's reads with the sheet's sample: several samples in one
        # BAM would silently be merged into one
        return [
            f"BAM holds reads of {len(sm)} samples (@RG SM: {', '.join(sm[:5])}); give one "
            "BAM per sample (samtools split splits it by read group)"
        ]
    if n_sq == 0:
        return ["BAM has no @SQ lines (unaligned BAM?): give the reads as FASTQ instead"]
    if not flags:
        # as an empty FASTQ, before any job
        return [f"BAM has {NO_READS.removeprefix('contains ')}"]
    if flags and not any(flag & 0x1 for flag in flags):
        return [
            "BAM holds single-end reads (no read among the first 1000 is paired); "
            "resistcall needs paired-end reads"
        ]
    if fasta is None:
        return []
    problems = check_bam_matches_reference(path, fasta)
    if not problems:
        return []
    with open_alignments(path, fasta) as bam:
        names = list(bam.references)
    with pysam.FastaFile(str(fasta)) as fa:
        # chromosomes behind panel contigs (chr2 for chr2_29196228_29226309)
        chromosomes = {contig_offset(c)[0] for c in fa.references} - set(fa.references)
    shown = ", ".join(names[:3]) + (", ..." if n_sq > 3 else "")
    genome = [name for name in names if name in chromosomes]
    fix = (
        "it looks aligned to a whole genome (it has "
        + ", ".join(genome[:3])
        + "): set reference.fasta/gtf to that genome (the BAM is then used as it is, see "
        "docs/reference.md), or turn it back into FASTQ (samtools collate -O -u in.bam | "
        "samtools fastq -1 R1.fastq.gz -2 R2.fastq.gz -0 /dev/null -s /dev/null -n -) and give "
        "fq1/fq2"
        if genome
        else "set reference.fasta to the FASTA it was aligned to (its @SQ names and lengths), "
        "or realign it / give the reads as FASTQ"
    )
    return [
        f"BAM was not aligned to the configured reference {fasta_shown or fasta}: "
        f"{'; '.join(problems)} (the BAM has {n_sq} contigs: {shown}); {fix}"
    ]


def reference_problems(config: dict[str, Any], base_dir: Path) -> tuple[list[tuple], bool]:
    """(key, message) problems for the files the config names; second value: FASTA usable."""
    out: list[tuple[str, str]] = []
    keys = [
        ("reference.fasta", config["reference"]["fasta"]),
        ("reference.gtf", config["reference"]["gtf"]),
        ("panel.targets", config["panel"]["targets"]),
        ("panel.snv_regions", config["panel"].get("snv_regions", config["panel"]["targets"])),
        ("known_resistance", config["known_resistance"]),
    ]
    if config["panel"]["assay"] == "amplicon":
        keys.append(("panel.primers", config["panel"]["primers"]))
    if "resources_config" in config:
        keys.append(("resources_config", config["resources_config"]))
    if (config.get("pon") or {}).get("file"):
        keys.append(("pon.file", config["pon"]["file"]))
    fasta_ok = True
    for key, value in keys:
        problem = file_problem(resolve(base_dir, value))
        if problem:
            out.append((key, f"{problem}: {where(base_dir, value)}"))
            fasta_ok = fasta_ok and key != "reference.fasta"
    if fasta_ok:
        fasta = resolve(base_dir, config["reference"]["fasta"])
        fai = Path(f"{fasta}.fai")
        indexed = fai.is_file()
        if not indexed and is_gzip(fasta) and not is_bgzf(fasta):
            # GENCODE and Ensembl ship their .fa.gz as plain gzip, which faidx cannot index
            out.append(
                (
                    "reference.fasta",
                    f"{where(base_dir, config['reference']['fasta'])} is gzip-compressed, not "
                    "bgzip-compressed, so samtools cannot index it (GENCODE and Ensembl ship "
                    "their .fa.gz as plain gzip): decompress it (`gunzip -k FILE`) or recompress "
                    "it (`zcat FILE | bgzip > NEW.fa.gz`) and point reference.fasta at the result",
                )
            )
            fasta_ok = False
        elif not indexed:
            try:  # index it once, as samtools faidx would (the folder may be read-only)
                pysam.faidx(str(fasta))
                indexed = fai.is_file()
            except (pysam.SamtoolsError, OSError) as exc:
                reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "failed"
                out.append(
                    (
                        "reference.fasta",
                        f"the FASTA has no index {fai.name} and samtools faidx cannot index it "
                        f"({reason}): check it is a FASTA (plain or bgzip-compressed, equal line "
                        f"lengths per record) and run `samtools faidx {fasta}`",
                    )
                )
                fasta_ok = False
        if indexed:
            try:
                index = pd.read_csv(
                    fai,
                    sep="\t",
                    header=None,
                    usecols=[0, 1, 2],
                    names=["name", "length", "offset"],
                    dtype={"name": str},  # Ensembl names (2, 7) are names, not numbers
                )
                if is_bgzf(fasta):  # .fai offsets are uncompressed: the .gzi maps them
                    gzi = Path(f"{fasta}.gzi")
                    stale = not gzi.is_file() or gzi.stat().st_mtime < fasta.stat().st_mtime
                else:
                    stale = int(index["offset"].max()) >= fasta.stat().st_size
            except (ValueError, pd.errors.ParserError):
                stale = True
            if stale:
                out.append(
                    (
                        "reference.fasta",
                        f"the index {fai.name} does not fit the FASTA (stale or corrupt): "
                        f"re-create it with `samtools faidx {fasta}`",
                    )
                )
                fasta_ok = False
            else:
                gtf = resolve(base_dir, config["reference"]["gtf"])
                problem = gtf_naming_problem(gtf, list(index["name"]))
                if problem and gtf.is_file():
                    out.append(("reference.gtf", problem))
    return out, fasta_ok


def gtf_naming_problem(gtf: Path, contigs: list[str], rows: int = 2000) -> str | None:
    """A GTF whose first rows use another contig naming than the FASTA (``2`` vs ``chr2``):
    caught when the sheets load, before any job (the annotation step checks every gene)."""
    if not gtf.is_file():
        return None
    try:
        with open(gtf, "rb") as probe:
            gz = probe.read(2) == b"\x1f\x8b"
        with gzip.open(gtf, "rb") if gz else open(gtf, "rb") as handle:
            lines = [line for line in islice(handle, rows * 2) if not line.startswith(b"#")]
    except (OSError, EOFError):
        return None  # unreadable: the annotation step names the problem
    seen = {line.split(b"\t", 1)[0].decode(errors="replace") for line in lines[:rows]}
    if not seen or seen & set(contigs):
        return None
    chr_gtf = all(c.startswith("chr") for c in seen)
    chr_fasta = all(c.startswith("chr") for c in contigs)
    if chr_gtf == chr_fasta:
        return None  # same naming, other chromosomes first: checked gene by gene later
    return (
        f"the GTF names contigs {', '.join(sorted(seen)[:3])} but the FASTA "
        f"{', '.join(contigs[:3])}: they use different naming (chr2 vs 2); use the GTF of the "
        "FASTA's provider (GENCODE/UCSC: chr2; Ensembl: 2) or rename one of them"
    )


def read_names(heads: list[bytes]) -> list[bytes]:
    """Read names: text after '@' up to the first whitespace (the comment is ignored)."""
    return [h.split(None, 1)[0] for h in heads]


def strip_mate(names: list[bytes]) -> list[bytes]:
    return [n[:-2] if n.endswith((b"/1", b"/2")) else n for n in names]


#: Reads sampled per unit to recognise the same reads under two sample names.
FINGERPRINT_READS = 500
_COMPLEMENT = bytes.maketrans(b"ACGTNacgtn", b"TGCANtgcan")


def _canonical(seq: bytes) -> bytes:
    """A read's sequence or its reverse complement, whichever sorts first (a BAM stores reverse
    strand reads reverse-complemented)."""
    return min(seq, seq.translate(_COMPLEMENT)[::-1])


def read_fingerprint(
    path: Path, is_bam: bool, fasta: Path | None = None
) -> frozenset[tuple[bytes, bytes]]:
    """(read name, canonical sequence) of the first reads of a unit (read 1 only). Empty when
    the file cannot be read (its problem is reported by the other checks). A CRAM is decoded
    with ``fasta`` (the configured reference), not the path in its @SQ UR tags."""
    keys: set[tuple[bytes, bytes]] = set()
    try:
        if is_bam:
            with open_alignments(path, fasta) as bam:
                for read in bam.fetch(until_eof=True):
                    if read.is_secondary or read.is_supplementary or read.is_read2:
                        continue
                    seq = (read.query_sequence or "").encode()
                    keys.add(((read.query_name or "").encode(), _canonical(seq)))
                    if len(keys) >= FINGERPRINT_READS:
                        break
        else:
            with gzip.open(path, "rb") if is_gzip(path) else path.open("rb") as handle:
                while len(keys) < FINGERPRINT_READS:
                    head, seq, _, _ = (handle.readline() for _ in range(4))
                    if not seq:
                        break
                    name = strip_mate(read_names([head.rstrip()]))[0][1:]
                    keys.add((name, _canonical(seq.rstrip())))
    except (OSError, EOFError, ValueError, zlib.error):
        return frozenset()
    return frozenset(keys)
