"""Clinician report: content from demo-like fixtures, inputs that were not run, bad inputs,
cohort index, and a real headless-Chromium render (visibility, screenshot, zero network)."""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from resistcall import annotate, contracts, report, report_inputs, report_model
from resistcall.contracts import caveat
from resistcall.errors import UserError

ALK5 = ("crizotinib", "ceritinib", "alectinib", "brigatinib", "lorlatinib")
ALK_GROUPS = [{"name": "ALK inhibitors", "drugs": list(ALK5), "show": "grid"}]
FIX = Path(__file__).resolve().parent / "data" / "report"
PAR, CR1, CR2 = "H3122_P", "H3122_CR1", "H3122_CR2"
RUN_DATE = "2026-11-22T02:00:00Z"


def run_cli(argv: list[str]):
    """Parse with the report module's own parser (the CLI registry imports every stage)."""
    parser = argparse.ArgumentParser()
    report.register(parser.add_subparsers(required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def full_args(out_dir: Path, **drop) -> list[str]:
    opts = {
        "--hits": FIX / "hits.json",
        "--vcf": FIX / "snv.vcf",
        "--cnv": FIX / "cnv.tsv",
        "--cnv-targets": FIX / "cnv_targets.tsv",
        "--hotspots": FIX / "hotspots.tsv",
        "--fusions": FIX / "fusions.tsv",
        "--run-metadata": FIX / "run_metadata.json",
    }
    argv = [
        "report",
        "--line",
        "H3122sim",
        "--out",
        str(out_dir / "report.html"),
        "--json",
        str(out_dir / "report.json"),
        "--run-date",
        RUN_DATE,
    ]
    for key, value in opts.items():
        if key not in drop.get("without", ()):
            argv += [key, str(value)]
    if "--qc" not in drop.get("without", ()):
        argv += ["--qc", *sorted(str(p) for p in (FIX / "qc").glob("*.qc.json"))]
    return argv


class Elements(HTMLParser):
    """Collects every tag with its attributes, and text per element id / data-* key."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.stack: list[tuple[str, dict, list]] = []
        self.done: list[tuple[str, dict, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag in ("br", "meta", "img", "link", "input", "hr", "col"):
            return
        self.stack.append((tag, a, []))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                t, a, text = self.stack.pop(i)
                joined = " ".join("".join(text).split())
                self.done.append((t, a, joined))
                if self.stack:
                    self.stack[-1][2].append(" " + "".join(text) + " ")
                return

    def handle_data(self, data):
        if self.stack:
            self.stack[-1][2].append(data)

    def find(self, **attrs) -> list[tuple[str, dict, str]]:
        return [d for d in self.done if all(d[1].get(k) == v for k, v in attrs.items())]

    def text_of(self, **attrs) -> str:
        hits = self.find(**attrs)
        assert hits, f"no element with {attrs}"
        return hits[0][2]


def parse(html: str) -> Elements:
    p = Elements()
    p.feed(html)
    return p


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    model = run_cli(full_args(out))
    html = (out / "report.html").read_text()
    return {
        "dir": out,
        "model": model,
        "html": html,
        "doc": parse(html),
        "json_text": (out / "report.json").read_text(),
    }


# ---------------------------------------------------------------------------- content


def test_json_is_valid_and_holds_the_rendered_content(rendered):
    text = rendered["json_text"]
    assert "NaN" not in text and "Infinity" not in text
    data = json.loads(text)
    assert data["schema"] == contracts.REPORT_SCHEMA
    assert data["line"] == "H3122sim" and data["parental"] == PAR
    assert data["resistant_samples"] == [CR1, CR2]
    assert data["run"]["date"] == RUN_DATE
    # the HTML shows what the JSON says, cell by cell
    doc = rendered["doc"]
    for sample, cells in data["drug_grid"]["cells"].items():
        for drug, cell in cells.items():
            shown = {
                a["data-prediction"]
                for t, a, _ in doc.find(**{"data-drug": drug, "data-sample": sample})
                if t == "td"
            }
            assert shown == {cell["prediction"]}, (sample, drug)
        assert f'id="summary-{sample.lower().replace("_", "-")}"' in rendered["html"]
    for v in data["variants"] + data["vus"]:
        assert v["hgvs_p"] in rendered["html"]


def test_summary_states_what_changed_per_resistant_sample(rendered):
    doc = rendered["doc"]
    cr1 = doc.text_of(id="summary-h3122-cr1")
    assert "ALK p.L1196M" in cr1 and "acquired" in cr1
    assert "0.1% → 25.1%" in cr1  # parental -> resistant VAF from the annotation
    assert "MET amplification" in cr1 and "8.3 copies (CI 7.3–9.3)" in cr1
    assert "EML4-ALK v1 detected (also in the parental)" in cr1
    assert "Resistance expected to all five ALK inhibitors" in cr1
    cr2 = doc.text_of(id="summary-h3122-cr2")
    for text in (
        "ALK p.G1202R",
        "ALK p.T1151dup",
        "EGFR amplification",
        "ERBB2 gain",
        "Not assessable: KRAS",
        "Still expected to work: lorlatinib (with caveats).",
    ):
        assert text in cr2, text
    assert "ALK p.L1196M" not in cr2  # 0 reads in CR2: not a change there
    # an uncovered known position is said to be not assessable, in every card
    for card in (cr1, cr2):
        assert "Not assessable" in card and "ALK G1269 (" in card
        assert "not checked, not wild type" in card
    assert "ALK G1269 (9×)" in cr1
    unc = next(c for c in rendered["model"]["summary"] if c["sample"] == CR1)["uncovered_hotspots"]
    assert unc == [
        {
            "label": "ALK G1269",
            "gene": "ALK",
            "residue": "G1269",
            "changes": ["p.G1269A"],
            "depth": 9,
            "depth_needed": 298,
            "detection_limit_vaf": unc[0]["detection_limit_vaf"],
            "reason": "detection limit above the 10% maximum",
            "reads": None,  # not covered: no call (a filtered signal has its reads here)
        }
    ]
    assert unc[0]["detection_limit_vaf"] > 0.1


def test_drug_grid_predictions_match_hits_and_show_evidence(rendered):
    hits = json.loads((FIX / "hits.json").read_text())
    doc = rendered["doc"]
    rows = [a["data-sample"] for t, a, _ in doc.done if t == "tr" and a.get("data-sample")]
    assert rows == [CR1, CR2]
    cells = {}
    for tag, a, text in doc.done:
        if tag == "td" and a.get("data-drug") and a.get("data-prediction"):
            cells.setdefault(a["data-drug"], []).append((a["data-prediction"], text))
    # compact grid comes first in the document: the five ALK inhibitors; the FAK inhibitors
    # (show: selected) only for a line with a sample selected on one of them
    alk = hits["drug_groups"][0]["drugs"]
    assert hits["drug_groups"][0]["name"] == "ALK inhibitors"
    for drug in alk:
        assert drug in cells, drug
    grid_table = rendered["html"].split('id="drug-grid"')[1].split("</table>")[0]
    assert 'data-drug="defactinib"' not in grid_table and "BI-853520" not in grid_table
    groups = doc.text_of(id="grid-groups")
    assert "ALK inhibitors (the driver's inhibitors: always shown)" in groups
    assert "Other groups with table rows (FAK inhibitors, " in groups
    by_sample = {s["sample"]: s["drugs"] for s in hits["samples"] if s["condition"] != "parental"}
    model_cells = rendered["model"]["drug_grid"]["cells"]
    for sample, drugs in by_sample.items():
        for drug, entry in drugs.items():
            assert model_cells[sample][drug]["prediction"] == entry["prediction"]
    assert model_cells[CR2]["lorlatinib"]["prediction"] == "sensitive"
    assert [d for d in alk if model_cells[CR2][d]["prediction"] == "resistant"] == [
        "crizotinib",
        "ceritinib",
        "alectinib",
        "brigatinib",
    ]
    assert model_cells[CR1]["defactinib"]["prediction"] == "no data"  # evidence table only
    # the evidence behind a cell is in the cell
    lorl = dict(cells["lorlatinib"])
    assert "ALK p.G1202R" in lorl["sensitive"] and "clinical" in lorl["sensitive"]
    # combinations are not in the compact grid but in the evidence table
    grid_table = rendered["html"].split('id="drug-grid"')[1].split("</table>")[0]
    assert "ALK TKI + MET inhibitor" not in grid_table
    assert 'data-drug="ALK TKI + MET inhibitor"' in rendered["html"]


def test_unverified_evidence_is_flagged(rendered):
    cell = rendered["model"]["drug_grid"]["cells"][CR1]["ALK TKI + MET inhibitor"]
    assert cell["unverified"] is True  # its only row has verification=recall
    row = rendered["html"].split('<tr data-drug="ALK TKI + MET inhibitor">')[1].split("</tr>")[0]
    assert "UNVERIFIED" in row
    assert rendered["model"]["drug_grid"]["cells"][CR2]["lorlatinib"]["unverified"] is False
    # the brigatinib row for L1196M (recall) is marked where it is listed
    brig = rendered["html"].split('<tr data-drug="brigatinib">')[1].split("</tr>")[0]
    assert re.search(
        r"ALK p\.L1196M: sensitive[^<]*<[^>]*>[^<]*</small>\s*"
        r"<span class=\"unverified\">|ALK p\.L1196M: sensitive · case report "
        r"<span class=\"unverified\">",
        brig,
    )


def _cell_html(html: str, table_id: str, sample: str, drug: str) -> str:
    """The markup of one drug cell of the grid (``drug-grid``) or evidence table."""
    table = html.split(f'id="{table_id}"')[1].split("</table>")[0]
    cells = [
        c
        for c in table.split("<td ")[1:]
        if f'data-sample="{sample}"' in c.split(">")[0] and f'data-drug="{drug}"' in c.split(">")[0]
    ]
    assert len(cells) == 1, (table_id, sample, drug)
    return cells[0].split("</td>")[0]


def test_prediction_caveats_are_shown_in_grid_evidence_summary_and_json(rendered):
    """A prediction that could change (known positions not assessable) is never shown as a
    clean "expected to work": flag in the grid cell, details in the evidence row, "(with
    caveats)" in the headline, and both annotate fields carried into report.json."""
    hits = json.loads((FIX / "hits.json").read_text())
    data = json.loads(rendered["json_text"])
    html = rendered["html"]
    entry = next(s for s in hits["samples"] if s["sample"] == CR2)["drugs"]["lorlatinib"]
    assert entry["prediction"] == "sensitive"
    assert [(c["kind"], c["gene"], c["residue"]) for c in entry["caveats"]] == [
        ("not_assessed", "KRAS", "G12"),
        ("not_assessed", "KRAS", "G13"),
    ]
    cell = data["drug_grid"]["cells"][CR2]["lorlatinib"]
    # words are made by the report only, from hits.json's structured caveats
    assert cell["caveat"] == "not assessable (not covered): KRAS p.G12C, KRAS p.G13D"
    assert [
        (m["gene"], m["hgvs_p"], m["residue"], m["depth"], m["effect"])
        for m in cell["not_assessed"]
    ] == [("KRAS", "p.G12C", "G12", 41, "resistant"), ("KRAS", "p.G13D", "G13", 37, "resistant")]
    assert [p["label"] for p in cell["not_assessed_positions"]] == ["KRAS G12", "KRAS G13"]
    assert [(f["kind"], f["short"]) for f in cell["caveats"]] == [
        ("not_assessed", "2 positions not assessable")
    ]
    # grid cell (first screen): a short visible flag linking to the evidence; the codons are
    # named once, in the card's not-assessable line, not again in every drug's cell
    grid = _cell_html(html, "drug-grid", CR2, "lorlatinib")
    assert 'class="cell-sensitive has-caveat"' in grid
    flag = parse(grid).text_of(**{"class": "caveat-flag"})
    assert flag == "⚠ Caveat: 2 positions not assessable"
    line = parse(html).text_of(**{"class": "not-assessable-line", "data-not-assessable": "2"})
    assert "3 known resistance positions (ALK G1269 (15×), KRAS G12 (41×), KRAS G13 (37×))" in line
    card = parse(html).text_of(id="summary-h3122-cr2")
    assert card.count("KRAS G12") == 1, card
    assert 'href="#ev-h3122-cr2-lorlatinib"' in grid
    # the evidence row it links to lists every not-assessed change with its depth
    ev = _cell_html(html, "drug-evidence", CR2, "lorlatinib")
    assert 'id="ev-h3122-cr2-lorlatinib"' in ev
    text = re.sub(r"\s+([.,:)])", r"\1", " ".join(re.sub(r"<[^>]+>", " ", ev).split()))
    assert "Caveat: this prediction could change." in text
    assert "Not covered (no reads or detection limit too high): KRAS p.G12C, KRAS p.G13D." in text
    assert re.search(
        r"KRAS G12 \(41×, detection limit 1\d\.\d%\): p.G12C would give resistant", text
    )
    assert re.search(
        r"KRAS G13 \(37×, detection limit 1\d\.\d%\): p.G13D would give resistant", text
    )
    # summary card: headline and a caveat line; the CR1 card has none
    cr2 = rendered["doc"].text_of(id="summary-h3122-cr2")
    assert "Still expected to work: lorlatinib (with caveats)." in cr2
    assert "lorlatinib (expected to work): Not covered (no reads or detection limit" in cr2
    card = next(c for c in data["summary"] if c["sample"] == CR2)
    assert card["caveat_drugs"] == ["lorlatinib"]
    assert [(k["drug"], k["positions"]) for k in card["caveats"]] == [
        ("lorlatinib", ["KRAS G12", "KRAS G13"])
    ]
    cr1 = next(c for c in data["summary"] if c["sample"] == CR1)
    assert cr1["caveats"] == [] and "with caveats" not in cr1["headline"]
    assert "Caveats" not in rendered["doc"].text_of(id="summary-h3122-cr1")


def test_cells_without_caveat_show_none(rendered):
    """Every grid cell is flagged exactly when annotate gave a caveat; a resistant cell with
    not-assessed positions lists them in the evidence row only (they cannot make it better)."""
    hits = json.loads((FIX / "hits.json").read_text())
    data = json.loads(rendered["json_text"])
    grid_drugs = [d["drug"] for d in data["drug_grid"]["drugs"] if d["grid"]]
    n_flagged = 0
    for s in hits["samples"]:
        if s["condition"] == "parental":
            continue
        for drug in grid_drugs:
            entry = s["drugs"].get(drug) or {}
            cell = data["drug_grid"]["cells"][s["sample"]][drug]
            assert cell["caveat"] == report_model.caveat_sentence(entry.get("caveats") or [])
            assert [m["hgvs_p"] for m in cell["not_assessed"]] == [
                m["hgvs_p"] for m in entry.get("not_assessed") or []
            ]
            grid = _cell_html(rendered["html"], "drug-grid", s["sample"], drug)
            flagged = "caveat-flag" in grid or "⚠" in grid or "has-caveat" in grid
            assert flagged == bool(entry.get("caveats")), (s["sample"], drug)
            n_flagged += flagged
    assert n_flagged == 1
    criz = data["drug_grid"]["cells"][CR2]["crizotinib"]
    assert criz["prediction"] == "resistant" and criz["caveat"] is None
    assert criz["caveats"] == [] and len(criz["not_assessed"]) == 3
    ev = _cell_html(rendered["html"], "drug-evidence", CR2, "crizotinib")
    assert "Not covered in this sample" in ev and "ALK G1269" in ev and "KRAS G13" in ev
    assert "caveat-box" not in ev
    nothing = _cell_html(rendered["html"], "drug-evidence", CR1, "lorlatinib")
    assert "Not covered in this sample" not in nothing and "caveat" not in nothing


def test_caveat_kinds_are_rendered_from_structured_caveats():
    """hits.json caveats are data ({kind, gene, residue, reason}); the report makes the words:
    one flag per kind, the not-assessed changes grouped by codon."""

    def na(hp):
        residue = re.match(r"p\.([A-Z]\d+)", hp)[1]
        return caveat("not_assessed", "not covered", gene="ALK", residue=residue, hgvs_p=hp)

    def entry(prediction, caveats=(), not_assessed=()):
        return {
            "prediction": prediction,
            "verified": True,
            "rows": [],
            "caveats": list(caveats),
            "not_assessed": [
                {
                    "gene": "ALK",
                    "hgvs_p": hp,
                    "residue": re.match(r"p\.([A-Z]\d+)", hp)[1],
                    "depth": 20.0,
                    "depth_needed": 300.0,
                    "effect": "resistant",
                    "verification": "db",
                }
                for hp in not_assessed
            ],
        }

    unverified = caveat(
        "unverified",
        "unverified row(s) would give 'resistant'",
        gene="ALK",
        residue="D1203",
        hgvs_p="p.D1203N",
        would_give="resistant",
    )
    sample = {
        "sample": "S",
        "findings": [],
        "drugs": {
            "crizotinib": entry(
                "sensitive",
                [unverified, na("p.G1202R"), na("p.G1202del")],
                ["p.G1202R", "p.G1202del"],
            ),
            "ceritinib": entry(
                "sensitive", [na("p.I1171T"), na("p.G1202R")], ["p.I1171T", "p.G1202R"]
            ),
            "alectinib": entry("resistant", (), ["p.I1171T"]),
            "brigatinib": entry("sensitive"),
            "lorlatinib": entry("no data", [caveat("qc", "median target depth 12x < 50x")]),
        },
    }
    cells = report_model.build_drug_grid([sample], ALK_GROUPS)["cells"]["S"]
    assert [(f["kind"], f["short"]) for f in cells["crizotinib"]["caveats"]] == [
        ("unverified", "unverified data: resistance expected"),
        ("not_assessed", "1 position not assessable"),
    ]
    assert cells["crizotinib"]["not_assessed_positions"][0]["changes"] == ["p.G1202R", "p.G1202del"]
    assert cells["crizotinib"]["caveat"] == (
        "unverified row(s) would give 'resistant': p.D1203N; "
        "not assessable (not covered): ALK p.G1202R, ALK p.G1202del"
    )
    assert [f["text"] for f in cells["ceritinib"]["caveats"]] == [
        "not assessable (not covered): ALK p.G1202R, ALK p.I1171T"
    ]
    assert [(f["kind"], f["text"]) for f in cells["lorlatinib"]["caveats"]] == [
        ("qc", "median target depth 12x < 50x")
    ]
    assert cells["alectinib"]["caveats"] == [] and cells["brigatinib"]["caveats"] == []
    card = report_model.build_summary(
        [{"sample": "S", "condition": "resistant", "findings": []}],
        None,
        {"cells": {"S": cells}, "driver": list(ALK5)},
        None,
        None,
        None,
        None,
        None,
    )[0]
    assert card["headline"].startswith(
        "Still expected to work: crizotinib (with caveats), ceritinib (with caveats), brigatinib."
    )
    assert card["caveat_drugs"] == ["crizotinib", "ceritinib", "lorlatinib"]


def test_variant_tables_known_and_vus_are_separate(rendered):
    html = rendered["html"]
    known = html.split('id="variants"')[1].split("</section>")[0]
    vus = html.split('id="vus"')[1].split("</section>")[0]
    for p in ("p.L1196M", "p.G1202R", "p.T1151dup"):
        assert p in known and p not in vus.split("<h3>")[0]
    for p in ("p.R1192Q", "p.D1529E"):
        assert p in vus and p not in known
    assert "p.I1461=" in vus  # 'other' (synonymous) listed, not dropped
    # reads per sample from the VCF, also where the variant was not called
    model = rendered["model"]
    l1196m = next(v for v in model["variants"] if v["hgvs_p"] == "p.L1196M")
    assert l1196m["samples"][CR1] == {"vaf": 402 / 1602, "alt_count": 402, "depth": 1602}
    assert l1196m["samples"][CR2]["alt_count"] == 0 and l1196m["samples"][PAR]["depth"] == 1510
    assert "402/1,602 reads" in known
    # citations are plain outgoing links
    assert '<a href="https://pubmed.ncbi.nlm.nih.gov/20979473/" rel="noopener noreferrer">' in known
    assert 'href="https://civicdb.org/links/evidence_items/237"' in known


def test_hotspot_table_never_reads_uncovered_as_wild_type(rendered):
    doc = rendered["doc"]
    hot = pd.read_csv(FIX / "hotspots.tsv", sep="\t")
    verdict_cells = [
        (a["data-verdict"], text) for t, a, text in doc.done if t == "td" and a.get("data-verdict")
    ]
    assert len(verdict_cells) == len(hot)
    for verdict in ("mutated", "not detected", "not covered"):
        assert sum(v == verdict for v, _ in verdict_cells) == (hot["verdict"] == verdict).sum()
    for v, text in verdict_cells:
        if v == "not covered":
            assert text.startswith("NOT COVERED") and "Not detected" not in text
            assert "detection limit above the 10% maximum" in text
        if v == "not detected":
            assert re.match(r"Not detected down to 0\.\d%", text)
    table = rendered["html"].split('id="hotspot-table"')[1].split("</table>")[0]
    row = next(r for r in table.split("<tr") if "p.G1269A" in r)
    assert 'class="uncovered' in row and row.count("v-insufficient") == 3
    assert "3 of 11 known resistance codons" in rendered["html"]
    rows = rendered["model"]["hotspots"]["rows"]
    l1196 = next(r for r in rows if r["residue"] == "L1196")
    assert l1196["changes"] == ["p.L1196M"]
    assert l1196["cells"][CR1]["verdict"] == "mutated" and l1196["cells"][CR2]["verdict"] == (
        "not detected"
    )
    # a mutated cell names the variant found there (from hits.json), here also an insertion
    assert [v["label"] for v in l1196["cells"][CR1]["variants"]] == ["ALK p.L1196M"]
    t1151 = next(r for r in rows if r["residue"] == "T1151")
    (dup,) = t1151["cells"][CR2]["variants"]
    assert dup["label"] == "ALK p.T1151dup"
    # each allele with its own reads, not the codon's pooled count
    assert parse(table).text_of(**{"data-allele": "ALK p.T1151dup"}) == (
        f"ALK p.T1151dup {dup['alt_count']:,}/{dup['depth']:,} reads ({dup['vaf']:.1%})"
    )


def test_figures_are_inline_svg_and_qc_is_shown(rendered):
    html = rendered["html"]
    for fig in ("figure-cnv", "figure-vaf", "figure-depth"):
        block = html.split(f'id="{fig}"')[1].split("</figure>")[0]
        assert "<svg" in block and "<title" in block
    vaf = html.split('id="figure-vaf"')[1].split("</figure>")[0]
    assert "p.L1196M" in vaf and "p.G1202R" in vaf  # labelled points
    cnv = html.split('id="figure-cnv"')[1].split("</figure>")[0]
    assert "CN 8.3" in cnv and "MET" in cnv
    qc = html.split('id="qc"')[1].split("</section>")[0]
    assert "402,112" in qc and "87.4%" in qc and "3 of 61 targets below 100x" in qc
    methods = html.split('id="methods"')[1].split("</section>")[0]
    for text in (
        "GRCh38",
        "Knowledge table",
        "5d41402abc4b2a76b9719d911017c592",
        "bwa",
        RUN_DATE,
        "matplotlib",
    ):
        assert text in methods, text
    assert html.count("Research use only") >= 2


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("src", "href", "xlink:href", "srcset", "poster", "data", "action"):
                self.refs.append((tag, k, v or ""))


def test_page_has_no_external_resources(rendered):
    html = rendered["html"]
    p = _Refs()
    p.feed(html)
    assert p.refs, "no references parsed at all"
    for tag, attr, value in p.refs:
        if re.match(r"^(https?:)?//", value, re.IGNORECASE):
            assert tag == "a" and attr == "href", (tag, attr, value)
        else:
            assert value.startswith("#"), (tag, attr, value)  # in-page anchors/svg refs only
    for banned in ("<script", "<link", "<iframe", "<img", "@import", "url(http", "url(//"):
        assert banned not in html.lower(), banned
    assert re.findall(r"url\(([^)]*)\)", html) and all(
        u.startswith("#") for u in re.findall(r"url\(([^)]*)\)", html)
    )


def test_rendering_is_deterministic(rendered, tmp_path):
    run_cli(full_args(tmp_path))
    assert (tmp_path / "report.html").read_text() == rendered["html"]
    again = json.loads((tmp_path / "report.json").read_text())
    first = json.loads(rendered["json_text"])
    for d in (again, first):
        d.pop("inputs")  # paths differ only by the temp dir; checksums are equal
    assert again == first


# ---------------------------------------------------------------------------- not run


def test_stages_not_run_are_shown_as_not_run(tmp_path):
    without = (
        "--vcf",
        "--cnv",
        "--cnv-targets",
        "--hotspots",
        "--fusions",
        "--qc",
        "--run-metadata",
    )
    model = run_cli(full_args(tmp_path, without=without))
    html = (tmp_path / "report.html").read_text()
    doc = parse(html)
    not_run = {a["data-not-run"] for t, a, _ in doc.done if a.get("data-not-run")}
    assert not_run == {"copy-number file", "fusion file", "hotspot coverage file", "QC summary"}
    assert "does not mean that nothing was found" in " ".join(html.split()).replace(
        "<em>not</em>", "not"
    )
    card = doc.text_of(id="summary-h3122-cr1")
    assert "Copy number Not run" in card and "Hotspot coverage Not run" in card
    # the fusion is still known from the annotation, the mutations still shown
    assert "EML4-ALK fusion detected (also in the parental)" in card
    assert "ALK p.L1196M" in card
    assert model["copy_number"] is None and model["hotspots"] is None and model["qc"] is None
    assert model["stages"]["copy number"] == "not run"
    # no empty tables that would read as "nothing found"
    cnv = html.split('id="copy-number"')[1].split("</section>")[0]
    assert "<table" not in cnv
    # without a VCF the VAF figure still shows the annotated variants
    assert "<svg" in html.split('id="vaf"')[1].split("</section>")[0]
    assert json.loads((tmp_path / "report.json").read_text())["fusions"] is None


def test_fusion_not_assessable_is_not_no_fusion(tmp_path):
    fus = pd.read_csv(FIX / "fusions.tsv", sep="\t", dtype=str, keep_default_na=False)
    fus.loc[fus["sample"] == CR2, ["gene_5p", "variant", "call", "status", "reason"]] = [
        ".",
        ".",
        "not assessable",
        "ALK fusion not assessable: median 12x over ALK intron 19",
        "median 12x over ALK intron 19 (< 20x)",
    ]
    path = tmp_path / "fusions.tsv"
    fus.to_csv(path, sep="\t", index=False)
    argv = full_args(tmp_path)
    argv[argv.index("--fusions") + 1] = str(path)
    model = run_cli(argv)
    card = next(c for c in model["summary"] if c["sample"] == CR2)
    assert card["fusion"]["state"] == "not assessable"
    text = parse((tmp_path / "report.html").read_text()).text_of(id="summary-h3122-cr2")
    assert "Not assessable" in text and "No ALK fusion detected" not in text


# ---------------------------------------------------------------------------- bad input


def _copy_with(tmp_path: Path, name: str, edit) -> Path:
    df = pd.read_csv(FIX / name, sep="\t", dtype=str, keep_default_na=False)
    df = edit(df)
    path = tmp_path / name
    df.to_csv(path, sep="\t", index=False)
    return path


def test_bad_hotspot_verdict_names_file_row_and_column(tmp_path):
    def edit(df):
        df.loc[4, "verdict"] = "probably fine"
        return df

    path = _copy_with(tmp_path, "hotspots.tsv", edit)
    argv = full_args(tmp_path / "out")
    argv[argv.index("--hotspots") + 1] = str(path)
    with pytest.raises(UserError, match=r"hotspots\.tsv: row 6: column verdict is 'probably fine'"):
        run_cli(argv)
    assert not (tmp_path / "out" / "report.html").exists()
    assert not (tmp_path / "out" / "report.json").exists()


def test_missing_column_and_bad_hits_are_user_errors(tmp_path):
    path = _copy_with(tmp_path, "cnv.tsv", lambda df: df.drop(columns=["ci_high"]))
    argv = full_args(tmp_path)
    argv[argv.index("--cnv") + 1] = str(path)
    with pytest.raises(UserError, match=r"cnv\.tsv: missing column\(s\) ci_high"):
        run_cli(argv)
    bad = tmp_path / "hits.json"
    bad.write_text(
        json.dumps(
            {
                "schema": contracts.HITS_SCHEMA,
                "line": "H3122sim",
                "parental": None,
                "drug_groups": [],
            }
        )
    )
    argv = full_args(tmp_path)
    argv[argv.index("--hits") + 1] = str(bad)
    with pytest.raises(UserError, match="missing top-level key 'samples'"):
        run_cli(argv)
    argv = full_args(tmp_path)
    argv[argv.index("--line") + 1] = "H2228"
    with pytest.raises(UserError, match="line is 'H3122sim', but --line H2228"):
        run_cli(argv)


# ---------------------------------------------------------------------------- units


def test_source_links_and_labels():
    cites = report_model.split_sources(
        [{"id": "PMID:1", "url": "javascript:alert(1)"}, {"id": "PMID:1"}, "CGI:2017"]
    )
    assert cites == [{"text": "PMID:1", "url": None}, {"text": "CGI:2017", "url": None}]
    assert report_model.finding_label({"kind": "fusion", "gene": "EML4::ALK"}) == "EML4-ALK fusion"
    label = report_model.finding_label({"kind": "cnv", "gene": "MET", "status": "amplification"})
    assert label == "MET amplification"
    assert (
        report_model.finding_label(
            {"kind": "snv", "gene": "ALK", "hgvs_p": "p.?", "hgvs_c": "c.3605+5G>A"}
        )
        == "ALK c.3605+5G>A"
    )


def test_drug_cell_flags_prediction_decided_by_unverified_rows_only():
    sample = {
        "sample": "S",
        "findings": [{"id": "var:1", "kind": "snv", "gene": "ALK", "hgvs_p": "p.X1Y"}],
        "drugs": {
            "lorlatinib": {
                "prediction": "reduced sensitivity",
                "verified": False,
                "findings": ["var:1"],
                "sources": [],
                "rows": [
                    {
                        "finding": "var:1",
                        "effect": "reduced_sensitivity",
                        "evidence_level": "preclinical",
                        "verification": "recall",
                    }
                ],
                "no_data_findings": ["var:2"],
                "baseline": [],
                "superseded": [],
                "caveats": [],
                "not_assessed": [],
            }
        },
    }
    grid = report_model.build_drug_grid([sample], ALK_GROUPS)
    cell = grid["cells"]["S"]["lorlatinib"]
    assert cell["prediction"] == "reduced sensitivity" and cell["unverified"] is True
    assert cell["deciding"][0]["finding"] == "ALK p.X1Y"
    assert cell["no_data"] == ["var:2"]
    assert grid["cells"]["S"]["crizotinib"]["prediction"] == "no data"
    assert [d["drug"] for d in grid["drugs"]] == list(ALK5)


def test_drug_group_joins_the_grid_when_a_sample_was_selected_on_its_drug():
    """Issue 12 item 9: a FAK-inhibitor group in every report, unexplained, read as a verdict.
    A ``selected`` group is a grid group only for a line with a sample selected on its drug,
    and says so; the decision is data (drug_groups.tsv ``show``), not code."""
    groups = [
        *ALK_GROUPS,
        {"name": "FAK inhibitors", "drugs": ["defactinib", "BI-853520"], "show": "selected"},
    ]
    sample = {"sample": "S", "findings": [], "vus": [], "other": [], "drugs": {}}
    plain = report_model.build_drug_grid([sample], groups, {"S": "crizotinib"})
    assert [g["name"] for g in plain["grid_groups"]] == ["ALK inhibitors"]
    asked = report_model.build_drug_grid([sample], groups, {"S": "Defactinib", "X": "BI-853520"})
    assert asked["grid_groups"][1] == {
        "name": "FAK inhibitors",
        "n": 1,  # no table rows: the drug it was selected on (X is not a sample of the line)
        "why": "shown because S was selected on Defactinib",
    }
    assert asked["cells"]["S"]["defactinib"]["prediction"] == "no data"
    report_model.apply_phenotype(
        asked, pd.DataFrame({"sample": ["S"], "drug": ["Defactinib"]})
    )  # the phenotype then decides its cell
    assert asked["cells"]["S"]["defactinib"]["basis"] == "phenotype"


# ---------------------------------------------------------------------------- cohort index


def test_index_links_every_line_report(rendered, tmp_path):
    other = tmp_path / "results" / "H2228sim"
    other.mkdir(parents=True)
    hits = json.loads((FIX / "hits.json").read_text())
    hits["line"] = "H2228sim"
    (other / "hits.json").write_text(json.dumps(hits))
    run_cli(
        [
            "report",
            "--hits",
            str(other / "hits.json"),
            "--out",
            str(other / "report.html"),
            "--json",
            str(other / "report.json"),
            "--run-date",
            RUN_DATE,
        ]
    )
    first = tmp_path / "results" / "H3122sim"
    first.mkdir()
    for name in ("report.html", "report.json"):
        shutil.copy(rendered["dir"] / name, first / name)
    index = tmp_path / "results" / "index.html"
    entries = run_cli(
        [
            "report-index",
            "--reports",
            str(other / "report.json"),
            str(first / "report.json"),
            "--out",
            str(index),
        ]
    )
    assert [e["line"] for e in entries] == ["H2228sim", "H3122sim"]
    html = index.read_text()
    hrefs = [a["href"] for t, a in parse(html).tags if t == "a"]
    assert [h for h in hrefs if "#" not in h] == ["H2228sim/report.html", "H3122sim/report.html"]
    for h in hrefs:
        page, _, anchor = h.partition("#")
        assert (index.parent / page).exists()
        if anchor:  # sample links land on the sample's summary card
            assert f'id="{anchor}"' in (index.parent / page).read_text()
    assert "H3122sim/report.html#summary-h3122-cr2" in hrefs
    assert "lorlatinib" in html and "not run" in html  # H2228sim had no hotspot file
    assert "lorlatinib (with caveats)" in html  # KRAS G12/G13 not assessable in CR2


def test_index_says_not_assessable_for_a_sample_that_failed_qc(rendered, tmp_path):
    """Real H3122 half downsampled to 5% (QC fail): the cohort index read "none found" and
    "none of the five ALK inhibitors" for it, i.e. no change and resistance to every drug."""
    doc = json.loads((rendered["dir"] / "report.json").read_text())
    failed = doc["summary"][0]
    failed["mutations"], failed["copy_number"], failed["expected_to_work"] = [], [], []
    failed["qc_failed"] = [{"sample": failed["sample"], "role": "this sample", "reasons": ["x"]}]
    for c in doc["summary"][1:]:
        c["qc_failed"] = []
    (tmp_path / "report.json").write_text(json.dumps(doc))
    shutil.copy(rendered["dir"] / "report.html", tmp_path / "report.html")
    index = tmp_path / "index.html"
    entries = run_cli(
        ["report-index", "--reports", str(tmp_path / "report.json"), "--out", str(index)]
    )
    rows = {s["sample"]: s for s in entries[0]["samples"]}
    assert rows[failed["sample"]]["failed_qc"] is True
    assert not any(rows[c["sample"]]["failed_qc"] for c in doc["summary"][1:])
    text = " ".join(re.sub(r"<[^>]+>", " ", index.read_text()).split())
    row = text.split(failed["sample"], 1)[1][:200]
    assert "Not assessable (sample failed QC)" in row
    assert "none found" not in row and "none of the five" not in row


def test_index_lists_uncertain_drugs_apart_from_those_expected_to_work(rendered, tmp_path):
    """Real H3122 halves, G1202 thinned with G1202R on 2 of 17 reads (filtered): the report's
    headline said "Uncertain: ceritinib, alectinib, brigatinib", while the cohort index listed
    them under "Still expected to work" (with caveats)."""
    doc = json.loads((rendered["dir"] / "report.json").read_text())
    card = doc["summary"][0]
    card["expected_to_work"] = ["ceritinib", "lorlatinib"]
    card["uncertain_drugs"] = ["ceritinib"]
    (tmp_path / "report.json").write_text(json.dumps(doc))
    shutil.copy(rendered["dir"] / "report.html", tmp_path / "report.html")
    index = tmp_path / "index.html"
    entries = run_cli(
        ["report-index", "--reports", str(tmp_path / "report.json"), "--out", str(index)]
    )
    row = next(s for s in entries[0]["samples"] if s["sample"] == card["sample"])
    assert row["expected_to_work"] == ["lorlatinib"] and row["uncertain"] == ["ceritinib"]
    text = " ".join(re.sub(r"<[^>]+>", " ", index.read_text()).split())
    cell = text.split(card["sample"], 1)[1][:400]
    assert "uncertain (a change seen below the quality filters): ceritinib" in cell
    # the report itself carries the list (the headline's "Uncertain: ...")
    assert rendered["model"]["summary"][0]["uncertain_drugs"] == []


def test_index_rejects_a_file_that_is_not_a_report(tmp_path):
    bogus = tmp_path / "report.json"
    bogus.write_text(json.dumps({"line": "x"}))
    with pytest.raises(UserError, match="not a resistcall-report document"):
        run_cli(["report-index", "--reports", str(bogus), "--out", str(tmp_path / "i.html")])


# ---------------------------------------------------------------------------- browser

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """Minimal DevTools-protocol client: one headless Chromium, one page session."""

    def __init__(self, exe: str, profile: Path, width: int = 1280, height: int = 1000):
        websocket = pytest.importorskip("websocket", reason="websocket-client not installed")
        self.log = open(profile.parent / "chromium.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                exe,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
                f"--window-size={width},{height}",
                "--hide-scrollbars",
                "about:blank",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                pytest.fail("chromium did not start: see " + str(profile.parent / "chromium.log"))
            time.sleep(0.1)
        port, path = port_file.read_text().split()[:2]
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=30)
        self.next_id = 0
        self.width, self.height = width, height
        self.events: list[dict] = []
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call(
            "Target.attachToTarget", {"targetId": page["targetId"], "flatten": True}
        )["sessionId"]

    def call(self, method: str, params: dict | None = None, session: bool = False) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30) -> None:
        if any(e.get("method") == method for e in self.events):
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = json.loads(self.ws.recv())
            self.events.append(event)
            if event.get("method") == method:
                return
        raise TimeoutError(method)

    def open(self, url: str) -> list[str]:
        """Navigate, wait for load (+ a settle time), return every URL the page requested."""
        self.call("Network.enable", session=True)
        self.call("Page.enable", session=True)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
            session=True,
        )
        self.events.clear()
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_for("Page.loadEventFired")
        time.sleep(0.5)
        self.call("Runtime.evaluate", {"expression": "1"}, session=True)  # drain late events
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def evaluate(self, expression: str):
        res = self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True
        )
        return res["result"].get("value")

    def screenshot(self, path: Path) -> bytes:
        data = base64.b64decode(
            self.call("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        )
        path.write_bytes(data)
        return data

    def close(self) -> None:
        try:
            if hasattr(self, "ws"):
                try:
                    self.call("Browser.close")
                except Exception:  # noqa: BLE001 - the browser may already be gone
                    pass
                self.ws.close()
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # only the process this test started
            self.proc.wait(timeout=10)
        finally:
            self.log.close()


VISIBILITY_JS = """
(() => {
  const out = {};
  const probe = (name, sel) => {
    const el = document.querySelector(sel);
    if (!el) { out[name] = null; return; }
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    out[name] = {top: r.top, bottom: r.bottom, width: r.width, height: r.height,
                 visible: s.display !== 'none' && s.visibility !== 'hidden' && s.opacity !== '0'};
  };
  probe('summary', '#summary .cards');
  probe('grid', '#drug-grid');
  probe('grid_lorlatinib', '#drug-grid td[data-drug="lorlatinib"]');
  probe('cnv', '#figure-cnv svg');
  probe('vaf', '#figure-vaf svg');
  probe('hotspots', '#hotspot-table');
  out.innerHeight = window.innerHeight;
  out.title = document.title;
  out.svgText = [...document.querySelectorAll('#figure-vaf svg text')].map(t => t.textContent);
  return out;
})()
"""


@pytest.fixture()
def browser(tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium not found on PATH (Debian: apt-get install chromium)")
    b = Browser(exe, tmp_path / "profile")
    yield b
    b.close()


@pytest.mark.browser
def test_report_in_headless_chromium(rendered, browser, tmp_path):
    page = rendered["dir"] / "report.html"
    url = page.as_uri()
    requests = browser.open(url)
    assert requests == [url], f"the page requested more than itself: {requests}"
    info = browser.evaluate(VISIBILITY_JS)
    assert info["title"] == "ALK-inhibitor resistance report: H3122sim"
    for name in ("summary", "grid", "grid_lorlatinib", "cnv", "vaf", "hotspots"):
        box = info[name]
        assert box is not None, name
        assert box["visible"] and box["width"] > 100 or name == "grid_lorlatinib", (name, box)
        assert box["height"] > 20, (name, box)
    # first screen: the summary and the drug grid start above the fold
    assert info["summary"]["top"] < info["innerHeight"]
    assert info["grid"]["top"] < info["innerHeight"]
    assert info["grid_lorlatinib"]["top"] < info["innerHeight"]
    assert info["cnv"]["width"] > 400 and info["vaf"]["width"] > 400
    assert any("p.G1202R" in t for t in info["svgText"])
    shot = tmp_path / "report_first_screen.png"
    data = browser.screenshot(shot)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    from PIL import Image  # pillow comes with matplotlib

    with Image.open(shot) as im:
        assert im.size == (1280, 1000)
        colours = im.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 50  # not a blank page
    keep = os.environ.get("RESISTCALL_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / shot.name)


FIRST_SCREEN_JS = """
(() => {
  const seen = el => {
    const r = el.getBoundingClientRect();
    return el.checkVisibility() && r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight
      && r.right <= window.innerWidth;
  };
  return [...document.querySelectorAll('#summary article.card')].map(card => ({
    sample: card.dataset.sample,
    name: seen(card.querySelector('h3')) ? card.querySelector('h3').innerText : null,
    changed: seen(card.querySelector('.changed')) ? card.querySelector('.changed').innerText : null,
    drugs: [...card.querySelectorAll('.drug-lines li')].filter(seen).map(li => li.innerText),
    notAssessable: seen(card.querySelector('.not-assessable-line'))
      ? card.querySelector('.not-assessable-line').innerText : null,
    caveats: [...card.querySelectorAll('details.caveats')].map(d => ({
      open: d.open, summary: seen(d.querySelector('summary')),
      body: d.querySelector('ul').checkVisibility()})),
  }));
})()
"""


@pytest.mark.browser
def test_first_screen_per_sample_at_1280x800(rendered, tmp_path):
    """Without scrolling: each resistant sample's name, what changed, its five drug lines and
    the one not-assessable line are on screen; caveats are collapsed to a one-line summary."""
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium not found on PATH (Debian: apt-get install chromium)")
    b = Browser(exe, tmp_path / "profile", width=1280, height=800)
    try:
        b.open((rendered["dir"] / "report.html").as_uri())
        cards = b.evaluate(FIRST_SCREEN_JS)
    finally:
        b.close()
    assert [c["sample"] for c in cards] == [CR1, CR2]
    by = {c["sample"]: c for c in cards}
    for c in cards:
        assert c["name"] and c["name"].startswith(c["sample"]), c
        assert c["changed"] and c["changed"].startswith("What changed:"), c
        assert [d.split(":")[0] for d in c["drugs"]] == list(ALK5), c
        assert c["notAssessable"] and c["notAssessable"].endswith("Details"), c
    assert "G1202R" in by[CR2]["changed"]
    assert by[CR2]["drugs"][-1].startswith("lorlatinib: Expected to work")
    assert "KRAS G12 (41×)" in by[CR2]["notAssessable"]
    assert by[CR1]["notAssessable"].startswith("Not assessable")
    # CR2's lorlatinib caveat: collapsed, its summary visible, its text hidden
    assert by[CR2]["caveats"] == [{"open": False, "summary": True, "body": False}]
    assert by[CR1]["caveats"] == []


@pytest.mark.browser
def test_network_probe_catches_an_external_request(browser, tmp_path):
    """Negative control: the same probe must see a request the page should not make."""
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png"></body></html>')
    requests = browser.open(page.as_uri())
    assert "http://127.0.0.1:9/x.png" in requests


# ---------------------------------------------------------------------------- real annotate


ANNOTATE_DATA = Path(__file__).resolve().parent / "data" / "annotate"


def _annotate_and_report(vcf: Path, tmp_path: Path) -> dict:
    """`resistcall annotate` on ``vcf`` (with the annotate test data's cnv, fusion and hotspot
    tables), then `resistcall report` on its hits.json; returns the report model."""
    root = Path(__file__).resolve().parents[1]
    data = ANNOTATE_DATA
    ref = root / "resources" / "reference"
    known = root / "resources" / "known_resistance.tsv"
    parser = argparse.ArgumentParser()
    annotate.register(parser.add_subparsers(required=True))
    args = parser.parse_args(
        [
            "annotate",
            "--vcf",
            str(vcf),
            "--reference",
            str(ref / "panel_GRCh38.fa"),
            "--gtf",
            str(ref / "panel_GRCh38.gtf"),
            "--known",
            str(known),
            "--cnv",
            str(data / "cnv.tsv"),
            "--fusions",
            str(data / "fusions.tsv"),
            "--hotspots",
            str(data / "hotspots.tsv"),
            "--line",
            "H3122",
            "--out",
            str(tmp_path / "hits.tsv"),
            "--json",
            str(tmp_path / "hits.json"),
        ]
    )
    args.func(args)
    return run_cli(
        [
            "report",
            "--hits",
            str(tmp_path / "hits.json"),
            "--vcf",
            str(vcf),
            "--cnv",
            str(data / "cnv.tsv"),
            "--fusions",
            str(data / "fusions.tsv"),
            "--out",
            str(tmp_path / "report.html"),
            "--json",
            str(tmp_path / "report.json"),
            "--run-date",
            RUN_DATE,
        ]
    )


def test_report_renders_from_real_annotate_output(tmp_path):
    """hits.json written by `resistcall annotate` itself (not a hand-made fixture)."""
    model = _annotate_and_report(ANNOTATE_DATA / "calls.vcf", tmp_path)
    hits = json.loads((tmp_path / "hits.json").read_text())
    resistant = [s for s in hits["samples"] if s["condition"] == "resistant"]
    assert model["resistant_samples"] == [s["sample"] for s in resistant]
    for s in resistant:
        for drug, entry in s["drugs"].items():
            assert (
                model["drug_grid"]["cells"][s["sample"]][drug]["prediction"]
                == (entry["prediction"])
            )
        shown = {
            m["label"]
            for c in model["summary"]
            if c["sample"] == s["sample"]
            for m in c["mutations"] + c["shared"] + c["lost"] + c["not_counted"]
        }
        for f in s["findings"]:
            if f["kind"] in ("snv", "mnv", "indel", "compound"):
                assert f"{f['gene']} {f['hgvs_p']}" in shown
    html = (tmp_path / "report.html").read_text()
    assert "below the calling threshold" in html  # a sub-threshold fusion is not silent
    # annotate's caveat and not_assessed reach the page and report.json unchanged
    data = json.loads((tmp_path / "report.json").read_text())
    caveated = []
    for s in resistant:
        for drug, entry in s["drugs"].items():
            cell = data["drug_grid"]["cells"][s["sample"]][drug]
            assert cell["caveat"] == report_model.caveat_sentence(entry["caveats"])
            assert [(m["gene"], m["hgvs_p"]) for m in cell["not_assessed"]] == [
                (m["gene"], m["hgvs_p"]) for m in entry["not_assessed"]
            ]
            kinds = {c["kind"] for c in entry["caveats"]}
            if (
                kinds
                and data["drug_grid"]["drugs"][
                    [d["drug"] for d in data["drug_grid"]["drugs"]].index(drug)
                ]["grid"]
            ):
                caveated.append(drug)
                grid = _cell_html(html, "drug-grid", s["sample"], drug)
                flags = [t for _, _, t in parse(grid).find(**{"class": "caveat-flag"})]
                if "not_assessed" in kinds:
                    assert "⚠ Caveat: 1 position not assessable" in flags
                    card_id = "summary-" + re.sub(r"[^a-z0-9]+", "-", s["sample"].lower()).strip(
                        "-"
                    )
                    assert "ALK I1171" in parse(html).text_of(id=card_id)
                    caveated.append("not assessable")
                if "unverified" in kinds:
                    assert "⚠ Caveat: unverified data: reduced sensitivity" in flags
    assert "not assessable" in caveated, "I1171T had insufficient depth: caveat expected"
    json.loads((tmp_path / "report.json").read_text())
    # a VCF that states no purity (all pure cell lines): no purity line, no cancer-cell share
    assert all(c["purity"] is None for c in model["summary"])
    assert "data-purity" not in html and "cancer cells" not in html


def _with_purity(src: Path, dst: Path, purity: dict[str, float]) -> None:
    """``src`` as `resistcall snv --purity` writes it: ``##purity`` lines and FORMAT/CCF."""
    import pysam

    from resistcall.meta_line import format_meta
    from resistcall.purity import cancer_cell_fraction

    with pysam.VariantFile(str(src)) as vin:
        header = vin.header.copy()
        for name in header.samples:
            header.add_line(format_meta("purity", {"Sample": name, "Purity": purity[name]}))
        header.formats.add("CCF", "A", "Float", "Cancer-cell fraction carrying the alt")
        with pysam.VariantFile(str(dst), "w", header=header) as out:
            for rec in vin:
                new = out.new_record(
                    contig=rec.contig, start=rec.start, alleles=rec.alleles, filter=rec.filter
                )
                new.info.update(dict(rec.info))
                for name in header.samples:
                    for key, value in rec.samples[name].items():
                        new.samples[name][key] = value
                    af = rec.samples[name]["AF"][0]
                    new.samples[name]["CCF"] = float(cancer_cell_fraction(af, purity[name]))
                out.write(new)


def test_biopsy_purity_and_cancer_cell_fractions_reach_the_summary(tmp_path):
    """Biopsies: each sample's purity (the VCF's ##purity, from samples.tsv) and the
    cancer-cell fraction of each change are on the first screen, with the assumption stated,
    so a VAF drop that is only a purity drop does not read as a loss (issue 16)."""
    vcf = tmp_path / "purity.vcf"
    purity = {"H3122_P": 0.6, "H3122_R1": 0.5, "H3122_R2": 1.0}
    _with_purity(ANNOTATE_DATA / "calls.vcf", vcf, purity)
    model = _annotate_and_report(vcf, tmp_path)
    hits = json.loads((tmp_path / "hits.json").read_text())
    assert {s["sample"]: s["purity"] for s in hits["samples"]} == purity
    table = pd.read_csv(tmp_path / "hits.tsv", sep="\t")
    row = table[(table["sample"] == "H3122_R1") & (table["hgvs_p"] == "p.L1196M")].iloc[0]
    assert (row["vaf"], row["ccf"], row["ccf_parental"]) == (0.2, 0.8, 0.0)
    cards = {c["sample"]: c for c in model["summary"]}
    assert cards["H3122_R1"]["purity"] == {"sample": 0.5, "parental": 0.6}
    # R2 is pure but its parental is not: the comparison still needs the line
    assert cards["H3122_R2"]["purity"] == {"sample": 1.0, "parental": 0.6}
    l1196m = next(m for m in cards["H3122_R1"]["mutations"] if m["label"] == "ALK p.L1196M")
    assert l1196m["vaf"] == pytest.approx(0.2)
    assert l1196m["ccf"] == pytest.approx(0.8)  # 2 x 0.2 / 0.5: one mutant copy of two
    assert l1196m["ccf_parental"] == 0.0
    html = (tmp_path / "report.html").read_text()
    card = parse(html).text_of(id="summary-h3122-r1")
    assert 'data-purity="0.5"' in html  # the marker the pure run above must not have
    assert "Tumour purity" in card and "H3122_R1 50.0%, parental 60.0%" in card
    assert "ALK p.L1196M" in card and "(cancer cells 0.0% → 80.0%)" in card
    assert "one of two copies of the gene" in card  # the multiplicity assumption, in words


def test_single_sample_mode_without_parental(tmp_path):
    hits = json.loads((FIX / "hits.json").read_text())
    hits["parental"] = None
    hits["samples"] = [s for s in hits["samples"] if s["condition"] != "parental"]
    for s in hits["samples"]:
        for f in s["findings"] + s["vus"] + s["other"]:
            f["parental_counts"] = None
    path = tmp_path / "hits.json"
    path.write_text(json.dumps(hits))
    model = run_cli(
        ["report", "--hits", str(path), "--out", str(tmp_path / "r.html"), "--run-date", RUN_DATE]
    )
    assert model["parental"] is None and model["resistant_samples"] == [CR1, CR2]
    html = (tmp_path / "r.html").read_text()
    assert "none (single-sample mode)" in html and "changes cannot be dated" in html
    assert "no parental VAF to plot against" in html
    assert model["drug_grid"]["cells"][CR2]["lorlatinib"]["prediction"] == "sensitive"


def test_copy_number_table_shows_ratio_notes_and_caveat(rendered):
    table = rendered["html"].split('id="cnv-table"')[1].split("</table>")[0]
    met = next(r for r in table.split("<tr>") if "<td>H3122_CR1</td><td>MET</td>" in r)
    assert "8.3 (7.3–9.3)" in met and "4.00" in met and "amplification" in met
    kras = next(r for r in table.split("<tr>") if "<td>H3122_CR2</td><td>KRAS</td>" in r)
    assert "not assessable" in kras and "fewer than 3 usable targets" in kras
    assert "not a FISH/ISH result" in rendered["html"]
    # the parental is not a row of the copy-number table (it is the reference)
    assert "<td>H3122_P</td>" not in table


def test_gc_trend_left_is_reported_per_resistant_sample(rendered, tmp_path):
    """cnv.tsv's residual GC slope (QC of the GC correction) is on the page beside the table;
    a sample without a measurement says why; a cnv.tsv without the column shows nothing."""
    assert rendered["model"]["gc_trends"] is None and 'id="gc-trends"' not in rendered["html"]

    def edit(df):
        df["gc_residual_slope"] = df["sample"].map({CR1: "0.0123", CR2: "NA"}).fillna("NA")
        return df

    path = _copy_with(tmp_path, "cnv.tsv", edit)
    argv = full_args(tmp_path)
    argv[argv.index("--cnv") + 1] = str(path)
    model = run_cli(argv)
    assert model["gc_trends"] == [
        {"sample": CR1, "slope": 0.0123, "not_assessable": False},
        {"sample": CR2, "slope": None, "not_assessable": False},
    ]
    text = parse((tmp_path / "report.html").read_text()).text_of(id="gc-trends")
    assert "GC trend left after correction" in text
    assert f"{CR1} 0.012" in text and f"{CR2} not measured (no reference)" in text

    # a sample whose copy number is not assessable (failed QC: cnv.tsv has no slope for it) is
    # said to be so, not "no reference"
    def failed(df):
        df = edit(df)
        df.loc[df["sample"] == CR2, "call"] = "not assessable"
        df.loc[df["sample"] == CR2, "reason"] = "sample failed QC: 0 reads"
        return df

    argv[argv.index("--cnv") + 1] = str(_copy_with(tmp_path, "cnv.tsv", failed))
    model = run_cli(argv)
    assert model["gc_trends"][1] == {"sample": CR2, "slope": None, "not_assessable": True}
    text = parse((tmp_path / "report.html").read_text()).text_of(id="gc-trends")
    assert f"{CR2} not assessable" in text and "no reference" not in text


def test_other_therapies_line_carries_the_unverified_flag(rendered):
    card = next(c for c in rendered["model"]["summary"] if c["sample"] == CR1)
    assert card["other_options"] == [
        {"drug": "ALK TKI + MET inhibitor", "unverified": True, "caveat": False}
    ]
    text = rendered["doc"].text_of(id="summary-h3122-cr1")
    assert "Other therapies with supporting evidence: ALK TKI + MET inhibitor unverified" in text


def test_program_versions_come_from_the_bam_headers(tmp_path):
    import pysam

    header = {
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": [{"SN": "chr2_29196228_29226309", "LN": 30082}],
        "RG": [{"ID": "P.lane1", "SM": PAR}],
        "PG": [
            {"ID": "bwa", "PN": "bwa", "VN": "0.7.17-r1188", "CL": "bwa mem"},
            {"ID": "samtools", "PN": "samtools", "PP": "bwa", "VN": "1.16.1"},
            {"ID": "samtools.1", "PN": "samtools", "PP": "samtools", "VN": "1.16.1"},
        ],
    }
    bam = tmp_path / "P.bam"
    with pysam.AlignmentFile(str(bam), "wb", header=header):
        pass
    versions = report_inputs.bam_program_versions([bam])
    assert versions == {"bwa": "0.7.17-r1188", "samtools": "1.16.1"}
    argv = full_args(tmp_path) + ["--bam", str(bam)]
    argv.remove("--run-metadata")
    argv.remove(str(FIX / "run_metadata.json"))
    model = run_cli(argv)
    assert model["run"]["tool_versions"]["bwa"] == "0.7.17-r1188"
    assert model["run"]["assay"] == "capture"  # from qc.json when no run metadata is given
    assert model["inputs"]["bam[0]"] == {"path": str(bam), "status": "header read"}
    assert "0.7.17-r1188" in (tmp_path / "report.html").read_text()
    with pytest.raises(UserError, match="BAM not found"):
        report_inputs.bam_program_versions([tmp_path / "missing.bam"])


def test_changes_of_one_codon_share_one_row_and_verdict():
    """hotspots.tsv verdicts are per codon: F1174C must not read 'mutated' when F1174L is."""
    base = {
        "gene": "KRAS",
        "chrom": "chr12_25225577_25245847",
        "alt_count": 0,
        "vaf": 0.0,
        "positions": "19773,19774,19775",
        "genomic": "chr12:25245349",
        "depth_needed": 774,
    }
    rows = [
        {
            **base,
            "sample": CR2,
            "hgvs_p": hp,
            "residue": "G12",
            "depth": depth,
            "verdict": "not covered",
            "detection_limit_vaf": 0.12,
            "target_vaf": 0.01,
            "reason": "detection limit above the 10% maximum",
        }
        for hp, depth in (("p.G12C", 657), ("p.G12D", 640), ("p.G12V", 657))
    ]
    rows.append(
        {
            **base,
            "sample": CR2,
            "hgvs_p": "p.G13D",
            "residue": "G13",
            "depth": 900,
            "positions": "19770,19771,19772",
            "verdict": "not detected",
            "detection_limit_vaf": 0.008,
            "target_vaf": 0.01,
            "reason": None,
        }
    )
    alk = {
        "gene": "ALK",
        "chrom": "chr2_29196228_29226309",
        "positions": "24601,24602,24603",
        "genomic": "chr2:29220829",
        "residue": "F1174",
        "depth": 944,
        "alt_count": 28,
        "vaf": 0.03,
        "verdict": "mutated",
        "detection_limit_vaf": 0.009,
        "target_vaf": 0.01,
        "depth_needed": 774,
        "reason": None,
        "sample": CR2,
    }
    rows += [{**alk, "hgvs_p": hp} for hp in ("p.F1174C", "p.F1174L", "p.F1174V")]
    entries = [
        {
            "sample": CR2,
            "condition": "resistant",
            "vus": [],
            "other": [],
            "findings": [
                {
                    "id": "v",
                    "kind": "snv",
                    "gene": "ALK",
                    "chrom": alk["chrom"],
                    "pos": 24602,
                    "ref": "G",
                    "alt": "T",
                    "hgvs_p": "p.F1174L",
                    "alt_count": 20,
                    "depth": 944,
                    "vaf": 20 / 944,
                },
                {  # a second allele at the same codon keeps its own read counts
                    "id": "w",
                    "kind": "snv",
                    "gene": "ALK",
                    "chrom": alk["chrom"],
                    "pos": 24601,
                    "ref": "T",
                    "alt": "G",
                    "hgvs_p": "p.F1174C",
                    "alt_count": 8,
                    "depth": 940,
                    "vaf": 8 / 940,
                },
            ],
        }
    ]
    hot = report_model.build_hotspots(pd.DataFrame(rows), [PAR, CR2], entries)
    assert [(r["gene"], r["residue"], r["changes"]) for r in hot["rows"]] == [
        ("ALK", "F1174", ["p.F1174C", "p.F1174L", "p.F1174V"]),
        ("KRAS", "G12", ["p.G12C", "p.G12D", "p.G12V"]),
        ("KRAS", "G13", ["p.G13D"]),
    ]
    f1174 = hot["rows"][0]["cells"][CR2]
    assert f1174["verdict"] == "mutated"
    assert [(v["label"], v["alt_count"], v["depth"]) for v in f1174["variants"]] == [
        ("ALK p.F1174C", 8, 940),
        ("ALK p.F1174L", 20, 944),
    ]
    assert hot["uncovered"][CR2] == [
        {
            "label": "KRAS G12",
            "gene": "KRAS",
            "residue": "G12",
            "changes": ["p.G12C", "p.G12D", "p.G12V"],
            "depth": 640,
            "depth_needed": 774,
            "detection_limit_vaf": 0.12,
            "reason": "detection limit above the 10% maximum",
            "reads": None,
        }
    ]
    assert hot["uncovered"][PAR] == [] and hot["samples"] == [CR2]
    assert [r["uncovered"] for r in hot["rows"]] == [False, True, False]


def test_console_entry_point_exit_codes(tmp_path, capsys):
    from resistcall import cli

    ok = cli.main(
        [
            "report",
            "--hits",
            str(FIX / "hits.json"),
            "--out",
            str(tmp_path / "r.html"),
            "--run-date",
            RUN_DATE,
        ]
    )
    assert ok == 0 and (tmp_path / "r.html").exists()
    bad = cli.main(
        [
            "report",
            "--line",
            "H2228",
            "--hits",
            str(FIX / "hits.json"),
            "--out",
            str(tmp_path / "x.html"),
        ]
    )
    assert bad == 2 and not (tmp_path / "x.html").exists()
    assert "line is 'H3122sim', but --line H2228 was asked" in capsys.readouterr().err


def test_sites_only_vcf_falls_back_to_annotated_counts(tmp_path):
    lines = []
    for line in (FIX / "snv.vcf").read_text().splitlines():
        if line.startswith("##FORMAT"):
            continue
        lines.append(line if line.startswith("##") else "\t".join(line.split("\t")[:8]))
    sites = tmp_path / "sites.vcf"
    sites.write_text("\n".join(lines) + "\n")
    argv = full_args(tmp_path)
    argv[argv.index("--vcf") + 1] = str(sites)
    model = run_cli(argv)
    l1196m = next(v for v in model["variants"] if v["hgvs_p"] == "p.L1196M")
    assert l1196m["samples"][CR1] == {"vaf": 0.2509, "alt_count": 402, "depth": 1602}
    assert any(p["label"] == "ALK p.L1196M" for p in model["vaf_points"])
    assert "<svg" in (tmp_path / "report.html").read_text().split('id="vaf"')[1]


def test_no_mechanism_found_reads_as_phenotype_and_genotype_not_no_data(tmp_path):
    """A resistant sample with the driver and nothing else: the selecting drug reads "resistant
    phenotype; mechanism not found", the other ALK inhibitors "expected to retain activity
    (genotype-based)", the headline and the scan statement say so, and sample identity shows."""
    scan = {
        "gene": "ALK",
        "n_codons": 19,
        "n_clear": 19,
        "n_mutated": 0,
        "n_unknown": 0,
        "limit": 0.034,
    }
    statement = (
        "no on-target resistance change >= 3.4% at 19 of 19 known ALK codons "
        "(ALK-independent resistance not excluded)"
    )
    drugs = {
        d: {
            "prediction": "sensitive",
            "basis": "genotype",
            "statement": statement,
            "caveats": [
                {
                    "kind": "genotype",
                    "gene": None,
                    "residue": None,
                    "hgvs_p": None,
                    "reason": f"genotype-based: {statement}",
                }
            ],
            "scan": scan,
            "rows": [],
            "baseline": [],
            "not_assessed": [],
        }
        for d in ("crizotinib", "ceritinib", "alectinib", "brigatinib", "lorlatinib")
    }
    hits = {
        "line": "L",
        "parental": "P",
        "drug_groups": json.loads((FIX / "hits.json").read_text())["drug_groups"],
        "samples": [
            {"sample": "P", "condition": "parental", "findings": [], "drugs": {}},
            {"sample": "R", "condition": "resistant", "findings": [], "drugs": drugs},
        ],
    }
    sheet = pd.DataFrame(
        {
            "sample": ["P", "R"],
            "line": ["L", "L"],
            "condition": ["parental", "resistant"],
            "drug": ["", "Crizotinib"],
            "notes": ["", ""],
        }
    )
    identity = pd.DataFrame(
        [
            {
                "sample": "R",
                "parental": "P",
                "informative_sites": 4,
                "concordant": 4,
                "loh": 0,
                "discordant": 0,
                "discordance": 0.0,
                "verdict": "match",
                "reason": None,
            }
        ]
    )
    scope = pd.DataFrame(
        [
            {
                "sample": "R",
                "gene": "ALK",
                "transcript": "NM_004304.5",
                "exon": e,
                "chrom": "c",
                "start": 1,
                "end": 2,
                "median_depth": d,
                "status": st,
                "model": "exons 19-28 (partial model)",
                "adequate_depth": 100,
                "call_depth": 20,
            }
            for e, d, st in [
                (19, 300, "covered"),
                (20, 250, "covered"),
                (21, 40, "low depth"),
                (22, 0, "not covered"),
                (23, 1, "not covered"),
            ]
        ]
    )
    cnv = pd.DataFrame(
        [
            {
                "sample": "R",
                "gene": "ALK",
                "n_targets": 10,
                "log2_ratio": None,
                "copy_number": None,
                "ci_low": None,
                "ci_high": None,
                "call": "not assessable",
                "reason": "no baseline gene other than ALK has usable reads",
            }
        ]
    )
    model = report_model.build_report(
        hits, sheet=sheet, identity=identity, scope=scope, cnv=cnv, date="2026-01-01"
    )
    cells = model["drug_grid"]["cells"]["R"]
    assert cells["crizotinib"]["prediction"] == "resistant"
    assert cells["crizotinib"]["words"] == "Resistant phenotype; mechanism not found"
    for d in ("ceritinib", "alectinib", "brigatinib", "lorlatinib"):
        assert cells[d]["basis"] == "genotype"
        assert cells[d]["words"] == "Expected to retain activity (genotype-based)"
        assert [c["kind"] for c in cells[d]["caveats"]] == ["genotype"]
    card = model["summary"][0]
    assert card["headline"].startswith("No resistance mechanism found")
    assert "ceritinib, alectinib, brigatinib, lorlatinib" in card["headline"]
    assert "crizotinib: resistant phenotype; mechanism not found." in card["headline"]
    assert card["scan"] == "No on-target resistance change ≥ 3.4% at 19 of 19 known ALK codons"
    assert "No data" not in json.dumps(model["drug_grid"])
    html = report.render_html(model, report.make_figures(model, None))
    text = parse(html).text_of(id="summary-r")
    assert "ALK-independent resistance not excluded" in text
    assert "crizotinib : Resistant phenotype; mechanism not found" in text
    assert "Same individual as the parental (4 of 4 germline sites concordant)" in text
    # foreign alleles at homozygous sites: an alert with the reason, not "not assessable"
    identity.loc[0, ["verdict", "reason"]] = ["possible contamination", "R: 3 of 5 sites (x)"]
    model2 = report_model.build_report(
        hits, sheet=sheet, identity=identity, scope=scope, cnv=cnv, date="2026-01-01"
    )
    html2 = report.render_html(model2, report.make_figures(model2, None))
    assert "Possible contamination : R: 3 of 5 sites (x)" in parse(html2).text_of(id="summary-r")
    assert "sample identity" not in model2["summary"][0]["not_assessable"]
    assert "Exons 19-20 of NM_004304.5 covered (median ≥100×)." in text
    assert "Low depth (median 20–99×" in text and "not wild type): exon 21 (40×)." in text
    assert "ALK exons 22-23 not covered (median below 20×): no statement possible" in text
    assert "holds exons 19-28 only" in text and "not checked" in text
    alk = model["scope"]["R"]["ALK"]
    assert (alk["covered"], alk["low_depth"], alk["not_covered"]) == ("19-20", "21", "22-23")
    assert alk["exons"][2] == {"exon": 21, "median_depth": 40, "status": "low depth"}
    # the first screen's one line names what was not read, never as wild type
    line = parse(html).text_of(**{"class": "not-assessable-line", "data-not-assessable": "4"})
    for words in (
        "ALK exons 22-23 (not covered)",
        "ALK exon 21 (40×) at low depth",
        "ALK exons outside the reference's model (exons 19-28 modelled)",
    ):
        assert words in line, words
    nxt = parse(html).text_of(id="what-next")
    for words in (
        "ALK mutation scan",
        "exons 19-20 covered, exon 21 at low depth, exons 22-23 not covered (model: exons 19-28",
        # the scope table holds ALK only: the bypass genes were not read, never "none found"
        "Activating mutations: none found in the genes read. MET, EGFR, ERBB2, KIT, KRAS: not "
        "read (no exon covered by the panel): no statement possible, not wild type.",
        "Copy number: none of MET, EGFR, ERBB2, KIT, KRAS is in the copy-number table",
        "ALK copy number vs parental Not assessable (no baseline gene other than ALK",
        "What DNA cannot show",
        "phospho-RTK",
        "small-cell carcinoma",
        "ALK FISH",
    ):
        assert words in nxt, words


def _qc_with_failure(tmp_path: Path, sample: str) -> list[str]:
    paths = []
    for src in sorted((FIX / "qc").glob("*.qc.json")):
        data = json.loads(src.read_text())
        if data["sample"] == sample:
            data["status"] = "fail"
            data["reasons"] = ["only 0% of reads mapped to the reference (fail below 50%)"]
        path = tmp_path / src.name
        path.write_text(json.dumps(data))
        paths.append(str(path))
    return paths


def _with_qc(argv: list[str], paths: list[str]) -> list[str]:
    i = argv.index("--qc")
    return argv[: i + 1] + paths + argv[i + 1 + len(paths) :]


def test_failed_parental_is_on_the_first_screen_and_fusion_not_compared(tmp_path):
    model = run_cli(_with_qc(full_args(tmp_path), _qc_with_failure(tmp_path, PAR)))
    doc = parse((tmp_path / "report.html").read_text())
    for sample in (CR1, CR2):
        card = next(c for c in model["summary"] if c["sample"] == sample)
        assert card["qc_failed"][0]["sample"] == PAR and card["qc_failed"][0]["role"] == "parental"
        assert card["fusion"]["in_parental"] is None
        text = doc.text_of(id=f"summary-{sample.lower().replace('_', '-')}")
        assert "Parental H3122_P failed QC" in text and "only 0% of reads mapped" in text
        assert "not in the parental" not in text and "(parental not assessable)" in text


def test_failed_parental_vaf_is_not_shown_as_a_measurement(tmp_path):
    """With the parental failed (annotate marks the findings "not assessable"), the first
    screen must not read "VAF 0.0% -> 24.4%": the parental's few reads are no measurement."""
    hits = json.loads((FIX / "hits.json").read_text())
    for s in hits["samples"]:
        if s["sample"] != PAR:
            for f in s["findings"]:
                f["status"] = "not assessable"
    (tmp_path / "hits.json").write_text(json.dumps(hits))
    argv = _with_qc(full_args(tmp_path), _qc_with_failure(tmp_path, PAR))
    argv[argv.index("--hits") + 1] = str(tmp_path / "hits.json")
    model = run_cli(argv)
    card = next(c for c in model["summary"] if c["sample"] == CR1)
    changed = [m for m in card["mutations"] if m["kind"] != "compound"]
    assert changed and all(m["status"] == "detected; parental not assessable" for m in changed)
    assert all(m["vaf_parental"] is None and m["ccf_parental"] is None for m in changed)
    text = parse((tmp_path / "report.html").read_text()).text_of(id="summary-h3122-cr1")
    assert "VAF – →" in text and "VAF 0.0% →" not in text


def test_failed_resistant_sample_reads_not_assessable(tmp_path):
    hits = json.loads((FIX / "hits.json").read_text())
    for s in hits["samples"]:
        if s["sample"] == CR2:
            for verdict in s["drugs"].values():
                verdict["prediction"] = "not assessable"
    (tmp_path / "hits.json").write_text(json.dumps(hits))
    cnv = _copy_with(
        tmp_path,
        "cnv.tsv",
        lambda df: df.assign(
            call=df["call"].where(df["sample"] != CR2, "not assessable"),
            reason=df["reason"].where(df["sample"] != CR2, "sample failed QC: 0 reads"),
        ),
    )
    argv = _with_qc(full_args(tmp_path), _qc_with_failure(tmp_path, CR2))
    argv[argv.index("--hits") + 1] = str(tmp_path / "hits.json")
    argv[argv.index("--cnv") + 1] = str(cnv)
    model = run_cli(argv)
    card = next(c for c in model["summary"] if c["sample"] == CR2)
    assert card["headline"].startswith("Not assessable: the sample failed QC")
    assert card["copy_number_not_assessable"] == "sample failed QC: 0 reads"
    text = parse((tmp_path / "report.html").read_text()).text_of(id="summary-h3122-cr2")
    assert "H3122_CR2 failed QC" in text and "No copy-number change" not in text
    other = next(c for c in model["summary"] if c["sample"] == CR1)
    assert other["qc_failed"] == [] and not other["headline"].startswith("Not assessable")


def test_no_known_mutation_table_does_not_read_none_found_for_a_failed_sample(rendered):
    """Real H3122 half downsampled to 5% (QC fail): the mutation section said "No mutation from
    the known-resistance table was found in any resistant sample", a negative finding for a
    sample in which nothing could be looked for."""
    import copy

    model = copy.deepcopy(rendered["model"])
    model["variants"] = []
    failed = model["summary"][0]
    failed["qc_failed"] = [{"sample": failed["sample"], "role": "this sample", "reasons": ["x"]}]
    for c in model["summary"][1:]:
        c["qc_failed"] = []
    html = report.render_html(model, {"cnv": None, "vaf": None, "depth": None})
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert "was found in any resistant sample" not in text
    assert f"Not assessable in {failed['sample']} (failed QC)" in text
    if len(model["summary"]) > 1:
        assert "was found in the other resistant sample(s)" in text
    for c in model["summary"]:
        c["qc_failed"] = []
    html = report.render_html(model, {"cnv": None, "vaf": None, "depth": None})
    assert "No mutation from the known-resistance table was found in any resistant sample" in html


def test_failed_resistant_sample_selected_on_a_drug_stays_not_assessable(tmp_path):
    """A QC-failed sample with its selecting drug in the sheet (the usual sheet): the phenotype
    must not turn the not-assessable cell into "resistant phenotype; mechanism not found" (no
    mechanism could be looked for), nor the headline into "Resistance expected to all five"."""
    hits = json.loads((FIX / "hits.json").read_text())
    for s in hits["samples"]:
        if s["sample"] == CR2:
            for verdict in s["drugs"].values():
                verdict["prediction"] = "not assessable"
                verdict["caveats"] = [caveat("qc", "sample failed QC: 0 reads")]
    (tmp_path / "hits.json").write_text(json.dumps(hits))
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(
        "sample\tline\tcondition\tdrug\tnotes\n"
        f"{PAR}\tH3122sim\tparental\t\t\n"
        f"{CR1}\tH3122sim\tresistant\tcrizotinib\t\n"
        f"{CR2}\tH3122sim\tresistant\tcrizotinib\t\n"
    )
    argv = _with_qc(full_args(tmp_path), _qc_with_failure(tmp_path, CR2))
    argv[argv.index("--hits") + 1] = str(tmp_path / "hits.json")
    model = run_cli([*argv, "--samples", str(sheet)])
    cell = model["drug_grid"]["cells"][CR2]["crizotinib"]
    assert cell["prediction"] == "not assessable" and cell["basis"] != "phenotype"
    # annotate marks the failed sample's variants "not assessable": the card says the sample
    # failed (not that the parental did) and keeps the parental's measured VAF
    for s in hits["samples"]:
        if s["sample"] == CR2:
            for f in s["findings"]:
                f["status"] = "not assessable"
    (tmp_path / "hits.json").write_text(json.dumps(hits))
    model = run_cli([*argv, "--samples", str(sheet)])
    card = next(c for c in model["summary"] if c["sample"] == CR2)
    small = [m for m in card["mutations"] if m["kind"] != "compound"]
    assert small and {m["status"] for m in small} == {"detected; sample failed QC"}
    assert all(m["vaf_parental"] is not None for m in small)
    card = next(c for c in model["summary"] if c["sample"] == CR2)
    assert card["headline"].startswith("Not assessable: the sample failed QC")
    text = parse((tmp_path / "report.html").read_text()).text_of(id="summary-h3122-cr2")
    assert "mechanism not found" not in text and "Resistance expected to all" not in text


def test_headline_never_says_all_five_when_some_are_not_assessable():
    by = {p: [] for p in report_model.PREDICTIONS}
    by["resistant"], by["not assessable"] = ["crizotinib"], ["ceritinib", "lorlatinib"]
    headline = report_model._headline(by)
    assert "all five" not in headline
    assert headline == "Resistance expected to crizotinib; not assessable: ceritinib, lorlatinib."


def test_page_words_not_codes(rendered):
    """FILTER codes are shown in plain words (one mapping for every code the caller writes),
    the fusion baseline in plain words, and the time as the run's start."""
    import copy

    from resistcall.snv import FILTERS

    assert set(contracts.FILTER_WORDS) == set(FILTERS)
    assert contracts.filter_words("read_end;low_depth") == (
        "only at read ends (likely primer or adapter); too few reads"
    )
    model = copy.deepcopy(rendered["model"])
    model["summary"][0]["not_counted"] = [{"label": "ALK p.R1275Q", "filter": "read_end;low_depth"}]
    html = report.render_html(model, {"cnv": None, "vaf": None, "depth": None})
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert (
        "Below quality filters, not used for predictions: ALK p.R1275Q (only at read ends "
        "(likely primer or adapter); too few reads)." in text
    )
    for code in FILTERS:
        assert f"({code})" not in text and f"{code};" not in text
    assert "baseline:" not in text and "does not decide" not in text
    assert "not counted as a reason for or against the drug" in text
    assert f"run started {RUN_DATE}" in text and "report run" not in text


def test_copy_number_summary_lists_the_genes_assessed_and_those_not(tmp_path):
    """Issue 12 item 4: "No copy-number change" names the genes it speaks for; a gene without
    a measurement is named with its reason, never folded into "no change"."""
    cnv = pd.read_csv(FIX / "cnv.tsv", sep="\t", keep_default_na=False)
    cr1 = cnv["sample"] == CR1
    cnv.loc[cr1 & (cnv["gene"] == "MET"), ["log2_ratio", "copy_number", "call"]] = [
        "0.02", "2.03", "neutral"
    ]  # fmt: skip
    na = cr1 & (cnv["gene"] == "ALK")
    cnv.loc[na, ["log2_ratio", "copy_number", "ci_low", "ci_high", "call", "reason"]] = [
        "NA", "NA", "NA", "NA", "not assessable", "no baseline gene other than ALK has usable reads"
    ]  # fmt: skip
    path = tmp_path / "cnv.tsv"
    cnv.to_csv(path, sep="\t", index=False)
    argv = full_args(tmp_path)
    argv[argv.index("--cnv") + 1] = str(path)
    model = run_cli(argv)
    card = next(c for c in model["summary"] if c["sample"] == CR1)
    assert card["copy_number"] == [] and card["copy_number_not_estimable"] == ["ALK"]
    assert card["copy_number_assessed"] == ["MET", "EGFR", "ERBB2", "KIT", "KRAS"]
    text = parse((tmp_path / "report.html").read_text()).text_of(id="summary-h3122-cr1")
    assert "No copy-number change in the genes assessed (MET, EGFR, ERBB2, KIT, KRAS)." in text
    assert "Not assessable: ALK (ALK: no baseline gene other than ALK has usable reads)" in text


def test_grch37_run_shows_its_build_in_the_header_and_methods(tmp_path):
    """A GRCh37 run (reference.build in the config) reads GRCh37 wherever the report names the
    reference: run metadata from `resistcall runinfo`, then the report from it."""
    from resistcall.cli import main

    override = tmp_path / "grch37.yaml"
    override.write_text("reference:\n  build: GRCh37\n")
    meta = tmp_path / "run.json"
    config = Path(__file__).resolve().parents[1] / "config" / "config.yaml"
    assert main(["runinfo", "--config", str(config), str(override), "--out", str(meta)]) == 0
    assert json.loads(meta.read_text())["reference_build"] == "GRCh37"
    argv = full_args(tmp_path)
    argv[argv.index(str(FIX / "run_metadata.json"))] = str(meta)
    model = run_cli(argv)
    assert model["run"]["reference_build"] == "GRCh37"
    html = (tmp_path / "report.html").read_text()
    methods = html.split('id="methods"')[1].split("</section>")[0]
    assert "reference <b>GRCh37</b>" in html and "aligned to the GRCh37 reference" in methods
    assert "Reference build</th><td>GRCh37" in methods  # (the FASTA's own name may say more)
    # table headers too: positions are in the run's build, never labelled GRCh38
    assert "GRCh38" not in html.replace("panel_GRCh38", "")
    assert "Position (GRCh37)" in html and "breakpoint (GRCh37)" in html


def test_methods_name_the_panel_of_normals_the_run_used(tmp_path):
    """A panel of normals changes calls, so the methods say which one the run used (from the
    run metadata `resistcall runinfo` writes; file names only), and nothing without one."""
    from resistcall.cli import main

    config = Path(__file__).resolve().parents[1] / "config" / "config.yaml"
    meta = tmp_path / "run.json"

    def methods(pon: str | None) -> str:
        configs = [str(config)]
        if pon is not None:
            (tmp_path / "pon.yaml").write_text(pon)
            configs.append(str(tmp_path / "pon.yaml"))
        assert main(["runinfo", "--config", *configs, "--out", str(meta)]) == 0
        argv = full_args(tmp_path)
        argv[argv.index(str(FIX / "run_metadata.json"))] = str(meta)
        run_cli(argv)
        html = (tmp_path / "report.html").read_text()
        return html.split('id="methods"')[1].split("</section>")[0]

    assert "Panel of normals" not in methods(None)
    text = methods("pon: {normals: [/data/n/N1.bam, /data/n/N2.bam]}\n")
    assert "Panel of normals: 2 unrelated samples (pon.normals), counted like" in text
    assert "/data/n" not in text
    text = methods("pon: {file: /data/panels/pon.tsv.gz}\n")
    assert "Panel of normals: pon.tsv.gz, built earlier (pon.file)" in text


def test_scan_line_beside_found_changes_reads_as_the_other_codons(tmp_path):
    """With changes found, the scan line speaks of the other codons ("besides the changes
    above"), not of ALK-independent resistance, which only a sample without changes needs."""
    hits = json.loads((FIX / "hits.json").read_text())
    scan = {"gene": "ALK", "n_codons": 19, "n_clear": 17, "n_mutated": 2, "n_unknown": 0}
    for s in hits["samples"]:
        for entry in s["drugs"].values():
            entry["scan"] = {**scan, "limit": 0.021}
    path = tmp_path / "hits.json"
    path.write_text(json.dumps(hits))
    argv = full_args(tmp_path)
    argv[argv.index("--hits") + 1] = str(path)
    run_cli(argv)
    doc = parse((tmp_path / "report.html").read_text())
    cr1 = doc.text_of(id="summary-h3122-cr1")
    assert "ALK p.L1196M" in cr1
    assert "Besides the changes above: no on-target resistance change ≥ 2.1% at 17 of 19" in cr1
    assert "ALK-independent resistance not excluded" not in cr1


def test_bypass_genes_the_panel_does_not_read_are_on_the_not_assessable_line():
    """Real H3122 capture (ALK/EML4 targets only): cnv.tsv has no MET, EGFR, ERBB2 or KIT row,
    and the first screen's not-assessable line named only 'copy number of ALK, EML4', so a MET
    amplification (resistance to every later ALK inhibitor) was silently unchecked."""
    card = {
        "copy_number_not_estimable": ["ALK", "EML4"],
        "copy_number_not_assessable": None,
        "bypass_unread": ["MET", "EGFR", "ERBB2", "KIT", "KRAS"],
    }
    items = report_model.not_assessable_items(card)
    assert items[0] == "copy number of ALK, EML4"
    assert items[1].startswith("MET, EGFR, ERBB2, KIT, KRAS not read by the panel")
    assert "copy number and mutations not checked" in items[1]
    # a gene already named under copy number is not repeated; a read gene is not listed
    card["bypass_unread"] = ["ALK", "KIT"]
    assert report_model.not_assessable_items(card)[1].startswith("KIT not read")
    card["bypass_unread"] = []
    assert report_model.not_assessable_items(card) == ["copy number of ALK, EML4"]
    # a failed sample: "copy number" already says it all
    card.update(copy_number_not_assessable="sample failed QC", bypass_unread=["MET"])
    assert report_model.not_assessable_items(card) == ["copy number"]


def test_a_filtered_signal_at_a_resistance_codon_makes_its_drugs_uncertain():
    """Real H3122 half with G1202R spiked at 10% at a codon thinned to 12 reads: 2 of 12 reads
    carried it (filtered: too few reads). Every caveat read "Not covered: ALK p.G1202R" and the
    headline "Still expected to work: ceritinib (with caveats), alectinib (with caveats), ...",
    hiding a possible G1202R behind "expected to work"."""
    from resistcall.annotate import _empty_verdict, add_not_assessed
    from resistcall.contracts import HOTSPOT_FILTERED_SIGNAL
    from resistcall.knowledge import load_knowledge

    kb = load_knowledge(FIX.parents[2] / "resources" / "known_resistance.tsv")
    reason = f"{HOTSPOT_FILTERED_SIGNAL} (too few reads)"
    signal = ["12", "2", "0.11765", contracts.NOT_ASSESSABLE, "", "298", reason]
    hotspots = pd.DataFrame(
        [
            ["R1", "ALK", "p.G1202R", "G1202", *signal],
            ["R1", "ALK", "p.G1202del", "G1202", *signal],
            ["R1", "KRAS", "p.G12C", "G12", "0", "0", "0", "not covered", "", "298", "no reads"],
        ],
        columns=list(contracts.ANNOTATE_READS["hotspots"]),
    )
    drugs = ["crizotinib", "ceritinib", "alectinib", "brigatinib", "lorlatinib"]
    verdicts = {"R1": {d: _empty_verdict() for d in drugs}}
    for d in drugs:
        verdicts["R1"][d]["prediction"] = "resistant" if d == "crizotinib" else "sensitive"
    add_not_assessed(verdicts, hotspots, kb)
    v = verdicts["R1"]
    kinds = {d: sorted({c["kind"] for c in v[d]["caveats"]}) for d in drugs}
    assert kinds["crizotinib"] == []  # resistant already: nothing makes it worse
    for d in ("ceritinib", "alectinib", "brigatinib"):  # G1202R resists them
        assert "filtered_signal" in kinds[d], d
    signal = next(c for c in v["ceritinib"]["caveats"] if c["kind"] == "filtered_signal")
    # the call's reads at its own base (alt / vaf = 2 of 17), not the codon's minimum depth (12)
    # beside it: the card shows the call's VAF (11.8%), so "2 of 12" (16.7%) contradicted it
    assert signal["signal"] == {"alt_count": 2.0, "depth": 17.0}
    assert "filtered_signal" not in kinds["lorlatinib"]  # G1202R is sensitive to lorlatinib

    text = report_model.caveat_sentence(v["ceritinib"]["caveats"])
    assert text is not None
    assert "ALK p.G1202R" not in text.split("a change was seen")[0]  # not "not covered"
    assert (
        "a change was seen at ALK G1202 (2 of 17 reads, signal below quality filters at the"
        " codon (too few reads)): neither mutated nor wild type, confirm with more reads" in text
    )
    assert text.count("ALK G1202") == 1
    cells = {
        d: {"basis": "evidence", "caveats": report_model.cell_caveats(v[d]["caveats"], [])}
        for d in drugs
    }
    assert "unconfirmed signal" in [f["short"] for f in cells["ceritinib"]["caveats"]]
    by = {p: [] for p in report_model.PREDICTIONS}
    by["resistant"], by["sensitive"] = ["crizotinib"], drugs[1:]
    caveated = {d for d in drugs if cells[d]["caveats"]}
    headline = report_model._headline(by, caveated, cells)
    assert headline.startswith("Still expected to work: lorlatinib")
    assert "Uncertain: ceritinib, alectinib, brigatinib, as a change was seen at ALK G1202" in (
        headline
    )
    # when every drug expected to work is uncertain, none is said to work
    by["sensitive"] = ["ceritinib"]
    assert report_model._headline(by, caveated, cells).startswith(
        "No ALK inhibitor is confirmed to work. Uncertain: ceritinib"
    )


def test_a_filtered_signal_makes_a_genotype_based_drug_uncertain_in_the_headline():
    """Real H3122 halves, G1202 thinned to 13 reads in half B with G1202R on 2 of them
    (filtered: too few reads), selected on crizotinib, nothing else counted: the cells read
    "unconfirmed signal" but the headline said "Expected to retain activity (genotype-based):
    ceritinib, alectinib, brigatinib, lorlatinib", as the genotype-based sentence returned before
    the filtered signals were looked at."""
    signal = {
        "kind": "filtered_signal",
        "short": "unconfirmed signal",
        "text": "a change was seen at ALK G1202 (2 of 17 reads, signal below quality filters at"
        " the codon (too few reads)): neither mutated nor wild type, confirm with more reads",
    }
    genotype = {"kind": "genotype", "short": "genotype-based", "text": "genotype-based: ..."}
    cells = {"crizotinib": {"basis": "phenotype", "caveats": []}}
    for d in ("ceritinib", "alectinib", "brigatinib"):
        cells[d] = {"basis": "genotype", "caveats": [genotype, signal]}
    cells["lorlatinib"] = {"basis": "genotype", "caveats": [genotype]}
    by = {p: [] for p in report_model.PREDICTIONS}
    by["resistant"], by["sensitive"] = ["crizotinib"], list(cells)[1:]
    assert report_model._headline(by, set(list(cells)[1:]), cells) == (
        "No confirmed resistance mechanism found; ALK-independent resistance not excluded."
        " Expected to retain activity (genotype-based): lorlatinib. Uncertain: ceritinib,"
        " alectinib, brigatinib, as " + signal["text"] + ". crizotinib: resistant phenotype;"
        " mechanism not found."
    )
    # every genotype-based drug uncertain: none is said to retain activity
    cells["lorlatinib"]["caveats"].append(signal)
    text = report_model._headline(by, set(list(cells)[1:]), cells)
    assert "Expected to retain activity" not in text
    assert "Uncertain: ceritinib, alectinib, brigatinib, lorlatinib, as a change" in text


def test_a_resistance_resting_on_low_support_calls_says_so():
    """Real H3122 half: G1202R in 2 of 216 reads (0.9%, PASS) below its codon's 2.9% detection
    limit turned ceritinib, alectinib and brigatinib into "Resistant" with no flag, and the first
    screen showed "VAF 0.0% -> 0.9%" without its reads."""
    caveats = [
        contracts.caveat(
            "low_support",
            "low support",
            gene="ALK",
            residue="G1202",
            hgvs_p="p.G1202R",
            support={"alt_count": 2, "depth": 216, "vaf": 0.0093, "detection_limit_vaf": 0.029},
        )
    ]
    (flag,) = report_model.cell_caveats(caveats, [])
    assert flag["short"] == "low support: confirm"
    assert flag["text"] == (
        "ALK p.G1202R rests on 2 of 216 reads, below this codon's 2.9% detection limit: low"
        " support, confirm with an orthogonal assay (e.g. ddPCR) or more reads"
    )
    cells = {
        "alectinib": {"basis": "evidence", "caveats": [flag]},
        "lorlatinib": {"basis": "evidence", "caveats": []},
    }
    by = {p: [] for p in report_model.PREDICTIONS}
    by["resistant"], by["sensitive"] = ["alectinib"], ["lorlatinib"]
    assert report_model._headline(by, set(), cells) == (
        "Still expected to work: lorlatinib. Resistance to alectinib: " + flag["text"] + "."
    )


def test_a_trans_compound_is_not_called_below_quality_filters(rendered):
    """Real H3122 half with L1196M 8% and G1202R 2% spiked on independent reads: the card read
    "Below quality filters, not used for predictions: ALK p.[L1196M;G1202R]" though both calls
    PASS; the compound's rows were set aside because the parts are in trans."""
    import copy

    model = copy.deepcopy(rendered["model"])
    model["summary"][0]["not_counted"] = [
        {"label": "ALK p.[L1196M;G1202R]", "kind": "compound", "filter": "PASS",
         "phase": "on different reads (trans); 0 of 191 spanning read pairs carry both"},
        {"label": "ALK p.R1275Q", "kind": "snv", "filter": "low_depth", "phase": None,
         "vaf": 0.1667},
    ]  # fmt: skip
    html = report.render_html(model, {"cnv": None, "vaf": None, "depth": None})
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    # the filtered call's VAF is shown: 2 of 12 reads at G1202 is a signal, not nothing
    assert (
        "Below quality filters, not used for predictions: ALK p.R1275Q at VAF 16.7%"
        " (too few reads)." in text
    )
    assert "ALK p.[L1196M;G1202R]" not in text.split("Below quality filters")[1].split(".")[0]
    assert (
        "Compound rows not applied (each change counts on its own): ALK p.[L1196M;G1202R]"
        " (on different reads (trans); 0 of 191 spanning read pairs carry both)." in text
    )


def test_first_screen_gives_a_filtered_calls_reads_and_the_drug_lines_their_signal(rendered):
    """Real H3122 halves, G1202 thinned to 13 reads with G1202R on 2: the headline said
    "Uncertain: ceritinib ... (2 of 17 reads ...)" while the drug line just below read
    "ceritinib: Expected to retain activity (genotype-based) ⚠", and the filtered call "ALK
    p.G1202R at VAF 11.8% (too few reads)" without the 2 reads it rests on."""
    import copy

    model = copy.deepcopy(rendered["model"])
    card = model["summary"][0]
    card["not_counted"] = [
        {"label": "ALK p.G1202R", "kind": "snv", "filter": "low_depth", "phase": None,
         "vaf": 0.1176, "alt_count": 2, "depth": 17},
    ]  # fmt: skip
    flag = {"kind": "filtered_signal", "short": "unconfirmed signal", "text": "a change was seen"}
    weak = {"kind": "low_support", "short": "low support: confirm", "text": "rests on 2 reads"}
    other = {"kind": "not_assessed", "short": "2 positions not assessable", "text": "..."}
    for cells in model["drug_grid"]["cells"].values():  # every card: the lines are read by drug
        cells["ceritinib"]["caveats"] = [other, flag]
        cells["alectinib"]["caveats"] = [weak]
        cells["lorlatinib"]["caveats"] = [other]
    html = report.render_html(model, {"cnv": None, "vaf": None, "depth": None})
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert (
        "Below quality filters, not used for predictions: ALK p.G1202R at VAF 11.8% (2 of 17"
        " reads, too few reads)." in text
    )
    lines = {
        a["data-drug"]: t for tag, a, t in parse(html).done if tag == "li" and "data-drug" in a
    }
    assert lines["ceritinib"].endswith("⚠ unconfirmed signal")
    assert lines["alectinib"].endswith("⚠ low support: confirm")
    assert lines["lorlatinib"].endswith("⚠")  # a position not assessable: the ⚠ alone
    assert "a change was seen at one below the quality filters (unconfirmed signal)" in text
    # nothing else explains the resistance: "what next?" names the filtered call too
    card["phenotype_drugs"] = ["crizotinib"]
    html = report.render_html(model, {"cnv": None, "vaf": None, "depth": None})
    what_next = " ".join(re.sub(r"<[^>]+>", " ", html.split('id="what-next"')[1]).split())
    assert (
        "Seen below the quality filters (a possible mechanism, neither confirmed nor excluded;"
        " confirm with more reads or an orthogonal assay): ALK p.G1202R at VAF 11.8% (2 of 17"
        " reads)." in what_next.split("ALK copy number")[0]
    )


def test_phase_words_say_how_many_reads_carry_each_part():
    """Real H3122 half: L1196M (15 reads) and G1202R (2 reads) were read as trans from "0 of
    191 spanning read pairs carry both"; the 2 reads the phase rests on were not shown."""
    phase = {
        "status": "trans",
        "method": "reads",
        "pairs": [{"reads_both": 0, "reads_a_only": 15, "reads_b_only": 2, "reads_spanning": 191}],
    }
    assert report_model._phase_text(phase) == (
        "on different reads (trans); 0 of 191 spanning read pairs carry both"
        " (15 and 2 carry only one of the two)"
    )
    del phase["pairs"][0]["reads_a_only"], phase["pairs"][0]["reads_b_only"]
    assert report_model._phase_text(phase) == (
        "on different reads (trans); 0 of 191 spanning read pairs carry both"
    )


def _trans_compound(matches: list[dict]) -> dict:
    """hits.json's compound p.[L1196M;G1202R] whose parts were seen on different reads."""
    return {
        "id": "compound:ALK:p.[L1196M;G1202R]",
        "kind": "compound",
        "gene": "ALK",
        "hgvs_p": "p.[L1196M;G1202R]",
        "status": "acquired",
        "counts_towards_verdict": False,
        "compound_parts": ["var:a", "var:b"],
        "phase": {"status": "trans", "method": "reads", "pairs": []},
        "matches": matches,
    }


def test_a_trans_compound_is_not_acquired_in_the_mutation_table():
    """Real H3122 half with L1196M and G1202R on different reads: the "Known resistance
    mutations" table showed the compound p.[L1196M;G1202R] as "acquired", lorlatinib-resistant,
    though its rows were not applied."""
    compound = _trans_compound([])
    entries = [{"sample": "R1", "condition": "resistant", "findings": [compound]}]
    (row,) = report_model.build_variant_rows(entries, None, "P", ["P", "R1"], "findings")
    assert row["status"] == {"R1": "not applied (trans)"}
    compound["phase"]["status"] = "cis"
    (row,) = report_model.build_variant_rows(entries, None, "P", ["P", "R1"], "findings")
    assert row["status"] == {"R1": "acquired"}


def test_a_trans_compounds_rows_do_not_read_as_applying_in_the_evidence_column(rendered):
    """Real H3122 half with L1196M and G1202R on different reads: hits.tsv left the compound's
    drug cells empty, but the mutation table's Evidence column still listed "lorlatinib:
    resistant" beside "not applied (trans)", read by a skimming eye as lorlatinib resistance."""
    import copy

    row = {"drug": "lorlatinib", "effect": "resistant", "evidence_level": "preclinical"}
    compound = _trans_compound([{**row, "verification": "db"}])
    entries = [{"sample": CR2, "condition": "resistant", "findings": [compound]}]
    samples = [PAR, CR1, CR2]
    (row,) = report_model.build_variant_rows(entries, None, PAR, samples, "findings")
    assert row["not_applied"] == [CR2]
    assert [(e["drug"], e["effect"], e["applied"]) for e in row["effects"]] == [
        ("lorlatinib", "resistant", False)
    ]
    model = copy.deepcopy(rendered["model"])
    model["variants"] = [row]
    html = report.render_html(model, {"cnv": None, "vaf": None, "depth": None})
    table = html.split('id="h-variants"')[1].split("</table>")[0]
    evidence = " ".join(re.sub(r"<[^>]+>", " ", table.split('class="num"')[-1]).split())
    assert "Not applied (its parts are on different reads, trans)" in evidence
    assert "not applied: lorlatinib : resistant" in evidence
    assert 'class="evidence effects muted"' in table
    # a cis compound's rows apply, and read as they did
    compound["phase"]["status"] = "cis"
    (row,) = report_model.build_variant_rows(entries, None, PAR, samples, "findings")
    assert row["not_applied"] == [] and row["effects"][0]["applied"] is True
    model["variants"] = [row]
    html = report.render_html(model, {"cnv": None, "vaf": None, "depth": None})
    table = html.split('id="h-variants"')[1].split("</table>")[0]
    assert "not applied" not in table.lower()


def test_a_low_support_call_is_tagged_in_the_mutation_table(rendered):
    """Real H3122 half with G1202R in 2 of 216 reads (PASS, below the codon's 2.2% limit): the
    first screen tagged it "low support: confirm", the "Known resistance mutations" table
    showed "0.9% 2/216 reads acquired" bare."""
    import copy

    snv = {
        "id": "var:chr2:24520:C:G",
        "kind": "snv",
        "gene": "ALK",
        "hgvs_p": "p.G1202R",
        "status": "acquired",
        "counts_towards_verdict": True,
        "low_support": {"alt_count": 2, "depth": 216, "vaf": 0.0093},
        "sample_counts": {"alt_count": 2, "depth": 216, "vaf": 0.0093},
        "matches": [],
    }
    entries = [{"sample": "R1", "condition": "resistant", "findings": [snv]}]
    (row,) = report_model.build_variant_rows(entries, None, "P", ["P", "R1"], "findings")
    assert row["low_support"] == {"R1": True}
    snv["low_support"] = None
    (row,) = report_model.build_variant_rows(entries, None, "P", ["P", "R1"], "findings")
    assert row["low_support"] == {}
    # rendered under the status, in the sample's cell
    model = copy.deepcopy(rendered["model"])
    first = model["variants"][0]
    sample = next(iter(first["status"]))
    first["low_support"] = {sample: True}
    html = report.render_html(model, {"cnv": None, "vaf": None, "depth": None})
    table = html.split('id="h-variants"')[1].split("</table>")[0]
    cell = re.sub(r"<[^>]+>", " ", table.split("</tr>")[1].split('class="status')[1])
    assert "low support: confirm" in " ".join(cell.split())
    # a call below the quality filters is said to be so where its "acquired" is shown (real
    # H3122 half: G1202R on 2 of 17 reads, FILTER low_depth, read "11.8% 2/17 reads acquired"
    # beside "ceritinib: resistant" with nothing saying it was not used)
    first["low_support"], first["filter"] = {}, "low_depth"
    html = report.render_html(model, {"cnv": None, "vaf": None, "depth": None})
    table = html.split('id="h-variants"')[1].split("</table>")[0]
    cell = " ".join(re.sub(r"<[^>]+>", " ", table.split("</tr>")[1]).split())
    assert "below quality filters (too few reads): not used for predictions" in cell


def test_report_states_the_runs_own_maximum_detection_limit():
    """A "not covered" codon is explained with the snv.max_detection_limit the run applied (run
    metadata config), not the default: a run at 20% must not read "above 10%"."""
    assert report_model.max_detection_limit(None) == 0.1  # the documented default
    assert report_model.max_detection_limit({"snv": {"max_detection_limit": 0.2}}) == 0.2
    assert report_model.max_detection_limit({"snv": {}}) == 0.1
    rows = [
        {
            "sample": "S",
            "gene": "ALK",
            "hgvs_p": "p.L1196M",
            "residue": "L1196",
            "chrom": "c",
            "positions": "1,2,3",
            "genomic": "chr2:1",
            "depth": 300,
            "alt_count": 0,
            "vaf": 0.0,
            "verdict": "not detected",
            "detection_limit_vaf": 0.15,
            "target_vaf": 0.01,
            "depth_needed": 640,
            "reason": None,
        }
    ]
    hot = report_model.build_hotspots(pd.DataFrame(rows), ["S"], None, 0.2)
    assert hot["max_detection_limit"] == 0.2


def test_hotspot_cell_says_which_depth_is_the_codons_and_which_the_calls(rendered):
    """Real H3122 half, G1202 thinned with G1202R on 2 of 17 reads (filtered): the grid cell
    read "13× reads" (the codon's minimum depth over its three bases) while every other place
    said "2 of 17 reads" (the call's alt over the depth at its own base)."""
    import copy

    reason = f"{contracts.HOTSPOT_FILTERED_SIGNAL} (too few reads)"
    site = ["ALK", "chr2_x", "24519,24520,24521", "chr2:29220746"]
    signal = ["p.G1202R", "G1202", *site, 13, 2, 0.11765, contracts.NOT_ASSESSABLE, None]
    noise = ["p.G1202R", "G1202", *site, 4, 1, 0.25, "not covered", None]
    rows = [
        ["R1", *signal, 0.01, 298, reason],
        ["R2", *noise, 0.01, 298, "no reads at the codon"],
    ]
    columns = ["sample", "hgvs_p", "residue", "gene", "chrom", "positions", "genomic"]
    hot = pd.DataFrame(rows, columns=columns + list(contracts.HOTSPOT_MEASURES))
    grid = report_model.build_hotspots(hot, ["R1", "R2"])
    (row,) = grid["rows"]
    assert row["cells"]["R1"]["call_reads"] == {"alt_count": 2, "depth": 17.0}
    assert row["cells"]["R2"]["call_reads"] is None  # a not-covered codon's count is noise
    model = copy.deepcopy(rendered["model"])
    model["hotspots"] = grid
    html = report.render_html(model, {"cnv": None, "vaf": None, "depth": None})
    table = html.split('id="hotspot-table"')[1].split("</table>")[0]
    cells = [" ".join(re.sub(r"<[^>]+>", " ", "<td" + c).split()) for c in table.split("<td")]
    signal_cell = next(c for c in cells if "NOT ASSESSABLE" in c)
    assert signal_cell.startswith(
        "NOT ASSESSABLE 2 of 17 reads at the call's base; codon min depth 13×; signal below"
    )
    assert "13× reads" not in table
    # a codon without reads still reads not covered, with its depth named the same way
    uncovered = next(c for c in cells if "NOT COVERED" in c)
    assert uncovered.endswith("NOT COVERED codon min depth 4×; no reads at the codon")
    assert "reads at the call's base" not in uncovered


def _report_with_filtered_signal(out: Path) -> dict:
    """The fixture report with KRAS G12 in H3122_CR2 thinned to 13 reads, 2 of 17 at the
    call's base carrying a change that failed the filters (hotspots.tsv ``not assessable``,
    ``contracts.HOTSPOT_FILTERED_SIGNAL``), the drugs' not_assessed items and caveats made
    again by annotate's own ``add_not_assessed``."""
    from resistcall.annotate import add_not_assessed
    from resistcall.knowledge import load_knowledge

    hot = pd.read_csv(FIX / "hotspots.tsv", sep="\t", dtype=str, keep_default_na=False)
    at = (hot["sample"] == CR2) & (hot["residue"] == "G12")
    reason = f"{contracts.HOTSPOT_FILTERED_SIGNAL} (too few reads)"
    hot.loc[at, ["depth", "alt_count", "vaf", "verdict", "detection_limit_vaf", "reason"]] = [
        "13", "2", "0.11765", contracts.NOT_ASSESSABLE, ".", reason
    ]  # fmt: skip
    hot.to_csv(out / "hotspots.tsv", sep="\t", index=False)
    hits = json.loads((FIX / "hits.json").read_text())
    verdicts = {s["sample"]: s["drugs"] for s in hits["samples"] if s["condition"] == "resistant"}
    for drugs in verdicts.values():
        for entry in drugs.values():
            entry["not_assessed"] = []
            entry["caveats"] = [c for c in entry["caveats"] if c["kind"] != "not_assessed"]
    kb = load_knowledge(FIX.parents[2] / "resources" / "known_resistance.tsv")
    add_not_assessed(verdicts, report_inputs.load_hotspots(out / "hotspots.tsv"), kb)
    (out / "hits.json").write_text(json.dumps(hits))
    argv = full_args(out)
    argv[argv.index("--hits") + 1] = str(out / "hits.json")
    argv[argv.index("--hotspots") + 1] = str(out / "hotspots.tsv")
    model = run_cli(argv)
    return {"model": model, "html": (out / "report.html").read_text()}


def test_a_filtered_signal_codon_reads_as_an_unconfirmed_signal_not_as_not_covered(tmp_path):
    """Real H3122 halves, a codon thinned to 13 reads with a change on 2 of 17 at its base
    (filtered: too few reads): the summary's not-assessable line read "KRAS G12 (13×)" beside
    a caveat saying "2 of 17 reads", and the drug's evidence cell filed the codon under "Not
    covered in this sample ... (13×)": a codon with reads and an unconfirmed change is not
    "not covered"."""
    r = _report_with_filtered_signal(tmp_path)
    html, doc = r["html"], parse(r["html"])
    words = "unconfirmed signal: 2 of 17 reads at the call's base; codon min depth 13×"
    line = doc.text_of(**{"class": "not-assessable-line", "data-not-assessable": "3"})
    assert "2 known resistance positions (ALK G1269 (15×), KRAS G13 (37×))" in line
    assert f"KRAS G12 ({words}; neither mutated nor wild type)" in line
    assert "KRAS G12 (13×)" not in line
    # the evidence cell: "Not covered" only for the codons that lack depth
    ev = _cell_html(html, "drug-evidence", CR2, "lorlatinib")
    text = re.sub(r"\s+([.,:)])", r"\1", " ".join(re.sub(r"<[^>]+>", " ", ev).split()))
    covered = text.split("Not covered in this sample")[1].split("Unconfirmed signal")[0]
    assert "KRAS G13 (37×, detection limit 12.2%): p.G13D would give resistant" in covered
    assert "KRAS G12" not in covered
    signal = text.split("Unconfirmed signal in this sample")[1]
    assert "neither mutated nor wild type" in signal.split("KRAS G12")[0]
    assert f"KRAS G12 ({words}): p.G12C would give resistant" in signal
    # the grid's flags: one codon not assessable, one unconfirmed signal (not "2 positions")
    grid = _cell_html(html, "drug-grid", CR2, "lorlatinib")
    flags = [t for _, _, t in parse(grid).find(**{"class": "caveat-flag"})]
    assert sorted(flags) == ["⚠ Caveat: 1 position not assessable", "⚠ Caveat: unconfirmed signal"]
    # the card's coverage line and report.json say the same
    card = doc.text_of(id="summary-h3122-cr2")
    assert "Not covered; unconfirmed signal below the quality filters: see" in card
    cr1 = doc.text_of(id="summary-h3122-cr1")
    assert "Hotspot coverage Not covered: see" in cr1 and "unconfirmed" not in cr1
    data = json.loads((tmp_path / "report.json").read_text())
    cell = data["drug_grid"]["cells"][CR2]["lorlatinib"]
    assert [p["label"] for p in cell["not_assessed_positions"]] == ["KRAS G13"]
    assert [(p["label"], p["signal"]) for p in cell["signal_positions"]] == [
        ("KRAS G12", {"alt_count": 2, "depth": 17})
    ]
    unc = next(c for c in data["summary"] if c["sample"] == CR2)["uncovered_hotspots"]
    assert {u["label"]: u["reads"] for u in unc}["KRAS G12"] == {"alt_count": 2, "depth": 17}
    # the cohort index counts the position, and says it carries a signal
    entries = report.write_index([tmp_path / "report.json"], tmp_path / "index.html")
    (cr2,) = [s for s in entries[0]["samples"] if s["sample"] == CR2]
    assert (cr2["n_uncovered"], cr2["n_signal"]) == (3, 1)
    index = parse((tmp_path / "index.html").read_text())
    assert index.text_of(**{"data-signal": "1"}).startswith("1 with an unconfirmed signal")
