"""Sample identity (resistcall identity): genotype concordance with LOH allowed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from resistcall import identity
from resistcall.identity import HET, HOM_ALT, HOM_REF, NO_CALL, IdentityParams

P = IdentityParams()


def test_genotype_bands():
    alt = np.array([0, 2, 10, 50, 95, 99, 5])
    depth = np.array([100, 100, 100, 100, 100, 100, 10])
    assert list(identity.genotype(alt, depth, P)) == [
        HOM_REF,
        HOM_REF,
        NO_CALL,  # 10%: between the hom-ref and het bands
        HET,
        HOM_ALT,
        HOM_ALT,
        NO_CALL,  # 10 reads: below min_depth
    ]


def test_loh_is_not_a_mismatch_but_a_new_allele_is():
    par = np.array([HET, HET, HOM_ALT, HET, HOM_REF])
    # het -> hom (both directions) is LOH; the rest concordant
    res = identity.compare(par, np.array([HOM_ALT, HOM_REF, HOM_ALT, HET, HOM_REF]), P)
    assert (res["informative_sites"], res["loh"], res["discordant"]) == (4, 2, 0)
    assert res["verdict"] == "match"
    # hom -> het and new alleles: another individual
    other = identity.compare(par, np.array([HET, HET, HET, HOM_REF, HET]), P)
    assert other["discordant"] == 2 and other["verdict"] == "mismatch"
    # too few informative sites: not assessable, with the reason
    few = identity.compare(par[:2], par[:2], P)
    assert few["verdict"] == "not assessable" and "2 informative" in few["reason"]
    # no calls never count
    nc = identity.compare(np.array([NO_CALL] * 5), par, P)
    assert nc["informative_sites"] == 0


def test_known_resistance_positions_are_not_germline_sites(tmp_path):
    """Every codon base of hotspots.tsv is excluded (rows repeat per sample; '.' never parses)."""
    tsv = tmp_path / "hotspots.tsv"
    tsv.write_text(
        "sample\tgene\tchrom\tpositions\n"
        "P\tALK\tchrA\t24537,24538,24539\n"
        "R\tALK\tchrA\t24537,24538,24539\n"
        "R\tKRAS\tchrB\t.\n"
    )
    assert identity.selected_positions(str(tsv)) == {
        ("chrA", 24537),
        ("chrA", 24538),
        ("chrA", 24539),
    }
    assert identity.selected_positions(None) == set()


def test_mqc_table_has_multiqc_header():
    t = pd.DataFrame(
        [
            {
                "sample": "R",
                "parental": "P",
                "informative_sites": 6,
                "concordant": 1,
                "loh": 1,
                "discordant": 4,
                "discordance": 0.67,
                "verdict": "mismatch",
                "reason": None,
            }
        ]
    )
    text = identity.mqc_table(t, "L")
    assert text.startswith("# id: 'resistcall_identity'") and "# plot_type: 'table'" in text
    assert text.splitlines()[4].split("\t")[0] == "Sample"
    assert "R\tL\tP\tmismatch\t6\t4\t1" in text


@pytest.mark.realdata
def test_real_swap_flagged_and_halves_match(real_panel_bams, tmp_path):
    """H3122 vs HCC827 (several discordant germline sites over ALK) is a mismatch; the two
    halves of H3122 are one individual."""
    b = real_panel_bams
    swap = identity.run(
        str(b["fasta"]),
        str(b["targets"]),
        str(b["H3122"]),
        [str(b["HCC827"])],
        str(tmp_path / "s.tsv"),
        str(tmp_path / "s_sites.tsv"),
        str(tmp_path / "s_mqc.tsv"),
        "swap",
    ).iloc[0]
    assert swap["verdict"] == "mismatch" and swap["discordant"] >= 3
    halves = identity.run(
        str(b["fasta"]),
        str(b["targets"]),
        str(b["H3122_A"]),
        [str(b["H3122_B"])],
        str(tmp_path / "h.tsv"),
        str(tmp_path / "h_sites.tsv"),
        None,
        "halves",
    ).iloc[0]
    assert halves["verdict"] == "match" and halves["discordant"] == 0
    assert halves["informative_sites"] >= P.min_sites
    sites = pd.read_csv(tmp_path / "h_sites.tsv", sep="\t")
    # the ALK exon 21 germline SNV chr2:29222592 (H3122 ~0.8) is one of the sites
    assert "chr2:29222592" in set(sites["genomic"])
