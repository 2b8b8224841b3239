"""resistcall's MultiQC sections: the numbers, and MultiQC reading them as custom content."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from resistcall import contracts
from resistcall.multiqc_content import (
    cnv_section,
    coverage_section,
    fusion_section,
    hotspot_section,
    target_spread,
    write_content,
)
from resistcall.report_inputs import load_qc

from conftest import REPO

QC = sorted((REPO / "tests" / "data" / "report" / "qc").glob("*.qc.json"))
RNG = np.random.default_rng(3)


def _targets() -> pd.DataFrame:
    """cnv_targets.tsv rows: CR1 noisy (sd 0.3) with MET up 2 log2 units, CR2 quiet (sd 0.05);
    a zero-weight target that must not count."""
    rows = []
    for sample, sd in (("H3122_CR1", 0.3), ("H3122_CR2", 0.05)):
        for gene, level in (("ALK", 0.0), ("MET", 2.0 if sample == "H3122_CR1" else 0.0)):
            for i in range(40):
                rows.append((sample, gene, i, level + RNG.normal(0, sd), 1.0))
        rows.append((sample, "KIT", 0, 5.0, 0.0))
    return pd.DataFrame(rows, columns=["sample", "gene", "start", "log2_ratio", "weight"])


def _genes() -> pd.DataFrame:
    """cnv.tsv rows: gc_residual_slope repeats the sample's one value on every gene row; NA
    for a run without a reference."""
    rows = [
        ("H3122_CR1", "ALK", 0.012),
        ("H3122_CR1", "MET", 0.012),
        ("H3122_CR2", "ALK", "NA"),
        ("H3122_CR2", "MET", "NA"),
    ]
    return pd.DataFrame(rows, columns=["sample", "gene", "gc_residual_slope"])


def _fusions() -> pd.DataFrame:
    base = dict.fromkeys(contracts.FUSION_COLUMNS, ".")
    rows = [
        base | {"sample": "H3122_P", "gene_5p": "EML4", "gene_3p": "ALK", "variant": "v1",
                "split_reads": "8", "discordant_pairs": "4", "fragments": "12",
                "call": "detected", "region_depth": "300", "detection_limit_af": "0.0167"},
        base | {"sample": "H3122_P", "gene_5p": "unknown", "gene_3p": "ALK", "split_reads": "1",
                "discordant_pairs": "0", "fragments": "1", "call": "below threshold"},
        base | {"sample": "H3122_CR1", "gene_3p": "ALK", "call": "not assessable",
                "region_depth": "4"},
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=list(contracts.FUSION_COLUMNS))


def _hotspots(limit: bool) -> pd.DataFrame:
    rows = [
        ("H3122_P", "mutated", 500, 0.004),
        ("H3122_P", "wild type", 300, 0.006),
        ("H3122_P", "insufficient depth", 12, np.nan),
        ("H3122_CR1", "wild type", 900, 0.002),
    ]
    df = pd.DataFrame(rows, columns=["sample", "verdict", "depth", "detection_limit_vaf"])
    return df if limit else df.drop(columns="detection_limit_vaf")


def test_coverage_is_taken_from_each_samples_qc_json():
    qc = load_qc(QC)
    data = coverage_section(qc)["data"]
    for q in qc:
        row = data[q["sample"]]
        assert row["on_target"] == pytest.approx(100 * q["on_target_fraction"], abs=0.01)
        assert row["median_target_depth"] == q["median_target_depth"]
        assert row["targets_100x"] == pytest.approx(100 * q["fraction_targets_100x"], abs=0.01)
        assert row["mean_target_depth"] == q["mean_target_depth"]
    # qc.json's mean_target_depth is the mean of the per-target means (docs/qc.md), not a
    # mean over target bases: the column's description must say what the number is
    header = coverage_section(qc)["headers"]["mean_target_depth"]
    assert header["description"] == "Mean over targets of the target's mean depth"


def test_cnv_spread_is_the_noise_around_each_genes_level():
    spread = target_spread(_targets()).set_index("sample")
    assert spread.loc["H3122_CR1", "used_targets"] == 80  # the zero-weight target is left out
    # MET's real +2 level is not noise: the spread is the sd within genes
    assert spread.loc["H3122_CR1", "spread"] == pytest.approx(0.3, rel=0.3)
    assert spread.loc["H3122_CR2", "spread"] == pytest.approx(0.05, rel=0.3)
    few = _targets().query("sample == 'H3122_CR2'").head(3)
    assert target_spread(few)["spread"].isna().all()  # too few targets: no number
    assert cnv_section(few, _genes())["data"]["H3122_CR2"]["log2_spread"] is None


def test_cnv_gc_trend_is_the_samples_residual_slope():
    data = cnv_section(_targets(), _genes())["data"]
    assert data["H3122_CR1"]["gc_residual_slope"] == 0.012
    assert data["H3122_CR2"]["gc_residual_slope"] is None  # no GC measured: no number


def test_fusion_row_is_the_detected_one_else_the_status_row():
    data = fusion_section(_fusions())["data"]
    assert data["H3122_P"]["call"] == "detected" and data["H3122_P"]["fusion"] == "EML4::ALK"
    assert data["H3122_P"]["fragments"] == 12 and data["H3122_P"]["detection_limit_af"] == 1.67
    assert data["H3122_CR1"] == {
        "call": "not assessable",
        "fusion": None,
        "variant": None,
        "fragments": None,
        "split_reads": None,
        "discordant_pairs": None,
        "region_depth": 4.0,
        "detection_limit_af": None,
    }


def test_hotspot_summary_counts_verdicts_and_takes_detection_limits_when_present():
    with_limit = hotspot_section(_hotspots(limit=True))
    p = with_limit["data"]["H3122_P"]
    assert p["positions"] == 3 and p["verdict_mutated"] == 1 and p["verdict_wild_type"] == 1
    assert p["verdict_insufficient_depth"] == 1 and p["min_depth"] == 12
    assert p["median_detection_limit"] == 0.5 and p["max_detection_limit"] == 0.6
    assert with_limit["data"]["H3122_CR1"]["verdict_mutated"] == 0
    without = hotspot_section(_hotspots(limit=False))
    assert "median_detection_limit" not in without["headers"]
    assert "median_detection_limit" not in without["data"]["H3122_P"]


def test_not_assessable_rows_show_no_support_counts_or_detection_limits():
    """A QC-failed sample: fusions.tsv writes 0 supporting reads and a detection limit on its
    not-assessable row, hotspots.tsv a detection limit on each not-assessable position; shown
    in MultiQC they read as "looked, found none down to x%"; they are empty instead."""
    fusions = _fusions()
    failed = fusions["sample"] == "H3122_CR1"
    fusions.loc[failed, ["split_reads", "discordant_pairs", "fragments"]] = "0"
    fusions.loc[failed, "detection_limit_af"] = "0.00945"
    row = fusion_section(fusions)["data"]["H3122_CR1"]
    assert row["call"] == "not assessable" and row["region_depth"] == 4.0
    assert row["fragments"] is row["split_reads"] is row["detection_limit_af"] is None
    hot = pd.DataFrame(
        [("H3122_CR1", "not assessable", 350, 0.0179), ("H3122_CR1", "not assessable", 2, 0.97)],
        columns=["sample", "verdict", "depth", "detection_limit_vaf"],
    )
    cr1 = hotspot_section(hot)["data"]["H3122_CR1"]
    assert cr1["verdict_not_assessable"] == 2 and cr1["min_depth"] == 2
    assert cr1["median_detection_limit"] is None and cr1["max_detection_limit"] is None


def test_multiqc_reads_every_section(tmp_path):
    """The files as the workflow writes them, through MultiQC itself (multiqc_data.json)."""
    paths = {
        "hotspots": _hotspots(True),
        "cnv_targets": _targets(),
        "cnv": _genes(),
        "fusions": _fusions(),
    }
    for name, frame in paths.items():
        frame.to_csv(tmp_path / f"{name}.tsv", sep="\t", index=False)
    content = tmp_path / "content"
    written = write_content(
        content,
        QC,
        [tmp_path / "hotspots.tsv"],
        [tmp_path / "cnv_targets.tsv"],
        [tmp_path / "cnv.tsv"],
        [tmp_path / "fusions.tsv"],
    )
    assert sorted(p.name for p in written) == [
        f"resistcall_{t}_mqc.json" for t in ("cnv", "coverage", "fusion", "hotspots")
    ]
    out = tmp_path / "multiqc"
    proc = subprocess.run(
        [sys.executable, "-m", "multiqc", "--force", "--no-ansi", "--outdir", str(out), *written],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "multiqc_report.html").is_file()
    raw = json.loads((out / "multiqc_data" / "multiqc_data.json").read_text())
    tables = raw["report_saved_raw_data"]
    assert tables["multiqc_resistcall_cnv_table"]["H3122_CR2"]["used_targets"] == 80
    assert tables["multiqc_resistcall_cnv_table"]["H3122_CR1"]["gc_residual_slope"] == 0.012
    assert tables["multiqc_resistcall_fusion_table"]["H3122_P"]["fragments"] == 12
    assert tables["multiqc_resistcall_hotspots_table"]["H3122_P"]["verdict_mutated"] == 1
    assert set(tables["multiqc_resistcall_coverage_table"]) == {p.name[:-8] for p in QC}
    html = (out / "multiqc_report.html").read_text()
    for title in ("Target coverage", "Known-resistance positions", "Copy-number QC"):
        assert title in html


def test_command_line_writes_the_sections(tmp_path):
    from resistcall.cli import main

    _fusions().to_csv(tmp_path / "fusions.tsv", sep="\t", index=False)
    _targets().to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    _genes().to_csv(tmp_path / "cn.tsv", sep="\t", index=False)
    _hotspots(False).to_csv(tmp_path / "h.tsv", sep="\t", index=False)
    argv = ["multiqc-content", "--qc", *map(str, QC), "--hotspots", str(tmp_path / "h.tsv")]
    argv += ["--cnv-targets", str(tmp_path / "t.tsv"), "--cnv", str(tmp_path / "cn.tsv")]
    argv += ["--fusions", str(tmp_path / "fusions.tsv")]
    assert main([*argv, "--out-dir", str(tmp_path / "out")]) == 0
    assert len(list((tmp_path / "out").glob("*_mqc.json"))) == 4
    (tmp_path / "t.tsv").write_text("sample\tgene\n")
    assert main([*argv, "--out-dir", str(tmp_path / "bad")]) == 2  # one clear error
    assert not Path(tmp_path / "bad").exists() or not list((tmp_path / "bad").iterdir())
