"""GTF loading, transcript choice and target genes on a whole-chromosome GRCh38 test genome."""

from __future__ import annotations

import gzip
import logging
import os
import re
import shutil
from pathlib import Path

import pysam
import pytest

from resistcall.annotation import BACKBONE, load_annotation, prepare
from resistcall.cli import main
from resistcall.errors import UserError
from resistcall.hgvs import ContigCache, annotate_variant
from resistcall.transcripts import load_transcripts

from conftest import BIN, copy_workflow, run, stub_demo_fastqs

REPO = Path(__file__).resolve().parents[1]
KNOWN = REPO / "resources" / "known_resistance.tsv"


def _prepare(g, **kw):
    args = {"known": KNOWN, "extra_genes": ["ALK"], **kw}
    return prepare(g["gtf"], g["fasta"], g.get("targets_override", g["targets"]), **args)


@pytest.fixture(scope="module")
def prepared(genome38, tmp_path_factory):
    text, choice, targets = _prepare(genome38)
    cache = tmp_path_factory.mktemp("cache") / "annotation.gtf"
    cache.write_text(text)
    return cache, choice.set_index("gene"), targets


def test_mane_select_wins_over_decoys_sorting_first(prepared):
    _, choice, _ = prepared
    # the incomplete (cds_start_NF) and the complete decoy isoform sort before the MANE one
    assert choice.loc["ALK", "transcript_id"] == "ENST00000389048"
    assert choice.loc["ALK", "reason"] == "MANE Select"
    assert choice.loc["ALK", "candidates"] == "3 coding, 2 complete"
    assert choice.loc["EML4", "transcript_id"] == "ENST00000318522"


def test_targets_get_their_gene_by_overlap_and_backbone(prepared, genome38):
    _, _, targets = prepared
    probes = genome38["targets"].read_text().splitlines()
    assert len(targets) == len(probes) and all("AVN_P" in p for p in probes)
    assert set(targets["gene"]) == {"ALK", "EML4", BACKBONE}  # never the lncRNA ALK-AS9
    back = targets[targets["gene"] == BACKBONE]
    assert list(back["start"]) == [100_000_000, 150_000_000]
    assert (targets["chrom"] == "chr2").all()


def test_cache_reloads_the_same_models_and_choice(prepared, genome38):
    cache, choice, _ = prepared
    ann = load_annotation(cache)
    again = ann.choice.set_index("gene")
    assert again.loc["ALK", "transcript_id"] == "ENST00000389048"
    assert again.loc["ALK", "reason"] == choice.loc["ALK", "reason"]
    # every gene on the FASTA's contigs keeps its span (fusion partners, genes under targets);
    # genes on chromosomes the FASTA lacks (EGFR on chr7) are dropped
    assert set(ann.spans["gene"]) == {"ALK", "EML4", "ALK-AS9"}
    assert cache.stat().st_size < genome38["gtf"].stat().st_size * 20


def test_alk_change_named_on_the_mane_transcript_in_chr2_coordinates(prepared, genome38):
    tx = load_transcripts(prepared[0])
    alk = tx.by_gene["ALK"]
    assert (alk.transcript_id, alk.chrom) == ("ENST00000389048", "chr2")
    # G1202R c.3604G>A: codon 1202 first base at contig 24520 -> chr2:29,196,227 + 24520
    pos = 29_196_227 + 24520
    assert alk.codon_positions(1202)[0] == pos
    with pysam.FastaFile(str(genome38["fasta"])) as fa:
        ref = fa.fetch("chr2", pos - 1, pos)
        ann = annotate_variant(tx, ContigCache(fa), "chr2", pos, ref, "T")
    assert (ann.transcript, ann.refseq, ann.hgvs_p) == (
        "ENST00000389048",
        "NM_004304.5",  # the knowledge table's accession: the MANE pair of the chosen transcript
        "p.G1202R",
    )


def test_several_isoforms_without_mane_never_crash(genome38, tmp_path, caplog):
    """GENCODE v19-style (no MANE/canonical tags): longest complete CDS, warned; the incomplete
    isoform is never chosen and builds nothing."""
    text = gzip.open(genome38["gtf"], "rt").read()
    plain = tmp_path / "v19.gtf"
    plain.write_text(re.sub(r' tag "(MANE_Select|Ensembl_canonical)";', "", text))
    with caplog.at_level(logging.WARNING):
        _, choice, _ = prepare(plain, genome38["fasta"], genome38["targets"], KNOWN, ["ALK"])
    row = choice.set_index("gene").loc["ALK"]
    assert row["transcript_id"] == "ENST00000389048"  # 4860 coding bases > 1095 (decoy)
    assert row["reason"].startswith("longest complete CDS")
    assert "ALK: no MANE Select or canonical transcript" in caplog.text


def test_config_override_and_unknown_override(genome38):
    _, choice, _ = _prepare(genome38, overrides={"ALK": "ENST00000100002.1"})
    row = choice.set_index("gene").loc["ALK"]
    assert (row["transcript_id"], row["reason"]) == (
        "ENST00000100002",
        "config reference.transcripts",
    )
    with pytest.raises(UserError, match="ENST00000123456 is not a coding transcript of ALK"):
        _prepare(genome38, overrides={"ALK": "ENST00000123456"})


def test_refseq_gtf_uses_the_knowledge_table_accession(genome38, tmp_path, caplog):
    """NCBI RefSeq GTFs name transcripts by accession and genes by `gene`; a version that
    differs from the knowledge table's is warned."""
    text = gzip.open(genome38["gtf"], "rt").read()
    text = text.replace('transcript_id "ENST00000389048"', 'transcript_id "NM_004304.4"')
    text = re.sub(r'gene_name "([^"]+)"', r'gene "\1"', text)
    text = re.sub(r' tag "(MANE_Select|Ensembl_canonical)";', "", text)
    gtf = tmp_path / "refseq.gtf"
    gtf.write_text(text)
    with caplog.at_level(logging.WARNING):
        _, choice, _ = prepare(gtf, genome38["fasta"], genome38["targets"], KNOWN, ["ALK"])
    row = choice.set_index("gene").loc["ALK"]
    assert row["transcript_id"] == "NM_004304.4"
    assert row["reason"] == "knowledge table NM_004304.5 (GTF has NM_004304.4)"
    assert "version differs" in caplog.text


# ---- bad input: one clear error each --------------------------------------------------------
def test_gtf_in_panel_coordinates_has_no_contig_in_common(genome38):
    with pytest.raises(UserError, match="no contig in common with the reference FASTA"):
        prepare(
            REPO / "resources/reference/panel_GRCh38.gtf",
            genome38["fasta"],
            genome38["targets"],
            KNOWN,
            ["ALK"],
        )


def test_gene_past_the_contig_end(genome38, tmp_path):
    short = tmp_path / "short.fa"
    short.write_text(">chr2\n" + "N" * 1000 + "\n")
    pysam.faidx(str(short))
    bed = tmp_path / "t.bed"
    bed.write_text("chr2\t100\t200\n")
    with pytest.raises(UserError, match=r"gene \S+ ends at chr2:\d+, past the end of chr2"):
        prepare(genome38["gtf"], short, bed, KNOWN, ["ALK"])


def test_knowledge_gene_missing_from_the_gtf(genome38, tmp_path):
    known = tmp_path / "known.tsv"
    lines = KNOWN.read_text().splitlines()
    row = next(line for line in lines if line.startswith("ALK\tsubstitution"))
    known.write_text("\n".join([*lines, row.replace("ALK", "ROS1", 1)]) + "\n")
    shutil.copy(KNOWN.with_name("known_resistance.schema.yaml"), tmp_path)
    with pytest.raises(UserError, match="knowledge-table gene ROS1 is not in the GTF"):
        prepare(genome38["gtf"], genome38["fasta"], genome38["targets"], known, ["ALK"])


def test_panel_gene_without_cds(genome38, tmp_path):
    text = gzip.open(genome38["gtf"], "rt").read()
    gtf = tmp_path / "nocds.gtf"
    gtf.write_text(
        "".join(
            line + "\n"
            for line in text.splitlines()
            if not (line.split("\t")[2:3] == ["CDS"] and 'gene_name "EML4"' in line)
        )
    )
    with pytest.raises(UserError, match="panel gene EML4 has no complete coding transcript"):
        prepare(gtf, genome38["fasta"], genome38["targets"], KNOWN, ["ALK"])


def test_fasta_without_fai_that_cannot_be_indexed(genome38, tmp_path):
    bad = tmp_path / "bad.fa"
    bad.write_text(">chr2\nACGT\nACGTACGT\nAC\n")  # uneven line lengths: samtools faidx fails
    with pytest.raises(UserError, match="cannot be indexed as FASTA"):
        prepare(genome38["gtf"], bad, genome38["targets"], KNOWN, ["ALK"])


def test_cli_writes_cache_choice_and_targets(genome38, tmp_path):
    out = tmp_path / "ref"
    rc = main(
        [
            "annotation",
            "--gtf", str(genome38["gtf"]),
            "--reference", str(genome38["fasta"]),
            "--targets", str(genome38["targets"]),
            "--known", str(KNOWN),
            "--gene", "ALK",
            "--out", str(out / "annotation.gtf"),
            "--choice-out", str(out / "transcripts.tsv"),
            "--targets-out", str(out / "targets.bed"),
        ]
    )  # fmt: skip
    assert rc == 0
    first = (out / "targets.bed").read_text().splitlines()[0].split("\t")
    assert first[0] == "chr2" and first[3] in ("ALK", "EML4")
    assert "ENST00000389048\tNM_004304.5\tMANE Select" in (out / "transcripts.tsv").read_text()


def test_gtf_with_other_contig_naming_is_caught_when_the_sheets_load(genome38, tmp_path):
    """Ensembl names chromosomes `2`, GENCODE/UCSC `chr2`: refused before any job runs."""
    from resistcall.inputs.files import gtf_naming_problem

    text = gzip.open(genome38["gtf"], "rt").read()
    ensembl = tmp_path / "ensembl.gtf"
    ensembl.write_text(re.sub(r"(?m)^chr", "", text))
    problem = gtf_naming_problem(ensembl, ["chr2"])
    assert problem is not None and "the GTF names contigs 10, 12, 17 but the FASTA chr2" in problem
    # same naming, other chromosomes first (a whole-genome GTF, a partial FASTA): fine here
    assert gtf_naming_problem(genome38["gtf"], ["chr2"]) is None
    assert gtf_naming_problem(genome38["gtf"], ["chr9"]) is None


def test_vendor_bed_with_track_line_and_six_columns_is_read_like_the_input_checks(
    genome38, prepared, tmp_path
):
    """Vendor target BEDs often start with `track`/`browser` lines and carry score and strand:
    the input checks accept them, so the annotation step (and every stage reading the BED)
    must too, and give the same targets as the plain BED (it once raised a pandas ParserError)."""
    rows = genome38["targets"].read_text().splitlines()
    vendor = tmp_path / "vendor.bed"
    vendor.write_text(
        'browser position chr2:29192774-29921586\ntrack name="targets" description="x"\n'
        + "".join(f"{row}\t0\t+\n" for row in rows)
    )
    _, _, targets = _prepare({**genome38, "targets_override": vendor})
    assert targets.equals(prepared[2])


def test_ensembl_named_fasta_with_numeric_contigs_is_checked_not_crashed(genome38, tmp_path):
    """A FASTA whose contigs are all numbers (Ensembl naming, a chromosome subset: `2`, `7`)
    against a GENCODE GTF: the naming problem is reported (pandas once read the .fai names as
    integers and the check raised AttributeError)."""
    from resistcall.inputs.files import reference_problems

    fasta = tmp_path / "ensembl.fa"
    fasta.write_text(">2\n" + "ACGT" * 30 + "\n>7\n" + "ACGT" * 30 + "\n")
    pysam.faidx(str(fasta))
    config = {
        "reference": {"fasta": str(fasta), "gtf": str(genome38["gtf"])},
        "panel": {"assay": "capture", "targets": str(genome38["targets"])},
        "known_resistance": str(REPO / "resources" / "known_resistance.tsv"),
    }
    problems, fasta_ok = reference_problems(config, tmp_path)
    assert fasta_ok
    assert [key for key, _ in problems] == ["reference.gtf"]
    assert "the FASTA 2, 7: they use different naming (chr2 vs 2)" in problems[0][1]


def _gene_named_bed(prepared, tmp_path, extra: str) -> Path:
    """The test genome's targets named by their gene (as the demo BED is), plus ``extra``."""
    _, _, targets = prepared
    bed = tmp_path / "genes.bed"
    rows = [f"{r.chrom}\t{r.start}\t{r.end}\t{r.gene}" for r in targets.itertuples()]
    bed.write_text("\n".join([*(r for r in rows if "backbone" not in r), extra]) + "\n")
    return bed


def test_panel_gene_missing_from_the_gtf(genome38, prepared, tmp_path):
    """A gene-named BED whose gene the GTF lacks: refused, never silently backbone."""
    bed = _gene_named_bed(prepared, tmp_path, "chr2\t100000000\t100000120\tROS1")
    with pytest.raises(UserError, match=r"row 21: panel gene ROS1 is not in the GTF .*gencode"):
        prepare(genome38["gtf"], genome38["fasta"], bed, KNOWN, ["ALK"])
    # CD74 is in the GTF, on chr5: the BED row is in other coordinates than the GTF
    bed = _gene_named_bed(prepared, tmp_path, "chr2\t100000000\t100000120\tCD74")
    with pytest.raises(UserError, match="row 21 names gene CD74 but lies on no CD74 model"):
        prepare(genome38["gtf"], genome38["fasta"], bed, KNOWN, ["ALK"])
    # probe names (the vendor BED) are not gene names: backbone probes are fine
    assert "backbone" in set(prepared[2]["gene"])


def _bad_inputs(genome38, prepared, tmp_path) -> dict[str, tuple[dict, str]]:
    """Each bad GTF/FASTA case of the issue: (config changes, its one message)."""
    nocds = tmp_path / "nocds.gtf"
    nocds.write_text(
        "".join(
            line + "\n"
            for line in gzip.open(genome38["gtf"], "rt").read().splitlines()
            if not (line.split("\t")[2:3] == ["CDS"] and 'gene_name "EML4"' in line)
        )
    )
    short = tmp_path / "short.fa"
    short.write_text(">chr2\n" + "N" * 1000 + "\n")
    short_bed = tmp_path / "short.bed"
    short_bed.write_text("chr2\t100\t200\tprobe_1\n")
    known = tmp_path / "known.tsv"
    lines = KNOWN.read_text().splitlines()
    row = next(line for line in lines if line.startswith("ALK\tsubstitution"))
    known.write_text("\n".join([*lines, row.replace("ALK", "ROS1", 1)]) + "\n")
    shutil.copy(KNOWN.with_name("known_resistance.schema.yaml"), tmp_path)
    uneven = tmp_path / "uneven.fa"
    uneven.write_text(">chr2\nACGT\nACGTACGT\nAC\n")
    ros1 = _gene_named_bed(prepared, tmp_path, "chr2\t100000000\t100000120\tROS1")
    return {
        "no contig in common": (
            {"gtf": REPO / "resources/reference/panel_GRCh38.gtf"},
            "no contig in common with the reference FASTA",
        ),
        "gene past the contig end": (
            {"fasta": short, "targets": short_bed},
            r"gene \S+ ends at chr2:\d+, past the end of chr2 in the FASTA \(1000 bp\)",
        ),
        "knowledge-table gene missing": (
            {"known": known},
            "knowledge-table gene ROS1 is not in the GTF",
        ),
        "panel gene missing": ({"targets": ros1}, "panel gene ROS1 is not in the GTF"),
        "panel gene without CDS": (
            {"gtf": nocds},
            "panel gene EML4 has no complete coding transcript",
        ),
        "FASTA that cannot be indexed": (
            {"fasta": uneven},
            "the FASTA has no index uneven.fa.fai and samtools faidx cannot index it",
        ),
    }


CASES = [
    "no contig in common",
    "gene past the contig end",
    "knowledge-table gene missing",
    "panel gene missing",
    "panel gene without CDS",
    "FASTA that cannot be indexed",
]


@pytest.mark.parametrize("case", CASES)
def test_validate_stops_each_bad_genome_input_with_one_message(
    case, genome38, prepared, tmp_path, capsys
):
    """`resistcall validate` runs the GTF's full checks (what the workflow's first job runs,
    before any alignment): one error line naming the file and the gene or row."""
    import yaml

    sheets = REPO / "tests" / "data" / "sheets"
    change, message = _bad_inputs(genome38, prepared, tmp_path)[case]
    config = {
        "samples": "good/fastq/samples.tsv",
        "units": "good/fastq/units.tsv",
        "reference": {
            "fasta": str(change.get("fasta", genome38["fasta"])),
            "gtf": str(change.get("gtf", genome38["gtf"])),
            "build": "GRCh38",
        },
        "panel": {"assay": "capture", "targets": str(change.get("targets", genome38["targets"]))},
        "known_resistance": str(change.get("known", KNOWN)),
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    argv = ["validate", "--config", str(path), "--base-dir", str(sheets)]
    assert main([*argv, "--results", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err
    # one problem: a single error line, or the sheet check's list holding one problem
    lines = [line for line in err.splitlines() if not line.startswith(("INFO", "WARNING"))]
    if lines[0].endswith("1 problem in the input; nothing was run:"):
        lines = lines[1:]
    assert len(lines) == 1 and re.search(message, lines[0]), err
    assert not (tmp_path / "results").exists()  # no cache from a failed check


def test_cds_not_a_multiple_of_three_is_incomplete_unless_numbered(genome38, tmp_path):
    """Item 3: without any tag, a CDS whose length is not a multiple of 3 is incomplete (never
    chosen); the bundled partial models number their CDS (cds_c_start) and are used although
    ALK's covers 1,097 bases."""
    text = gzip.open(genome38["gtf"], "rt").read()
    untagged = tmp_path / "untagged.gtf"
    untagged.write_text(re.sub(r' tag "(MANE_Select|Ensembl_canonical|cds_start_NF)";', "", text))
    _, choice, _ = prepare(untagged, genome38["fasta"], genome38["targets"], KNOWN, ["ALK"])
    row = choice.set_index("gene").loc["ALK"]
    assert row["candidates"] == "3 coding, 2 complete"  # ENST00000100001: 1,097 bases
    assert row["transcript_id"] == "ENST00000389048"
    _, choice, _ = prepare(
        REPO / "resources/reference/panel_GRCh38.gtf",
        REPO / "resources/reference/panel_GRCh38.fa",
        REPO / "resources/panel/demo_capture_targets.bed",
        KNOWN,
        ["ALK"],
    )
    row = choice.set_index("gene").loc["ALK"]
    assert (row["transcript_id"], row["candidates"]) == ("ENST00000389048", "1 coding, 1 complete")


def test_a_config_edit_after_validate_rebuilds_the_cache(tmp_path):
    """resistcall validate writes the annotation cache, of which Snakemake keeps no record: a
    later edit of reference.transcripts (or panel.targets to an older BED) must still rebuild
    it, through the key of what the cache was made for (rule annotation's input)."""
    work = copy_workflow(tmp_path)
    stub_demo_fastqs(work)
    run([str(BIN / "resistcall"), "validate", "--config", "config/config.yaml"], work)
    key = work / "results" / "reference" / "annotation.key"
    made_for = key.read_text()

    def annotation_planned() -> bool:
        stdout = run([str(BIN / "snakemake"), "-n", "--cores", "1"], work).stdout
        return "rule annotation:" in stdout

    assert not annotation_planned()  # the cache validate wrote is current
    assert key.read_text() == made_for  # the Snakefile records the same key
    config = work / "config" / "config.yaml"
    text = config.read_text()
    assert "  build: GRCh38\n" in text
    config.write_text(
        text.replace("  build: GRCh38\n", "  build: GRCh38\n  transcripts: {ALK: NM_004304.5}\n")
    )
    assert annotation_planned()
    assert key.read_text() != made_for
    # back to the validated config, the cache rebuilt by the workflow itself; then panel.targets
    # pointed at another BED that is older than the cache: mtimes alone miss it
    config.write_text(text)
    run([str(BIN / "snakemake"), "--cores", "1", "results/reference/annotation.gtf"], work)
    assert not annotation_planned()
    old = work / "old_targets.bed"
    bed = (work / "resources/panel/demo_capture_targets.bed").read_text().splitlines()
    old.write_text("\n".join(bed[:-2]) + "\n")
    os.utime(old, (0, 0))
    shipped = "targets: resources/panel/demo_capture_targets.bed"
    config.write_text(text.replace(shipped, "targets: old_targets.bed"))
    assert annotation_planned()
