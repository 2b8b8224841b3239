"""The whole workflow on real capture reads: H3122 split into two halves, one filed as the
parental and one as the crizotinib-resistant derivative (no resistance change between them).

What a clinician must read from it (issue: bottom line on real data): the fusion is there, no
on-target change down to a few percent, crizotinib "resistant phenotype; mechanism not found",
the other ALK inhibitors expected to retain activity on genotype, ALK copy number not
assessable (ALK is the only gene with reads: it would be its own baseline), the ALK exons read
(19-28, the bundled model), and the two halves the same individual. Skipped without ../shared.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, copy_workflow, snakemake

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


@pytest.fixture(scope="module")
def halves(real_panel_reads, tmp_path_factory) -> Path:
    work = copy_workflow(tmp_path_factory.mktemp("realdata_halves"))
    pd.DataFrame(
        [
            {
                "sample": "H3122_A",
                "line": "H3122",
                "condition": "parental",
                "drug": "",
                "notes": "half of the real H3122 capture reads",
            },
            {
                "sample": "H3122_B",
                "line": "H3122",
                "condition": "resistant",
                "drug": "crizotinib",
                "notes": "the other half",
            },
        ]
    ).to_csv(work / "config" / "samples.tsv", sep="\t", index=False)
    pd.DataFrame(
        [
            {
                "sample": f"H3122_{h}",
                "unit": "lane1",
                "fq1": str(real_panel_reads[f"H3122_{h}_1"]),
                "fq2": str(real_panel_reads[f"H3122_{h}_2"]),
                "bam": "",
            }
            for h in "AB"
        ]
    ).to_csv(work / "config" / "units.tsv", sep="\t", index=False)
    # the panel is what this capture covers (ALK, and EML4 around the fusion breakpoint): with
    # the demo's whole panel most targets have no reads and QC rightly fails the samples
    targets = pd.read_csv(
        REPO / "resources" / "panel" / "demo_capture_targets.bed", sep="\t", header=None
    )
    targets[targets[3].isin(["ALK", "EML4"])].to_csv(
        work / "capture_targets.bed", sep="\t", header=False, index=False
    )
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["samples"], cfg["units"] = "config/samples.tsv", "config/units.tsv"
    cfg["panel"]["targets"] = "capture_targets.bed"
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    snakemake(work)
    return work / "results"


def test_detection_limits_fall_with_depth_and_are_a_few_percent(halves):
    hot = pd.read_csv(halves / "H3122" / "hotspots.tsv", sep="\t", na_values=".")
    alk = hot[(hot["gene"] == "ALK") & (hot["sample"] == "H3122_B")]
    clear = alk[alk["verdict"] == "not detected"]
    assert len(clear) >= 0.9 * len(alk)  # the captured kinase domain is read
    assert clear["detection_limit_vaf"].between(0.01, 0.10).all()
    # deeper codons have lower limits (rank correlation over the ALK codons)
    assert clear["depth"].corr(clear["detection_limit_vaf"], method="spearman") < -0.5


def test_drug_predictions_and_report_bottom_line(halves):
    report = json.loads((halves / "H3122" / "report.json").read_text())
    cells = report["drug_grid"]["cells"]["H3122_B"]
    assert cells["crizotinib"]["basis"] == "phenotype"
    for drug in ("ceritinib", "alectinib", "brigatinib", "lorlatinib"):
        assert cells[drug]["basis"] == "genotype", (drug, cells[drug])
        assert cells[drug]["prediction"] == "sensitive"
    card = report["summary"][0]
    assert card["headline"].startswith("No resistance mechanism found")
    assert card["scan"].startswith("No on-target resistance change ≥ ")
    html = (halves / "H3122" / "report.html").read_text()
    assert "No known resistance mechanism found: what next?" in html


def test_alk_copy_number_is_not_assessable(halves):
    cnv = pd.read_csv(halves / "H3122" / "cnv.tsv", sep="\t")
    alk = cnv[(cnv["sample"] == "H3122_B") & (cnv["gene"] == "ALK")].iloc[0]
    assert alk["call"] == "not assessable" and isinstance(alk["reason"], str)


def test_alk_exon_scope_and_identity(halves):
    scope = pd.read_csv(halves / "H3122" / "exon_scope.tsv", sep="\t")
    alk = scope[(scope["gene"] == "ALK") & (scope["sample"] == "H3122_B")]
    assert sorted(alk["exon"]) == list(range(19, 29))
    assert (alk["status"] == "covered").all()
    assert alk["model"].str.contains("partial model").all()
    # the bundled model is partial: the report says the other exons were not checked
    report = json.loads((halves / "H3122" / "report.json").read_text())
    a = report["scope"]["H3122_B"]["ALK"]
    assert (a["covered"], a["low_depth"], a["not_covered"], a["partial_model"]) == (
        "19-28",
        "",
        "",
        True,
    )
    html = (halves / "H3122" / "report.html").read_text()
    assert "holds exons 19-28 only: the other ALK exons are outside the model" in html
    line = report["summary"][0]["not_assessable"]  # the first screen's one line, as items
    assert "ALK exons outside the reference's model (exons 19-28 modelled)" in line
    ident = pd.read_csv(halves / "qc" / "H3122.identity.tsv", sep="\t").iloc[0]
    assert ident["verdict"] == "match" and ident["discordant"] == 0
