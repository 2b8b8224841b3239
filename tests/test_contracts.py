"""File contracts: every writer's header covers every reader's columns; one citation builder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from resistcall import annotate, cnv, contracts, fusion
from resistcall.errors import UserError
from resistcall.knowledge import load_knowledge

KNOWN = Path(__file__).resolve().parents[1] / "resources" / "known_resistance.tsv"

#: What each reader declares it needs, per file.
READERS = {
    "cnv": [contracts.ANNOTATE_READS["cnv"], contracts.REPORT_READS["cnv"]],
    "cnv_targets": [contracts.REPORT_READS["cnv_targets"]],
    "fusions": [
        contracts.ANNOTATE_READS["fusions"],
        contracts.REPORT_READS["fusions"],
        contracts.IGV_READS["fusions"],
    ],
    "hits": [contracts.IGV_READS["hits"]],
    "hotspots": [contracts.ANNOTATE_READS["hotspots"], contracts.REPORT_READS["hotspots"]],
}


def assert_covers(header: list[str], name: str) -> None:
    for needed in READERS[name]:
        missing = [c for c in needed if c not in header]
        assert not missing, f"{name}: writer header lacks {missing} that a reader needs"


def _tiny_targets() -> pd.DataFrame:
    rows = [("chr7_116672196_116798377", 100 + 300 * i, 250 + 300 * i, "MET") for i in range(4)] + [
        ("chr7_55019017_55211628", 100 + 300 * i, 250 + 300 * i, "EGFR") for i in range(4)
    ]
    return pd.DataFrame(rows, columns=["chrom", "start", "end", "gene"])


def test_cnv_writer_covers_readers(tmp_path):
    targets = _tiny_targets()
    rng = np.random.default_rng(1)
    parental = rng.poisson(400, len(targets))
    resistant = rng.poisson(400, len(targets))
    ref = cnv.parental_reference("P", parental)
    samples = [cnv.SampleInput("R", "resistant", resistant)]
    genes, per_target = cnv.analyse(targets, samples, ref, None, cnv.Params(bootstrap=20))
    assert genes.columns.tolist() == list(contracts.CNV_COLUMNS)
    assert per_target.columns.tolist() == list(contracts.CNV_TARGET_COLUMNS)
    assert set(genes["call"]) <= set(contracts.CN_CALL)
    assert_covers(genes.columns.tolist(), "cnv")
    assert_covers(per_target.columns.tolist(), "cnv_targets")


def test_fusion_writer_covers_readers(tmp_path):
    out = tmp_path / "fusions.tsv"
    fusion.write_tsv([{"sample": "S", "gene_3p": "ALK", "call": "not detected"}], out)
    header = pd.read_csv(out, sep="\t").columns.tolist()
    assert header == list(contracts.FUSION_COLUMNS)
    assert_covers(header, "fusions")


def test_hotspot_and_hits_contracts_cover_readers():
    assert_covers(list(contracts.HOTSPOT_COLUMNS), "hotspots")
    groups = load_knowledge(KNOWN).groups
    header = annotate.tsv_rows({}, None, groups).columns.tolist()
    assert header == contracts.hits_columns(groups.driver_drugs)
    assert_covers(header, "hits")


def test_readers_ask_only_for_written_columns():
    written = {
        "cnv": contracts.CNV_COLUMNS,
        "cnv_targets": contracts.CNV_TARGET_COLUMNS,
        "fusions": contracts.FUSION_COLUMNS,
        "hotspots": contracts.HOTSPOT_COLUMNS,
    }
    for name, header in written.items():
        assert_covers(list(header), name)


def test_every_vocabulary_check_names_where_and_the_choices():
    assert contracts.CN_CALL.check("gain", "cnv.tsv: row 2: column call") == "gain"
    with pytest.raises(UserError, match=r"cnv.tsv: row 2: column call is 'up'; expected"):
        contracts.CN_CALL.check("up", "cnv.tsv: row 2: column call")
    assert contracts.NOT_ASSESSABLE in contracts.FUSION_CALL
    assert set(contracts.CN_CHANGED) < set(contracts.CN_CALL)
    assert set(contracts.SNV_PRESENT) < set(contracts.SNV_STATUS)


def test_one_citation_builder():
    c = contracts.citation
    assert c("PMID:22277784")["url"] == "https://pubmed.ncbi.nlm.nih.gov/22277784/"
    assert c("CIViC:EID441") == {
        "id": "CIViC:EID441",
        "type": "civic_evidence",
        "url": "https://civicdb.org/links/evidence_items/441",
    }
    assert c("CIViC:AID3")["url"] == "https://civicdb.org/links/assertions/3"
    assert c("DOI:10.1158/1078-0432.CCR-19-3906")["url"] == (
        "https://doi.org/10.1158/1078-0432.CCR-19-3906"
    )
    assert c("MOAlmanac:assertion746") == {
        "id": "MOAlmanac:assertion746",
        "type": "moalmanac",
        "url": None,
    }
    assert c("FDA-label:x")["type"] == "fda_label"
    assert c("CGI:2017") == {"id": "CGI:2017", "type": "other", "url": None}


def test_gene_order():
    genes = ["RET", "KRAS", "ALK", "CD74", "MET"]
    assert sorted(genes, key=contracts.gene_key) == ["ALK", "MET", "KRAS", "CD74", "RET"]


def test_not_assessable_needs_a_reason(tmp_path):
    df = pd.DataFrame(
        {
            "gene": ["ALK", "MET", "KRAS"],
            "call": ["neutral", "amplification", "not assessable"],
            "reason": ["", "", "2 usable targets (< 3)"],
        }
    )
    contracts.check_verdicts(df, "call", contracts.CN_CALL, "cnv.tsv")
    silent = df.assign(reason=["", "", ""])
    with pytest.raises(UserError, match=r"cnv.tsv: row 4: column call is 'not assessable' without"):
        contracts.check_verdicts(silent, "call", contracts.CN_CALL, "cnv.tsv")
    with pytest.raises(UserError, match=r"cnv.tsv: row 3: column call is 'insufficient data'"):
        contracts.check_verdicts(
            df.assign(call=["neutral", "insufficient data", "gain"]),
            "call",
            contracts.CN_CALL,
            "cnv.tsv",
        )
    # a table without a reason column cannot say "not assessable"
    with pytest.raises(UserError, match="without a 'reason'"):
        contracts.check_verdicts(df.drop(columns="reason"), "call", contracts.CN_CALL, "x.tsv")


def test_fusion_status_row_says_why_not_assessable():
    from resistcall.fusion import Settings, status_row

    class Target:
        name = "ALK"

    row = status_row("S", Target(), Settings(), "ALK intron 19", 7.0, 0)
    assert row["call"] == "not assessable"
    assert row["reason"] == "median 7x over ALK intron 19 (< 20x)"
    contracts.check_verdicts(pd.DataFrame([row]), "call", contracts.FUSION_CALL, "fusions.tsv")
    row = status_row("S", Target(), Settings(), "ALK intron 19", 700.0, 0)
    assert row["call"] == "not detected" and row["reason"] == "."


def test_hits_and_report_readers_refuse_unknown_schema(tmp_path):
    import json

    from resistcall.report import index_entry
    from resistcall.report_inputs import load_hits

    hits = {"schema": contracts.HITS_SCHEMA, "line": "L", "parental": None}
    hits |= {"drug_groups": [], "samples": []}
    path = tmp_path / "hits.json"
    path.write_text(json.dumps(hits))
    assert load_hits(path)["line"] == "L"
    path.write_text(json.dumps({**hits, "schema": "resistcall-hits/99"}))
    with pytest.raises(UserError, match=r"hits.json: schema resistcall-hits/99 is not a version"):
        load_hits(path)
    path.write_text(json.dumps({k: v for k, v in hits.items() if k != "schema"}))
    with pytest.raises(UserError, match=r"not a resistcall-hits document \(schema None"):
        load_hits(path)
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"schema": "resistcall-report/0", "line": "L"}))
    with pytest.raises(UserError, match=r"report.json: schema resistcall-report/0 is not"):
        index_entry(report, tmp_path)


def test_copy_number_plot_has_a_colour_for_every_call():
    from resistcall.figures import CALL_COLOURS

    assert set(CALL_COLOURS) == set(contracts.CN_CALL)
