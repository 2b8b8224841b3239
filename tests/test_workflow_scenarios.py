"""The workflow on the input shapes the capture demo does not exercise.

Each scenario runs the real Snakefile (every stage, no stubs) in a scratch copy on simulated
reads at low depth: an amplicon assay (primers clipped, no duplicate marking, a panel of
normals built from an unrelated amplicon sample), units given as aligned BAMs and a sample
sequenced on two lanes, two lines in one sheet with several resistant derivatives, and a unit
whose FASTQ is truncated (the failure must be reported and must not leave complete-looking
results).
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
import yaml

from resistcall import snv

from conftest import BIN, REPO, copy_workflow, run, snakemake

pytestmark = pytest.mark.slow

ALK = "chr2_29196228_29226309"
FA = "resources/reference/panel_GRCh38.fa"
# ALK spikes (contig alleles; ALK is on the minus strand), as in the demo config.
G1125 = {
    "gene": "ALK",
    "hgvs_c": "c.3375C>A",
    "hgvs_p": "p.G1125=",
    "chrom": ALK,
    "pos": 26365,
    "ref": "G",
    "alt": "T",
}
L1196M = {
    "gene": "ALK",
    "hgvs_c": "c.3586C>A",
    "hgvs_p": "p.L1196M",
    "chrom": ALK,
    "pos": 24538,
    "ref": "G",
    "alt": "T",
}
G1202R = {
    "gene": "ALK",
    "hgvs_c": "c.3604G>A",
    "hgvs_p": "p.G1202R",
    "chrom": ALK,
    "pos": 24520,
    "ref": "C",
    "alt": "T",
}
I1171N = {
    "gene": "ALK",
    "hgvs_c": "c.3512T>A",
    "hgvs_p": "p.I1171N",
    "chrom": ALK,
    "pos": 26120,
    "ref": "A",
    "alt": "T",
}
SAMPLE_COLUMNS = ["sample", "line", "condition", "drug", "notes"]
UNIT_COLUMNS = ["sample", "unit", "fq1", "fq2", "bam"]


def _write_tsv(path: Path, rows: list[dict], columns: list[str]) -> None:
    pd.DataFrame(rows, columns=columns, dtype=object).fillna("").to_csv(path, sep="\t", index=False)


def _pair_sheets(
    work: Path,
    parental: str,
    resistant: str,
    line: str,
    unit: str,
    drug: str = "",
    fq_unit: str = "",
) -> None:
    """samples.tsv and units.tsv of one line: a parental and a resistant sample (selected on
    ``drug``), one FASTQ unit each, ``data/<sample><fq_unit>_R1/_R2.fastq.gz``."""
    _write_tsv(
        work / "config" / "samples.tsv",
        [
            {"sample": parental, "line": line, "condition": "parental"},
            {"sample": resistant, "line": line, "condition": "resistant", "drug": drug},
        ],
        SAMPLE_COLUMNS,
    )
    fq = "data/{}" + fq_unit + "_R{}.fastq.gz"
    rows = [
        {"sample": s, "unit": unit, "fq1": fq.format(s, 1), "fq2": fq.format(s, 2)}
        for s in (parental, resistant)
    ]
    _write_tsv(work / "config" / "units.tsv", rows, UNIT_COLUMNS)


def _write_config(
    work: Path,
    *,
    panel: dict | None = None,
    simulate: dict | None = None,
    units: str = "config/units.tsv",
    name: str = "config.yaml",
) -> Path:
    """The shipped config with this scenario's sheets, panel and simulation."""
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["samples"], cfg["units"] = "config/samples.tsv", units
    cfg["panel"].update(panel or {})
    if simulate is not None:
        cfg["simulate"] = simulate
    path = work / "config" / name
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _simulate(work: Path, config: Path, fragments: int) -> pd.DataFrame:
    run(
        [
            str(BIN / "resistcall"),
            "simulate",
            "--config",
            str(config.relative_to(work)),
            "--fragments",
            str(fragments),
            "--seed",
            "7",
        ],
        work,
    )
    return pd.read_csv(work / "data" / "truth.tsv", sep="\t")


def _align_elsewhere(
    work: Path, sample: str, fq1: str, fq2: str, mark_duplicates: bool, rg_id: str = "flowcellX.1"
) -> str:
    """A BAM as another pipeline would deliver it: its own read group (SM differs from the
    sheet; ID ``rg_id``), optionally duplicate-marked. Returns its path relative to ``work``."""
    index = work / "bwa" / "ref.fa"
    if not index.with_suffix(".fa.bwt").exists():
        index.parent.mkdir(exist_ok=True)
        run(["bwa", "index", "-p", str(index), FA], work)
    rg = rf"@RG\tID:{rg_id}\tSM:core_{sample.lower()}_lib\tPL:ILLUMINA"
    out = f"data/{sample}.bam"
    steps = [f"bwa mem -t 2 -R '{rg}' {index} {fq1} {fq2} 2>/dev/null"]
    if mark_duplicates:
        steps += ["samtools fixmate -m -u - -", "samtools sort -u -", "samtools markdup -u - -"]
    steps.append(f"samtools sort -o {out} -")
    run(["bash", "-o", "pipefail", "-c", " | ".join(steps) + f" && samtools index {out}"], work)
    return out


def _hits(work: Path, line: str) -> pd.DataFrame:
    return pd.read_csv(work / "results" / line / "hits.tsv", sep="\t")


def _assert_hit(hits: pd.DataFrame, sample: str, hgvs_p: str, status: str = "acquired") -> None:
    found = hits[(hits["sample"] == sample) & (hits["hgvs_p"] == hgvs_p)]
    assert len(found) == 1, f"{sample} {hgvs_p} not in hits.tsv:\n{hits[['sample', 'hgvs_p']]}"
    assert found["status"].iloc[0] == status, found.to_dict("records")


def _cnv_call(work: Path, line: str, sample: str, gene: str) -> pd.Series:
    cnv = pd.read_csv(work / "results" / line / "cnv.tsv", sep="\t")
    rows = cnv[(cnv["sample"] == sample) & (cnv["gene"] == gene)]
    assert len(rows) == 1, cnv
    return rows.iloc[0]


# --------------------------------------------------------------------------- amplicon


@pytest.fixture(scope="module")
def amplicon(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """One line, parental + resistant, amplicon assay: reads start with their primers. An
    unrelated amplicon sample AMP_N (not in the run's sheet) is the panel of normals
    (`pon: {normals: [...]}`), duplicate-marked upstream and not primer-clipped, as another
    pipeline delivers it; it carries I1171N as a germline variant, which reaches the resistant
    sample at 3% (as contamination from that normal would look)."""
    work = copy_workflow(tmp_path_factory.mktemp("amplicon"))
    # the normal is simulated with the run's samples, then left out of the run's sheets
    _write_tsv(
        work / "config" / "samples.tsv",
        [
            {"sample": "AMP_P", "line": "AMPLINE", "condition": "parental"},
            {"sample": "AMP_R", "line": "AMPLINE", "condition": "resistant"},
            {"sample": "AMP_N", "line": "NORMALS", "condition": "parental"},
        ],
        SAMPLE_COLUMNS,
    )
    fq = "data/{}_R{}.fastq.gz"
    rows = [
        {"sample": s, "unit": "run1", "fq1": fq.format(s, 1), "fq2": fq.format(s, 2)}
        for s in ("AMP_P", "AMP_R", "AMP_N")
    ]
    _write_tsv(work / "config" / "units.tsv", rows, UNIT_COLUMNS)
    config = _write_config(
        work,
        panel={
            "assay": "amplicon",
            "targets": "resources/panel/demo_amplicons.bed",
            "primers": "resources/panel/demo_primers.bed",
        },
        simulate={
            "out_dir": "data",
            "read_length": 100,
            "efficiency_spread": 0.6,
            "ploidy": 2,
            "samples": {
                "AMP_P": {"gc_bias": [0.2, 1.0]},
                "AMP_R": {"copy_number": {"MET": 8}, "gc_bias": [-0.2, 1.5]},
                "AMP_N": {"fragments": 12_000},
            },
            "variants": [
                {**G1125, "vaf": {"AMP_P": 0.5, "AMP_R": 0.5}},
                {**L1196M, "vaf": {"AMP_R": 0.25}},
                {**G1202R, "vaf": {"AMP_R": 0.35}},
                {**I1171N, "vaf": {"AMP_R": 0.03, "AMP_N": 0.5}},
            ],
        },
    )
    _simulate(work, config, fragments=30_000)
    _pair_sheets(work, "AMP_P", "AMP_R", "AMPLINE", "run1", drug="crizotinib")
    normal = _align_elsewhere(
        work, "AMP_N", fq.format("AMP_N", 1), fq.format("AMP_N", 2), mark_duplicates=True
    )
    # The parental arrives as a BAM another pipeline already duplicate-marked (most reads of
    # an amplicon share both ends, so nearly all would be flagged): the marks must not survive.
    bam = _align_elsewhere(
        work, "AMP_P", "data/AMP_P_R1.fastq.gz", "data/AMP_P_R2.fastq.gz", mark_duplicates=True
    )
    flagged = int(run(["samtools", "view", "-c", "-f", "1024", bam], work).stdout)
    assert flagged > 10_000
    _write_tsv(
        work / "config" / "units.tsv",
        [
            {"sample": "AMP_P", "unit": "run1", "bam": bam},
            {
                "sample": "AMP_R",
                "unit": "run1",
                "fq1": "data/AMP_R_R1.fastq.gz",
                "fq2": "data/AMP_R_R2.fastq.gz",
            },
        ],
        UNIT_COLUMNS,
    )
    with open(config, "a") as handle:
        handle.write(yaml.safe_dump({"pon": {"normals": [normal]}}))
    return work, snakemake(work)


def test_amplicon_clips_primers_and_never_marks_duplicates(amplicon):
    work, proc = amplicon
    log = proc.stdout + proc.stderr
    assert re.search(r"^(local)?rule ampliconclip:", log, re.M), log[-2000:]
    assert not re.search(r"^(local)?rule markdup:", log, re.M)
    assert not (work / "logs" / "markdup").exists()
    for sample in ("AMP_P", "AMP_R"):
        stats = work / "results" / "qc" / "AMPLINE" / f"{sample}.ampliconclip.txt"
        counts = dict(re.findall(r"^([A-Z ]+): (\d+)$", stats.read_text(), re.M))
        assert int(counts["TOTAL CLIPPED"]) >= 0.95 * int(counts["TOTAL READS"]) > 0, counts
        assert not (work / "results" / "qc" / "AMPLINE" / f"{sample}.markdup.txt").exists()
        bam = work / "results" / "AMPLINE" / f"{sample}.bam"
        assert run(["samtools", "view", "-c", "-f", "1024", str(bam)], work).stdout.strip() == "0"
        qc = json.loads((work / "results" / "qc" / f"{sample}.qc.json").read_text())
        assert qc["duplicate_fraction"] == 0 and qc["assay"] == "amplicon", qc


def test_amplicon_primer_bases_are_soft_clipped(amplicon):
    """Around L1196M (amplicon ALK_006: left primer 24448-24473, right 24613-24638) no aligned
    base may lie on a primer, and reads that began at the primer start carry the clip."""
    work, _ = amplicon
    for sample in ("AMP_P", "AMP_R"):  # from a BAM unit and from FASTQ
        clipped = total = on_primer = 0
        with pysam.AlignmentFile(str(work / "results" / "AMPLINE" / f"{sample}.bam")) as bam:
            for read in bam.fetch(ALK, 24473, 24613):
                if read.is_unmapped or read.is_secondary or read.is_supplementary:
                    continue
                total += 1
                blocks = read.get_blocks()
                if blocks[0][0] < 24473 or blocks[-1][1] > 24613:
                    on_primer += 1
                ops = read.cigartuples
                if (ops[0][0] == 4 and ops[0][1] >= 18) or (ops[-1][0] == 4 and ops[-1][1] >= 18):
                    clipped += 1
        assert total > 100, sample
        assert on_primer <= 0.01 * total, (sample, on_primer, total)
        assert clipped >= 0.95 * total, (sample, clipped, total)


def test_amplicon_panel_of_normals_is_built_from_clipped_normals_and_read_by_snv(amplicon):
    """`pon: {normals: [...]}` in an amplicon run: rule pon_clip clips the normal's primers (as
    the run's samples are clipped), rule pon counts it with duplicates (amplicon rules) into
    results/pon/pon.tsv.gz, and the snv job reads it: the normal's germline I1171N, at 3% in
    the resistant sample, is filtered as pon_variant."""
    work, proc = amplicon
    log = proc.stdout + proc.stderr
    assert len(re.findall(r"^(local)?rule pon_clip:", log, re.M)) == 1, log[-2000:]
    assert len(re.findall(r"^(local)?rule pon:", log, re.M)) == 1
    snv_job = re.split(r"^(?:local)?rule snv:", log, flags=re.M)[1].split("\n\n")[0]
    assert "results/pon/pon.tsv.gz" in snv_job.split("output:")[0], snv_job
    clip_log = (work / "logs/pon/clip_0_AMP_N.log").read_text()
    clip = dict(re.findall(r"^([A-Z ]+): (\d+)$", clip_log, re.M))
    assert int(clip["TOTAL CLIPPED"]) >= 0.95 * int(clip["TOTAL READS"]) > 0, clip
    assert not (work / "results" / "pon" / "clipped").exists() or not any(
        (work / "results" / "pon" / "clipped").iterdir()
    )  # temporary
    pon = snv.read_pon(work / "results" / "pon" / "pon.tsv.gz")
    assert set(pon["samples"]) <= {0, 1} and pon["samples"].sum() > 0
    # the normal's reads are nearly all duplicate-marked upstream, yet all are counted
    normal = work / "data" / "AMP_N.bam"
    marked = int(run(["samtools", "view", "-c", "-f", "1024", str(normal)], work).stdout)
    reads = int(run(["samtools", "view", "-c", "-F", "0x900", str(normal)], work).stdout)
    assert marked > 0.9 * reads
    site = pon[(pon["chrom"] == ALK) & (pon["pos"] == I1171N["pos"]) & (pon["alt"] == "T")]
    assert site[["samples", "excluded"]].values.tolist() == [[0, 1]], site
    # without duplicates the panel could hold at most one read length per unmarked read
    assert pon.loc[pon["alt"] == "indel", "depth"].sum() > 5 * 100 * (reads - marked)
    # primer bases are not counted: the snv regions reach 5 bases into ALK_006's RIGHT primer
    # (24614-24638, 1-based; no other amplicon there), where the unclipped normal has reads
    # (twice the panel's min_depth, 20)
    with pysam.AlignmentFile(str(normal)) as handle:
        assert handle.count(ALK, 24613, 24618) > 40
    alk = pon[pon["chrom"] == ALK]
    assert alk.loc[alk["pos"].between(24614, 24618), "samples"].sum() == 0
    assert (alk.loc[alk["pos"].between(24600, 24613), "samples"] == 1).all()
    with pysam.VariantFile(str(work / "results" / "AMPLINE" / "snv.vcf.gz")) as vcf:
        rec = [r for r in vcf if r.pos == I1171N["pos"] and r.alts == ("T",)]
        header = str(vcf.header)
    assert len(rec) == 1 and "pon_variant" in rec[0].filter.keys(), rec
    # the calls' header names the panel; the panel records its normal (the clipped copy of
    # AMP_N, counted with its duplicates: nothing to warn about in an amplicon run)
    assert "##resistcall_pon=<File=pon.tsv.gz,Normals=1>\n" in header
    assert snv.pon_preamble(work / "results" / "pon" / "pon.tsv.gz") == [
        '##normal=<Sample=core_amp_n_lib,File=AMP_N.bam,Duplicates="counted (amplicon)">'
    ]
    # the run metadata records the panel's normals and the options it was built with
    meta = json.loads((work / "results" / "run_metadata.json").read_text())
    assert meta["config"]["pon"] == {
        "normals": ["data/AMP_N.bam"],
        "max_vaf": 0.05,
        "min_depth": 20,
    }
    html = (work / "results" / "AMPLINE" / "report.html").read_text()
    assert "Panel of normals: 1 unrelated sample (pon.normals)" in html


def test_amplicon_spikes_and_met_gain_are_reported(amplicon):
    work, _ = amplicon
    hits = _hits(work, "AMPLINE")
    _assert_hit(hits, "AMP_R", "p.L1196M")
    _assert_hit(hits, "AMP_R", "p.G1202R")
    assert (
        hits[(hits["sample"] == "AMP_R") & (hits["hgvs_p"] == "p.G1125=")]["status"]
        .isin(["shared"])
        .all()
    )
    met = _cnv_call(work, "AMPLINE", "AMP_R", "MET")
    assert met["call"] in ("gain", "amplification"), met.to_dict()
    assert met["copy_number"] == pytest.approx(8, rel=0.3)
    assert _cnv_call(work, "AMPLINE", "AMP_R", "KIT")["call"] == "neutral"
    html = (work / "results" / "AMPLINE" / "report.html").read_text()
    assert "p.L1196M" in html and "p.G1202R" in html and "MET" in html


# --------------------------------------------------------------------------- capture, two lines


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    """Two lines in one sheet (capture). LINEA: parental given as a BAM (foreign read group),
    resistant R1 sequenced on two lanes, resistant R2; listed resistant-first. LINEB: parental
    and one resistant given as a BAM."""
    work = copy_workflow(tmp_path_factory.mktemp("cohort"))
    _write_tsv(
        work / "config" / "samples.tsv",
        [
            {"sample": "LA_R1", "line": "LINEA", "condition": "resistant", "drug": "crizotinib"},
            {"sample": "LA_P", "line": "LINEA", "condition": "parental"},
            {"sample": "LA_R2", "line": "LINEA", "condition": "resistant", "drug": "alectinib"},
            {"sample": "LB_P", "line": "LINEB", "condition": "parental"},
            {"sample": "LB_R", "line": "LINEB", "condition": "resistant", "drug": "lorlatinib"},
        ],
        SAMPLE_COLUMNS,
    )
    fq_units = [
        ("LA_P", "L001"),
        ("LA_R1", "L001"),
        ("LA_R1", "L002"),
        ("LA_R2", "L001"),
        ("LB_P", "L001"),
        ("LB_R", "L001"),
    ]

    def fq(sample, unit, mate):
        return f"data/{sample}_{unit}_R{mate}.fastq.gz"

    _write_tsv(
        work / "config" / "sim_units.tsv",
        [{"sample": s, "unit": u, "fq1": fq(s, u, 1), "fq2": fq(s, u, 2)} for s, u in fq_units],
        UNIT_COLUMNS,
    )
    simulate = {
        "out_dir": "data",
        "read_length": 100,
        "fragment_mean": 190,
        "fragment_sd": 60,
        "duplicate_rate": 0.05,
        "off_target": 0.08,
        "efficiency_spread": 0.25,
        "ploidy": 2,
        "samples": {
            "LA_P": {},
            "LA_R1": {"copy_number": {"MET": 8}},
            "LA_R2": {},
            "LB_P": {},
            "LB_R": {"copy_number": {"EGFR": 6}},
        },
        "variants": [
            {**G1125, "vaf": {s: 0.5 for s in ("LA_P", "LA_R1", "LA_R2")}},
            {**L1196M, "vaf": {"LA_R1": 0.3}},
            {**G1202R, "vaf": {"LA_R2": 0.35}},
            {**I1171N, "vaf": {"LB_R": 0.3}},
        ],
    }
    sim_config = _write_config(
        work, simulate=simulate, units="config/sim_units.tsv", name="simulate.yaml"
    )
    _simulate(work, sim_config, fragments=40_000)
    # LA_P and LB_R arrive as BAMs aligned elsewhere with their own SM; LB_R's read-group ID
    # already is the <sample>.<unit> the workflow assigns (e.g. a resistcall BAM fed back), and
    # its pipeline marked duplicates (samtools markdup), LA_P's did not.
    bams = {
        s: _align_elsewhere(work, s, fq(s, "L001", 1), fq(s, "L001", 2), marked, rg_id)
        for s, rg_id, marked in (("LA_P", "flowcellX.1", False), ("LB_R", "LB_R.L001", True))
    }
    units = []
    for s, u in fq_units:
        if s in bams:
            units.append({"sample": s, "unit": u, "bam": bams[s]})
        else:
            units.append({"sample": s, "unit": u, "fq1": fq(s, u, 1), "fq2": fq(s, u, 2)})
    _write_tsv(work / "config" / "units.tsv", units, UNIT_COLUMNS)
    _write_config(work, simulate=simulate)
    snakemake(work)
    return work


def _read_groups(bam: Path) -> list[dict]:
    with pysam.AlignmentFile(str(bam)) as handle:
        return handle.header.to_dict().get("RG", [])


def test_bam_unit_takes_the_sample_name_from_the_sheet(cohort):
    for sample, line in (("LA_P", "LINEA"), ("LB_R", "LINEB")):
        bam = cohort / "results" / line / f"{sample}.bam"
        groups = _read_groups(bam)
        assert [g["SM"] for g in groups] == [sample], groups
        with pysam.AlignmentFile(str(bam)) as handle:
            read = next(handle.fetch(ALK))
            assert read.get_tag("RG") == groups[0]["ID"]
        # all units aligned BAMs (panel.mark_duplicates: auto): used as given, not re-marked
        assert not (cohort / "results" / "qc" / line / f"{sample}.markdup.txt").exists()

    def duplicates(bam: Path) -> int:
        return int(run(["samtools", "view", "-c", "-f", "1024", str(bam)], cohort).stdout)

    # LB_R: its pipeline's duplicate flags are kept as they were
    qc = json.loads((cohort / "results" / "qc" / "LB_R.qc.json").read_text())
    assert qc["duplicates"] == "as given: marked upstream (samtools)"
    assert not any("duplicates were not" in w for w in qc["warnings"])
    upstream = duplicates(cohort / "data" / "LB_R.bam")
    assert upstream > 1000 and duplicates(cohort / "results" / "LINEB" / "LB_R.bam") == upstream
    # LA_P: its header names no duplicate-marking program, which QC says
    qc = json.loads((cohort / "results" / "qc" / "LA_P.qc.json").read_text())
    assert qc["duplicates"] == "as given: not marked upstream"
    assert any("the header of LA_P.bam names no duplicate-marking" in w for w in qc["warnings"])
    assert duplicates(cohort / "results" / "LINEA" / "LA_P.bam") == 0
    # samples aligned here from FASTQ are marked
    for sample in ("LA_R1", "LA_R2", "LB_P"):
        line = "LINEA" if sample.startswith("LA") else "LINEB"
        assert (cohort / "results" / "qc" / line / f"{sample}.markdup.txt").exists()
        qc = json.loads((cohort / "results" / "qc" / f"{sample}.qc.json").read_text())
        assert qc["duplicates"] == "marked in this run (samtools markdup)"


def test_two_lanes_are_merged_into_one_sample_bam(cohort):
    bam = cohort / "results" / "LINEA" / "LA_R1.bam"
    groups = _read_groups(bam)
    assert sorted(g["PU"] for g in groups) == ["L001", "L002"], groups
    assert {g["SM"] for g in groups} == {"LA_R1"}
    per_group = {g["ID"]: 0 for g in groups}
    with pysam.AlignmentFile(str(bam)) as handle:
        for read in handle.fetch(until_eof=True):
            if not (read.is_secondary or read.is_supplementary):
                per_group[read.get_tag("RG")] += 1
    # the simulation split 40,000 pairs over the two lanes
    assert sum(per_group.values()) == 2 * 40_000
    assert all(n > 30_000 for n in per_group.values()), per_group


def test_each_line_has_its_own_vcf_with_parental_first(cohort):
    for line, expected in (("LINEA", ["LA_P", "LA_R1", "LA_R2"]), ("LINEB", ["LB_P", "LB_R"])):
        with pysam.VariantFile(str(cohort / "results" / line / "snv.vcf.gz")) as vcf:
            samples = list(vcf.header.samples)
        assert samples[0] == expected[0], samples
        assert sorted(samples) == sorted(expected)


def test_both_lines_find_their_own_spikes(cohort):
    hits_a, hits_b = _hits(cohort, "LINEA"), _hits(cohort, "LINEB")
    assert set(hits_a["sample"]) <= {"LA_P", "LA_R1", "LA_R2"}
    assert set(hits_b["sample"]) <= {"LB_P", "LB_R"}
    _assert_hit(hits_a, "LA_R1", "p.L1196M")
    _assert_hit(hits_a, "LA_R2", "p.G1202R")
    _assert_hit(hits_b, "LB_R", "p.I1171N")
    assert hits_a[(hits_a["sample"] == "LA_R2") & (hits_a["hgvs_p"] == "p.L1196M")].empty
    assert _cnv_call(cohort, "LINEA", "LA_R1", "MET")["call"] in ("gain", "amplification")
    assert _cnv_call(cohort, "LINEA", "LA_R2", "MET")["call"] == "neutral"
    assert _cnv_call(cohort, "LINEB", "LB_R", "EGFR")["call"] in ("gain", "amplification")


def test_finished_run_is_up_to_date(cohort):
    proc = run([str(BIN / "snakemake"), "-n"], cohort)
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-3000:]


def test_index_links_every_line_report(cohort):
    html = (cohort / "results" / "index.html").read_text()
    for line in ("LINEA", "LINEB"):
        assert (cohort / "results" / line / "report.html").exists()
        assert re.search(rf'href="[^"]*{line}/report\.html"', html), line


# --------------------------------------------------------------------------- failing job


@pytest.fixture(scope="module")
def failing(cohort, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """LINEB alone with LB_R's R2 cut in half: gzip header and first record are fine (the
    sheet check passes), the stream ends early (only the deep check can see it)."""
    work = copy_workflow(tmp_path_factory.mktemp("failing"))
    (work / "data").mkdir()
    for s in ("LB_P", "LB_R"):
        for mate in (1, 2):
            shutil.copy2(cohort / "data" / f"{s}_L001_R{mate}.fastq.gz", work / "data")
    bad = work / "data" / "LB_R_L001_R2.fastq.gz"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with gzip.open(bad, "rt") as handle:
        assert handle.readline().startswith("@LB_R")
    _pair_sheets(work, "LB_P", "LB_R", "LINEB", "L001", fq_unit="_L001")
    _write_config(work)
    return work, snakemake(work, check=False)


def test_failing_job_is_reported_with_sheet_line_and_file(failing):
    work, proc = failing
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    # one message names the sheet, its line, the sample/unit, the file and what is wrong
    message = (
        "config/units.tsv line 3 (sample LB_R, unit L001): data/LB_R_L001_R2.fastq.gz: "
        "decompression failed after "
    )
    assert message in out, out[-4000:]
    assert "truncated" in out.split(message, 1)[1].splitlines()[0]
    assert "Error in rule check_input" in out
    log = (work / "logs" / "check_input" / "LB_R.L001.log").read_text()
    assert message in log


def test_failing_job_leaves_nothing_complete_looking(failing):
    work, _ = failing
    for name in ("report.html", "report.json", "hits.tsv", "snv.vcf.gz", "LB_R.bam"):
        assert not (work / "results" / "LINEB" / name).exists(), name
    assert not (work / "results" / "checks" / "LB_R.L001.ok").exists()
    assert not (work / "results" / "index.html").exists()
    # the healthy sample was still checked (keep-going), so one bad unit hides nothing else
    assert (work / "results" / "checks" / "LB_P.L001.ok").exists()


def test_fixed_input_reruns_only_what_depends_on_it(failing, cohort):
    """After the user replaces the truncated file, a dry run schedules the bad unit's chain
    and the line's comparison, not the healthy sample's finished alignment."""
    work, _ = failing
    shutil.copy2(cohort / "data" / "LB_R_L001_R2.fastq.gz", work / "data")
    proc = run([str(BIN / "snakemake"), "-n", "--quiet", "rules"], work)
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", proc.stdout, re.M))
    assert jobs.get("check_input") == "1" and jobs.get("bwa_mem") == "1", proc.stdout
    assert jobs.get("markdup") == "1" and jobs.get("report") == "1", proc.stdout
    assert "bwa_index" not in jobs, proc.stdout


def test_line_named_like_a_results_folder_is_rejected(cohort, tmp_path):
    """results/<line>/ shares results/ with the workflow's folders: a line called 'merged'
    would turn the pre-markdup BAM into its final BAM. The sheet is refused, naming the row."""
    work = copy_workflow(tmp_path / "reserved")
    _write_tsv(
        work / "config" / "samples.tsv",
        [
            {"sample": "LB_P", "line": "LINEB", "condition": "parental"},
            {"sample": "LB_R", "line": "LINEB", "condition": "resistant"},
            {"sample": "M_P", "line": "merged", "condition": "parental"},
            {"sample": "M_R", "line": "merged", "condition": "resistant"},
        ],
        SAMPLE_COLUMNS,
    )
    data = cohort / "data"
    _write_tsv(
        work / "config" / "units.tsv",
        [
            {
                "sample": s,
                "unit": "L001",
                "fq1": str(data / f"{f}_R1.fastq.gz"),
                "fq2": str(data / f"{f}_R2.fastq.gz"),
            }
            for s, f in (
                ("LB_P", "LB_P_L001"),
                ("LB_R", "LB_R_L001"),
                ("M_P", "LA_R2_L001"),
                ("M_R", "LA_R1_L002"),
            )
        ],
        UNIT_COLUMNS,
    )
    _write_config(work)
    proc = run([str(BIN / "snakemake"), "-n"], work, check=False)
    assert proc.returncode != 0
    assert "config/samples.tsv, line 4, column line: line must start with a letter or digit" in (
        proc.stdout + proc.stderr
    ), proc.stderr[-3000:]
    assert not (work / "results").exists()


# --------------------------------------------------------------------------- failed parental


@pytest.fixture(scope="module")
def failed_parental(tmp_path_factory) -> Path:
    """A parental whose reads do not map (another organism's library, here random sequence)
    and a resistant sample carrying L1196M: the run finishes, the parental fails QC, the
    resistant sample's own finding is still reported and nothing is compared with the
    parental."""
    work = copy_workflow(tmp_path_factory.mktemp("failed_parental"))
    _pair_sheets(work, "FP_P", "FP_R", "FPLINE", "L1", drug="crizotinib")
    simulate = {
        "out_dir": "data",
        "read_length": 100,
        "ploidy": 2,
        "samples": {"FP_P": {}, "FP_R": {}},
        "variants": [{**L1196M, "vaf": {"FP_R": 0.3}}],
    }
    _simulate(work, _write_config(work, simulate=simulate), fragments=12_000)
    rng = np.random.default_rng(5)
    for mate in (1, 2):
        with gzip.open(work / "data" / f"FP_P_R{mate}.fastq.gz", "wt") as out:
            for i in range(12_000):
                seq = "".join(rng.choice(list("ACGT"), 100))
                out.write(f"@FP_P:{i} {mate}:N:0:1\n{seq}\n+\n{'I' * 100}\n")
    snakemake(work)
    return work


def test_failed_parental_fails_qc_with_reasons(failed_parental):
    qc = json.loads((failed_parental / "results" / "qc" / "FP_P.qc.json").read_text())
    assert qc["status"] == "fail" and qc["mapped_fraction"] < 0.05
    assert qc["reasons"][0].startswith("only 0% of reads mapped to the reference")
    assert json.loads((failed_parental / "results" / "qc" / "FP_R.qc.json").read_text())[
        "status"
    ] in ("pass", "warn")


def test_failed_parental_keeps_the_resistant_finding_without_comparison(failed_parental):
    _assert_hit(_hits(failed_parental, "FPLINE"), "FP_R", "p.L1196M", status="not assessable")
    hit = _hits(failed_parental, "FPLINE").query("hgvs_p == 'p.L1196M'").iloc[0]
    assert "detected; parental not assessable" in hit["note"]
    cnv = pd.read_csv(failed_parental / "results" / "FPLINE" / "cnv.tsv", sep="\t")
    assert (cnv["call"] == "not assessable").all() and cnv["copy_number"].isna().all()
    fusions = pd.read_csv(failed_parental / "results" / "FPLINE" / "fusions.tsv", sep="\t")
    assert fusions.loc[fusions["sample"] == "FP_P", "call"].tolist() == ["not assessable"]
    report = json.loads((failed_parental / "results" / "FPLINE" / "report.json").read_text())
    card = report["summary"][0]
    assert card["qc_failed"][0]["sample"] == "FP_P" and card["mutations"][0]["status"] == (
        "detected; parental not assessable"
    )
    html = (failed_parental / "results" / "FPLINE" / "report.html").read_text()
    assert "Parental FP_P failed QC" in html and "No copy-number change" not in html
