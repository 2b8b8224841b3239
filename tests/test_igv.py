"""IGV session: tracks in order, paths relative to the session, one region per finding."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from resistcall import contracts
from resistcall.cli import main
from resistcall.errors import UserError
from resistcall.igv import Region, Track, finding_regions, relative_to, session_xml

ALK = "chr2_29196228_29226309"
EML4 = "chr2_42175501_42332600"
CONTIGS = {ALK: 30082, EML4: 157100, "chr7_116672196_116798377": 126182}


def _hits() -> pd.DataFrame:
    """hits.tsv rows as the file has them (text cells, empty where a kind has no value)."""
    columns = contracts.hits_columns(["crizotinib"])
    rows = [
        # sample, kind, gene, chrom, pos, ref, hgvs_p, copy_number, status, filter
        ("H3122_P", "snv", "ALK", ALK, "26365", "G", "p.G1125=", "", "parental", "PASS"),
        ("H3122_CR1", "snv", "ALK", ALK, "26165", "C", "p.C1156Y", "", "enriched", "PASS"),
        ("H3122_CR1", "indel", "ALK", ALK, "20000", "CAT", "p.T1151del", "", "acquired", "strand"),
        ("H3122_CR1", "compound", "ALK", "", "", "", "p.[C1156Y;T1151del]", "", "acquired", ""),
        ("H3122_CR1", "cnv", "MET", "", "", "", "amplification", "7.9", "amplification", "PASS"),
        ("H3122_CR1", "fusion", "EML4::ALK", "", "", "", "fusion", "", "detected", "PASS"),
    ]
    keys = ("sample", "kind", "gene", "chrom", "pos", "ref", "hgvs_p", "copy_number", "status")
    records = []
    for row in rows:
        record = dict.fromkeys(columns, "")
        record.update(zip((*keys, "filter"), row, strict=True))
        records.append(record)
    return pd.DataFrame(records, columns=columns)


def _fusions() -> pd.DataFrame:
    rows = [
        {"sample": "H3122_CR1", "gene_5p": "EML4", "gene_3p": "ALK", "call": "detected",
         "breakpoint_5p": f"{EML4}:124250", "breakpoint_3p": f"{ALK}:27514"},
        {"sample": "H3122_CR2", "gene_5p": "EML4", "gene_3p": "ALK", "call": "detected",
         "breakpoint_5p": f"{EML4}:124250", "breakpoint_3p": f"{ALK}:27514"},
        {"sample": "H3122_CR1", "gene_5p": "EML4", "gene_3p": "ALK", "call": "below threshold",
         "breakpoint_5p": f"{EML4}:1000", "breakpoint_3p": f"{ALK}:2000"},
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=contracts.FUSION_COLUMNS, dtype=object).fillna(".")


def _targets() -> pd.DataFrame:
    """Targets BED rows (name = gene): MET on one contig, split over two targets."""
    return pd.DataFrame(
        {
            "chrom": ["chr7_116672196_116798377", "chr7_116672196_116798377", ALK],
            "start": [100, 5000, 26000],
            "end": [250, 5150, 26400],
            "name": ["MET", "MET", "ALK"],
        }
    )


def test_one_region_per_placed_finding_in_hits_order():
    regions = finding_regions(_hits(), _fusions(), _targets())
    assert regions == [
        Region(ALK, 26364, 26365, "ALK p.G1125= H3122_P parental"),
        Region(ALK, 26164, 26165, "ALK p.C1156Y H3122_CR1 enriched", selected=True),
        # the VCF allele's reference bases (anchor included); a failed filter is shown
        Region(ALK, 19999, 20002, "ALK p.T1151del H3122_CR1 acquired [strand]"),
        # compound: no region of its own; cnv: the gene's targets
        Region("chr7_116672196_116798377", 100, 5150,
               "MET copy number 7.9 H3122_CR1 amplification"),
        # fusion: both breakpoints of the sample's detected junction only
        Region(EML4, 124249, 124250, "EML4::ALK fusion 5' breakpoint H3122_CR1 detected"),
        Region(ALK, 27513, 27514, "EML4::ALK fusion 3' breakpoint H3122_CR1 detected"),
    ]  # fmt: skip


def test_session_lists_tracks_in_order_and_every_region():
    regions = finding_regions(_hits(), _fusions(), _targets())
    tracks = [
        Track("H3122_P.bam", "H3122_P"),
        Track("H3122_CR1.bam", "H3122_CR1"),
        Track("snv.vcf.gz", "SNVs and indels"),
        Track("fusions.vcf.gz", "fusions"),
        Track("../reference/targets.bed", "panel targets"),
    ]
    text = session_xml("../../resources/reference/panel_GRCh38.fa", tracks, regions, CONTIGS)
    assert text.startswith("<?xml")
    root = ET.fromstring(text)
    assert root.tag == "Session"
    assert root.get("version") == "8"
    assert root.get("genome") == "../../resources/reference/panel_GRCh38.fa"
    # the first acquired/enriched finding, padded, in IGV's 1-based inclusive locus
    assert root.get("locus") == f"{ALK}:26115-26215"
    paths = [r.get("path") for r in root.iter("Resource")]
    assert paths == [t.path for t in tracks]
    assert [r.get("name") for r in root.iter("Resource")] == [t.name for t in tracks]
    listed = [
        (r.get("chromosome"), int(r.get("start")), int(r.get("end")), r.get("description"))
        for r in root.iter("RegionOfInterest")
    ]
    assert listed == [(r.chrom, r.start, r.end, r.description) for r in regions]
    # same input, same bytes
    assert session_xml("../../x.fa", tracks, regions, CONTIGS) == session_xml(
        "../../x.fa", tracks, regions, CONTIGS
    )


def test_locus_clipped_to_the_contig_and_first_contig_without_findings():
    near_end = [Region(ALK, 30070, 30071, "x")]
    root = ET.fromstring(session_xml("g.fa", [], near_end, CONTIGS))
    assert root.get("locus") == f"{ALK}:30021-30082"
    # the first acquired/enriched change, not a parental variant listed before it
    parental = Region(ALK, 100, 101, "ALK p.G1125= H3122_P parental")
    chosen = Region(ALK, 24537, 24538, "ALK p.L1196M H3122_CR1 acquired", selected=True)
    root = ET.fromstring(session_xml("g.fa", [], [parental, chosen], CONTIGS))
    assert root.get("locus") == f"{ALK}:24488-24588"
    root = ET.fromstring(session_xml("g.fa", [], [], CONTIGS))
    assert root.get("locus") == f"{ALK}:1-30082"
    assert root.find("Regions") is None


def test_finding_on_a_contig_the_fasta_lacks_is_refused():
    """A whole-genome run names chr2, the panel reference chr2_START_END: a session mixing them
    would put its regions nowhere."""
    with pytest.raises(UserError, match="chr2"):
        session_xml("g.fa", [], [Region("chr2", 29220764, 29220765, "x")], CONTIGS)


def test_relative_paths_follow_the_real_folders(tmp_path):
    (tmp_path / "run" / "results" / "L").mkdir(parents=True)
    (tmp_path / "run" / "resources").mkdir()
    fasta = tmp_path / "run" / "resources" / "ref.fa"
    fasta.write_text(">c\nACGT\n")
    folder = tmp_path / "run" / "results" / "L"
    assert relative_to(fasta, folder) == "../../resources/ref.fa"
    assert relative_to(folder / "a.bam", folder) == "a.bam"
    # results/ a symlink to another disk: `..` from the session lands there, so the path goes
    # between the real folders
    (tmp_path / "scratch" / "L").mkdir(parents=True)
    os.symlink(tmp_path / "scratch", tmp_path / "run" / "linked")
    linked = tmp_path / "run" / "linked" / "L"
    rel = relative_to(fasta, linked)
    assert (Path(os.path.realpath(linked)) / rel).resolve() == fasta.resolve()


def test_cli_writes_a_session_with_paths_relative_to_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = Path("results/L")
    line.mkdir(parents=True)
    Path("ref").mkdir()
    Path("ref/panel.fa").write_text("")
    Path("ref/panel.fa.fai").write_text(
        "".join(f"{name}\t{length}\t0\t60\t61\n" for name, length in CONTIGS.items())
    )
    for name in ("H3122_P.bam", "H3122_CR1.bam", "snv.vcf.gz", "fusions.vcf.gz"):
        (line / name).write_text("")
    _hits().to_csv(line / "hits.tsv", sep="\t", index=False)
    _fusions().to_csv(line / "fusions.tsv", sep="\t", index=False)
    _targets().to_csv("targets.bed", sep="\t", index=False, header=False)
    out = line / "igv_session.xml"
    code = main(
        ["igv-session", "--reference", "ref/panel.fa", "--bam", str(line / "H3122_P.bam"),
         str(line / "H3122_CR1.bam"), "--hits", str(line / "hits.tsv"),
         "--fusions", str(line / "fusions.tsv"), "--vcf", str(line / "snv.vcf.gz"),
         "--fusions-vcf", str(line / "fusions.vcf.gz"), "--targets", "targets.bed",
         "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    root = ET.parse(out).getroot()
    assert root.get("genome") == "../../ref/panel.fa"
    paths = [r.get("path") for r in root.iter("Resource")]
    assert paths == [
        "H3122_P.bam", "H3122_CR1.bam", "snv.vcf.gz", "fusions.vcf.gz", "../../targets.bed"
    ]  # fmt: skip
    for path in [root.get("genome"), *paths]:
        assert not os.path.isabs(path)
        assert (out.parent / path).is_file(), path
    assert len(list(root.iter("RegionOfInterest"))) == 6


def test_whole_genome_names_are_kept_as_the_tables_give_them():
    """A run on the lab's own genome writes chromosome coordinates (chr2, or 2 for GRCh37):
    regions keep them, so they match that FASTA and the BAMs aligned to it."""
    hits = _hits().iloc[[1, 5]].assign(chrom=["chr2", ""], pos=["29220765", ""])
    fusions = _fusions().assign(breakpoint_5p="chr2:42299750", breakpoint_3p="chr2:29223741")
    regions = finding_regions(hits, fusions)
    assert [(r.chrom, r.start, r.end) for r in regions] == [
        ("chr2", 29220764, 29220765),
        ("chr2", 42299749, 42299750),
        ("chr2", 29223740, 29223741),
    ]
    root = ET.fromstring(session_xml("GRCh38.fa", [], regions, {"chr2": 242193529}))
    assert root.get("locus") == "chr2:29220715-29220815"
