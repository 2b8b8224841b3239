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
    # ... and no discordance fraction (the demo read 0.0 over 3 sites beside "not assessable")
    assert few["discordance"] is None and res["discordance"] == 0.0
    # no calls never count
    nc = identity.compare(np.array([NO_CALL] * 5), par, P)
    assert nc["informative_sites"] == 0


def _sites(vafs: dict[str, list[float]], depth: int = 400) -> pd.DataFrame:
    """identity_sites.tsv rows: one site per list position, genotyped by the product's bands."""
    rows = []
    for sample, values in vafs.items():
        alt = np.round(np.array(values) * depth).astype(int)
        gts = identity.genotype(alt, np.full(len(values), depth), P)
        for i, (a, g) in enumerate(zip(alt, gts, strict=True)):
            rows.append(
                {"sample": sample, "chrom": "c", "pos": i + 1, "depth": depth, "alt_count": a,
                 "vaf": a / depth, "genotype": g}
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_foreign_alleles_at_homozygous_sites_read_possible_contamination():
    """A resistant sample holding 10% of another individual's DNA: where the parental is
    homozygous it shows the other allele at ~5% (contaminant het) to ~10% (hom), between the
    hom and het bands; germline concordance alone would have called it a match."""
    par = [0.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.0, 1.0]
    clean = [0.0, 0.0, 0.0, 1.0, 0.5, 0.48, 0.0, 1.0]
    mixed = [0.06, 0.0, 0.09, 0.93, 0.5, 0.5, 0.07, 1.0]
    out = identity.check_line(_sites({"P": par, "R1": clean, "R2": mixed}), "P", ["R1", "R2"], P)
    got = out.set_index("sample")
    assert got.loc["R1", "verdict"] == "match"
    assert got.loc["R2", "verdict"] == "possible contamination"
    assert "R2: 4 of 6 sites where P is homozygous" in got.loc["R2", "reason"]
    # one subclonal change at a homozygous site is tolerated (acquired mutations exist)
    one = [0.08, 0.0, 0.0, 1.0, 0.5, 0.5, 0.0, 1.0]
    assert identity.check_line(_sites({"P": par, "R": one}), "P", ["R"], P).verdict[0] == "match"
    # a contaminated parental is caught from the other side
    both = identity.check_line(_sites({"P": mixed, "R": par}), "P", ["R"], P)
    assert both.verdict[0] == "possible contamination" and both.reason[0].startswith("P: ")


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
