"""One BAM preflight for every stage: exists, indexed, @SQ fits the FASTA, one sample name."""

from __future__ import annotations

import logging
from pathlib import Path

import pysam
import pytest

from resistcall.errors import UserError
from resistcall.reference import preflight_bams

from conftest import REFERENCE


def _bam(path: Path, read_groups: list[dict], index: bool = True) -> str:
    """A one-read BAM on the panel reference's contigs with the given @RG lines."""
    with pysam.FastaFile(str(REFERENCE)) as fasta:
        sq = [
            {"SN": n, "LN": n_len} for n, n_len in zip(fasta.references, fasta.lengths, strict=True)
        ]
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": sq}
    if read_groups:
        header["RG"] = read_groups
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        read = pysam.AlignedSegment(out.header)
        read.query_name, read.query_sequence = "r1", "ACGT" * 10
        read.reference_id, read.reference_start, read.cigarstring = 0, 100, "40M"
        read.query_qualities = pysam.qualitystring_to_array("I" * 40)
        out.write(read)
    if index:
        pysam.index(str(path))
    return str(path)


def test_names_come_from_rg_sm_or_the_file_name_with_a_warning(tmp_path, caplog):
    a = _bam(tmp_path / "a.bam", [{"ID": "x", "SM": "P1"}])
    b = _bam(tmp_path / "HCC827.bam", [])
    with caplog.at_level(logging.WARNING):
        assert preflight_bams([a, b], REFERENCE) == ["P1", "HCC827"]
    assert "no @RG header line; using the file name 'HCC827'" in caplog.text
    cram = tmp_path / "H3122.cram"
    pysam.view("-C", "-T", str(REFERENCE), "-o", str(cram), b, catch_stdout=False)
    pysam.index(str(cram))
    assert preflight_bams([a, str(cram)], REFERENCE) == ["P1", "H3122"]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "BAM not found"),
        ("unindexed", "no index (.bai/.csi/.crai); run samtools index"),
        ("two_sm", "expected exactly one @RG SM sample name, found ['A', 'B']"),
        ("same_name", "two BAMs share an @RG SM sample name: ['P1', 'P1']"),
    ],
)
def test_bad_bams_are_refused_with_one_message(tmp_path, case, message):
    good = _bam(tmp_path / "good.bam", [{"ID": "x", "SM": "P1"}])
    bams = {
        "missing": [str(tmp_path / "nope.bam")],
        "unindexed": [_bam(tmp_path / "u.bam", [{"ID": "x", "SM": "U"}], index=False)],
        "two_sm": [_bam(tmp_path / "t.bam", [{"ID": "1", "SM": "A"}, {"ID": "2", "SM": "B"}])],
        "same_name": [good, _bam(tmp_path / "again.bam", [{"ID": "y", "SM": "P1"}])],
    }[case]
    with pytest.raises(UserError) as info:
        preflight_bams(bams, REFERENCE)
    assert message in str(info.value)


def test_bam_of_another_reference_is_refused(tmp_path):
    bam = _bam(tmp_path / "a.bam", [{"ID": "x", "SM": "P1"}])
    other = tmp_path / "other.fa"
    other.write_text(">chrZ\n" + "A" * 100 + "\n")
    pysam.faidx(str(other))
    with pytest.raises(UserError) as info:
        preflight_bams([bam], other)
    assert (
        f"{bam}: does not match {other}: reference contigs absent from the BAM header: chrZ"
        in str(info.value)
    )
    assert preflight_bams([bam]) == ["P1"]  # no reference given: fusion reads GRCh38 BAMs too
