"""Exon coverage scope (``resistcall scope``): status thresholds, and the real DNAfusion capture
reads measured against the full 29-exon ALK model of the whole-genome test GTF."""

from __future__ import annotations

import pandas as pd
import pytest
from wholegenome import ALK_EXONS, REPO

from resistcall.annotation import prepare
from resistcall.errors import UserError
from resistcall.scope import exon_scope, exon_status
from resistcall.snv_config import SnvConfig
from resistcall.transcripts import load_transcripts

#: ALK exons with reads in the real AVENIO capture (realdata/README.md "ALK capture targets");
#: exon 11 only at its edge (median 24x / 36x); 17 holds one stray read pair in H3122.
READ = [*range(3, 8), *range(9, 13), *range(14, 17), *range(19, 29)]
NOT_READ = [1, 2, 8, 13, 17, 18, 29]


def test_exon_status_thresholds():
    assert exon_status(100, 100, 20) == "covered"
    assert exon_status(99.5, 100, 20) == "low depth"
    assert exon_status(20, 100, 20) == "low depth"
    assert exon_status(19.5, 100, 20) == "not covered"
    assert exon_status(1, 100, 20) == "not covered"  # one stray read pair is not coverage
    assert exon_status(0, 100, 20) == "not covered"


def test_call_depth_defaults_to_the_snv_callers_minimum():
    from resistcall.scope import CALL_DEPTH

    assert CALL_DEPTH == SnvConfig().min_depth


def test_call_depth_above_adequate_depth_is_refused():
    with pytest.raises(UserError, match="call depth 150 must be between 1 and the adequate"):
        exon_scope(load_transcripts(REPO / "resources/reference/panel_GRCh38.gtf"), {}, 100, 150)


def test_exon_spans_copy_matches_the_real_annotation(shared_dir):
    bed = shared_dir / "realdata" / "annotation" / "target_genes_exons_hg38.bed"
    alk = [line for line in bed.read_text().splitlines() if "_ENST00000389048." in line]
    assert ALK_EXONS.read_text().splitlines() == alk


@pytest.fixture(scope="module")
def real_scope(shared_dir, genome38, tmp_path_factory) -> pd.DataFrame:
    text, _, _ = prepare(
        genome38["gtf"],
        genome38["fasta"],
        genome38["targets"],
        REPO / "resources" / "known_resistance.tsv",
        ["ALK"],
    )
    cache = tmp_path_factory.mktemp("scope") / "annotation.gtf"
    cache.write_text(text)
    bams = shared_dir / "realdata" / "DNAfusion"
    df = exon_scope(
        load_transcripts(cache),
        {s: str(bams / f"{s}_EML4.bam") for s in ("H3122", "HCC827")},
    )
    return df[df["gene"] == "ALK"].set_index(["sample", "exon"])


@pytest.mark.parametrize("sample", ["H3122", "HCC827"])
def test_real_capture_alk_exons_measured_on_the_full_model(real_scope, sample):
    got = real_scope.loc[sample]
    assert list(got.index) == list(range(1, 30))
    assert set(got["model"]) == {"exons 1-29"}  # full model: nothing is outside it
    assert set(got["transcript"]) == {"NM_004304.5"}
    status = got["status"]
    assert set(status[status == "covered"].index) == set(READ) - {11}
    assert status[11] == "low depth"  # reads only at the exon's edge: never wild type
    assert 20 <= got.loc[11, "median_depth"] < 100
    assert set(status[status == "not covered"].index) == set(NOT_READ)
    assert got.loc[NOT_READ, "median_depth"].max() <= 1
    assert got.loc[READ, "median_depth"].drop(11).min() >= 300
