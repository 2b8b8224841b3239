import json

from resistcall.cli import main

from conftest import REPO


def test_runinfo_records_config_and_given_date(tmp_path):
    out = tmp_path / "meta.json"
    config = REPO / "config" / "config.yaml"
    assert (
        main(["runinfo", "--config", str(config), "--run-date", "2026-01-02", "--out", str(out)])
        == 0
    )
    meta = json.loads(out.read_text())
    assert meta["run_date"] == "2026-01-02"
    assert meta["assay"] == "capture" and meta["reference_build"] == "GRCh38"
    assert meta["config"]["panel"]["targets"].endswith("demo_capture_targets.bed")
    # stage options absent from config.yaml are recorded with the values the run used
    assert meta["config"]["snv"]["min_vaf"] == 0.01 and meta["config"]["fusion"]["gene"] == "ALK"


def test_runinfo_keeps_a_sections_keys_that_are_not_options():
    """The record names the panel of normals a run used (pon.normals or pon.file), beside the
    panel's options with the values the run used."""
    from resistcall.runinfo import run_metadata

    normals = {"pon": {"normals": ["n/N1.bam", "n/N2.bam"], "min_depth": 30}}
    meta = run_metadata(normals, run_date="2026-01-02")
    assert meta["config"]["pon"] == {**normals["pon"], "max_vaf": 0.05}
    meta = run_metadata({"pon": {"file": "pon.tsv.gz"}}, run_date="2026-01-02")
    assert meta["config"]["pon"]["file"] == "pon.tsv.gz"


def test_runinfo_missing_config_is_a_clear_error(tmp_path, capsys):
    assert (
        main(
            ["runinfo", "--config", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "m.json")]
        )
        == 2
    )
    assert "config file not found" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


def test_later_config_files_override_earlier_ones():
    from resistcall.runinfo import merge_configs

    merged = merge_configs(
        [
            {"panel": {"assay": "capture", "targets": "a.bed"}, "x": 1},
            {"panel": {"assay": "amplicon"}},
        ]
    )
    assert merged == {"panel": {"assay": "amplicon", "targets": "a.bed"}, "x": 1}
