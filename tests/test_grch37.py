"""GRCh37: a GRCh37 FASTA + GTF gives the same protein calls (the knowledge table is
protein-level). Real check: VarDict's hg19 L861Q capture BAM, used as shipped (93 hg19 @SQ)
against a real-length GRCh37 chr7 holding the real EGFR sequence."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pysam
import pytest

from resistcall.cli import main

REPO = Path(__file__).resolve().parents[1]
KNOWN = REPO / "resources" / "known_resistance.tsv"
L861Q_HG19 = 55_259_524  # chr7, T>A (VarDict's expected output: 227/973 = 0.2333)


@pytest.fixture(scope="module")
def l861q(genome37, shared_dir, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("grch37")
    bam = shared_dir / "realdata" / "VarDictJava" / "L861Q.bam"
    targets = d / "targets.bed"
    targets.write_text(f"chr7\t{L861Q_HG19 - 101}\t{L861Q_HG19 + 76}\tOGP170_EGFR_ex21\n")
    fa, gtf = str(genome37["fasta"]), str(genome37["gtf"])
    common = ["--reference", fa]
    assert (
        main(
            [
                "annotation",
                "--gtf",
                gtf,
                *common,
                "--targets",
                str(targets),
                "--known",
                str(KNOWN),
                "--gene",
                "ALK",
                "--out",
                str(d / "a.gtf"),
                "--choice-out",
                str(d / "t.tsv"),
                "--targets-out",
                str(d / "t.bed"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "snv",
                *common,
                "--build",
                "GRCh37",
                "--regions",
                str(targets),
                "--resistant",
                str(bam),
                "--out",
                str(d / "snv.vcf.gz"),
                "--hotspots",
                str(KNOWN),
                "--gtf",
                str(d / "a.gtf"),
                "--hotspots-out",
                str(d / "hotspots.tsv"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "annotate",
                "--vcf",
                str(d / "snv.vcf.gz"),
                *common,
                "--gtf",
                str(d / "a.gtf"),
                "--known",
                str(KNOWN),
                "--out",
                str(d / "hits.tsv"),
            ]
        )
        == 0
    )
    return d  # fmt: skip


def test_egfr_l861q_from_the_hg19_bam_as_shipped(l861q):
    with pysam.VariantFile(str(l861q / "snv.vcf.gz")) as vcf:
        assert [str(r).strip() for r in vcf.header.records if r.key == "assembly"] == [
            "##assembly=GRCh37"
        ]
        assert vcf.header.contigs["chr7"].length == 159_138_663
        rec = next(r for r in vcf.fetch("chr7", L861Q_HG19 - 1, L861Q_HG19))
    assert (rec.pos, rec.ref, rec.alts) == (L861Q_HG19, "T", ("A",))
    sample = rec.samples[0]
    assert sample["AF"][0] == pytest.approx(227 / 973, abs=0.02)
    hits = pd.read_csv(l861q / "hits.tsv", sep="\t", dtype=str)
    egfr = hits[(hits["gene"] == "EGFR") & (hits["hgvs_p"] == "p.L861Q")]
    assert len(egfr) == 1
    assert egfr["transcript"].iloc[0] == "ENST00000275493"


def test_grch37_transcript_choice_without_mane_tags(l861q):
    choice = pd.read_csv(l861q / "t.tsv", sep="\t").set_index("gene")
    assert choice.loc["EGFR", "transcript_id"] == "ENST00000275493"
    assert choice.loc["EGFR", "reason"] == "only complete coding transcript in the GTF"
