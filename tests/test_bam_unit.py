"""A BAM unit aligned to a larger genome takes the FASTA's header (resistcall bam-unit): @SQ =
the .fai (M5 from a .dict), reads on absent contigs dropped, mates there made "mate unmapped"."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pysam
import pytest

from resistcall.bam_unit import parse_read_group, rewrite_unit
from resistcall.cli import main
from resistcall.errors import UserError

RG = {"ID": "S.u1", "SM": "S", "PL": "ILLUMINA"}
#: the unit's genome: chr1 and chrEBV are not in the run's FASTA
UNIT_SQ = [("chr1", 500), ("chr2", 1000), ("chr5", 800), ("chrEBV", 300)]


def _fasta(path: Path, contigs: list[str]) -> Path:
    seqs = {"chr2": "ACGT" * 250, "chr5": "TTGCA" * 160}
    path.write_text("".join(f">{c}\n{seqs[c]}\n" for c in contigs))
    pysam.faidx(str(path))
    return path


def _read(header, name, flag, ref, pos, mref, mpos, tags=()) -> pysam.AlignedSegment:
    r = pysam.AlignedSegment(header)
    r.query_name, r.flag = name, flag
    r.reference_name, r.reference_start, r.mapping_quality = ref, pos, 60
    r.cigarstring, r.query_sequence, r.query_qualities = "50M", "A" * 50, [30] * 50
    r.next_reference_name, r.next_reference_start = mref, mpos
    r.template_length = 0
    for tag, value in tags:
        r.set_tag(tag, value)
    return r


@pytest.fixture
def unit(tmp_path) -> Path:
    """Coordinate-sorted unit BAM: a proper pair on chr2 (one mate a duplicate, an SA listing
    chrEBV and chr5), a pair split chr2/chrEBV (MC tag), a read on chr1, a pair chr2/chr5."""
    header = pysam.AlignmentHeader.from_dict(
        {
            "HD": {"VN": "1.6", "SO": "coordinate"},
            "SQ": [{"SN": n, "LN": n_len} for n, n_len in UNIT_SQ],
            "RG": [{"ID": "lane7", "SM": "core_sample"}],
            "PG": [{"ID": "bwa", "PN": "bwa"}],
        }
    )
    sa = "chrEBV,100,+,50M,60,0;chr5,200,-,50M,60,0;"
    reads = [
        _read(header, "c", 0, "chr1", 10, "*", -1),
        _read(header, "a", 99, "chr2", 100, "chr2", 300, [("SA", sa), ("RG", "lane7")]),
        _read(header, "b", 65, "chr2", 150, "chrEBV", 20, [("MC", "50M"), ("MQ", 60)]),
        _read(header, "d", 65, "chr2", 200, "chr5", 400),
        _read(header, "a", 1171, "chr2", 300, "chr2", 100),  # 147 + duplicate
        _read(header, "d", 129, "chr5", 400, "chr2", 200),
        _read(header, "b", 129, "chrEBV", 20, "chr2", 150),
    ]
    path = tmp_path / "unit.bam"
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for r in reads:
            out.write(r)
    return path


def _records(path: Path) -> dict[tuple[str, bool], pysam.AlignedSegment]:
    with pysam.AlignmentFile(str(path)) as bam:
        return {(r.query_name, r.is_read1): r for r in bam.fetch(until_eof=True)}


def test_header_is_the_fasta_and_absent_contigs_are_handled(unit, tmp_path):
    fasta = _fasta(tmp_path / "ref.fa", ["chr2", "chr5"])
    subprocess.run(["samtools", "dict", "-o", str(tmp_path / "ref.dict"), str(fasta)], check=True)
    out = tmp_path / "out.bam"
    counts = rewrite_unit(unit, fasta, out, RG, clear_duplicates=False, mate_tags=False)
    assert (counts.reads, counts.dropped, counts.mates_unmapped) == (5, 2, 1)
    assert counts.sort == "none"  # same contig order, already sorted: no re-sort
    with pysam.AlignmentFile(str(out)) as bam:
        h = bam.header.to_dict()
    fai = [line.split("\t")[:2] for line in Path(f"{fasta}.fai").read_text().splitlines()]
    assert [[s["SN"], str(s["LN"])] for s in h["SQ"]] == fai
    assert all(len(s["M5"]) == 32 for s in h["SQ"])  # from ref.dict
    assert h["RG"] == [RG] and h["HD"]["SO"] == "coordinate"
    assert [p["ID"] for p in h["PG"]][:2] == ["bwa", "resistcall.bam-unit"]  # history kept
    reads = _records(out)
    assert {name for name, _ in reads} == {"a", "b", "d"}  # c (chr1), b/2 (chrEBV) dropped
    b = reads[("b", True)]
    assert b.mate_is_unmapped and b.is_paired and not b.is_proper_pair
    assert (b.next_reference_name, b.next_reference_start) == ("chr2", 150)  # its own place
    assert b.template_length == 0 and not b.has_tag("MC") and not b.has_tag("MQ")
    d1, d2 = reads[("d", True)], reads[("d", False)]
    assert (d1.next_reference_name, d2.next_reference_name) == ("chr5", "chr2")
    assert reads[("a", True)].get_tag("SA") == "chr5,200,-,50M,60,0;"
    assert reads[("a", False)].is_duplicate  # used as given: the unit's own flags kept
    assert {r.get_tag("RG") for r in reads.values()} == {"S.u1"}
    pysam.index(str(out))  # a valid coordinate-sorted BAM


def test_other_contig_order_is_resorted_and_markdup_tags_added(unit, tmp_path):
    fasta = _fasta(tmp_path / "ref.fa", ["chr5", "chr2"])
    out = tmp_path / "out.bam"
    counts = rewrite_unit(unit, fasta, out, RG, clear_duplicates=True, mate_tags=True)
    assert counts.sort == "collate+fixmate+coordinate"
    with pysam.AlignmentFile(str(out)) as bam:
        assert bam.references == ("chr5", "chr2")
        order = [(r.reference_id, r.reference_start) for r in bam.fetch(until_eof=True)]
    assert order == sorted(order) and order[0][0] == 0
    reads = _records(out)
    assert reads[("a", True)].get_tag("MC") == "50M"  # fixmate -m: what markdup needs
    assert not any(r.is_duplicate for r in reads.values())  # this run marks them
    counts = rewrite_unit(unit, fasta, out, RG, clear_duplicates=False, mate_tags=False)
    assert counts.sort == "coordinate"
    pysam.index(str(out))


def test_cli_and_read_group_parsing(unit, tmp_path):
    fasta = _fasta(tmp_path / "ref.fa", ["chr2", "chr5"])
    out = tmp_path / "cli.bam"
    args = ["bam-unit", "--bam", str(unit), "--reference", str(fasta), "--out", str(out)]
    assert main([*args, "--read-group", r"ID:S.u1\tSM:S\tPL:ILLUMINA"]) == 0
    assert _records(out)
    assert parse_read_group("ID:x\tSM:y") == {"ID": "x", "SM": "y"}
    with pytest.raises(UserError, match="expected TAG:VALUE fields with an ID"):
        parse_read_group("SM:y")


def test_unit_compatibility_checks_m5_where_both_carry_one(unit, tmp_path):
    """Item 5: compatible = every FASTA contig in the unit's header with the same length, and
    the same M5 where the header and the FASTA's .dict both carry one; extra contigs are fine."""
    from resistcall.reference import check_bam_matches_reference

    fasta = _fasta(tmp_path / "ref.fa", ["chr2", "chr5"])
    subprocess.run(["samtools", "dict", "-o", str(tmp_path / "ref.dict"), str(fasta)], check=True)
    assert check_bam_matches_reference(unit, fasta) == []  # no M5 in the unit: lengths decide
    with pysam.AlignmentFile(str(unit)) as bam:
        h = bam.header.to_dict()
        reads = list(bam.fetch(until_eof=True))
    for sq in h["SQ"]:
        if sq["SN"] == "chr2":
            sq["M5"] = "0" * 32
    other = tmp_path / "other_m5.bam"
    header = pysam.AlignmentHeader.from_dict(h)
    with pysam.AlignmentFile(str(other), "wb", header=header) as out:
        for r in reads:
            out.write(pysam.AlignedSegment.from_dict(r.to_dict(), header))
    (problem,) = check_bam_matches_reference(other, fasta)
    assert problem.startswith(f"contig chr2 has M5 {'0' * 32} in the BAM but ")
