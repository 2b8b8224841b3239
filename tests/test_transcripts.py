"""Transcript models of the panel GTF: c. numbering, intronic offsets, UTRs, minus strand."""

from pathlib import Path

import pysam
import pytest

from resistcall.errors import UserError
from resistcall.hotspots import sites_from_known
from resistcall.transcripts import load_transcripts

REPO = Path(__file__).resolve().parents[1]
GTF = REPO / "resources" / "reference" / "panel_GRCh38.gtf"
FASTA = REPO / "resources" / "reference" / "panel_GRCh38.fa"
KNOWN = REPO / "resources" / "known_resistance.tsv"
COMP = str.maketrans("ACGT", "TGCA")

# PROVENANCE.md section 5: residue -> contig positions of codon bases 1, 2, 3
PROVENANCE_CODONS = {
    ("ALK", 1156): [26166, 26165, 26164],
    ("ALK", 1171): [26121, 26120, 26119],
    ("ALK", 1174): [24604, 24603, 24602],
    ("ALK", 1196): [24538, 24537, 24536],
    ("ALK", 1198): [24532, 24531, 24530],
    ("ALK", 1202): [24520, 24519, 24518],
    ("ALK", 1203): [24517, 24516, 24515],
    ("ALK", 1206): [24508, 24507, 24506],
    ("ALK", 1269): [13590, 13589, 13588],
    ("EGFR", 790): [163571, 163572, 163573],
    ("EGFR", 858): [174015, 174016, 174017],
    ("KRAS", 12): [19775, 19774, 19773],
    ("KRAS", 61): [1767, 1766, 1765],
    ("KRAS", 146): [52, 51, 50],
    ("MET", 1010): [73052, 75944, 75945],
    ("MET", 1228): [84416, 84417, 84418],
    ("KIT", 816): [9606, 9607, 9608],
    ("KIT", 829): [12950, 12951, 12952],
    ("ERBB2", 842): [9864, 9865, 9866],
}


@pytest.fixture(scope="module")
def tx():
    return load_transcripts(GTF)


@pytest.mark.parametrize(("key", "positions"), PROVENANCE_CODONS.items())
def test_codon_positions_match_provenance(tx, key, positions):
    gene, residue = key
    assert tx.by_gene[gene].codon_positions(residue) == positions


def test_codon_outside_partial_model_is_none(tx):
    alk = tx.by_gene["ALK"]
    assert alk.codon_positions(1000) is None  # exon 18 and before are not modelled
    assert alk.codon_positions(1023) is None  # c.3067 (codon base 1) lies in exon 18
    assert alk.codon_positions(1024) is not None
    assert tx.by_gene["KIT"].codon_positions(600) is None  # exon 12 skipped by the model


def test_minus_strand_exonic_and_intronic(tx):
    alk = tx.by_gene["ALK"]
    assert str(alk.locate(24520).c) == "3604"
    assert str(alk.locate(24538).c) == "3586"
    # exon 23 ends (3') at contig 24479 = c.3645; intron 23 follows at lower contig positions
    assert str(alk.locate(24479).c) == "3645"
    assert str(alk.locate(24474).c) == "3645+5"
    assert alk.locate(24474).region == "intron"
    # 5 bases before exon 24 (c.3646 at contig 17854) in transcript sense = contig 17859
    assert str(alk.locate(17859).c) == "3646-5"
    # beyond the partial model ends: unmodelled introns 18 and 28, never "upstream"
    assert str(alk.locate(29338 + 10).c) == "3068-10"
    assert str(alk.locate(543 - 7).c) == "4164+7"


def test_odd_intron_middle_base_takes_plus(tx):
    alk = tx.by_gene["ALK"]
    # intron 24: exon 24 3' end at contig 17757 (c.3743), exon 25 5' start at 13651 (c.3744)
    length = 17757 - 13651 - 1
    assert length % 2 == 1
    middle = 13651 + (length + 1) // 2
    assert str(alk.locate(middle).c) == f"3743+{(length + 1) // 2}"
    assert str(alk.locate(middle - 1).c) == f"3744-{(length + 1) // 2 - 1}"


def test_plus_strand_utrs_and_flanks(tx):
    egfr = tx.by_gene["EGFR"]
    assert str(egfr.locate(1472).c) == "1"  # start codon A
    assert str(egfr.locate(1471).c) == "-1"
    assert str(egfr.locate(1211).c) == "-261"  # first base of exon 1
    assert egfr.locate(1200).region == "upstream"
    assert str(egfr.locate(1200).c) == "-272"
    assert str(egfr.locate(187808).c) == "3630"  # last CDS base
    assert str(egfr.locate(187811).c) == "3633"  # stop codon base 3 is c.3633
    assert str(egfr.locate(187812).c) == "*1"
    assert egfr.locate(193830).region == "downstream"


def test_translation_of_hotspot_codons_matches_residue_letter(tx):
    """Every codon the knowledge table names translates to the residue letter it states."""
    from resistcall.hgvs import translate

    sites = sites_from_known(KNOWN, GTF)
    assert len(sites) >= 25
    with pysam.FastaFile(str(FASTA)) as fa:
        for row in sites.itertuples():
            strand = tx.by_gene[row.gene].strand
            bases = "".join(fa.fetch(row.chrom, p - 1, p) for p in row.positions)
            codon = bases if strand == "+" else bases.translate(COMP)[::-1]
            assert translate(codon) == row.residue[0], (row.gene, row.residue, codon)


def test_sites_from_known_splits_compounds_and_skips_cnv(tmp_path):
    sites = sites_from_known(KNOWN, GTF)
    assert set(sites.columns) == {"gene", "hgvs_p", "residue", "chrom", "positions", "verified"}
    assert not sites["hgvs_p"].isin(["amplification", "fusion"]).any()
    assert not sites["hgvs_p"].str.startswith("p.[").any()
    # E1210K only appears inside compound rows or alone; D1203N both: parts present once each
    assert (sites["hgvs_p"] == "p.E1210K").sum() == 1
    assert not sites.duplicated(["gene", "residue", "hgvs_p"]).any()
    row = sites[sites["hgvs_p"] == "p.G1202R"].iloc[0]
    assert row["positions"] == [24518, 24519, 24520]  # genomic order
    assert row["residue"] == "G1202"
    # only rows checked against a source (db/page) may give the caller a prior: G1202del is
    # named by recall rows only, D1203N by recall and db rows
    verified = sites.set_index("hgvs_p")["verified"]
    assert not verified["p.G1202del"] and verified["p.D1203N"] and verified["p.G1202R"]


def test_gtf_with_inconsistent_c_attributes_fails(tmp_path):
    text = GTF.read_text().replace('cds_c_end "3172"', 'cds_c_end "3175"')
    bad = tmp_path / "bad.gtf"
    bad.write_text(text)
    with pytest.raises(UserError, match="ENST00000389048.*disagree"):
        load_transcripts(bad)
