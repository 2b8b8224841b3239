import json
import subprocess

import pysam
import pytest

from resistcall import qc
from resistcall.cli import main

from conftest import REFERENCE

CONTIG = "chr7_55017807_55211651"  # EGFR, all real bases


def _write_bam(path, reads_per_target, off_target_reads):
    """Paired 100 bp reads stacked on two targets plus some reads far from any target."""
    with pysam.FastaFile(str(REFERENCE)) as fa:
        header = {
            "HD": {"VN": "1.6", "SO": "coordinate"},
            "SQ": [{"SN": n, "LN": ln} for n, ln in zip(fa.references, fa.lengths, strict=True)],
            "RG": [{"ID": "rg1", "SM": "S1"}],
        }
        starts = [1000] * reads_per_target + [5000] * reads_per_target
        starts += [20000] * off_target_reads
        with pysam.AlignmentFile(str(path), "wb", header=header) as out:
            for i, start in enumerate(sorted(starts)):
                seg = pysam.AlignedSegment(out.header)
                seg.query_name = f"r{i}"
                seg.flag = 0
                seg.reference_name = CONTIG
                seg.reference_start = start
                seg.mapping_quality = 60
                seg.cigarstring = "100M"
                seg.query_sequence = fa.fetch(CONTIG, start, start + 100)
                seg.query_qualities = pysam.qualitystring_to_array("I" * 100)
                seg.set_tag("RG", "rg1")
                out.write(seg)
    pysam.index(str(path))


@pytest.fixture()
def sample(tmp_path):
    bam = tmp_path / "s.bam"
    _write_bam(bam, reads_per_target=30, off_target_reads=20)
    stats = tmp_path / "s.stats.txt"
    stats.write_text(
        subprocess.run(
            ["samtools", "stats", str(bam)], capture_output=True, text=True, check=True
        ).stdout
    )
    targets = tmp_path / "t.bed"
    targets.write_text(
        f"{CONTIG}\t1000\t1100\tEGFR\n{CONTIG}\t5000\t5100\tEGFR\n{CONTIG}\t9000\t9100\tEGFR\n"
    )
    return bam, stats, targets


def test_depth_and_on_target(sample):
    bam, stats, targets = sample
    summary, depths = qc.run_qc(bam, stats, targets)
    assert summary["sample"] == "S1"
    assert summary["total_reads"] == 80
    assert summary["on_target_reads"] == 60
    assert summary["on_target_fraction"] == pytest.approx(0.75)
    assert depths["mean_depth"].tolist() == [30.0, 30.0, 0.0]
    # the uncovered target is named in a warning, never silently averaged away
    assert any("below 100x" in w and "EGFR" in w for w in summary["warnings"])
    assert not any("on target" in w for w in summary["warnings"])


def test_cli_writes_outputs_and_rejects_wrong_reference(sample, tmp_path, capsys):
    bam, stats, targets = sample
    out, tout = tmp_path / "q.json", tmp_path / "q.tsv"
    args = [
        "qc",
        "--bam",
        str(bam),
        "--stats",
        str(stats),
        "--targets",
        str(targets),
        "--out",
        str(out),
        "--targets-out",
        str(tout),
    ]
    assert main(args) == 0
    assert json.loads(out.read_text())["median_target_depth"] == 30.0
    assert tout.read_text().splitlines()[0].startswith("sample\tchrom\tstart\tend\tgene")
    bad = tmp_path / "bad.bed"
    bad.write_text("chr7\t100\t200\tEGFR\n")
    assert main(args[:6] + [str(bad)] + args[7:]) == 2
    assert "different references" in capsys.readouterr().err
