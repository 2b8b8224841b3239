"""Known-resistance table: schema validation, provenance rules, synonyms and matching."""

import re
from pathlib import Path

import pandas as pd
import pytest

from resistcall.errors import UserError
from resistcall.knowledge import (
    COLUMNS,
    KnowledgeBase,
    canonical_protein,
    compound_parts,
    load_known,
    residue_span,
)

REPO = Path(__file__).resolve().parents[1]
KNOWN = REPO / "resources" / "known_resistance.tsv"
SCHEMA = REPO / "resources" / "known_resistance.schema.yaml"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="module")
def table():
    return load_known(KNOWN)


def _write(tmp_path, df: pd.DataFrame) -> Path:
    path = tmp_path / "known_resistance.tsv"
    df.to_csv(path, sep="\t", index=False)
    (tmp_path / "known_resistance.schema.yaml").write_text(SCHEMA.read_text())
    return path


def test_shipped_table_valid_and_sourced(table):
    assert len(table) >= 100
    assert list(table.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert table["sources"].str.len().gt(0).all()
    # every row carries a citable PMID / CIViC / MOAlmanac / DOI / label source
    assert table["sources"].str.contains(r"PMID:|CIViC:|MOAlmanac:|DOI:|FDA-label:").all()
    # nothing from OncoKB or CGI is shipped (licence)
    text = KNOWN.read_text()
    assert "OncoKB" not in text and "CGI" not in text
    assert set(table["verification"]) <= {"db", "page", "recall"}
    assert (table["verification"] == "recall").sum() > 0  # kept, but flagged


def test_every_shared_row_accounted_for(table):
    src = SHARED / "knowledge" / "known_resistance.tsv"
    if not src.exists():
        pytest.skip("../shared/knowledge not present")
    upstream = pd.read_csv(src, sep="\t", dtype=str, keep_default_na=False)
    shipped = set(zip(table["gene"], table["hgvs_p"], table["drug"], strict=True))
    for row in upstream.itertuples():
        key = (row.gene, row.hgvs_p, row.drug)
        only_restricted = not re.search(
            r"(PMID:\d+|CIViC:(EID|AID)\d+|MOAlmanac:assertion\d+|DOI:10\.|FDA-label:)",
            row.pmid_or_source,
        )
        if row.hgvs_p == "any_oncogenic":
            assert {(row.gene, f"p.{r}", row.drug) for r in ("G12", "G13", "Q61")} <= shipped
        elif key == ("ALK", "p.L1196M", "brigatinib"):
            # CGI-only upstream row replaced by a row re-sourced from Sabari 2017 / Lin 2017
            row_ = table.set_index(["gene", "hgvs_p", "drug"]).loc[key]
            assert row_["sources"] == "PMID:28435288;PMID:28057760"
        elif only_restricted:
            assert key not in shipped, key
        else:
            assert key in shipped, key
    # recall rows keep their flag
    recall = upstream[upstream["note"].str.startswith("verif=recall")]
    flagged = table.set_index(["gene", "hgvs_p", "drug"])["verification"]
    for row in recall.itertuples():
        assert flagged.get((row.gene, row.hgvs_p, row.drug)) == "recall"


@pytest.mark.parametrize(
    ("text", "canon"),
    [
        ("1151Tins", "p.T1151dup"),
        ("T1151_L1152insT", "p.T1151dup"),
        ("p.Thr1151_Leu1152insThr", "p.T1151dup"),
        ("p.(Leu1196Met)", "p.L1196M"),
        ("L1196M", "p.L1196M"),
        ("p.G1202del", "p.G1202del"),
        ("p.Gly1202del", "p.G1202del"),
    ],
)
def test_canonical_protein(text, canon):
    assert canonical_protein(text) == canon


def test_compound_and_residue_parsing():
    assert compound_parts("p.[I1171N;L1196M;G1202R]") == ["p.I1171N", "p.L1196M", "p.G1202R"]
    assert residue_span("p.G1202del") == ("G1202", 1202, 1202)
    assert residue_span("p.E746_A750del") == ("E746_A750", 746, 750)


def test_matching_synonyms_residue_and_compounds(table):
    kb = KnowledgeBase.from_table(table)
    dup = {kb.table.loc[i, "drug"] for i in kb.match_change("ALK", "p.T1151_L1152insT")}
    assert {"crizotinib", "alectinib", "ceritinib"} <= dup
    assert kb.match_change("ALK", "p.T1151dup") == kb.match_change("ALK", "1151Tins")
    # KRAS G12 residue-class rows catch any missense at G12, including alleles not listed
    drugs = {kb.table.loc[i, "drug"] for i in kb.match_change("KRAS", "p.G12S")}
    assert drugs == {"FAK inhibitors (class)"}
    assert kb.match_change("KRAS", "p.G12=") == []
    hits = kb.match_compounds({("ALK", "p.L1196M"), ("ALK", "p.G1202R"), ("ALK", "p.I1171N")})
    names = {kb.table.loc[i, "hgvs_p"] for i, _ in hits}
    assert names == {"p.[L1196M;G1202R]", "p.[I1171N;L1196M;G1202R]", "p.[I1171N;L1196M]"}
    assert kb.match_compounds({("ALK", "p.L1196M")}) == []
    assert kb.by_cnv["MET"] and kb.by_fusion["ALK"]


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("effect", "resistent", r"line 5 .*column effect"),
        ("sources", "", r"line 5 .*column sources"),
        ("sources", "OncoKB:Level1", r"line 5 .*column sources"),
        ("verification", "maybe", r"line 5 .*column verification"),
        ("hgvs_p", "L1196M", r"line 5 .*column hgvs_p"),
        ("alteration_type", "compound", r"line 5 .*column hgvs_p"),
    ],
)
def test_malformed_table_names_its_row(tmp_path, table, column, value, message):
    df = table[list(COLUMNS)].copy()
    df.loc[3, column] = value  # data row 4 = file line 5
    with pytest.raises(UserError, match=message):
        load_known(_write(tmp_path, df))


def test_malformed_header_and_duplicates(tmp_path, table):
    df = table[list(COLUMNS)].copy()
    with pytest.raises(UserError, match="lacks column.*evidence_level"):
        load_known(_write(tmp_path, df.drop(columns="evidence_level")))
    dup = pd.concat([df, df.iloc[[2]]], ignore_index=True)
    with pytest.raises(UserError, match=rf"line {len(dup) + 1}: duplicate of line 4"):
        load_known(_write(tmp_path, dup))
    with pytest.raises(UserError, match="not found"):
        load_known(tmp_path / "missing.tsv")
