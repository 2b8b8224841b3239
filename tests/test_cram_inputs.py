"""A CRAM given to the depth stages (qc, scope; fusion in test_fusion) is decoded with the FASTA
given by --reference and reads as its BAM; without a FASTA it is refused before any work."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pysam
import pytest
from test_pileup import ALK, REF, make_bam

from resistcall import coverage
from resistcall.cli import main
from resistcall.errors import UserError
from resistcall.reference import preflight_bams

from conftest import GTF


def cram_of(bam: Path) -> Path:
    """The BAM as an indexed CRAM beside it, written with a copy of the panel FASTA that is then
    removed: htslib cannot fall back on the header's UR path, so only a FASTA given decodes it."""
    cram, gone = bam.with_suffix(".cram"), bam.with_suffix(".gone.fa")
    shutil.copy(REF, gone)
    pysam.view("-C", "-T", str(gone), "-o", str(cram), str(bam), catch_stdout=False)
    pysam.index(str(cram))
    gone.unlink()
    Path(f"{gone}.fai").unlink(missing_ok=True)
    return cram


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A BAM (reads over ALK exon 23 of the panel contig, some duplicates) and its CRAM."""
    d = tmp_path_factory.mktemp("cram")
    bam = make_bam(d / "s.bam", "S1", 500, [], seed=7, error_rate=0.002, dup_fraction=0.1)
    cram = cram_of(bam)
    stats = d / "s.stats.txt"
    stats.write_text(
        subprocess.run(
            ["samtools", "stats", str(bam)], capture_output=True, check=True
        ).stdout.decode()
    )
    targets = d / "t.bed"
    targets.write_text(
        f"{ALK}\t24300\t24420\tALK\n{ALK}\t24479\t24608\tALK\n{ALK}\t26000\t26100\tALK\n"
    )
    return {"dir": d, "bam": bam, "cram": cram, "stats": stats, "targets": targets}


def test_cram_base_depths_equal_its_bam(pair):
    regions = pd.DataFrame(
        {"chrom": ALK, "start": [24300, 24479, 26000], "end": [24420, 24608, 26100]}
    )
    from_bam, reads_bam = coverage.base_depths(pair["bam"], regions, 300)
    from_cram, reads_cram = coverage.base_depths(pair["cram"], regions, 300, REF)
    assert from_bam[1].min() > 50 and reads_bam > 500
    assert reads_cram == reads_bam
    for a, b in zip(from_bam, from_cram, strict=True):
        assert a.tolist() == b.tolist()


def test_cram_without_reference_is_refused_naming_it(pair, capsys):
    with pytest.raises(UserError, match=f"{pair['cram']}: a CRAM is decoded with the reference"):
        preflight_bams([pair["cram"]])
    assert preflight_bams([pair["cram"]], REF) == ["S1"]
    d = pair["dir"]
    args = ["qc", "--bam", str(pair["cram"]), "--stats", str(pair["stats"])]
    args += ["--targets", str(pair["targets"]), "--out", str(d / "x.json")]
    assert main([*args, "--targets-out", str(d / "x.tsv")]) == 2
    assert (
        main(["scope", "--gtf", str(GTF), "--bam", str(pair["cram"]), "--out", str(d / "x")]) == 2
    )
    err = capsys.readouterr().err
    assert err.count(f"{pair['cram']}: a CRAM is decoded with the reference FASTA") == 2
    assert not (d / "x.json").exists()


def test_qc_and_scope_of_a_cram_with_reference_equal_its_bam(pair):
    d = pair["dir"]
    outputs = {}
    for kind in ("bam", "cram"):
        ref = ["--reference", str(REF)] if kind == "cram" else []
        qc_args = ["qc", "--bam", str(pair[kind]), "--stats", str(pair["stats"]), *ref]
        qc_args += ["--targets", str(pair["targets"]), "--out", str(d / f"{kind}.json")]
        assert main([*qc_args, "--targets-out", str(d / f"{kind}.tsv")]) == 0
        scope = ["scope", "--gtf", str(GTF), "--bam", str(pair[kind]), *ref]
        assert main([*scope, "--out", str(d / f"{kind}.scope.tsv")]) == 0
        outputs[kind] = (
            json.loads((d / f"{kind}.json").read_text()),
            (d / f"{kind}.tsv").read_text(),
            pd.read_csv(d / f"{kind}.scope.tsv", sep="\t"),
        )
    (qc_bam, targets_bam, scope_bam), (qc_cram, targets_cram, scope_cram) = outputs.values()
    assert qc_bam["on_target_reads"] > 500 and qc_cram == qc_bam
    assert targets_cram == targets_bam
    exon23 = scope_bam[(scope_bam["gene"] == "ALK") & (scope_bam["exon"] == 23)]
    assert exon23["median_depth"].iloc[0] > 50
    pd.testing.assert_frame_equal(scope_cram, scope_bam)


def test_cram_unit_fingerprint_is_decoded_with_the_configured_fasta(pair):
    """The start-up check for one library filed under two sample names reads the first reads
    of each unit: a CRAM whose @SQ UR path is gone was decoded without the configured FASTA,
    read as empty, and the check silently passed a CRAM and its BAM given as two samples."""
    from resistcall.inputs.files import read_fingerprint

    from_bam = read_fingerprint(pair["bam"], True)
    from_cram = read_fingerprint(pair["cram"], True, REF)
    assert from_bam and from_cram == from_bam
