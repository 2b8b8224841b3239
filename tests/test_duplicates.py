"""Duplicate policy (panel.mark_duplicates) and upstream duplicate marking read from @PG lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from resistcall.duplicates import duplicate_status, marking_programs, marks_here
from resistcall.qc import duplicates

SHARED_BAM = Path(__file__).resolve().parents[2] / "shared/realdata/DNAfusion/H3122_EML4.bam"


@pytest.mark.parametrize(
    ("assay", "setting", "kinds", "marked"),
    [
        ("capture", "auto", ["fastq"], True),
        ("capture", "auto", ["bam", "bam"], False),  # aligned units: used as given
        ("capture", "auto", ["bam", "fastq"], True),  # mixed: marked
        ("capture", True, ["bam"], True),
        ("capture", False, ["fastq"], False),
        ("amplicon", True, ["fastq"], False),  # never for amplicons
    ],
)
def test_which_samples_are_marked_here(assay, setting, kinds, marked):
    assert marks_here(assay, setting, kinds) is marked


@pytest.mark.parametrize(
    ("pg", "program"),
    [
        ({"ID": "samtools.2", "PN": "samtools", "CL": "samtools markdup -s a b"}, "samtools"),
        ({"ID": "MarkDuplicates", "PN": "MarkDuplicates"}, "MarkDuplicates"),
        ({"ID": "GATK", "PN": "GATK MarkDuplicatesSpark"}, "GATK MarkDuplicatesSpark"),
        ({"ID": "sambamba", "PN": "sambamba", "CL": "markdup -t 4 in.bam out.bam"}, "sambamba"),
        ({"ID": "bamsormadup", "PN": "bamsormadup"}, "bamsormadup"),
        ({"ID": "fgbio", "PN": "fgbio", "CL": "fgbio CallMolecularConsensusReads -i x"}, "fgbio"),
        ({"ID": "umi_tools", "PN": "UMI-tools", "CL": "umi_tools dedup -I x"}, "UMI-tools"),
    ],
)  # fmt: skip
def test_duplicate_marking_programs_are_recognised(pg, program):
    header = {"PG": [{"ID": "bwa", "PN": "bwa", "CL": "bwa mem ref.fa r1 r2"}, pg]}
    assert marking_programs(header) == [program]


def test_alignment_and_sorting_programs_are_not_marking():
    header = {
        "PG": [
            {"ID": "bwa", "PN": "bwa", "CL": "bwa mem -M ref.fa a.fq b.fq"},
            {"ID": "samtools", "PN": "samtools", "CL": "samtools sort -o x.bam"},
            {"ID": "samtools.1", "PN": "samtools", "CL": "samtools fixmate -m - -"},
        ]
    }
    assert marking_programs(header) == []


def test_status_and_warning_per_mode():
    marked = {"PG": [{"ID": "MarkDuplicates", "PN": "MarkDuplicates"}]}
    assert duplicate_status("marked", {}) == ("marked in this run (samtools markdup)", [])
    assert duplicate_status("never", {})[1] == []
    assert duplicate_status("as-given", {"a.bam": marked}) == (
        "as given: marked upstream (MarkDuplicates)",
        [],
    )
    status, (warning,) = duplicate_status("as-given", {"a.bam": marked, "b.bam": {"PG": []}})
    assert status == "as given: not marked upstream"
    assert "the header of b.bam names no duplicate-marking program" in warning
    assert "panel.mark_duplicates: true" in warning
    status, (warning,) = duplicate_status("as-given", {})  # FASTQ with mark_duplicates: false
    assert status == "not marked (panel.mark_duplicates: false)" and "true" in warning


def test_qc_reads_the_unit_headers(shared_dir):
    status, (warning,) = duplicates("as-given", [SHARED_BAM])
    assert status == "as given: not marked upstream" and "H3122_EML4.bam" in warning


def test_config_default_is_auto_and_other_values_are_refused():
    import copy

    import yaml

    from resistcall.inputs import check_config
    from resistcall.inputs.problems import SheetError

    sheets = Path(__file__).resolve().parent / "data" / "sheets" / "config.yaml"
    base = yaml.safe_load(sheets.read_text())
    assert check_config(copy.deepcopy(base))["panel"]["mark_duplicates"] == "auto"
    for value in (True, False, "auto"):
        config = copy.deepcopy(base)
        config["panel"]["mark_duplicates"] = value
        assert check_config(config)["panel"]["mark_duplicates"] == value
    config = copy.deepcopy(base)
    config["panel"]["mark_duplicates"] = "yes"
    with pytest.raises(SheetError, match="panel.mark_duplicates must be auto, true or false"):
        check_config(config)
