"""Activating bypass drivers (resources/activating_drivers.tsv): matching rules."""

from __future__ import annotations

import pytest

from resistcall import drivers
from resistcall.errors import UserError


@pytest.fixture(scope="module")
def table():
    return drivers.load_drivers()


@pytest.mark.parametrize(
    ("gene", "hgvs_p", "consequence", "exon", "rule"),
    [
        ("EGFR", "p.L858R", "missense_variant", "21", "exact"),
        ("EGFR", "p.L861Q", "missense_variant", "21", "exact"),
        ("EGFR", "p.G719S", "missense_variant", "18", "residue"),
        ("EGFR", "p.E746_A750del", "inframe_deletion", "19", "exon_deletion"),
        ("KRAS", "p.G12C", "missense_variant", "2", "residue"),
        ("KRAS", "p.G13D", "missense_variant", "2", "residue"),
        ("KRAS", "p.Q61H", "missense_variant", "3", "residue"),
        ("MET", "", "splice_donor_variant", "intron 14", "exon_skipping"),
        ("ERBB2", "p.Y772_A775dup", "inframe_insertion", "20", "exon_insertion"),
    ],
)
def test_known_activating_changes_match(table, gene, hgvs_p, consequence, exon, rule):
    hit = drivers.match_driver(table, gene, hgvs_p, consequence, exon)
    assert hit is not None and hit["match"] == rule and hit["sources"]


@pytest.mark.parametrize(
    ("gene", "hgvs_p", "consequence", "exon"),
    [
        ("EGFR", "p.T790M", "missense_variant", "20"),  # resistance, not an activating driver
        ("EGFR", "p.E746_A750del", "inframe_deletion", "20"),  # wrong exon
        ("KRAS", "p.G12=", "synonymous_variant", "2"),  # no substitution
        ("ALK", "p.G1202R", "missense_variant", "25"),
        ("MET", "p.T1010I", "missense_variant", "14"),
    ],
)
def test_other_changes_do_not(table, gene, hgvs_p, consequence, exon):
    assert drivers.match_driver(table, gene, hgvs_p, consequence, exon) is None


def test_bad_table_is_one_clear_error(tmp_path):
    bad = tmp_path / "d.tsv"
    bad.write_text(
        "gene\talteration\tmatch\texon\tdescription\tsources\tnote\nEGFR\tx\tfuzzy\t1\td\ts\tn\n"
    )
    with pytest.raises(UserError, match="row 2: match is 'fuzzy'"):
        drivers.load_drivers(bad)
