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
    # duplicates leave both sides of the fraction: half the mapped reads duplicated (all of
    # them off target) must not halve the capture efficiency
    stats_dup = qc.parse_samtools_stats(stats) | {"reads duplicated": 40.0}
    dup = qc.summarise(stats_dup, depths, 30, "S1")
    assert dup["on_target_fraction"] == pytest.approx(0.75)
    assert depths["mean_depth"].tolist() == [30.0, 30.0, 0.0]
    # the uncovered target is named in a warning, never silently averaged away
    assert any("below 100x" in w and "EGFR" in w for w in summary["warnings"])
    assert not any("of unique mapped reads on target" in w for w in summary["warnings"])
    # 80 reads: far too few for any verdict
    assert summary["status"] == "fail"
    assert summary["reasons"] == ["60 mapped reads on target (fail below 2000)"]
    assert set(summary["not_assessable"]) == {"snv", "cnv", "fusion"}


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


HEALTHY = {
    "mapped_fraction": 0.98,
    "on_target_reads": 500_000,
    "on_target_fraction": 0.9,
    "median_target_depth": 900.0,
    "duplicate_fraction": 0.1,
    "read_length": 100.0,
    "insert_size": 190.0,
}


def test_healthy_sample_passes():
    assert qc.gate(HEALTHY, qc.QcOptions()) == ("pass", [], [], {})


@pytest.mark.parametrize(
    ("change", "status", "reason", "stages"),
    [
        # reads of another organism: nothing maps
        (
            {"mapped_fraction": 0.0, "on_target_reads": 0, "median_target_depth": 0.0},
            "fail",
            "only 0% of reads mapped to the reference (fail below 50%): wrong reference or sample?",
            {"snv", "cnv", "fusion"},
        ),
        # ~200 read pairs
        (
            {"on_target_reads": 380, "median_target_depth": 1.2},
            "fail",
            "380 mapped reads on target (fail below 2000)",
            {"snv", "cnv", "fusion"},
        ),
        (
            {"read_length": 30.0},
            "fail",
            "reads are 30 bp on average: too short to align and call variants reliably "
            "(fail below 36 bp)",
            {"snv", "cnv", "fusion"},
        ),
        # long enough for SNVs, too short for split-read fusion evidence
        (
            {"read_length": 45.0},
            "warn",
            "reads are 45 bp on average; fusion detection needs >= 50 bp (an aligned anchor "
            "plus a placeable clip)",
            {"fusion"},
        ),
        ({"read_length": 60.0}, "warn", "reads are 60 bp on average (warn below 75)", set()),
        ({"insert_size": 1500.0}, "warn", "mean insert size 1500 bp is outside 100-1000 bp", set()),
        (
            {"median_target_depth": 150.0},
            "warn",
            "median target depth 150x is below 200x",
            set(),
        ),
        (
            {"on_target_reads": 10_000},
            "warn",
            "10000 mapped reads on target (warn below 20000)",
            set(),
        ),
        ({"duplicate_fraction": 0.7}, "warn", "70% duplicate reads: low library complexity", set()),
    ],
)
def test_gates(change, status, reason, stages):
    got, fail, warn, not_assessable = qc.gate({**HEALTHY, **change}, qc.QcOptions())
    assert got == status
    assert (fail if status == "fail" else warn)[0] == reason
    assert set(not_assessable) == stages
    if status == "fail":
        assert all(r.startswith("sample failed QC: " + reason) for r in not_assessable.values())


def test_thresholds_come_from_the_command_line(sample, tmp_path):
    bam, stats, targets = sample
    out = tmp_path / "q.json"
    base = ["qc", "--bam", str(bam), "--stats", str(stats), "--targets", str(targets)]
    base += ["--out", str(out), "--targets-out", str(tmp_path / "q.tsv")]
    assert main([*base, "--fail-on-target-reads", "10", "--warn-on-target-reads", "20"]) == 0
    summary = json.loads(out.read_text())
    assert summary["gates"]["fail_on_target_reads"] == 10
    # 60 reads on target now passes that gate; the 30x median depth still warns
    assert summary["status"] == "warn", summary["reasons"]
    assert summary["reasons"] == ["median target depth 30x is below 200x"]


def test_qc_config_section_refuses_typos_and_out_of_range_thresholds(tmp_path):
    """The qc: section is checked at start like every stage section (resistcall.options)."""
    from resistcall.inputs import SheetError, load_config

    from conftest import REPO

    text = (REPO / "tests" / "data" / "sheets" / "config.yaml").read_text()
    path = tmp_path / "config.yaml"
    path.write_text(text + "qc:\n  fail_median_dept: 50\n  fail_mapped_fraction: 2\n")
    with pytest.raises(SheetError) as info:
        load_config(path)
    problems = [str(p) for p in info.value.problems]
    assert len(problems) == 2, problems
    assert "key qc.fail_median_dept: unknown key (did you mean fail_median_depth?" in problems[0]
    assert (
        "key qc.fail_mapped_fraction: qc.fail_mapped_fraction must be a number >= 0 and <= 1"
        in (problems[1])
    )
