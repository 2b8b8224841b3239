"""End to end: the demo sheet through every stage, compared with the simulation's truth."""

from __future__ import annotations

import gzip
import json
import shutil
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from resistcall import contracts
from resistcall.knowledge import load_knowledge

from conftest import BIN, REPO, copy_workflow, env_without_venv, readme_command, run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """Simulate the demo as `make demo` does, then run the README's own-data command exactly as
    written (`.venv/bin/snakemake ...`) in a scratch checkout, as a user who has NOT activated
    the venv: its folder is not on PATH, so no rule may depend on finding `resistcall` there."""
    work = copy_workflow(tmp_path_factory.mktemp("demo"))
    (work / ".venv").symlink_to(Path(sys.prefix))
    run([str(BIN / "resistcall"), "simulate", "--config", "config/config.yaml"], work)
    command = readme_command(".venv/bin/snakemake ")
    assert command[1:] == ["--cores", "4", "--workflow-profile", "profiles/default"], command
    env = env_without_venv()
    assert shutil.which("resistcall", path=env["PATH"]) is None, "resistcall is on PATH"
    run(command, work, env=env)
    return work


@pytest.fixture(scope="module")
def truth(demo) -> pd.DataFrame:
    return pd.read_csv(demo / "demo_data" / "truth.tsv", sep="\t")


@pytest.fixture(scope="module")
def hits(demo) -> pd.DataFrame:
    return pd.read_csv(demo / "results" / "H3122sim" / "hits.tsv", sep="\t")


def test_every_spiked_variant_is_found_with_its_status(truth, hits):
    expected = truth[
        (truth["condition"] == "resistant")
        & truth["kind"].isin(["snv", "insertion", "deletion"])
        & (truth["expected"] != "absent")
    ]
    assert len(expected) >= 8
    for row in expected.itertuples():
        found = hits[(hits["sample"] == row.sample) & (hits["hgvs_p"] == row.hgvs_p)]
        assert len(found) == 1, f"{row.sample} {row.hgvs_p} missing from hits.tsv"
        assert found["status"].iloc[0] == row.expected, (row.sample, row.hgvs_p)
        if row.vaf > 0:
            assert found["vaf"].iloc[0] == pytest.approx(row.vaf, rel=0.5, abs=0.01)
    # absent spikes are not called in the samples that do not carry them
    absent = truth[(truth["condition"] == "resistant") & (truth["expected"] == "absent")]
    for row in absent.itertuples():
        assert hits[(hits["sample"] == row.sample) & (hits["hgvs_p"] == row.hgvs_p)].empty


def test_known_resistance_mutations_are_annotated(hits):
    for sample, hgvs_p, drug in [
        ("H3122_CR1", "p.L1196M", "crizotinib"),
        ("H3122_CR2", "p.G1202R", "alectinib"),
    ]:
        row = hits[(hits["sample"] == sample) & (hits["hgvs_p"] == hgvs_p)].iloc[0]
        assert row["known"] == "yes"
        assert row["gene"] == "ALK" and row["transcript"] == "ENST00000389048"
        assert "resistant" in row[drug]


def test_copy_number_matches_truth(demo, truth):
    cnv = pd.read_csv(demo / "results" / "H3122sim" / "cnv.tsv", sep="\t")
    cn_truth = truth[(truth["kind"] == "cnv") & (truth["condition"] == "resistant")]
    for row in cn_truth.itertuples():
        got = cnv[(cnv["sample"] == row.sample) & (cnv["gene"] == row.gene)].iloc[0]
        if got["call"] == "not assessable":
            assert row.copy_number == 2  # only the sparse EML4 block may be unassessable
            continue
        assert got["copy_number"] == pytest.approx(row.copy_number, rel=0.15), row
        if row.copy_number == 2:
            assert got["call"] == "neutral", row
        else:
            assert got["call"] in ("gain", "amplification"), row
    kit = cnv[cnv["gene"] == "KIT"]
    assert (kit["call"] == "neutral").all()


def test_fusion_found_in_every_sample(demo):
    fusions = pd.read_csv(demo / "results" / "H3122sim" / "fusions.tsv", sep="\t")
    called = fusions[fusions["variant"] == "v1"]
    assert sorted(called["sample"]) == ["H3122_CR1", "H3122_CR2", "H3122_P"]
    assert (called["genomic_3p"] == "chr2:29223741").all()


def test_report_shows_findings_and_hotspot_coverage(demo):
    html = (demo / "results" / "H3122sim" / "report.html").read_text()
    for text in (
        "p.L1196M",
        "p.G1202R",
        "p.T1151dup",
        "p.G1202del",
        "MET",
        "lorlatinib",
        "EML4",
        "Research use only",
    ):
        assert text in html, text
    hotspots = pd.read_csv(demo / "results" / "H3122sim" / "hotspots.tsv", sep="\t")
    l1196 = hotspots[(hotspots["hgvs_p"] == "p.L1196M") & (hotspots["sample"] == "H3122_CR1")]
    assert l1196["verdict"].tolist() == ["mutated"]
    assert set(hotspots["verdict"]) <= set(contracts.HOTSPOT_VERDICT)
    assert (demo / "results" / "index.html").exists()


def test_written_headers_are_the_contracts(demo):
    """Every TSV the demo wrote has its contract's header, which covers what readers need."""
    out = demo / "results" / "H3122sim"
    written = {
        "cnv.tsv": contracts.CNV_COLUMNS,
        "cnv_targets.tsv": contracts.CNV_TARGET_COLUMNS,
        "fusions.tsv": contracts.FUSION_COLUMNS,
        "hotspots.tsv": contracts.HOTSPOT_COLUMNS,
        "hits.tsv": contracts.hits_columns(
            load_knowledge(demo / "resources" / "known_resistance.tsv").groups.driver_drugs
        ),
    }
    for name, columns in written.items():
        header = pd.read_csv(out / name, sep="\t", nrows=0).columns.tolist()
        assert header == list(columns), name
    for reads in (contracts.ANNOTATE_READS, contracts.REPORT_READS):
        for name, needed in reads.items():
            header = pd.read_csv(out / f"{name}.tsv", sep="\t", nrows=0).columns.tolist()
            assert set(needed) <= set(header), name
    qc = pd.read_csv(demo / "results" / "qc" / "H3122_P.targets.tsv", sep="\t", nrows=0)
    assert qc.columns.tolist() == list(contracts.QC_TARGET_COLUMNS)


def test_snakemake_report_archive_holds_the_reports_and_key_outputs(demo):
    run([str(BIN / "snakemake"), "--cores", "1", "--report", "report.zip"], demo)
    with zipfile.ZipFile(demo / "report.zip") as archive:
        names = archive.namelist()
    raw = [n for n in names if "/raw/" in n]
    assert sum(n.endswith("/report.html") for n in raw) == 1, names
    assert any(n.endswith("/index.html") for n in raw), names
    assert any(n.endswith("/multiqc_report.html") for n in raw), names
    for table in ("hits.tsv", "cnv.tsv", "fusions.tsv"):
        assert sum(n.endswith(f"/{table}") for n in raw) == 1, (table, names)
    assert sum(n.endswith(".somatic.vcf.gz") for n in raw) == 2, names  # CR1 and CR2


def test_bad_sheet_stops_before_anything_runs(demo, tmp_path):
    work = copy_workflow(tmp_path)
    shutil.copytree(demo / "demo_data", work / "demo_data")
    sheet = work / "config" / "samples.tsv"
    lines = sheet.read_text().splitlines()
    lines[2] = lines[2].replace("H3122_CR1", "H3122_P")  # duplicate sample name on line 3
    sheet.write_text("\n".join(lines) + "\n")
    proc = run([str(BIN / "snakemake"), "--cores", "1"], work, check=False)
    assert proc.returncode != 0
    assert "config/samples.tsv, line 3" in proc.stdout + proc.stderr
    assert not (work / "results").exists()


def test_somatic_vcf_per_resistant_sample_is_what_annotators_take(demo, truth):
    """Tumour/normal pair, GRCh38 chromosome coordinates, SOMATIC on acquired records only."""
    line = demo / "results" / "H3122sim"
    acquired = truth[
        truth["kind"].isin(["snv", "insertion", "deletion"]) & (truth["expected"] == "acquired")
    ]
    for sample in ("H3122_CR1", "H3122_CR2"):
        vcf = str(line / f"{sample}.somatic.vcf.gz")
        header = run(["bcftools", "view", "-h", vcf], demo).stdout.splitlines()
        assert f"##tumor_sample={sample}" in header and "##normal_sample=H3122_P" in header
        assert "##reference=panel_GRCh38.fa" in header
        assert "##contig=<ID=chr2,length=242193529,assembly=GRCh38>" in header
        assert header[-1].split("\t")[9:] == ["H3122_P", sample]
        query = "%CHROM\t%POS\t%REF\t%ALT\t%INFO/STATUS\t%INFO/SOMATIC\n"
        records = [
            line_.split("\t") for line_ in run(["bcftools", "query", "-f", query, vcf], demo)
            .stdout.splitlines()
        ]  # fmt: skip
        assert records and all(r[0] == "chr2" for r in records)
        assert all((r[4] == "acquired") == (r[5] == "1") for r in records), records
        for row in acquired[acquired["sample"] == sample].itertuples():
            pos = int(row.genomic.split(":")[1])
            shift = len(row.alt) - len(row.ref)
            near = [
                r for r in records
                if abs(int(r[1]) - pos) <= 10 and len(r[3]) - len(r[2]) == shift and r[5] == "1"
            ]  # fmt: skip
            assert near, f"{sample} {row.hgvs_p} ({row.genomic}) not a SOMATIC record"
        stats = run(["bcftools", "stats", vcf], demo).stdout
        assert "number of samples:\t2" in stats and "number of multiallelic sites:\t0" in stats
        if shutil.which("vcf-validator"):
            proc = run(["vcf-validator", vcf], demo)
            assert proc.stdout + proc.stderr == "", proc.stdout + proc.stderr


def test_multiqc_report_holds_samtools_and_resistcall_sections(demo):
    multiqc = demo / "results" / "multiqc"
    assert (multiqc / "multiqc_report.html").is_file()
    raw = json.loads((multiqc / "multiqc_data" / "multiqc_data.json").read_text())
    tables = raw["report_saved_raw_data"]
    samples = {"H3122_P", "H3122_CR1", "H3122_CR2"}
    assert set(tables["multiqc_samtools_stats"]) == samples
    assert set(tables["multiqc_samtools_markdup"]) == samples
    assert set(tables["multiqc_resistcall_coverage_table"]) == samples
    assert set(tables["multiqc_resistcall_hotspots_table"]) == samples
    assert set(tables["multiqc_resistcall_fusion_table"]) == samples
    assert set(tables["multiqc_resistcall_cnv_table"]) == {"H3122_CR1", "H3122_CR2"}
    for sample in samples:  # the same numbers as the sample's qc.json
        qc = json.loads((demo / "results" / "qc" / f"{sample}.qc.json").read_text())
        row = tables["multiqc_resistcall_coverage_table"][sample]
        assert row["median_target_depth"] == pytest.approx(qc["median_target_depth"])
        assert row["on_target"] == pytest.approx(100 * qc["on_target_fraction"], abs=0.01)
        assert tables["multiqc_resistcall_fusion_table"][sample]["call"] == "detected"
    index = (demo / "results" / "index.html").read_text()
    assert 'href="multiqc/multiqc_report.html"' in index


def test_outputs_hold_no_absolute_path_of_the_run_folder(demo):
    """Identical runs in two folders give identical outputs: no output names the folder.
    MultiQC's report and data folder are left out: like results/run_metadata.json they are run
    metadata, and MultiQC records the folder it searched. The IGV session reaches the run's
    files by paths relative to itself: each one is there, and every region is on a contig of the
    FASTA (the demo's panel contigs, as in the BAMs)."""
    folder = str(demo.resolve())
    checked = 0
    for path in sorted((demo / "results").rglob("*")):
        if "multiqc" in path.relative_to(demo / "results").parts:
            continue
        if path.suffix in (".tsv", ".json", ".html", ".txt", ".xml") or path.name.endswith(
            ".vcf.gz"
        ):
            data = path.read_bytes()
            text = gzip.decompress(data) if path.name.endswith(".gz") else data
            assert folder.encode() not in text, path
            checked += 1
    assert checked > 10

    session = demo / "results" / "H3122sim" / "igv_session.xml"
    root = ET.parse(session).getroot()
    assert root.tag == "Session" and root.get("version") == "8"
    genome = root.get("genome")
    paths = [r.get("path") for r in root.iter("Resource")]
    assert paths[:3] == ["H3122_P.bam", "H3122_CR1.bam", "H3122_CR2.bam"], paths
    assert {"snv.vcf.gz", "fusions.vcf.gz", "../reference/targets.bed"} <= set(paths), paths
    for path in [genome, *paths]:
        assert not Path(path).is_absolute(), path
        assert (session.parent / path).is_file(), path
    fai = (session.parent / f"{genome}.fai").read_text().splitlines()
    contigs = {line.split("\t")[0] for line in fai if line}
    regions = list(root.iter("RegionOfInterest"))
    assert regions and {r.get("chromosome") for r in regions} <= contigs
    assert root.get("locus").rpartition(":")[0] == regions[0].get("chromosome")
    hits = pd.read_csv(session.parent / "hits.tsv", sep="\t", keep_default_na=False)
    small = hits[hits["kind"].isin(["snv", "mnv", "indel"])]
    assert len(regions) >= len(small) + 2  # + both breakpoints of each detected fusion
    described = [r.get("description") for r in regions]
    assert any("p.C1156Y H3122_CR1" in d for d in described), described
    assert any("EML4::ALK fusion 5' breakpoint" in d for d in described), described


def test_workflow_start_shows_warnings_and_refuses_a_bad_bed(demo, tmp_path):
    """The parental-only-line warning reaches the user of a workflow run; a targets BED with
    3 columns stops the run at start-up with the same one line `resistcall validate` gives,
    before anything is aligned."""
    work = copy_workflow(tmp_path / "warn")
    shutil.copytree(demo / "demo_data", work / "demo_data")
    reads = REPO / "tests" / "data" / "sheets" / "reads"
    with open(work / "config" / "samples.tsv", "a") as sheet:
        sheet.write("Q\tHCC78\tparental\t\t\n")
    with open(work / "config" / "units.tsv", "a") as units:
        units.write(f"Q\tlane1\t{reads / 'Q_R1.fastq.gz'}\t{reads / 'Q_R2.fastq.gz'}\t\n")
    proc = run([str(BIN / "snakemake"), "-n"], work)
    assert "line 'HCC78' has only the parental sample 'Q'" in proc.stdout + proc.stderr
    # the dry run recorded only what the annotation cache is to be made for
    written = [p.relative_to(work).as_posix() for p in (work / "results").rglob("*") if p.is_file()]
    assert written == ["results/reference/annotation.key"]
    shutil.rmtree(work / "results")
    (work / "ragged.bed").write_text(
        "chr2_29196228_29226309\t100\t400\nchr2_29196228_29226309\t500\t800\tALK\n"
    )
    config = work / "config" / "config.yaml"
    text = config.read_text()
    assert "targets: resources/panel/demo_capture_targets.bed" in text
    config.write_text(
        text.replace("targets: resources/panel/demo_capture_targets.bed", "targets: ragged.bed")
    )
    proc = run([str(BIN / "snakemake"), "--cores", "1"], work, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert (
        "ragged.bed, line 2: 4 column(s) where line 1 has 3: every line of a BED has the same "
        "columns (panel.targets)" in out
    ), out[-3000:]
    assert not (work / "results").exists()


def test_bad_gtf_stops_the_run_before_any_alignment(demo, tmp_path):
    """The GTF's full checks (rule annotation) come before bwa: a panel gene without CDS fails
    the run with one message and nothing is indexed or aligned (keep-going runs the rest)."""
    work = copy_workflow(tmp_path / "badgtf")
    shutil.copytree(demo / "demo_data", work / "demo_data")
    gtf = work / "resources" / "reference" / "panel_GRCh38.gtf"
    rows = gtf.read_text().splitlines()
    gtf.write_text(
        "".join(r + "\n" for r in rows if not (r.split("\t")[2:3] == ["CDS"] and '"EML4"' in r))
    )
    proc = run([str(BIN / "snakemake"), "--cores", "2", "--workflow-profile",
                "profiles/default"], work, check=False)  # fmt: skip
    assert proc.returncode != 0
    log = (work / "logs" / "annotation" / "annotation.log").read_text()
    assert "panel gene EML4 has no complete coding transcript" in log, log
    assert not (work / "logs" / "bwa_mem").exists() and not (work / "logs" / "bwa_index").exists()
    assert not (work / "logs" / "bam_unit").exists()
