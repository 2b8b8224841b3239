"""The workflow on a lab's own genome: whole-chromosome GRCh38 FASTA, GENCODE-shaped GTF,
probe-named vendor BED and the real DNAfusion BAMs as shipped (hg38, 455 @SQ) as units (H3122 as
the BAM, HCC827 as a CRAM of it).

One shared run (module fixture) on the test genome of conftest.genome38: chr2 of real length
with the real ALK/EML4 sequence in place. BAM units need no index, so none may be built.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pysam
import pytest
import yaml
from test_report import parse

from resistcall.reference import fasta_md5

from conftest import GTF, REFERENCE, REPO, copy_workflow, snakemake

pytestmark = pytest.mark.slow

LINE = "H3122wg"


@pytest.fixture(scope="module")
def wg_run(genome38, shared_dir, tmp_path_factory) -> Path:
    work = copy_workflow(tmp_path_factory.mktemp("wholegenome"))
    bams = shared_dir / "realdata" / "DNAfusion"
    (work / "config" / "samples.tsv").write_text(
        "sample\tline\tcondition\tdrug\tnotes\n"
        f"H3122\t{LINE}\tparental\t\treal H3122 capture BAM (hg38, as shipped)\n"
        f"HCC827\t{LINE}\tresistant\tcrizotinib\treal HCC827 BAM: fusion-negative control\n"
    )
    # HCC827 as a CRAM (decoded with the configured FASTA)
    cram = work / "HCC827.cram"
    subprocess.run(
        ["samtools", "view", "-C", "-T", str(genome38["fasta"]), "-o", str(cram),
         str(bams / "HCC827_EML4.bam")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (work / "config" / "units.tsv").write_text(
        "sample\tunit\tfq1\tfq2\tbam\n"
        f"H3122\tavenio\t\t\t{bams / 'H3122_EML4.bam'}\n"
        f"HCC827\tavenio\t\t\t{cram}\n"
    )
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["reference"] = {
        "fasta": str(genome38["fasta"]),
        "gtf": str(genome38["gtf"]),
        "build": "GRCh38",
    }
    # default duplicate policy (auto): samples of aligned units are used as given
    cfg["panel"] = {"assay": "capture", "targets": str(genome38["targets"])}
    cfg.pop("simulate", None)
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    snakemake(
        work,
        f"results/{LINE}/report.html",
        f"results/{LINE}/hits.tsv",
        f"results/{LINE}/HCC827.somatic.vcf.gz",
        f"results/{LINE}/igv_session.xml",
    )
    return work


def test_no_bwa_index_is_built_for_bam_units(wg_run):
    assert not list((wg_run / "results" / "reference").glob("genome.fa*"))
    assert not (wg_run / "logs" / "bwa_index").exists()


def test_every_output_bam_and_vcf_has_exactly_the_fasta_contigs(wg_run, genome38):
    """@SQ of every BAM and ##contig of every VCF == the FASTA's .fai although the units carry
    455 hg38 contigs; reads whose mate lies on another chromosome are kept as 'mate unmapped'."""
    fai = [
        tuple(line.split("\t")[:2])
        for line in Path(f"{genome38['fasta']}.fai").read_text().splitlines()
    ]
    bams = sorted((wg_run / "results").rglob("*.bam"))
    assert [b.name for b in bams] == ["H3122.bam", "HCC827.bam"]
    for bam in bams:
        with pysam.AlignmentFile(str(bam)) as handle:
            assert [(s["SN"], str(s["LN"])) for s in handle.header.to_dict()["SQ"]] == fai
            assert all(r.next_reference_id in (-1, 0) for r in handle.fetch(until_eof=True))
    vcfs = sorted((wg_run / "results").rglob("*.vcf.gz"))
    assert {v.name for v in vcfs} == {"snv.vcf.gz", "fusions.vcf.gz", "HCC827.somatic.vcf.gz"}
    md5 = fasta_md5(genome38["fasta"])
    for vcf in vcfs:
        with pysam.VariantFile(str(vcf)) as handle:
            contigs = [(k, str(c.length)) for k, c in handle.header.contigs.items()]
            refs = [str(r).strip() for r in handle.header.records if r.key.startswith("reference")]
        assert contigs == fai, vcf.name
        # the FASTA by file name and md5, never by its path
        assert refs == ["##reference=chr2.fa", f"##reference_md5={md5}"], vcf.name
    log = (wg_run / "logs" / "bam_unit" / "H3122.avenio.log").read_text()
    assert "0 read(s) on contigs absent from chr2.fa dropped; 201 read(s) whose mate" in log


def test_every_table_is_in_the_genome_coordinates(wg_run):
    """chrom/pos/genomic/breakpoint columns of every TSV name chr2 (the FASTA's contig)."""
    columns = ("chrom", "genomic", "genomic_5p", "genomic_3p", "breakpoint_5p", "breakpoint_3p")
    seen = set()
    for tsv in sorted((wg_run / "results" / LINE).glob("*.tsv")):
        table = pd.read_csv(tsv, sep="\t", dtype=str, keep_default_na=False)
        for col in set(columns) & set(table.columns):
            names = set(table[col].str.split(":").str[0]) - {"", "."}
            assert names == {"chr2"}, (tsv.name, col, names)
            seen.add(tsv.name)
    assert {"hotspots.tsv", "hits.tsv", "fusions.tsv", "cnv_targets.tsv"} <= seen


def test_bam_units_are_used_as_given_and_qc_says_duplicates_were_not_marked(wg_run):
    """panel.mark_duplicates: auto (default) keeps the units' own duplicate flags; their headers
    name no duplicate-marking program, which QC and the report say."""
    assert not (wg_run / "logs" / "markdup").exists()
    html = (wg_run / "results" / LINE / "report.html").read_text()
    for sample, unit in (("H3122", "H3122_EML4.bam"), ("HCC827", "HCC827.cram")):
        qc = json.loads((wg_run / "results" / "qc" / f"{sample}.qc.json").read_text())
        assert qc["duplicates"] == "as given: not marked upstream"
        (warning,) = [w for w in qc["warnings"] if "duplicates were not marked upstream" in w]
        assert unit in warning and "panel.mark_duplicates: true" in warning
        assert f"the header of {unit} names no duplicate-marking program" in html
        assert f"{sample} as given: not marked upstream" in html  # methods


def test_transcript_choice_is_recorded(wg_run):
    choice = pd.read_csv(wg_run / "results/reference/transcripts.tsv", sep="\t").set_index("gene")
    assert choice.loc["ALK", "transcript_id"] == "ENST00000389048"
    assert choice.loc["ALK", "reason"] == "MANE Select"
    html = (wg_run / "results" / LINE / "report.html").read_text()
    assert "ALK ENST00000389048 / NM_004304.5 <small>(MANE Select)</small>" in html


def test_germline_alk_snp_in_chr2_coordinates(wg_run, genome38):
    with pysam.VariantFile(str(wg_run / "results" / LINE / "snv.vcf.gz")) as vcf:
        # ##contig = the FASTA's .fai; ##reference by file name + md5, no path
        assert dict(vcf.header.contigs.items()).keys() == {"chr2"}
        assert vcf.header.contigs["chr2"].length == 242_193_529
        ref_lines = [str(r) for r in vcf.header.records if r.key == "reference"]
        assert ref_lines == ["##reference=chr2.fa\n"]
        rec = next(r for r in vcf.fetch("chr2", 29222591, 29222592) if r.pos == 29222592)
        assert (rec.ref, rec.alts) == ("G", ("T",))
        assert rec.samples["H3122"]["AF"][0] == pytest.approx(0.82, abs=0.05)
    hits = pd.read_csv(wg_run / "results" / LINE / "hits.tsv", sep="\t", dtype=str)
    alk = hits[hits["gene"] == "ALK"]
    assert len(alk) and set(alk["transcript"]) == {"ENST00000389048"}
    assert set(alk["refseq"]) == {"NM_004304.5"}


def test_eml4_alk_found_with_at_least_the_support_of_the_bam_as_shipped(
    wg_run, shared_dir, tmp_path
):
    from resistcall.fusion import Settings, run

    shipped = run(
        str(REFERENCE),
        str(GTF),
        [str(shared_dir / "realdata" / "DNAfusion" / "H3122_EML4.bam")],
        str(tmp_path / "f.tsv"),
        None,
        Settings(),
    )
    as_shipped = int(shipped.loc[shipped["call"] == "detected", "fragments"].astype(int).max())
    fus = pd.read_csv(wg_run / "results" / LINE / "fusions.tsv", sep="\t", dtype=str)
    h3122 = fus[(fus["sample"] == "H3122") & (fus["call"] == "detected")]
    assert len(h3122) == 1
    row = h3122.iloc[0]
    assert (row["gene_5p"], row["gene_3p"]) == ("EML4", "ALK")
    assert row["genomic_5p"].startswith("chr2:42299") and row["genomic_3p"].startswith("chr2:2922")
    assert row["breakpoint_5p"].startswith("chr2:")  # genome's own coordinates
    # the BAM used as given (default duplicate policy): every fragment of the BAM as shipped
    assert int(row["fragments"]) >= as_shipped >= 100
    assert not (fus[fus["sample"] == "HCC827"]["call"] == "detected").any()
    with pysam.VariantFile(str(wg_run / "results" / LINE / "fusions.vcf.gz")) as vcf:
        assert {k: c.length for k, c in vcf.header.contigs.items()} == {"chr2": 242_193_529}
        assert "##reference=chr2.fa" in str(vcf.header)


def test_targets_carry_genes_and_backbone_is_never_a_gene(wg_run):
    bed = pd.read_csv(
        wg_run / "results/reference/targets.bed", sep="\t", header=None, names=["c", "s", "e", "g"]
    )
    assert set(bed["g"]) == {"ALK", "EML4", "backbone"}
    cnv = pd.read_csv(wg_run / "results" / LINE / "cnv.tsv", sep="\t")
    assert "backbone" not in set(cnv["gene"])


def test_alk_exon_scope_measured_on_the_full_model(wg_run):
    """With a whole-genome GTF the full ALK model is measured (issue 12 item 5): exons 3-7,
    9-12, 14-16 and 19-28 read (11 thinly: low depth), 1, 2, 8, 13, 17, 18, 29 not covered."""
    scope = pd.read_csv(wg_run / "results" / LINE / "exon_scope.tsv", sep="\t")
    alk = scope[scope["gene"] == "ALK"]
    for sample in ("H3122", "HCC827"):
        got = alk[alk["sample"] == sample].set_index("exon")
        assert list(got.index) == list(range(1, 30)) and set(got["model"]) == {"exons 1-29"}
        by = got.groupby("status").groups
        assert sorted(by["covered"]) == [*range(3, 8), 9, 10, 12, 14, 15, 16, *range(19, 29)]
        assert sorted(by["low depth"]) == [11]
        assert sorted(by["not covered"]) == [1, 2, 8, 13, 17, 18, 29]
    report = json.loads((wg_run / "results" / LINE / "report.json").read_text())
    a = report["scope"]["HCC827"]["ALK"]
    assert (a["covered"], a["low_depth"], a["not_covered"]) == (
        "3-7, 9-10, 12, 14-16, 19-28",
        "11",
        "1-2, 8, 13, 17-18, 29",
    )
    assert not a["partial_model"] and (a["adequate_depth"], a["call_depth"]) == (100, 20)
    html = (wg_run / "results" / LINE / "report.html").read_text()
    card = parse(html).text_of(id="summary-hcc827")
    assert "Exons 3-7, 9-10, 12, 14-16, 19-28 of NM_004304.5 covered (median ≥100×)." in card
    assert "not wild type): exon 11 (" in card
    assert "ALK exons 1-2, 8, 13, 17-18, 29 not covered (median below 20×): no statement" in card
    doc = parse(html)  # full model: no "outside the model" sentence anywhere
    text = doc.text_of(id="summary") + doc.text_of(id="what-next")
    assert "outside the model" not in text and "outside the reference's model" not in text
    assert "the other exons are outside it" not in text
    line = parse(html).text_of(**{"class": "not-assessable-line"})
    assert "ALK exons 1-2, 8, 13, 17-18, 29 (not covered)" in line
    assert "ALK exon 11 (" in line and ") at low depth" in line
    nxt = parse(html).text_of(id="what-next")
    assert "exon 11 at low depth, exons 1-2, 8, 13, 17-18, 29 not covered." in nxt
    # EGFR, KRAS, ... are on chromosomes this genome lacks: not read, never "none found"
    assert "MET, EGFR, ERBB2, KIT, KRAS: not read" in nxt


def test_igv_session_and_fusion_limit_on_the_whole_genome(wg_run):
    """On a lab's own genome the IGV session points at its FASTA and the final BAMs (the CRAM
    unit's too), and its regions name chr2 where the reads are: EML4-ALK's two breakpoints
    (chr2:42,299,750 and chr2:29,223,741, 0-based starts in the session). The fusion-negative
    HCC827 gets a 95%-power limit from the fragments spanning ALK intron 19."""
    import xml.etree.ElementTree as ET

    results = wg_run / "results" / LINE
    root = ET.parse(results / "igv_session.xml").getroot()
    paths = [r.get("path") for r in root.iter("Resource")]
    assert paths[:2] == ["H3122.bam", "HCC827.bam"]
    assert all((results / path).resolve().is_file() for path in [root.get("genome"), *paths])
    assert Path(root.get("genome")).name == "chr2.fa"
    regions = [
        (r.get("chromosome"), int(r.get("start")), r.get("description"))
        for r in root.iter("RegionOfInterest")
    ]
    assert {chrom for chrom, _, _ in regions} == {"chr2"}
    fusion = {start for _, start, text in regions if "EML4::ALK fusion" in text}
    assert any(abs(s - 42_299_749) <= 5 for s in fusion)
    assert any(abs(s - 29_223_740) <= 5 for s in fusion)
    fus = pd.read_csv(results / "fusions.tsv", sep="\t", dtype=str, keep_default_na=False)
    # its status row (a 2-fragment candidate below the threshold has a row of its own)
    status = fus[(fus["sample"] == "HCC827") & (fus["call"] == "not detected")]
    assert len(status) == 1
    neg = status.iloc[0]
    assert "with 95% power" in neg["status"]
    assert int(neg["spanning_fragments"]) > 0.5 * int(neg["region_depth"])
    assert 0.001 < float(neg["detection_limit_af"]) < 0.05
