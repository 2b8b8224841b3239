"""resistcall annotate on a small real-shaped line: parental + two resistant samples.

Fixtures (tests/data/annotate/): calls.vcf in the snv.vcf.gz layout (##parental, FORMAT
GT:AD:DP:AF:STATUS), cnv.tsv and fusions.tsv in their contract layouts. The BAM for phasing is
built here from reference bases.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pysam
import pytest

from resistcall.annotate import drug_verdicts, read_vcf
from resistcall.cli import main
from resistcall.contracts import hits_columns
from resistcall.knowledge import load_knowledge
from resistcall.phasing import Allele, phase_pair

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data" / "annotate"
REF = REPO / "resources" / "reference" / "panel_GRCh38.fa"
GTF = REPO / "resources" / "reference" / "panel_GRCh38.gtf"
KNOWN = REPO / "resources" / "known_resistance.tsv"
#: the bundled reference, GTF and knowledge table as annotate options
BUNDLED = ["--reference", str(REF), "--gtf", str(GTF), "--known", str(KNOWN)]
ALK = "chr2_29196228_29226309"
L1196M = f"var:{ALK}:24538:G:T"
G1202R = f"var:{ALK}:24520:C:T"
T1151DUP = f"var:{ALK}:26178:G:GCGT"
D1203N = f"var:{ALK}:24517:C:T"
VUS = f"var:{ALK}:17800:C:A"
COMPOUND = "compound:ALK:p.[L1196M;G1202R]"


def _annotate(*args: object) -> int:
    """``resistcall annotate`` with the bundled reference, GTF and knowledge table."""
    return main(["annotate", *BUNDLED, *map(str, args)])


def make_bam(path: Path, sample: str, reads: list[tuple[str, int, str]]) -> Path:
    """Unpaired 100-bp reads (name, 1-based start, sequence) on the ALK contig, sorted+indexed."""
    with pysam.FastaFile(str(REF)) as fa:
        header = {
            "HD": {"VN": "1.6", "SO": "unsorted"},
            "SQ": [{"SN": n, "LN": ln} for n, ln in zip(fa.references, fa.lengths, strict=True)],
            "RG": [{"ID": "rg1", "SM": sample}],
        }
    unsorted = path.with_suffix(".unsorted.bam")
    with pysam.AlignmentFile(str(unsorted), "wb", header=header) as out:
        for name, start, seq in reads:
            a = pysam.AlignedSegment(out.header)
            a.query_name = name
            a.reference_id = out.header.get_tid(ALK)
            a.reference_start = start - 1
            a.cigarstring = f"{len(seq)}M"
            a.query_sequence = seq
            a.query_qualities = pysam.qualitystring_to_array("I" * len(seq))
            a.mapping_quality = 60
            a.set_tag("RG", "rg1")
            out.write(a)
    pysam.sort("-o", str(path), str(unsorted))
    pysam.index(str(path))
    return path


def _reads(n: int, tag: str, changes: dict[int, str]) -> list[tuple[str, int, str]]:
    with pysam.FastaFile(str(REF)) as fa:
        start = 24480
        seq = list(fa.fetch(ALK, start - 1, start + 99).upper())
    for pos, base in changes.items():
        seq[pos - start] = base
    return [(f"{tag}{i}", start, "".join(seq)) for i in range(n)]


@pytest.fixture(scope="module")
def r1_bam(tmp_path_factory):
    d = tmp_path_factory.mktemp("bam")
    reads = (
        _reads(6, "cis", {24538: "T", 24520: "T"})
        + _reads(20, "ref", {})
        + _reads(1, "aonly", {24538: "T"})
    )
    return make_bam(d / "H3122_R1.bam", "H3122_R1", reads)


@pytest.fixture(scope="module")
def run(tmp_path_factory, r1_bam):
    out = tmp_path_factory.mktemp("H3122")
    args = [
        "annotate",
        "--vcf",
        str(DATA / "calls.vcf"),
        *BUNDLED,
        "--cnv",
        str(DATA / "cnv.tsv"),
        "--fusions",
        str(DATA / "fusions.tsv"),
        "--bam",
        str(r1_bam),
        "--hotspots",
        str(DATA / "hotspots.tsv"),
        "--out",
        str(out / "hits.tsv"),
        "--json",
        str(out / "hits.json"),
    ]
    assert main(args) == 0
    import pandas as pd

    tsv = pd.read_csv(out / "hits.tsv", sep="\t", dtype=str, keep_default_na=False)
    return tsv, json.loads((out / "hits.json").read_text())


def _sample(data, name):
    return next(s for s in data["samples"] if s["sample"] == name)


def _finding(sample, fid):
    return next(f for k in ("findings", "vus", "other") for f in sample[k] if f["id"] == fid)


def test_tsv_columns_and_nomenclature(run):
    tsv, _ = run
    assert list(tsv.columns) == hits_columns(load_knowledge(KNOWN).groups.driver_drugs)
    r1 = tsv[tsv["sample"] == "H3122_R1"].set_index("finding_id")
    assert r1.loc[L1196M, "hgvs_c"] == "c.3586C>A" and r1.loc[L1196M, "hgvs_p"] == "p.L1196M"
    assert r1.loc[L1196M, "genomic"] == "chr2:29220765"
    assert r1.loc[G1202R, "hgvs_p"] == "p.G1202R"
    assert r1.loc[T1151DUP, "hgvs_p"] == "p.T1151dup"
    assert r1.loc[T1151DUP, "hgvs_c"] == "c.3451_3453dup"
    assert r1.loc[T1151DUP, "genomic"] == "chr2:29222405-29222406"  # insertion flanks
    assert r1.loc[L1196M, "vaf"] == "0.2" and r1.loc[L1196M, "vaf_parental"] == "0"
    assert r1.loc[L1196M, "depth_parental"] == "1900"
    assert r1.loc[L1196M, "crizotinib"] == "resistant"
    assert r1.loc[L1196M, "ceritinib"] == "sensitive"
    assert "CIViC:EID237" in r1.loc[L1196M, "sources"]
    assert r1.loc[L1196M, "compound"] == COMPOUND
    # conditions and parental first
    assert tsv["sample"].iloc[0] == "H3122_P"
    assert set(tsv.loc[tsv["sample"] == "H3122_P", "condition"]) == {"parental"}


def test_vus_and_other_never_dropped(run):
    tsv, data = run
    r1 = tsv[tsv["sample"] == "H3122_R1"].set_index("finding_id")
    assert r1.loc[VUS, "classification"] == "vus" and r1.loc[VUS, "hgvs_p"] == "p.A1234S"
    assert r1.loc[VUS, "known"] == "no" and r1.loc[VUS, "kinase_domain"] == "yes"
    intronic = f"var:{ALK}:24459:A:G"
    assert r1.loc[intronic, "hgvs_c"] == "c.3645+20T>C"
    assert r1.loc[intronic, "classification"] == "other"
    s = _sample(data, "H3122_R1")
    assert [f["id"] for f in s["vus"]] == [VUS]


def test_compound_matched_and_phased_from_reads(run):
    tsv, data = run
    s = _sample(data, "H3122_R1")
    c = _finding(s, COMPOUND)
    assert c["compound_parts"] == [L1196M, G1202R]
    assert c["phase"]["status"] == "cis"
    pair = c["phase"]["pairs"][0]
    assert pair["reads_both"] == 6 and pair["reads_a_only"] == 1 and pair["reads_spanning"] == 27
    row = tsv[(tsv["sample"] == "H3122_R1") & (tsv["finding_id"] == COMPOUND)].iloc[0]
    assert row["phase"] == "cis" and row["lorlatinib"] == "resistant*"
    # R2 has L1196M but not G1202R: no compound there
    assert not any(f["kind"] == "compound" for f in _sample(data, "H3122_R2")["findings"])


def test_drug_verdicts_r1(run):
    _, data = run
    drugs = _sample(data, "H3122_R1")["drugs"]
    assert set(drugs) >= {"crizotinib", "ceritinib", "alectinib", "brigatinib", "lorlatinib"}
    assert drugs["crizotinib"]["prediction"] == "resistant"
    assert set(drugs["crizotinib"]["findings"]) == {L1196M, G1202R, T1151DUP}
    # the compound supersedes its parts' lorlatinib rows (both "sensitive" alone)
    lor = drugs["lorlatinib"]
    assert {x["finding"] for x in lor["superseded"]} == {L1196M, G1202R}
    assert lor["prediction"] == "resistant"
    # verified MET amplification (page) decides; the unverified compound row is listed
    assert lor["findings"] == ["cnv:MET"] and lor["verified"] is True
    assert any(r["finding"] == COMPOUND and r["verification"] == "recall" for r in lor["rows"])
    # the fusion is the target, shown as baseline, never deciding
    assert [b["finding"] for b in drugs["alectinib"]["baseline"]] == ["fusion:EML4::ALK"]
    assert "ALK TKI + MET inhibitor" in drugs
    assert drugs["ALK TKI + MET inhibitor"]["prediction"] == "sensitive"
    srcs = {s["id"]: s["url"] for s in drugs["crizotinib"]["sources"]}
    assert srcs["PMID:20979473"] == "https://pubmed.ncbi.nlm.nih.gov/20979473/"
    assert srcs["CIViC:EID237"] == "https://civicdb.org/links/evidence_items/237"


def test_drug_verdicts_r2_unverified_filtered_and_no_data(run):
    _, data = run
    s = _sample(data, "H3122_R2")
    drugs = s["drugs"]
    d1203n = _finding(s, D1203N)
    assert d1203n["known"] and d1203n["verified"] is False
    # ceritinib: verified L1196M (sensitive) decides; unverified D1203N 'reduced' is a caveat
    assert drugs["ceritinib"]["prediction"] == "sensitive"
    assert drugs["ceritinib"]["verified"] is True
    assert drugs["ceritinib"]["caveats"] == [
        {
            "kind": "unverified",
            "gene": "ALK",
            "residue": "D1203",
            "hgvs_p": "p.D1203N",
            "reason": "unverified row(s) would give 'reduced sensitivity'",
            "would_give": "reduced sensitivity",
        }
    ]
    # alectinib has no row for D1203N: said so, not hidden behind "sensitive"
    assert drugs["alectinib"]["prediction"] == "sensitive"
    assert D1203N in drugs["alectinib"]["no_data_findings"]
    # EGFR L858R failed a filter: reported, but it does not count (crizotinib rows)
    egfr = _finding(s, "var:chr7_55017807_55211651:174016:T:G")
    assert egfr["filter"] == "LowAltReads" and egfr["counts_towards_verdict"] is False
    assert all(r["finding"] != egfr["id"] for r in drugs["crizotinib"]["rows"])
    # KRAS G12C is lost in R2 (present only in the parental): reported, never counted
    kras = _finding(s, "var:chr12_25225577_25245847:19775:C:A")
    assert kras["status"] == "lost" and kras["counts_towards_verdict"] is False
    assert kras["sample_counts"]["alt_count"] == 0 and kras["parental_counts"]["alt_count"] == 100
    assert all(r["finding"] != kras["id"] for d in drugs.values() for r in d["rows"])
    # 3 noise reads under GT 0/0 (not detected by the caller) are not a finding
    ids = {f["id"] for k in ("findings", "vus", "other") for f in s[k]}
    assert G1202R not in ids
    # below-threshold fusion is no finding; ERBB2 gain is a VUS
    assert not any(f["kind"] == "fusion" for f in s["findings"])
    assert [f["id"] for f in s["vus"]] == ["cnv:ERBB2"]
    assert _sample(data, "H3122_P")["drugs"] == {}


def test_only_unverified_rows_give_unverified_prediction():
    from resistcall.annotate import Finding

    f = Finding(
        id="x", kind="snv", gene="ALK", sample="s", hgvs_p="p.G1202del", counts_towards_verdict=True
    )
    f.matches.append(
        {
            "drug": "ceritinib",
            "drug_class": "alk_tki",
            "effect": "resistant",
            "evidence_level": "case_report",
            "verification": "recall",
            "table_line": 60,
            "mechanism_class": "on_target",
            "sources": [],
            "match_type": "exact",
            "note": "",
        }
    )
    v = drug_verdicts([f], load_knowledge(KNOWN).groups)
    assert v["ceritinib"]["prediction"] == "resistant" and v["ceritinib"]["verified"] is False
    assert v["lorlatinib"]["prediction"] == "no data" and v["lorlatinib"]["verified"] is None
    assert v["lorlatinib"]["no_data_findings"] == ["x"]


def test_phase_trans(tmp_path):
    reads = _reads(5, "a", {24538: "T"}) + _reads(4, "b", {24520: "T"}) + _reads(10, "r", {})
    bam = make_bam(tmp_path / "t.bam", "T", reads)
    res = phase_pair(str(bam), Allele(ALK, 24538, "G", "T"), Allele(ALK, 24520, "C", "T"))
    assert res["status"] == "trans" and res["reads_both"] == 0
    assert (res["reads_a_only"], res["reads_b_only"], res["reads_spanning"]) == (5, 4, 19)
    far = phase_pair(str(bam), Allele(ALK, 24538, "G", "T"), Allele(ALK, 13590, "C", "T"))
    assert far["status"] == "unknown" and far["reads_both"] == 0


def test_sites_only_vcf(tmp_path):
    lines = [
        x
        for x in (DATA / "calls.vcf").read_text().splitlines()
        if not x.startswith(("##FORMAT", "##parental"))
    ]
    out = []
    for x in lines:
        f = x.split("\t")
        out.append("\t".join(f[:8]) if len(f) > 8 else x)
    vcf = tmp_path / "sites.vcf"
    vcf.write_text("\n".join(out) + "\n")
    calls, samples, parental = read_vcf(vcf)
    assert samples == ["."] and parental is None
    hits = tmp_path / "hits.tsv"
    assert _annotate("--vcf", vcf, "--out", hits, "--json", tmp_path / "hits.json") == 0
    import pandas as pd

    tsv = pd.read_csv(hits, sep="\t", dtype=str, keep_default_na=False)
    # every record once, no compound (parts cannot be placed in one sample)
    assert set(tsv["sample"]) == {"."} and len(tsv) == 9
    assert "compound" not in set(tsv["kind"])
    assert (tsv["vaf"] == "").all()
    data = json.loads((tmp_path / "hits.json").read_text())
    assert data["parental"] is None and data["line"] == tmp_path.name


def test_bad_inputs_fail_clearly(tmp_path, capsys):
    bad = tmp_path / "known_resistance.tsv"
    text = KNOWN.read_text().splitlines()
    fields = text[6].split("\t")
    fields[7] = "resistent"
    text[6] = "\t".join(fields)
    bad.write_text("\n".join(text) + "\n")
    (tmp_path / "known_resistance.schema.yaml").write_text(
        (REPO / "resources" / "known_resistance.schema.yaml").read_text()
    )
    args = [
        "annotate",
        "--vcf",
        str(DATA / "calls.vcf"),
        "--reference",
        str(REF),
        "--gtf",
        str(GTF),
        "--known",
        str(bad),
        "--out",
        str(tmp_path / "h.tsv"),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "line 7" in err and "column effect" in err
    assert not (tmp_path / "h.tsv").exists()
    cnv = tmp_path / "cnv.tsv"
    cnv.write_text("sample\tgene\tcall\nR\tMET\tamplification\n")
    args = [
        "annotate",
        "--vcf",
        str(DATA / "calls.vcf"),
        *BUNDLED,
        "--cnv",
        str(cnv),
        "--out",
        str(tmp_path / "h.tsv"),
    ]
    assert main(args) == 2
    assert "lacks column(s) copy_number" in capsys.readouterr().err


def test_docs_list_exactly_the_tsv_columns():
    import re

    doc = (REPO / "docs" / "annotate.md").read_text()
    section = doc[doc.index("## Output 1") : doc.index("## Output 2")]
    names = []
    for line in section.splitlines():
        m = re.match(r"\| (`[^|]+`) \|", line)
        if m:
            names += re.findall(r"`([^`]+)`", m.group(1))
    assert names == hits_columns(load_knowledge(KNOWN).groups.driver_drugs)


def test_uncovered_hotspots_listed_per_drug(run):
    _, data = run
    r2 = _sample(data, "H3122_R2")["drugs"]
    # I1171T (alectinib/crizotinib resistant) is not covered in R2 (31x: limit 14% > 10%)
    ale = r2["alectinib"]
    assert ale["prediction"] == "sensitive"
    assert [(m["hgvs_p"], m["effect"], m["depth"]) for m in ale["not_assessed"]] == [
        ("p.I1171T", "resistant", 31.0)
    ]
    assert ale["not_assessed"][0]["detection_limit_vaf"] == 0.14
    assert ale["not_assessed"][0]["reason"].startswith("detection limit above")
    assert ale["caveats"] == [
        {
            "kind": "not_assessed",
            "gene": "ALK",
            "residue": "I1171",
            "hgvs_p": "p.I1171T",
            "reason": ale["not_assessed"][0]["reason"],
        }
    ]
    # ceritinib is sensitive to I1171T: nothing to warn about
    assert r2["ceritinib"]["not_assessed"] == []
    # crizotinib is already resistant: listed, but no caveat needed
    assert r2["crizotinib"]["prediction"] == "resistant"
    assert r2["crizotinib"]["not_assessed"] and r2["crizotinib"]["caveats"] == []
    # R1 covered I1171 (not detected down to 0.45%): nothing listed
    assert all(not v["not_assessed"] for v in _sample(data, "H3122_R1")["drugs"].values())


def test_multiallelic_record_and_gz_input(tmp_path):
    """Each ALT of a multi-allelic record is its own finding, with its own AD/AF column."""
    header = [x for x in (DATA / "calls.vcf").read_text().splitlines() if x.startswith("#")]
    rec = (
        f"{ALK}\t24538\t.\tG\tT,C\t.\tPASS\t.\tGT:AD:DP:AF:STATUS\t"
        "0/0:1000,0,0:1000:0,0:.\t1/2:700,200,100:1000:0.2,0.1:acquired\t0/0:900,0,0:900:0,0:."
    )
    vcf = tmp_path / "multi.vcf"
    vcf.write_text("\n".join([*header, rec]) + "\n")
    gz = tmp_path / "multi.vcf.gz"
    pysam.tabix_compress(str(vcf), str(gz))
    out = tmp_path / "hits.tsv"
    assert _annotate("--vcf", gz, "--out", out) == 0
    import pandas as pd

    tsv = pd.read_csv(out, sep="\t", dtype=str, keep_default_na=False)
    r1 = tsv[tsv["sample"] == "H3122_R1"].set_index("hgvs_p")
    assert r1.loc["p.L1196M", "alt_count"] == "200" and r1.loc["p.L1196M", "vaf"] == "0.2"
    assert r1.loc["p.L1196V", "alt_count"] == "100" and r1.loc["p.L1196V", "vaf"] == "0.1"
    assert r1.loc["p.L1196V", "classification"] == "vus"
    assert set(tsv["sample"]) == {"H3122_R1"}


def test_compound_in_trans_is_not_applied(tmp_path):
    reads = _reads(8, "a", {24538: "T"}) + _reads(6, "b", {24520: "T"}) + _reads(10, "r", {})
    bam = make_bam(tmp_path / "H3122_R1.bam", "H3122_R1", reads)
    out = tmp_path / "hits.json"
    assert (
        _annotate(
            "--vcf", DATA / "calls.vcf", "--bam", bam, "--out", tmp_path / "hits.tsv", "--json", out
        )
        == 0
    )
    s = _sample(json.loads(out.read_text()), "H3122_R1")
    c = _finding(s, COMPOUND)
    assert c["phase"]["status"] == "trans" and c["counts_towards_verdict"] is False
    lor = s["drugs"]["lorlatinib"]
    # without the compound row, the single-mutant rows decide (both sensitive to lorlatinib)
    assert lor["superseded"] == [] and lor["prediction"] == "sensitive"
    assert {r["finding"] for r in lor["rows"]} == {L1196M, G1202R}
    # hits.tsv: the compound's row read "acquired" with lorlatinib "resistant*" in its drug
    # column; a row that decides nothing now has no drug cell, only the rows it set aside
    tsv = pd.read_csv(tmp_path / "hits.tsv", sep="\t", dtype=str, keep_default_na=False)
    row = tsv[(tsv["sample"] == "H3122_R1") & (tsv["finding_id"] == COMPOUND)].iloc[0]
    drugs = load_knowledge(KNOWN).groups.driver_drugs
    assert [row[d] for d in drugs] == [""] * len(drugs) and row["other_drugs"] == ""
    assert row["phase"] == "trans" and row["note"].startswith("parts seen in trans")
    assert "lorlatinib:resistant" in row["evidence"]  # what was matched, not applied
    # its parts keep their own cells
    parts = tsv[(tsv["sample"] == "H3122_R1") & tsv["finding_id"].isin([L1196M, G1202R])]
    assert set(parts["lorlatinib"]) == {"sensitive"}


def test_vcf_without_records_gives_no_data_verdicts(tmp_path):
    header = [x for x in (DATA / "calls.vcf").read_text().splitlines() if x.startswith("#")]
    vcf = tmp_path / "empty.vcf"
    vcf.write_text("\n".join(header) + "\n")
    out = tmp_path / "hits.json"
    assert _annotate("--vcf", vcf, "--out", tmp_path / "hits.tsv", "--json", out) == 0
    data = json.loads(out.read_text())
    assert [s["sample"] for s in data["samples"]] == ["H3122_P", "H3122_R1", "H3122_R2"]
    r1 = _sample(data, "H3122_R1")
    assert r1["findings"] == [] and r1["vus"] == []
    assert {v["prediction"] for v in r1["drugs"].values()} == {"no data"}
    assert (tmp_path / "hits.tsv").read_text().startswith("sample\tcondition\tfinding_id")


def test_a_drug_added_to_the_table_is_reported_without_code_change(tmp_path):
    """Drug groups are data: an ensartinib row (drug_class alk_tki) gives ensartinib a hits.tsv
    column, a verdict for every resistant sample and a column of the report's ALK grid."""
    lines = KNOWN.read_text().splitlines()
    row = next(x for x in lines if "\tp.L1196M\t" in x and "\tcrizotinib\t" in x).split("\t")
    row[5], row[7], row[8] = "ensartinib", "reduced_sensitivity", "preclinical"
    known = tmp_path / "known_resistance.tsv"
    known.write_text("\n".join([*lines, "\t".join(row)]) + "\n")
    out = tmp_path / "H3122"
    out.mkdir()
    argv = ["annotate", "--vcf", str(DATA / "calls.vcf"), "--reference", str(REF)]
    argv += ["--gtf", str(GTF), "--known", str(known), "--cnv", str(DATA / "cnv.tsv")]
    argv += ["--out", str(out / "hits.tsv"), "--json", str(out / "hits.json")]
    assert main(argv) == 0
    import pandas as pd

    tsv = pd.read_csv(out / "hits.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert tsv.columns[tsv.columns.get_loc("lorlatinib") + 1] == "ensartinib"
    assert tsv.set_index(["sample", "finding_id"]).loc[("H3122_R1", L1196M), "ensartinib"] == (
        "reduced_sensitivity"
    )
    data = json.loads((out / "hits.json").read_text())
    assert data["drug_groups"][0]["name"] == "ALK inhibitors"
    assert data["drug_groups"][0]["drugs"][-1] == "ensartinib"
    r1 = _sample(data, "H3122_R1")["drugs"]
    assert r1["ensartinib"]["prediction"] == "reduced sensitivity"
    # KRAS class rows ("ALK TKIs (class)") apply to the new drug as to the other ALK TKIs
    groups = load_knowledge(known).groups
    assert "ensartinib" in groups.drugs_of("ALK TKIs (class)", "alk_tki_class")
    html = out / "report.html"
    assert main(["report", "--hits", str(out / "hits.json"), "--out", str(html)]) == 0
    grid = html.read_text().split('id="drug-grid"')[1].split("</table>")[0]
    assert 'colspan="6">ALK inhibitors' in grid and 'data-drug="ensartinib"' in grid


def test_every_drug_class_needs_a_group(tmp_path):
    lines = KNOWN.read_text().splitlines()
    (tmp_path / "known_resistance.tsv").write_text("\n".join(lines) + "\n")
    (tmp_path / "drug_groups.tsv").write_text(
        "drug_class\tgroup\tapplies_to\tshow\nalk_tki\tALK inhibitors\t\tgrid\n"
    )
    from resistcall.errors import UserError

    with pytest.raises(
        UserError, match=r"line \d+: drug_class '\w+' is not listed in .*drug_groups"
    ):
        load_knowledge(tmp_path / "known_resistance.tsv")


def _scan_hotspots(verdicts: list[tuple[str, str, float | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "sample": "R",
                "gene": "ALK",
                "hgvs_p": f"p.{r}X",
                "residue": r,
                "verdict": v,
                "detection_limit_vaf": lim,
            }
            for r, v, lim in verdicts
        ]
    )


def test_genotype_based_prediction_when_driver_found_and_nothing_else():
    """EML4-ALK found, every known ALK codon clear down to its limit: the ALK inhibitors with
    no rows get 'expected to retain activity' (genotype), with what was excluded stated."""
    from resistcall.annotate import Finding, add_genotype_predictions, on_target_scan

    groups = load_knowledge(KNOWN).groups

    fusion = Finding(
        id="f", kind="fusion", gene="EML4::ALK", sample="R", counts_towards_verdict=True
    )
    hot = _scan_hotspots(
        [
            ("G1202", "not detected", 0.031),
            ("L1196", "not detected", 0.028),
            ("G1269", "not covered", None),
            ("G1202", "not detected", 0.035),
        ]
    )
    scan = on_target_scan(hot, "R")
    assert scan == {
        "gene": "ALK",
        "n_codons": 3,
        "n_clear": 2,
        "n_mutated": 0,
        "n_unknown": 1,
        "limit": 0.035,
    }
    v = drug_verdicts([fusion], groups)
    add_genotype_predictions(v, [fusion], scan, groups.driver_drugs)
    for drug in ("crizotinib", "alectinib", "lorlatinib"):
        assert v[drug]["prediction"] == "sensitive" and v[drug]["basis"] == "genotype"
        assert v[drug]["statement"] == (
            "no on-target resistance change >= 3.5% at 2 of 3 known ALK codons "
            "(ALK-independent resistance not excluded)"
        )
        assert v[drug]["caveats"][0]["kind"] == "genotype"
        assert v[drug]["caveats"][0]["reason"].startswith("genotype-based: no on-target")
    # another counted finding (a VUS, a copy-number change) or no driver: stays "no data"
    vus = Finding(
        id="v",
        kind="snv",
        gene="ALK",
        sample="R",
        consequence="missense_variant",
        counts_towards_verdict=True,
    )
    v2 = drug_verdicts([fusion, vus], groups)
    add_genotype_predictions(v2, [fusion, vus], scan, groups.driver_drugs)
    assert v2["alectinib"]["prediction"] == "no data" and v2["alectinib"]["basis"] == "none"
    v3 = drug_verdicts([], groups)
    add_genotype_predictions(v3, [], scan, groups.driver_drugs)
    assert v3["alectinib"]["basis"] == "none"
    # a codon found mutated: no genotype claim either
    mutated = on_target_scan(_scan_hotspots([("G1202", "mutated", 0.03)]), "R")
    v4 = drug_verdicts([fusion], groups)
    add_genotype_predictions(v4, [fusion], mutated, groups.driver_drugs)
    assert v4["lorlatinib"]["basis"] == "none"


def _qc(path, sample, status):
    reason = "sample failed QC: 380 mapped reads on target (fail below 2000)"
    failed = status == "fail"
    path.write_text(
        json.dumps(
            {
                "sample": sample,
                "status": status,
                "reasons": [reason] if failed else [],
                "not_assessable": dict.fromkeys(("snv", "cnv", "fusion"), reason) if failed else {},
            }
        )
    )
    return str(path)


@pytest.mark.parametrize("failed", ["H3122_P", "H3122_R2"])
def test_failed_qc_makes_verdicts_not_assessable(tmp_path, failed):
    """Parental failed: R1's own L1196M is still a finding and still decides crizotinib, but
    its comparison status is not assessable. Resistant sample failed: every drug prediction of
    that sample is not assessable; the other sample keeps its verdicts."""
    qc = [
        _qc(tmp_path / f"{s}.json", s, "fail" if s == failed else "pass")
        for s in ("H3122_P", "H3122_R1", "H3122_R2")
    ]
    args = ["--vcf", DATA / "calls.vcf", "--qc", *qc]
    assert _annotate(*args, "--out", tmp_path / "hits.tsv", "--json", tmp_path / "hits.json") == 0
    data = json.loads((tmp_path / "hits.json").read_text())
    r1, r2 = _sample(data, "H3122_R1"), _sample(data, "H3122_R2")
    assert _sample(data, failed)["qc"]["status"] == "fail"
    l1196m = _finding(r1, L1196M)
    if failed == "H3122_P":
        assert l1196m["status"] == "not assessable"
        assert "detected; parental not assessable (sample failed QC: 380" in l1196m["note"]
        assert r1["drugs"]["crizotinib"]["prediction"] == "resistant"
    else:
        assert l1196m["status"] == "acquired"
        assert {d["prediction"] for d in r2["drugs"].values()} == {"not assessable"}
        (qc_caveat,) = [c for c in r2["drugs"]["crizotinib"]["caveats"] if c["kind"] == "qc"]
        assert qc_caveat["reason"].startswith("sample failed QC")
        assert r1["drugs"]["crizotinib"]["prediction"] == "resistant"
        # the failed sample's own variants are never "acquired"/PASS in hits.tsv/json
        mine = [f for f in r2["findings"] + r2["vus"] + r2["other"] if f["kind"] != "cnv"]
        small = [f for f in mine if f["kind"] in ("snv", "mnv", "indel", "compound")]
        assert small and {f["status"] for f in small} == {"not assessable"}
        assert all("detected; sample failed QC (sample failed QC: 380" in f["note"] for f in small)
        rows = pd.read_csv(tmp_path / "hits.tsv", sep="\t", keep_default_na=False)
        r2_rows = rows[(rows["sample"] == "H3122_R2") & rows["kind"].isin(["snv", "indel"])]
        assert len(r2_rows) and set(r2_rows["status"]) == {"not assessable"}


def _alk_finding(fid: str, hgvs_p: str, status: str, drug: str, effect: str):
    """A counted ALK variant with one verified case-report row for ``drug``."""
    from resistcall.annotate import Finding

    f = Finding(id=fid, kind="snv", gene="ALK", sample="s", hgvs_p=hgvs_p, status=status)
    f.counts_towards_verdict = True
    f.matches.append(
        {
            "drug": drug,
            "drug_class": "alk_tki",
            "effect": effect,
            "evidence_level": "case_report",
            "verification": "db",
            "table_line": 17,
            "mechanism_class": "on_target",
            "sources": [],
            "match_type": "exact",
            "note": "",
        }
    )
    return f


def test_a_change_already_in_the_parental_does_not_decide():
    """C1156Y shared with the parental (3.4% -> 3.8%) is shown under in_parental; only the
    acquired G1202R decides, so the grid and its legend ("acquired or enriched") agree."""

    groups = load_knowledge(KNOWN).groups
    shared = _alk_finding("c", "p.C1156Y", "shared", "lorlatinib", "resistant")
    acquired = _alk_finding("g", "p.G1202R", "acquired", "lorlatinib", "sensitive")
    v = drug_verdicts([shared, acquired], groups)["lorlatinib"]
    assert v["prediction"] == "sensitive" and v["findings"] == ["g"]
    assert [r["finding"] for r in v["rows"]] == ["g"]
    assert [r["finding"] for r in v["in_parental"]] == ["c"]
    shared.status = "enriched"  # a parental subclone that expanded was selected: it decides
    v = drug_verdicts([shared, acquired], groups)["lorlatinib"]
    assert v["prediction"] == "resistant" and v["in_parental"] == []


def test_unassessed_copy_number_is_a_caveat_of_the_drugs_an_amplification_would_resist():
    """A capture without MET targets (no MET row in cnv.tsv) read 'lorlatinib: expected to
    work' with no word that MET amplification, resistance to lorlatinib, was never checked."""
    from resistcall.annotate import _empty_verdict, add_copy_number_not_assessed
    from resistcall.report_model import cell_caveats

    kb = load_knowledge(KNOWN)
    verdicts = {"R1": {"lorlatinib": _empty_verdict(), "crizotinib": _empty_verdict()}}
    verdicts["R1"]["lorlatinib"]["prediction"] = "sensitive"
    verdicts["R1"]["crizotinib"]["prediction"] = "resistant"  # nothing can make it better
    calls = {"ALK": "neutral", "EGFR": "neutral", "ERBB2": "neutral", "KIT": "not assessable"}
    cnv = pd.DataFrame(
        {
            "sample": ["R1"] * 4,
            "gene": list(calls),
            "call": list(calls.values()),
            "reason": [None, None, None, "KIT: 2 usable targets (< 3)"],
        }
    )
    add_copy_number_not_assessed(verdicts, cnv, kb)
    caveats = verdicts["R1"]["lorlatinib"]["caveats"]
    assert [(c["kind"], c["gene"]) for c in caveats] == [("copy_number", "MET")]
    assert caveats[0]["reason"] == (
        "MET copy number not assessed (no panel target on MET): MET amplification would give "
        "resistant"
    )
    assert verdicts["R1"]["crizotinib"]["caveats"] == []
    # KIT amplification resists crizotinib only (not assessable above, but crizotinib is
    # already resistant); ALK, EGFR, ERBB2 were measured; IGF1R is outside the CN scope
    (flag,) = cell_caveats(caveats, [])
    assert flag["short"] == "copy number not assessed: MET"


def test_low_support_calls_keep_their_verdict_with_a_caveat():
    """Real H3122 half: G1202R in 2 of 216 reads (0.9%, PASS; the codon's 95% detection limit
    2.9%) decided ceritinib/alectinib/brigatinib "resistant" with nothing saying how thin it
    was. Untreated H3122 itself carries 3 of 416 alt reads at C1156 (the real background)."""
    from resistcall.annotate import low_support, mutated_limits, support_words

    # the two reasons, each alone and together; a well-supported call has none
    thin = {"alt_count": 2, "depth": 216, "vaf": 0.0093}
    assert low_support(thin, 0.029) == {**thin, "detection_limit_vaf": 0.029}
    assert low_support(thin, None) == {**thin, "detection_limit_vaf": None}
    below = {"alt_count": 6, "depth": 400, "vaf": 0.015}
    assert low_support(below, 0.02) == {**below, "detection_limit_vaf": 0.02}
    assert low_support(below, 0.01) is None
    assert low_support({"alt_count": 4, "depth": 400, "vaf": 0.01}, None) is None
    assert support_words(low_support(thin, 0.029)) == (
        "low: 2 alt fragments; VAF below the codon's detection limit 0.029"
    )
    assert support_words(None) == ""
    # the limit is the mutated row's of that sample and change (hotspots.tsv cells are text)
    hot = pd.DataFrame(
        {
            "sample": ["R1", "R1", "R2"],
            "gene": ["ALK"] * 3,
            "hgvs_p": ["p.G1202R", "p.L1196M", "p.G1202R"],
            "verdict": ["mutated", "not detected", "not detected"],
            "detection_limit_vaf": ["0.029", "0.011", "0.03"],
        }
    )
    assert mutated_limits(hot) == {("R1", "ALK", "p.G1202R"): 0.029}

    groups = load_knowledge(KNOWN).groups
    weak = _alk_finding("g", "p.G1202R", "acquired", "alectinib", "resistant")
    weak.low_support = low_support(thin, 0.029)
    v = drug_verdicts([weak], groups)["alectinib"]
    assert v["prediction"] == "resistant"  # the call still counts
    (c,) = v["caveats"]
    assert (c["kind"], c["hgvs_p"], c["support"]["alt_count"]) == ("low_support", "p.G1202R", 2)
    # a second, well-supported resistance call decides too: no caveat
    strong = _alk_finding("i", "p.I1171N", "acquired", "alectinib", "resistant")
    assert drug_verdicts([weak, strong], groups)["alectinib"]["caveats"] == []


def test_failed_sample_keeps_whether_its_reads_carry_a_variant(tmp_path):
    """The report told "not detected; sample failed QC" from "detected; ..." by reading the
    note text; hits.json now says it in ``detected``."""
    qc = [
        _qc(tmp_path / f"{s}.json", s, "fail" if s == "H3122_R2" else "pass")
        for s in ("H3122_P", "H3122_R1", "H3122_R2")
    ]
    args = ["--vcf", DATA / "calls.vcf", "--qc", *qc]
    assert _annotate(*args, "--out", tmp_path / "hits.tsv", "--json", tmp_path / "hits.json") == 0
    r2 = _sample(json.loads((tmp_path / "hits.json").read_text()), "H3122_R2")
    small = [f for f in r2["findings"] + r2["vus"] + r2["other"] if f["kind"] in ("snv", "indel")]
    assert small and {f["status"] for f in small} == {"not assessable"}
    assert {f["detected"] for f in small} == {True, False}  # KRAS G12C was lost in R2
    for f in small:
        seen = "detected" if f["detected"] else "not detected"
        assert f"{seen}; sample failed QC" in f["note"]


def test_hits_tsv_note_of_a_trans_compound_says_its_rows_were_not_applied():
    """Real H3122 half, L1196M and G1202R on different reads: hits.tsv's compound row read
    "acquired", lorlatinib "resistant*", and its note only the read counts; the hits.json note
    "parts seen in trans on the reads: compound rows not applied" was overwritten."""
    from resistcall.annotate import Finding, tsv_rows

    pair = {"a": "var:a", "b": "var:b", "status": "trans", "reads_both": 0}
    pair |= {"reads_a_only": 15, "reads_b_only": 2, "reads_spanning": 191}
    compound = Finding(
        id="compound:ALK:p.[L1196M;G1202R]",
        kind="compound",
        gene="ALK",
        sample="R",
        status="acquired",
        counts_towards_verdict=False,
        compound_parts=["var:a", "var:b"],
        phase={"status": "trans", "method": "reads", "pairs": [pair]},
        note="parts seen in trans on the reads: compound rows not applied",
    )
    groups = load_knowledge(KNOWN).groups
    (row,) = tsv_rows({"R": [compound]}, "P", groups).to_dict("records")
    assert row["note"] == (
        "parts seen in trans on the reads: compound rows not applied; var:a + var:b: trans"
        " (both 0, a only 15, b only 2, spanning 191)"
    )
    # an applied compound's note stays the phase evidence alone
    compound.counts_towards_verdict, compound.note = True, ""
    (row,) = tsv_rows({"R": [compound]}, "P", groups).to_dict("records")
    assert row["note"].startswith("var:a + var:b: trans")
