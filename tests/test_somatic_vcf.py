"""Somatic VCF per resistant sample: pair columns, chromosome coordinates, left-aligned indels."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pysam
import pytest

from resistcall.errors import UserError
from resistcall.somatic_vcf import placements, read_chrom_sizes, write_somatic_vcf

from conftest import REFERENCE, REPO

SIZES = REPO / "resources" / "reference" / "GRCh38.chrom_sizes.tsv"
ALK = "chr2_29196228_29226309"  # chr2 offset 29196227
EML4 = "chr2_42175501_42332600"  # chr2 offset 42175500
EGFR = "chr7_55017807_55211651"  # chr7 offset 55017806
SAMPLES = ("H3122_P", "H3122_CR1", "H3122_CR2")


def _snv_vcf(
    path: Path,
    rows: list[tuple],
    pon: str | None = None,
    parental_reason: str | None = None,
    extra: tuple[str, ...] = (),
) -> Path:
    """A line's snv.vcf.gz as `resistcall snv` writes it (the fields this stage reads).
    rows: (contig, pos, ref, alt, filter, per-sample (GT, AD, STATUS)); ``pon``: the
    ``##resistcall_pon`` line of a call with a panel of normals; ``parental_reason``: the
    ``##parental_not_assessable`` line of a call whose parental failed QC."""
    header = pysam.VariantHeader()
    with pysam.FastaFile(str(REFERENCE)) as fasta:
        for name, length in zip(fasta.references, fasta.lengths, strict=True):
            header.contigs.add(name, length=length)
        order = {name: i for i, name in enumerate(fasta.references)}
    header.add_line("##assembly=GRCh38")  # as resistcall snv writes it (reference_header)
    header.add_line("##parental=H3122_P")
    if pon:
        header.add_line(pon)
    if parental_reason:
        header.add_line(f"##parental_not_assessable={parental_reason}")
    for line in extra:
        header.add_line(line)
    header.filters.add("low_depth", None, None, "Depth of the evidence sample below min_depth")
    header.info.add("TYPE", 1, "String", "snv, ins or del")
    header.info.add("HOTSPOT", 0, "Flag", "Site is a known-resistance hotspot codon position")
    header.formats.add("GT", 1, "String", "Genotype")
    header.formats.add("AD", "R", "Integer", "Reads supporting ref and alt")
    header.formats.add("DP", 1, "Integer", "Read depth")
    header.formats.add("AF", "A", "Float", "Alt allele fraction")
    header.formats.add("STATUS", 1, "String", "status vs the parental")
    for name in SAMPLES:
        header.add_sample(name)
    with pysam.VariantFile(str(path), "wz", header=header) as vcf:
        for contig, pos, ref, alt, filt, per_sample in sorted(
            rows, key=lambda r: (order[r[0]], r[1])
        ):
            rec = vcf.new_record(contig=contig, start=pos - 1, alleles=(ref, alt), filter=filt)
            rec.info["TYPE"] = "snv" if len(ref) == len(alt) else "del"
            for name, (gt, ad, status) in zip(SAMPLES, per_sample, strict=True):
                rec.samples[name]["GT"] = gt
                rec.samples[name]["AD"] = ad
                rec.samples[name]["DP"] = sum(ad)
                rec.samples[name]["AF"] = round(ad[1] / sum(ad), 4)
                rec.samples[name]["STATUS"] = status
            vcf.write(rec)
    pysam.tabix_index(str(path), preset="vcf", force=True)
    return path


REF_ONLY, CARRIES = (0, 0), (0, 1)
ROWS = [
    # L1196M: acquired in CR1, absent from CR2
    (ALK, 24538, "G", "T", "PASS", [(REF_ONLY, (500, 0), "."), (CARRIES, (375, 125), "acquired"),
                                    (REF_ONLY, (480, 0), ".")]),
    # one A of AAAAA (contig 25830-25834, after a G) deleted, written right-shifted
    (ALK, 25833, "AA", "A", "PASS", [(REF_ONLY, (400, 0), "."), (CARRIES, (360, 40), "acquired"),
                                     (REF_ONLY, (390, 0), ".")]),
    # EML4 (chr2 42 Mb, after ALK on chr2 although later in the FASTA): enriched
    (EML4, 124001, "C", "T", "PASS", [(CARRIES, (490, 10), "."), (CARRIES, (300, 200), "enriched"),
                                      (REF_ONLY, (500, 0), ".")]),
    # EGFR (chr7): shared, with a site filter
    (EGFR, 1000, "C", "A", "low_depth", [(CARRIES, (10, 8), "."), (CARRIES, (9, 9), "shared"),
                                         (CARRIES, (8, 8), "shared")]),
    # lost in CR1: the resistant sample does not carry it -> not in its somatic VCF
    (ALK, 24520, "C", "T", "PASS", [(CARRIES, (300, 200), "."), (REF_ONLY, (500, 0), "lost"),
                                    (CARRIES, (300, 200), "shared")]),
]  # fmt: skip


@pytest.fixture(scope="module")
def somatic(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("somatic")
    snv = _snv_vcf(folder / "snv.vcf.gz", ROWS)
    out = folder / "H3122_CR1.somatic.vcf.gz"
    assert write_somatic_vcf(str(snv), str(REFERENCE), "H3122_P", "H3122_CR1", out, SIZES) == 4
    return out


def _bcftools(*args: str) -> str:
    if shutil.which("bcftools") is None:
        pytest.skip("bcftools not installed")
    return subprocess.run(["bcftools", *args], check=True, capture_output=True, text=True).stdout


def test_header_names_the_pair_the_reference_file_and_grch38_contigs(somatic):
    header = _bcftools("view", "-h", str(somatic)).splitlines()
    assert "##tumor_sample=H3122_CR1" in header and "##normal_sample=H3122_P" in header
    assert "##reference=panel_GRCh38.fa" in header
    assert "##assembly=GRCh38" in header  # carried from snv.vcf.gz (docs/reference.md)
    assert "##contig=<ID=chr2,length=242193529,assembly=GRCh38>" in header
    assert "##contig=<ID=chr7,length=159345973,assembly=GRCh38>" in header
    assert not any(line.startswith("##contig=<ID=chr2_") for line in header)
    assert header[-1].split("\t")[9:] == ["H3122_P", "H3122_CR1"]  # NORMAL, then TUMOR
    assert not any(line.startswith("##resistcall_pon") for line in header)  # no panel used


def test_the_panel_of_normals_the_calls_used_is_named(tmp_path):
    pon = "##resistcall_pon=<File=pon.tsv.gz,Normals=3>"
    snv = _snv_vcf(tmp_path / "snv.vcf.gz", ROWS, pon=pon)
    out = tmp_path / "H3122_CR1.somatic.vcf.gz"
    write_somatic_vcf(str(snv), str(REFERENCE), "H3122_P", "H3122_CR1", out, SIZES)
    assert pon in _bcftools("view", "-h", str(out)).splitlines()


def test_records_are_lifted_left_aligned_and_somatic_only_when_acquired(somatic):
    query = "%CHROM\t%POS\t%REF\t%ALT\t%FILTER\t%INFO/STATUS\t%INFO/SOMATIC\t[%AD;]\n"
    rows = [line.split("\t") for line in _bcftools("query", "-f", query, str(somatic)).split("\n")]
    assert rows[:-1] == [
        ["chr2", str(29196227 + 24538), "G", "T", "PASS", "acquired", "1", "500,0;375,125;"],
        # left-aligned onto the G before the A run: contig 25829 GA>G
        ["chr2", str(29196227 + 25829), "GA", "G", "PASS", "acquired", "1", "400,0;360,40;"],
        ["chr2", str(42175500 + 124001), "C", "T", "PASS", "enriched", ".", "490,10;300,200;"],
        ["chr7", str(55017806 + 1000), "C", "A", "low_depth", "shared", ".", "10,8;9,9;"],
    ]
    stats = _bcftools("stats", str(somatic))
    assert "number of samples:\t2" in stats and "number of multiallelic sites:\t0" in stats
    assert Path(f"{somatic}.tbi").is_file()
    # region queries work in chromosome coordinates (what VEP/PCGR and IGV use)
    assert "29220765" in _bcftools("view", "-H", "-r", "chr2:29220765", str(somatic))


def test_tumour_and_control_depth_and_af_are_info_tags_for_pcgr(somatic):
    """PCGR reads depth and allele fraction from INFO only (--tumor_dp_tag TDP --tumor_af_tag
    TVAF --control_dp_tag CDP --control_af_tag CVAF, docs/snv.md): each equals that sample's
    FORMAT DP/AF, TUMOR = the resistant sample, control = the parental."""
    header = _bcftools("view", "-h", str(somatic))
    for tag, kind in (("TDP", "Integer"), ("TVAF", "Float"), ("CDP", "Integer"), ("CVAF", "Float")):
        assert f"##INFO=<ID={tag},Number=1,Type={kind}," in header
    query = "%INFO/TDP\t%INFO/TVAF\t%INFO/CDP\t%INFO/CVAF\t[%DP\t%AF\t]\n"
    rows = _bcftools("query", "-f", query, str(somatic)).splitlines()
    assert len(rows) == 4
    for row in rows:
        tdp, tvaf, cdp, cvaf, ndp, naf, rdp, raf = row.rstrip("\t").split("\t")
        assert (tdp, tvaf, cdp, cvaf) == (rdp, raf, ndp, naf)
    assert rows[0].startswith("500\t0.25\t500\t0\t")  # L1196M 125/500 in CR1, 0/500 parental


def test_a_failed_parental_gives_the_tumours_own_calls_never_an_empty_file(tmp_path):
    """With the parental failed QC, resistcall snv decides no STATUS (the per-sample STATUS is
    '.'): the somatic VCF held no record at all, which reads "no variants" in VEP/PCGR. It
    now holds the sites the TUMOR genotype carries, STATUS not_assessable, never SOMATIC, and
    the header says why."""
    reason = "sample failed QC: 482 mapped reads on target (fail below 2000)"
    rows = [
        (c, pos, ref, alt, filt, [(gt, ad, ".") for gt, ad, _ in per])
        for c, pos, ref, alt, filt, per in ROWS
    ]
    snv = _snv_vcf(tmp_path / "snv.vcf.gz", rows, parental_reason=reason)
    out = tmp_path / "H3122_CR1.somatic.vcf.gz"
    assert write_somatic_vcf(str(snv), str(REFERENCE), "H3122_P", "H3122_CR1", out, SIZES) == 4
    assert f"##parental_not_assessable={reason}" in _bcftools("view", "-h", str(out))
    query = "%POS\t%INFO/STATUS\t%INFO/SOMATIC\t%FILTER\n"
    rows_out = [r.split("\t") for r in _bcftools("query", "-f", query, str(out)).splitlines()]
    # FILTER not_assessable: PCGR, which keeps PASS records, reports none of them as somatic
    assert [r[1:3] for r in rows_out] == [["not_assessable", "."]] * 4
    assert [r[3] for r in rows_out] == ["not_assessable"] * 3 + ["low_depth;not_assessable"]
    assert str(29196227 + 24520) not in {r[0] for r in rows_out}  # CR1 does not carry it


def test_a_failed_tumour_is_never_somatic(tmp_path):
    """A resistant sample that failed QC (##sample_not_assessable): its somatic VCF keeps the
    sites its genotype carries with STATUS not_assessable, no SOMATIC flag, and says why; the
    other resistant sample's VCF is unchanged."""
    line = '##sample_not_assessable=<Sample=H3122_CR1,Reason="sample failed QC: 30 bp reads">'
    snv = _snv_vcf(tmp_path / "snv.vcf.gz", ROWS, extra=(line,))
    out = tmp_path / "H3122_CR1.somatic.vcf.gz"
    assert write_somatic_vcf(str(snv), str(REFERENCE), "H3122_P", "H3122_CR1", out, SIZES) == 4
    assert line in _bcftools("view", "-h", str(out)).splitlines()
    query = "%INFO/STATUS\t%INFO/SOMATIC\t%FILTER\n"
    assert _bcftools("query", "-f", query, str(out)).splitlines() == [
        *["not_assessable\t.\tnot_assessable"] * 3,
        "not_assessable\t.\tlow_depth;not_assessable",  # the site's own filter is kept
    ]
    other = tmp_path / "H3122_CR2.somatic.vcf.gz"
    write_somatic_vcf(str(snv), str(REFERENCE), "H3122_P", "H3122_CR2", other, SIZES)
    lines = _bcftools("view", "-h", str(other)).splitlines()
    assert not any(h.startswith("##sample_not_assessable") for h in lines)
    assert "not_assessable" not in _bcftools("query", "-f", query, str(other))


def test_vcf_validator_accepts_it(somatic):
    if shutil.which("vcf-validator") is None:
        pytest.skip("vcf-validator (Debian vcftools) not installed")
    proc = subprocess.run(["vcf-validator", str(somatic)], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout + proc.stderr == "", proc.stdout + proc.stderr


def test_wrong_reference_or_sample_is_one_clear_error(tmp_path):
    snv = _snv_vcf(tmp_path / "snv.vcf.gz", [(ALK, 24538, "A", "T", "PASS", ROWS[0][5])])
    out = tmp_path / "o.vcf.gz"
    with pytest.raises(UserError, match="bcftools norm"):  # REF A where the reference has G
        write_somatic_vcf(str(snv), str(REFERENCE), "H3122_P", "H3122_CR1", out, SIZES)
    with pytest.raises(UserError, match="no sample 'X'"):
        write_somatic_vcf(str(snv), str(REFERENCE), "H3122_P", "X", out, SIZES)
    with pytest.raises(UserError, match="parental is H3122_P"):
        write_somatic_vcf(str(snv), str(REFERENCE), "H3122_CR2", "H3122_CR1", out, SIZES)
    assert not out.exists()


def test_placements_lift_panel_contigs_and_keep_whole_chromosomes():
    sizes = read_chrom_sizes(SIZES)
    assert list(sizes)[:2] == ["chr1", "chr2"] and len(sizes) == 25
    placed, lines = placements({ALK: 30082, EGFR: 193845}, sizes)
    assert (placed[ALK].chrom, placed[ALK].offset) == ("chr2", 29196227)
    assert [name for name, _, _ in lines] == list(sizes)
    # a whole-genome reference: its contigs, its lengths, no shift
    placed, lines = placements({"chr2": 242193529, "chr7": 159345973}, sizes)
    assert placed["chr2"].offset == 0
    assert lines == [("chr2", 242193529, False), ("chr7", 159345973, False)]
    with pytest.raises(UserError, match="chromosome chr2 has no GRCh38 length"):
        placements({ALK: 30082}, {"chr1": 248956422})
    with pytest.raises(UserError, match="ends past chr2"):
        placements({"chr2_242193500_242193600": 101}, sizes)
