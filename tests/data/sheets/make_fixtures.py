"""Regenerate the tiny real-format FASTQ/BAM fixtures of the sample-sheet tests (deterministic).

Reads are cut from real GRCh38 sequence of the bundled panel reference (ALK contig, inside
``panel_GRCh38.known_sequence.bed``) so they look like what a sequencer produces. Broken files
are made from good ones the way they break in practice: a copy cut short, a gzip stream cut
mid-member, a record with a quality string of the wrong length, a mate file with a missing
read, a BAM header from a different reference.

Run from anywhere: ``.venv/bin/python tests/data/sheets/make_fixtures.py``.
"""

from __future__ import annotations

import bz2
import gzip
import random
from pathlib import Path

import pysam

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
FASTA = REPO / "resources" / "reference" / "panel_GRCh38.fa"
CONTIG = "chr2_29196228_29226309"  # ALK kinase domain exons; real bases in [0, 1904)
READ_LEN, FRAGMENT = 100, 250
COMP = str.maketrans("ACGTN", "TGCAN")


def _gzip(path: Path, text: str) -> None:
    with open(path, "wb") as raw, gzip.GzipFile("", "wb", 6, raw, mtime=0) as handle:
        handle.write(text.encode())


def _fragments(seed: int, n: int) -> list[tuple[int, str, str]]:
    """(position, R1, R2) read pairs from the ALK contig, sorted by position."""
    rng = random.Random(seed)
    with pysam.FastaFile(str(FASTA)) as fa:
        ref = fa.fetch(CONTIG, 0, 1904).upper()
    out = []
    for _ in range(n):
        pos = rng.randrange(0, len(ref) - FRAGMENT)
        r1 = ref[pos : pos + READ_LEN]
        r2 = ref[pos + FRAGMENT - READ_LEN : pos + FRAGMENT].translate(COMP)[::-1]
        out.append((pos, r1, r2))
    return sorted(out)


def _qual(rng: random.Random, n: int) -> str:
    return "".join(chr(33 + rng.choice((25, 32, 36, 37, 37, 37))) for _ in range(n))


def fastq_pair(name: str, seed: int, n: int) -> tuple[str, str]:
    rng = random.Random(seed + 1)
    r1, r2 = [], []
    for i, (_, s1, s2) in enumerate(_fragments(seed, n), 1):
        read = f"{name}:1:FC0001:1:1101:{1000 + i}:{2000 + 7 * i}"
        r1.append(f"@{read} 1:N:0:ACGTACGT\n{s1}\n+\n{_qual(rng, len(s1))}\n")
        r2.append(f"@{read} 2:N:0:ACGTACGT\n{s2}\n+\n{_qual(rng, len(s2))}\n")
    return "".join(r1), "".join(r2)


def write_bam(
    path: Path, sample: str, seed: int, n: int, header_from: str | None = None, paired=True
) -> None:
    """Coordinate-sorted paired BAM on the panel reference (or a foreign header)."""
    if header_from == "hg38":
        sq = [{"SN": "chr2", "LN": 242193529}, {"SN": "chr7", "LN": 159345973}]
        contig, offset = "chr2", 29196228 - 1
    else:
        with pysam.FastaFile(str(FASTA)) as fa:
            sq = [{"SN": s, "LN": n_} for s, n_ in zip(fa.references, fa.lengths, strict=True)]
        contig, offset = CONTIG, 0
    header = {
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": sq,
        "RG": [{"ID": f"{sample}.1", "SM": sample, "PL": "ILLUMINA"}],
    }
    rng = random.Random(seed + 1)
    records = []
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        tid = out.get_tid(contig)
        for i, (pos, s1, s2) in enumerate(_fragments(seed, n), 1):
            for mate, seq, start, mstart in (
                (1, s1, pos, pos + FRAGMENT - READ_LEN),
                (2, s2, pos + FRAGMENT - READ_LEN, pos),
            ):
                a = pysam.AlignedSegment(out.header)
                a.query_name = f"{sample}_{i}"
                a.query_sequence = seq if mate == 1 else seq.translate(COMP)[::-1]
                a.flag = 0x1 | 0x2 | (0x20 if mate == 1 else 0x10) | (0x40 if mate == 1 else 0x80)
                a.reference_id = tid
                a.reference_start = offset + start
                a.mapping_quality = 60
                a.cigarstring = f"{READ_LEN}M"
                a.next_reference_id = tid
                a.next_reference_start = offset + mstart
                a.template_length = FRAGMENT if mate == 1 else -FRAGMENT
                a.query_qualities = pysam.qualitystring_to_array(_qual(rng, READ_LEN))
                a.set_tag("RG", f"{sample}.1")
                if not paired:
                    a.flag &= 0x10
                    a.next_reference_id, a.next_reference_start, a.template_length = -1, -1, 0
                records.append(a)
        for a in sorted(records, key=lambda r: (r.reference_start, r.flag)):
            out.write(a)


def main() -> None:
    reads, bams = HERE / "reads", HERE / "bams"
    reads.mkdir(exist_ok=True)
    bams.mkdir(exist_ok=True)
    for seed, name in enumerate(("P", "CR1", "CR2", "CR3", "Q", "QR1", "L2"), start=11):
        r1, r2 = fastq_pair(name, seed, 25)
        _gzip(reads / f"{name}_R1.fastq.gz", r1)
        _gzip(reads / f"{name}_R2.fastq.gz", r2)
    r1, r2 = fastq_pair("PLAIN", 31, 10)
    (reads / "plain_R1.fastq").write_text(r1)
    (reads / "plain_R2.fastq").write_text(r2)

    # Large enough that the cut falls well after the first gzip read buffer.
    r1, r2 = fastq_pair("TRUNC", 41, 400)
    _gzip(reads / "truncated_R2.fastq.gz", r2)
    whole = gzip.compress(r1.encode(), mtime=0)
    (reads / "truncated_R1.fastq.gz").write_bytes(whole[: len(whole) * 2 // 3])

    r1, r2 = fastq_pair("SHORT", 43, 25)
    _gzip(reads / "short_R1.fastq.gz", r1)
    _gzip(reads / "short_R2.fastq.gz", "".join(r2.splitlines(keepends=True)[:-4]))

    r1, r2 = fastq_pair("SWAP", 45, 25)
    lines = r2.splitlines(keepends=True)
    lines[40:44], lines[44:48] = lines[44:48], lines[40:44]  # records 11 and 12 swapped
    _gzip(reads / "swapped_R1.fastq.gz", r1)
    _gzip(reads / "swapped_R2.fastq.gz", "".join(lines))

    r1, r2 = fastq_pair("BADREC", 47, 25)
    lines = r1.splitlines(keepends=True)
    lines[4 * 9 + 3] = lines[4 * 9 + 3][:-6] + "\n"  # record 10: quality 5 characters short
    _gzip(reads / "badrecord_R1.fastq.gz", "".join(lines))
    _gzip(reads / "badrecord_R2.fastq.gz", r2)

    with pysam.FastaFile(str(FASTA)) as fa:
        _gzip(reads / "fasta_R1.fastq.gz", f">{CONTIG}\n{fa.fetch(CONTIG, 0, 240)}\n")
    r1, r2 = fastq_pair("NOTGZ", 49, 5)
    (reads / "notgz_R1.fastq.gz").write_text(r1)
    _gzip(reads / "notgz_R2.fastq.gz", r2)
    (reads / "empty_R1.fastq.gz").write_bytes(b"")
    _gzip(reads / "empty_R2.fastq.gz", r2)

    # The same reads under a second sample name: a byte copy, and the same library minus its
    # first two read pairs (recompressed, so the files differ).
    for mate in (1, 2):
        data = (reads / f"CR1_R{mate}.fastq.gz").read_bytes()
        (reads / f"CR1copy_R{mate}.fastq.gz").write_bytes(data)
        lines = gzip.decompress(data).decode().splitlines(keepends=True)
        _gzip(reads / f"CR1sub_R{mate}.fastq.gz", "".join(lines[8:]))

    # What other tools deliver: Windows line endings, bzip2, Phred+64 qualities.
    r1, r2 = fastq_pair("CRLF", 51, 10)
    _gzip(reads / "crlf_R1.fastq.gz", r1.replace("\n", "\r\n"))
    _gzip(reads / "crlf_R2.fastq.gz", r2.replace("\n", "\r\n"))
    r1, r2 = fastq_pair("BZ", 53, 10)
    (reads / "bz2_R1.fastq.bz2").write_bytes(bz2.compress(r1.encode()))
    (reads / "bz2_R1.fastq.gz").write_bytes(bz2.compress(r1.encode()))  # mislabelled
    _gzip(reads / "bz2_R2.fastq.gz", r2)
    r1, r2 = fastq_pair("P64", 55, 10)
    shift = str.maketrans({chr(c): chr(c + 31) for c in range(33, 75)})
    for mate, text in ((1, r1), (2, r2)):
        lines = text.splitlines(keepends=True)
        lines[3::4] = [q.translate(shift) for q in lines[3::4]]
        _gzip(reads / f"phred64_R{mate}.fastq.gz", "".join(lines))

    for seed, name in enumerate(("P", "CR1", "CR2"), start=61):
        write_bam(bams / f"{name}.bam", name, seed, 30)
    (bams / "P_copy.bam").write_bytes((bams / "P.bam").read_bytes())
    with (
        pysam.AlignmentFile(str(bams / "CR1.bam")) as src,
        pysam.AlignmentFile(
            str(bams / "CR1.cram"), "wc", template=src, reference_filename=str(FASTA)
        ) as out,
    ):
        for read in src:
            out.write(read)
    write_bam(bams / "hg38.bam", "HG", 71, 30, header_from="hg38")
    write_bam(bams / "single_end.bam", "SE", 75, 30, paired=False)
    write_bam(bams / "big.bam", "BIG", 73, 2000)
    data = (bams / "big.bam").read_bytes()
    (bams / "truncated.bam").write_bytes(data[: len(data) // 2])
    corrupt = bytearray(data)
    middle = len(corrupt) // 2
    corrupt[middle : middle + 64] = bytes(64)  # zeroed bytes inside a data block, EOF intact
    (bams / "corrupt.bam").write_bytes(bytes(corrupt))
    (bams / "big.bam").unlink()
    with pysam.AlignmentFile(
        str(bams / "unaligned.bam"), "wb", header={"HD": {"VN": "1.6", "SO": "unsorted"}}
    ) as out:
        a = pysam.AlignedSegment(out.header)
        a.query_name, a.query_sequence, a.flag = "u1", "ACGT" * 25, 4
        a.query_qualities = pysam.qualitystring_to_array("I" * 100)
        out.write(a)
    (bams / "text.bam").write_text("this is not a BAM\n")


if __name__ == "__main__":
    main()
