"""SNV/indel caller: statistics, STATUS, VCF contract and hotspot verdicts on real-shaped BAMs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
from cyvcf2 import VCF
from scipy import stats
from scipy.special import logsumexp
from test_pileup import ALK, REF, _ref, make_bam

from resistcall import snv
from resistcall.cli import main
from resistcall.distributions import TAIL_TERMS, bb_cdf, bb_sf
from resistcall.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[1].parent / "shared"

SNV_POS, DEL_POS, GERM_POS, LOST_POS = 24600, 24650, 24520, 24720


def _alt(pos: int) -> str:
    ref = _ref(pos)
    return "A" if ref != "A" else "C"


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Parental and resistant BAMs (0.2% random errors) with known variants.

    parental: germline 50% at GERM_POS, 30% at LOST_POS.
    resistant: germline 50%, SNV 5% at SNV_POS, 3 bp deletion 10% at DEL_POS.
    """
    d = tmp_path_factory.mktemp("pair")
    germ = (GERM_POS, _ref(GERM_POS), _alt(GERM_POS), 0.5)
    lost = (LOST_POS, _ref(LOST_POS), _alt(LOST_POS), 0.3)
    snv_v = (SNV_POS, _ref(SNV_POS), _alt(SNV_POS), 0.05)
    del_v = (DEL_POS, _ref(DEL_POS, 4), _ref(DEL_POS), 0.10)
    par = make_bam(d / "par.bam", "PAR", 1800, [germ, lost], seed=10, error_rate=0.002)
    res = make_bam(d / "res.bam", "RES", 1800, [germ, snv_v, del_v], seed=11, error_rate=0.002)
    clean = make_bam(d / "res2.bam", "RES2", 1800, [germ], seed=12, error_rate=0.002)
    bed = d / "regions.bed"
    bed.write_text(f"{ALK}\t24350\t24850\tALK_test\n")
    return {
        "dir": d,
        "par": par,
        "res": res,
        "res2": clean,
        "bed": bed,
        "snv": snv_v,
        "del": del_v,
        "germ": germ,
        "lost": lost,
    }


def _snv(*args: object) -> int:
    """``resistcall snv`` against the panel reference with these options (paths as str)."""
    return main(["snv", "--reference", str(REF), *map(str, args)])


def _paired(pair: dict, out: Path, *extra: object) -> int:
    """``resistcall snv`` on the pair fixture's parental and resistant BAMs."""
    return _snv(
        "--regions", pair["bed"], "--parental", pair["par"], "--resistant", pair["res"],
        "--out", out, *extra,
    )  # fmt: skip


def _records(path: Path) -> dict[tuple[int, str, str], object]:
    return {(v.POS - 1, v.REF, v.ALT[0]): v for v in VCF(str(path))}


@pytest.fixture(scope="module")
def paired_vcf(pair):
    out = pair["dir"] / "calls.vcf.gz"
    rc = _paired(pair, out)
    assert rc == 0
    return out


def test_threads_count_the_bams_at_once_and_call_the_same(pair, paired_vcf, tmp_path):
    """--threads 2: both BAMs counted in parallel threads (the kernel releases the GIL while
    it reads); the same records, field for field."""
    out = tmp_path / "threads.vcf.gz"
    assert _paired(pair, out, "--threads", "2") == 0
    one, two = _records(paired_vcf), _records(out)
    assert len(one) > 0 and one.keys() == two.keys()
    assert all(str(one[k]) == str(two[k]) for k in one)


def test_statuses_and_no_noise_calls(pair, paired_vcf):
    recs = _records(paired_vcf)
    s, d, g, lo = pair["snv"], pair["del"], pair["germ"], pair["lost"]
    assert recs[s[:3]].INFO["STATUS"] == "acquired"
    assert recs[d[:3]].INFO["STATUS"] == "acquired"
    assert recs[g[:3]].INFO["STATUS"] == "shared"
    assert recs[lo[:3]].INFO["STATUS"] == "lost"
    for key in (s[:3], d[:3], g[:3], lo[:3]):
        assert recs[key].FILTER is None  # PASS
    # 0.2% random errors at ~600x must not produce any other record
    assert set(recs) == {s[:3], d[:3], g[:3], lo[:3]}


def test_vcf_contract(pair, paired_vcf):
    assert Path(str(paired_vcf) + ".tbi").exists()
    vcf = VCF(str(paired_vcf))
    assert vcf.samples == ["PAR", "RES"]
    raw = vcf.raw_header
    assert "##parental=PAR" in raw
    assert "##fileformat=VCFv4.2" in raw
    for name in snv.FILTERS:
        assert f"##FILTER=<ID={name}," in raw
    rec = _records(paired_vcf)[pair["snv"][:3]]
    ad = rec.format("AD")
    dp = rec.format("DP")[:, 0]
    af = rec.format("AF")[:, 0]
    sb = rec.format("SB")
    assert (ad.sum(axis=1) <= dp).all()
    assert af[1] == pytest.approx(ad[1, 1] / dp[1], abs=1e-3)
    assert 0.02 < af[1] < 0.09 and af[0] < 0.01  # parental: random errors only
    assert sb[1, 2] + sb[1, 3] == ad[1, 1]  # alt forward + reverse = alt
    assert list(rec.format("STATUS")) == [".", "acquired"]
    assert rec.INFO["PENR"] < rec.INFO["PTHR"] and rec.INFO["PDET"] < rec.INFO["PTHR"]
    assert rec.format("GT") is not None
    assert rec.genotypes[1][:2] == [0, 1] and rec.genotypes[0][:2] == [0, 0]


def test_purity_option_writes_ccf_and_header(pair, paired_vcf, tmp_path):
    out = tmp_path / "purity.vcf.gz"
    args = ["snv", "--reference", str(REF), "--regions", str(pair["bed"])]
    args += ["--parental", str(pair["par"]), "--resistant", str(pair["res"])]
    assert main([*args, "--purity", "RES=0.3", "--out", str(out)]) == 0
    header = VCF(str(out)).raw_header
    assert "##purity=<Sample=PAR,Purity=1>" in header
    assert "##purity=<Sample=RES,Purity=0.3>" in header
    rec = _records(out)[pair["snv"][:3]]
    af = rec.format("AF")[:, 0]
    np.testing.assert_allclose(
        rec.format("CCF")[:, 0], np.minimum(1, 2 * af / [1.0, 0.3]), atol=2e-3
    )
    assert list(rec.format("STATUS")) == [".", "acquired"]  # parental clean: still acquired
    # the same sample read as pure: 0.3 times the cancer-cell fraction (a 30% biopsy)
    pure = _records(paired_vcf)[pair["snv"][:3]]
    assert rec.format("CCF")[1, 0] < 1  # not capped: the ratio below is the rescaling
    assert pure.format("CCF")[1, 0] == pytest.approx(rec.format("CCF")[1, 0] * 0.3, abs=2e-3)
    assert main([*args, "--purity", "XYZ=0.5", "--out", str(out)]) != 0


@pytest.mark.skipif(shutil.which("bcftools") is None, reason="bcftools not installed")
def test_bcftools_reads_and_norm_changes_nothing(paired_vcf, tmp_path):
    view = subprocess.run(
        ["bcftools", "view", "-H", str(paired_vcf)], capture_output=True, text=True, check=True
    )
    out = tmp_path / "norm.vcf"
    norm = subprocess.run(
        ["bcftools", "norm", "-f", str(REF), "-o", str(out), str(paired_vcf)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "0/0/0/0" in norm.stderr.replace("\t", "/") or "/0/0/0" in norm.stderr
    normed = subprocess.run(
        ["bcftools", "view", "-H", str(out)], capture_output=True, text=True, check=True
    )
    assert normed.stdout == view.stdout


def test_deletion_is_left_normalised_in_repeat():
    with pysam.FastaFile(str(REF)) as fa:
        seq = fa.fetch(ALK, 24300, 24900).upper()
        i = next(i for i in range(len(seq) - 4) if seq[i] == seq[i + 1] == seq[i + 2] != seq[i - 1])
        run_end = i
        while seq[run_end + 1] == seq[i]:
            run_end += 1
        pos = 24300 + run_end - 1  # delete the last base of the run, anchored inside it
        got = snv.normalise(fa, ALK, pos, seq[run_end - 1 : run_end + 1], seq[run_end - 1])
    assert got == (24300 + i - 1, seq[i - 1] + seq[i], seq[i - 1])


def test_single_sample_mode(pair, tmp_path):
    out = tmp_path / "single.vcf.gz"
    _snv("--regions", pair["bed"], "--resistant", pair["res"], "--out", out)
    vcf = VCF(str(out))
    assert "##parental" not in vcf.raw_header
    recs = _records(out)
    assert pair["snv"][:3] in recs and pair["germ"][:3] in recs
    assert all("STATUS" not in dict(v.INFO) for v in recs.values())


def test_several_resistant_samples(pair, tmp_path):
    out = tmp_path / "multi.vcf.gz"
    _snv(
        "--regions",
        pair["bed"],
        "--parental",
        pair["par"],
        "--resistant",
        pair["res2"],
        pair["res"],
        "--out",
        out,
    )
    assert VCF(str(out)).samples == ["PAR", "RES2", "RES"]
    rec = _records(out)[pair["snv"][:3]]
    assert list(rec.format("STATUS")) == [".", ".", "acquired"]
    assert rec.INFO["STATUS"] == "acquired" and rec.INFO["EVIDENCE"] == "RES"


def test_hotspot_verdicts(pair, tmp_path):
    sites = pd.DataFrame(
        {
            "gene": ["ALK", "ALK", "ALK"],
            "hgvs_p": ["p.X1A", "p.X2A", "p.X3A"],
            "residue": ["X1", "X2", "X3"],
            "chrom": [ALK] * 3,
            # codon holding the spiked SNV; a covered clean codon; an uncovered codon
            "positions": [
                [SNV_POS, SNV_POS + 1, SNV_POS + 2],
                [24801, 24802, 24803],
                "29001,29002,29003",
            ],
            "verified": [True, True, True],
        }
    )
    cfg = snv.SnvConfig(min_vaf=0.05)
    out = tmp_path / "h.vcf.gz"
    hot = tmp_path / "hot.tsv"
    snv.run(
        str(REF),
        str(pair["bed"]),
        [str(pair["res"])],
        str(out),
        str(pair["par"]),
        cfg,
        sites,
        str(hot),
    )
    t = pd.read_csv(hot, sep="\t", na_values=".")
    assert list(t.columns) == [
        "sample",
        "gene",
        "hgvs_p",
        "residue",
        "chrom",
        "positions",
        "genomic",
        "depth",
        "alt_count",
        "vaf",
        "verdict",
        "detection_limit_vaf",
        "target_vaf",
        "depth_needed",
        "reason",
    ]
    v = t.set_index(["sample", "hgvs_p"])
    assert v.loc[("RES", "p.X1A"), "verdict"] == "mutated"
    assert v.loc[("RES", "p.X1A"), "alt_count"] > 5
    assert v.loc[("PAR", "p.X1A"), "verdict"] == "not detected"
    assert v.loc[("RES", "p.X3A"), "verdict"] == "not covered"
    assert v.loc[("RES", "p.X3A"), "depth"] == 0
    assert v.loc[("RES", "p.X3A"), "reason"] == "no reads at the codon"
    assert pd.isna(v.loc[("RES", "p.X3A"), "detection_limit_vaf"])
    need = int(t.depth_needed.iloc[0])
    assert 20 < need < v.loc[("PAR", "p.X1A"), "depth"]
    assert v.loc[("PAR", "p.X1A"), "genomic"] == f"chr2:{29196227 + SNV_POS}"
    # the limit is the caller's: a 5% target is reached at this depth
    lim = v.loc[("PAR", "p.X1A"), "detection_limit_vaf"]
    assert 0 < lim < 0.05 and v.loc[("PAR", "p.X1A"), "target_vaf"] == 0.05
    snv.run(
        str(REF),
        str(pair["bed"]),
        [str(pair["res"])],
        str(out),
        str(pair["par"]),
        snv.SnvConfig(min_vaf=0.005),
        sites,
        str(hot),
    )
    t = pd.read_csv(hot, sep="\t", na_values=".").set_index(["sample", "hgvs_p"])
    # the target is a label, not a gate: the limit and the verdict do not depend on it
    assert t.loc[("PAR", "p.X2A"), "verdict"] == "not detected"
    assert t.loc[("PAR", "p.X1A"), "detection_limit_vaf"] == lim
    assert t.loc[("PAR", "p.X1A"), "target_vaf"] == 0.005


def test_known_table_hotspots_via_cli(pair, tmp_path):
    known = ROOT / "resources" / "known_resistance.tsv"
    out, hot = tmp_path / "c.vcf.gz", tmp_path / "hot.tsv"
    rc = _paired(
        pair,
        out,
        "--hotspots",
        known,
        "--gtf",
        ROOT / "resources/reference/panel_GRCh38.gtf",
        "--hotspots-out",
        hot,
    )
    assert rc == 0
    t = pd.read_csv(hot, sep="\t")
    assert set(t["sample"]) == {"PAR", "RES"}
    assert "p.G1202R" in set(t.hgvs_p)
    # these BAMs cover 24350-24850 only: the ALK kinase hotspots outside must be not covered
    inside = t.positions.map(lambda p: all(24350 < int(x) <= 24850 for x in p.split(",")))
    alk = t.chrom.str.startswith("chr2_")
    assert (t[~(inside & alk)].verdict == "not covered").all()
    assert set(t[inside & alk].verdict) <= {"not detected", "mutated"}


def test_paired_tests_and_status_rules():
    a0, b0 = np.array([0.1] * 4), np.array([1000.0] * 4)
    kr = np.array([25, 250, 250, 0])
    nr = np.array([500, 500, 500, 500])
    kp = np.array([0, 250, 25, 150])
    np_ = np.array([500, 500, 500, 500])
    p_enr, p_dep = snv.paired_tests(kr, nr, kp, np_, a0, b0, 1e-3)
    assert p_enr[0] < 1e-10  # 5% from 0%: enriched over a clean parental
    assert p_enr[1] > 0.1 and p_dep[1] > 0.1  # 50% in both: germline, no change
    assert p_enr[2] < 1e-10  # 5% -> 50%
    assert p_dep[3] < 1e-10  # 30% -> 0%
    det_r = np.array([True, True, True, False])
    det_p = np.array([False, True, True, True])
    st = snv.decide_status(det_r, det_p, p_enr, p_dep, kr / nr, kp / np_, np.full(4, 1e-6), 1.5)
    assert list(st) == ["acquired", "shared", "enriched", "lost"]


def test_indels_with_n_reference_or_inserted_bases_are_not_candidates():
    """Reads over the N padding of a test genome (or an assembly gap) gave `N>NGT` records."""
    n = 3
    counts = np.zeros((n, 6, 2), dtype=np.int64)
    counts[:, 0, 0] = 100
    indels = pd.DataFrame(
        {
            "contig": ["chr2"] * 4,
            "pos": [0, 1, 1, 2],
            "ref": ["N", "A", "AC", "A"],
            "alt": ["NGT", "ANT", "A", "AG"],
            "fwd": [5, 5, 5, 5],
            "rev": [5, 5, 5, 5],
        }
    )
    s = snv.SampleCounts(
        "s", np.array(["chr2"] * n, dtype=object), np.arange(n), np.frombuffer(b"NAA", np.uint8),
        counts, np.zeros((n, 6)), np.zeros(n), indels, pd.DataFrame(), pd.DataFrame(),
    )  # fmt: skip
    cand = snv.build_candidates([s], snv.SnvConfig())
    indel = cand[cand.kind == "indel"]
    assert sorted(zip(indel.ref, indel.alt, strict=True)) == [("A", "AG"), ("AC", "A")]


def test_clonal_variant_shared_by_60_and_20_percent_biopsies_is_not_lost():
    # heterozygous clonal variant: VAF 0.30 in the 60% parental biopsy, 0.10 in the 20%
    # resistant one (200x each); the same cancer-cell fraction
    a0, b0 = np.array([0.1]), np.array([1000.0])
    kr, nr, kp, np_ = np.array([20]), np.array([200]), np.array([60]), np.array([200])
    thr = np.full(1, 1e-6)
    args = (True,), (True,)
    p_enr, p_dep = snv.paired_tests(kr, nr, kp, np_, a0, b0, 1e-3)
    blind = snv.decide_status(*map(np.array, args), p_enr, p_dep, kr / nr, kp / np_, thr, 1.5)
    assert p_dep[0] < 1e-6 and blind[0] == "lost"  # read as two pure samples: wrongly lost
    scale = 0.2 / 0.6
    p_enr, p_dep = snv.paired_tests(kr, nr, kp, np_, a0, b0, 1e-3, scale)
    aware = snv.decide_status(
        *map(np.array, args), p_enr, p_dep, kr / nr, kp / np_ * scale, thr, 1.5
    )
    assert p_dep[0] > 0.05 and p_enr[0] > 0.05 and aware[0] == "shared"
    # a real loss is still a loss after rescaling: 0 of 200 where 20 are expected
    p_enr, p_dep = snv.paired_tests(np.array([0]), nr, kp, np_, a0, b0, 1e-3, scale)
    assert p_dep[0] < 1e-6


def test_background_fit_recovers_dispersion():
    rng = np.random.default_rng(3)
    n = np.full(4000, 500)
    p = rng.beta(0.5, 999.5, size=n.size)  # mean 5e-4, kappa 1000
    k = rng.binomial(n, p)
    mu, kappa = snv.fit_beta(k, n)
    assert mu == pytest.approx(5e-4, rel=0.15)
    assert 500 < kappa < 2000
    mu2, kappa2 = snv.fit_beta(rng.binomial(n, 5e-4), n)  # binomial: no overdispersion
    assert kappa2 > 1e4


def test_bb_sf_far_tail_is_not_zero():
    p = bb_sf(np.array([6]), np.array([300]), np.array([100.0]), np.array([1e6]))
    assert 0 < p[0] < 1e-9


def _loop_bb_sf(k, n, a, b):
    """bb_sf as first written: the far tail summed one element at a time (the reference)."""
    out = stats.betabinom.sf(np.maximum(k - 1, 0), n, a, b)
    for i in np.flatnonzero((out < 1e-3) & (k > 0) & (k <= n)):
        j = np.arange(k[i], min(n[i], k[i] + TAIL_TERMS) + 1)
        out[i] = np.exp(logsumexp(stats.betabinom.logpmf(j, n[i], a[i], b[i])))
    return np.where(k <= 0, 1.0, out)


def _bisect_critical_alt(n, a0, b0, thr, min_alt, parental, variant_prior=1e-3):
    """The detection-limit count as first written: a bisection of scalar tests (reference)."""

    def passes(k):
        kk, nn, a, b = np.array([k]), np.array([n]), np.array([a0]), np.array([b0])
        if bb_sf(kk, nn, a, b)[0] >= thr:
            return False
        if parental is None:
            return True
        kp, np_ = parental
        p_enr, _ = snv.paired_tests(kk, nn, np.array([kp]), np.array([np_]), a, b, variant_prior)
        return bool(p_enr[0] < thr)

    lo, hi = max(min_alt, 1), n + 1
    if n <= 0 or not passes(n):
        return n + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if passes(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _real_shaped_tests(m, seed):
    """Depths 1..20,000, class backgrounds 1e-5..1e-2, concentrations 1e2..1e5, parental
    counts from none to a real variant: the range hotspot detection limits see."""
    rng = np.random.default_rng(seed)
    n = np.concatenate([[0, 1, 2, 3], rng.integers(1, 20_000, m - 4)])
    mu = 10 ** rng.uniform(-5, -2, m)
    kappa = 10 ** rng.uniform(2, 5, m)
    np_ = rng.integers(0, 20_000, m)
    kp = np.where(rng.random(m) < 0.3, rng.binomial(np_, 0.05), rng.binomial(np_, mu))
    return n, mu * kappa, (1 - mu) * kappa, kp, np_, rng.random(m) < 0.6


def test_bb_sf_far_tail_vectorised_is_bit_identical():
    n, a, b, *_ = _real_shaped_tests(300, 3)
    n = np.maximum(n, 1)
    rng = np.random.default_rng(4)
    k = np.minimum(n, (n * a / (a + b) * rng.uniform(0, 30, n.size)).astype(int) + 1)
    ref = _loop_bb_sf(k, n, a, b)
    assert (ref < 1e-3).sum() > 100  # the far-tail branch is exercised
    assert np.array_equal(bb_sf(k, n, a, b), ref)


def test_bb_cdf_grid_is_scipys_cdf_bit_for_bit():
    """The per-k grids give scipy's own cdf (and so 1 - cdf, its sf) at real-shaped sites,
    small alt counts and large ones, k < 0 and k >= n included."""
    n, a, b, kp, *_ = _real_shaped_tests(2000, 7)
    k = np.concatenate([kp[:1990], [-1, 0, 5, 10_000, 25_000, 3, 1, 2, 0, 7]])
    ref = stats.betabinom.cdf(k, np.maximum(n, 1), a, b)
    assert np.unique(k).size > 50 and (k >= n).any() and (k < 0).any()
    assert np.array_equal(bb_cdf(k, n, a, b), ref)


def test_critical_alts_equal_the_scalar_bisection():
    """Guess + exact check gives the bisection's count at every site, paired or not."""
    n, a0, b0, kp, np_, paired = _real_shaped_tests(60, 5)
    for thr, min_alt in ((2e-6, 2), (1e-3, 5)):
        got = snv.critical_alts(n, a0, b0, thr, min_alt, kp, np_, paired)
        ref = [
            _bisect_critical_alt(
                int(n[i]),
                a0[i],
                b0[i],
                thr,
                min_alt,
                (int(kp[i]), int(np_[i])) if paired[i] else None,
            )
            for i in range(len(n))
        ]
        assert got.tolist() == ref
        assert (got <= n).sum() > 30 and (got == n + 1).any()  # both outcomes occur


def test_detection_limit_formula_and_depth():
    """The limit is the power quantile of Beta(k, n - k + 1) at the caller's critical count."""
    a0, b0 = 1e-4 * 1e6, (1 - 1e-4) * 1e6
    thr = 1e-4
    for n in (50, 300, 1000):
        k = snv.critical_alt(n, a0, b0, thr, 2)
        # the critical count passes the caller's test, one fewer does not
        assert bb_sf(np.array([k]), np.array([n]), np.array([a0]), np.array([b0]))[0] < thr
        if k > 2:
            p_less = bb_sf(np.array([k - 1]), np.array([n]), np.array([a0]), np.array([b0]))
            assert p_less[0] >= thr
        lim = snv.detection_limit(n, k, 0.95)
        # power at the limit is 95% (binomial), just below it less
        assert stats.binom.sf(k - 1, n, lim) == pytest.approx(0.95, abs=1e-6)
        assert stats.binom.sf(k - 1, n, lim * 0.97) < 0.95
    limits = [
        snv.detection_limit(n, snv.critical_alt(n, a0, b0, thr, 2), 0.95)
        for n in (100, 200, 400, 800, 1600)
    ]
    assert all(x > y for x, y in zip(limits, limits[1:], strict=False))
    assert snv.detection_limit(0, 2, 0.95) != snv.detection_limit(0, 2, 0.95)  # nan
    # a noisy site (higher background) has a higher limit at the same depth
    noisy = snv.critical_alt(500, 1e-2 * 1e3, (1 - 1e-2) * 1e3, thr, 2)
    assert noisy > snv.critical_alt(500, a0, b0, thr, 2)
    # a parental with signal at the site raises the count the paired test needs
    clean = snv.critical_alt(500, a0, b0, thr, 2, (0, 500))
    assert snv.critical_alt(500, a0, b0, thr, 2, (10, 500)) > clean


def test_depth_needed_grows_as_vaf_falls():
    a0, b0 = 1e-4 * 1e5, (1 - 1e-4) * 1e5
    d5 = snv.depth_needed(0.05, a0, b0, 1e-6, 0.95)
    d1 = snv.depth_needed(0.01, a0, b0, 1e-6, 0.95)
    assert 0 < d5 < d1
    k = np.arange(0, d1 + 1)
    assert (bb_sf(k, np.full_like(k, d1), a0, b0) < 1e-6).any()


def test_bad_inputs(pair, tmp_path):
    bed = tmp_path / "bad.bed"
    bed.write_text("chr99\t1\t100\n")
    with pytest.raises(UserError, match="chr99"):
        snv.run(str(REF), str(bed), [str(pair["res"])], str(tmp_path / "x.vcf.gz"))
    with pytest.raises(UserError, match="BAM not found"):
        snv.run(str(REF), str(pair["bed"]), [str(tmp_path / "none.bam")], str(tmp_path / "x"))
    noindex = tmp_path / "noindex.bam"
    shutil.copy(pair["res"], noindex)
    with pytest.raises(UserError, match="no index"):
        snv.run(str(REF), str(pair["bed"]), [str(noindex)], str(tmp_path / "x.vcf.gz"))
    rc = _snv(
        "--regions",
        pair["bed"],
        "--resistant",
        pair["res"],
        "--parental",
        pair["res"],
        "--out",
        tmp_path / "y.vcf.gz",
    )
    assert rc == 2  # same sample twice
    assert not (tmp_path / "y.vcf.gz").exists()


# ---------------------------------------------------------------------------------------------
# Real reads (../shared/realdata), realigned to the panel reference with bwa
# ---------------------------------------------------------------------------------------------


def _realign(bam: Path, index: Path, out: Path, sample: str, keep=None) -> Path:
    """Real reads (primary, paired) -> FASTQ -> bwa mem on the panel -> sorted, indexed BAM.

    ``keep(name) -> bool`` selects fragments (for splitting a line into halves).
    """
    fq1, fq2 = out.with_suffix(".1.fq"), out.with_suffix(".2.fq")
    with pysam.AlignmentFile(str(bam)) as b:
        reads = {}
        for r in b.fetch(until_eof=True):
            if r.is_secondary or r.is_supplementary or not r.is_paired:
                continue
            if keep is not None and not keep(r.query_name):
                continue
            seq, qual = r.query_sequence, pysam.qualities_to_qualitystring(r.query_qualities)
            if r.is_reverse:
                seq = seq[::-1].translate(str.maketrans("ACGTN", "TGCAN"))
                qual = qual[::-1]
            reads.setdefault(r.query_name, {})[1 if r.is_read1 else 2] = (seq, qual)
    with open(fq1, "w") as f1, open(fq2, "w") as f2:
        for name in sorted(reads):
            pair = reads[name]
            if len(pair) != 2:
                continue
            for f, m in ((f1, 1), (f2, 2)):
                f.write(f"@{name}\n{pair[m][0]}\n+\n{pair[m][1]}\n")
    sam = subprocess.run(
        ["bwa", "mem", "-t", "2", "-R", f"@RG\\tID:{sample}\\tSM:{sample}", str(index), fq1, fq2],
        capture_output=True,
        check=True,
    ).stdout
    unsorted = out.with_suffix(".unsorted.sam")
    unsorted.write_bytes(sam)
    pysam.sort("-o", str(out), str(unsorted))
    pysam.index(str(out))
    return out


@pytest.mark.slow
@pytest.mark.realdata
def test_real_h3122_halves_no_acquired_and_germline_shared(bwa_index, tmp_path):
    src = SHARED / "realdata" / "DNAfusion" / "H3122_EML4.bam"
    if not src.exists():
        pytest.skip("../shared/realdata not available")
    import zlib

    def half(name: str) -> bool:
        return zlib.crc32(name.encode()) % 2 == 0

    a = _realign(src, bwa_index, tmp_path / "a.bam", "H3122_A", half)
    b = _realign(src, bwa_index, tmp_path / "b.bam", "H3122_B", lambda n: not half(n))
    bed = tmp_path / "alk.bed"
    bed.write_text(f"{ALK}\t1000\t1100\n{ALK}\t24400\t24700\n{ALK}\t26100\t26400\n")
    out = tmp_path / "h.vcf.gz"
    assert _snv("--regions", bed, "--parental", a, "--resistant", b, "--out", out) == 0
    recs = list(VCF(str(out)))
    # both halves of one untreated line: nothing may be called acquired or enriched
    assert not [v for v in recs if v.INFO.get("STATUS") in ("acquired", "enriched")]
    # ALK exon 21 germline/imbalanced SNV chr2:29222592 G>T (H3122 ~0.82): shared, PASS
    germ = {(v.POS, v.REF, v.ALT[0]): v for v in recs}[(29222592 - 29196227, "G", "T")]
    assert germ.INFO["STATUS"] == "shared" and germ.FILTER is None
    assert (germ.format("AF")[:, 0] > 0.7).all()


@pytest.mark.slow
@pytest.mark.realdata
def test_real_egfr_l861q_positive_control(bwa_index, tmp_path):
    src = SHARED / "realdata" / "VarDictJava" / "L861Q.bam"
    if not src.exists():
        pytest.skip("../shared/realdata not available")
    bam = _realign(src, bwa_index, tmp_path / "l861q.bam", "L861Q")
    contig, offset = "chr7_55017807_55211651", 55017806
    bed = tmp_path / "egfr.bed"
    bed.write_text(f"{contig}\t{55191700 - offset}\t{55191900 - offset}\n")
    out = tmp_path / "l.vcf.gz"
    # capture assay: duplicates flagged by bamsormadup upstream are lost in realignment (FASTQ
    # has no flags), so every read counts here, as VarDict's expected output (AF 0.233) does
    assert _snv("--regions", bed, "--resistant", bam, "--out", out) == 0
    recs = {(v.POS + offset, v.REF, v.ALT[0]): v for v in VCF(str(out))}
    call = recs[(55191831, "T", "A")]  # hg38 (hg19 55259524) EGFR c.2582T>A p.L861Q
    assert call.FILTER is None
    assert 0.18 < call.format("AF")[0, 0] < 0.30
    # annotation: an activating EGFR driver of its own kind, with its sources; not a VUS
    hits = tmp_path / "hits.json"
    assert (
        main(
            [
                "annotate",
                "--vcf",
                str(out),
                "--reference",
                str(REF),
                "--gtf",
                str(ROOT / "resources/reference/panel_GRCh38.gtf"),
                "--known",
                str(ROOT / "resources/known_resistance.tsv"),
                "--out",
                str(tmp_path / "hits.tsv"),
                "--json",
                str(hits),
            ]
        )
        == 0
    )
    import json

    sample = json.loads(hits.read_text())["samples"][0]
    l861q = [f for f in sample["activating"] if f["hgvs_p"] == "p.L861Q"]
    assert l861q and l861q[0]["classification"] == "activating driver"
    assert "CIViC:EID3802" in l861q[0]["driver"]["sources"]
    assert not [f for f in sample["vus"] if f["hgvs_p"] == "p.L861Q"]


def test_affected_positions_of_indels():
    # SNV at 1-based 101; deletion of 102-104 anchored at 101; insertion after 101
    assert list(snv._affected(100, "C", "T")) == [101]
    assert list(snv._affected(100, "CAGG", "C")) == [102, 103, 104]
    assert list(snv._affected(100, "G", "GCGT")) == [102, 103, 104]


def test_output_is_deterministic(pair, paired_vcf, tmp_path):
    again = tmp_path / "again.vcf.gz"
    assert _paired(pair, again) == 0
    import gzip

    assert gzip.open(again).read() == gzip.open(paired_vcf).read()


def test_amplicon_assay_keeps_duplicates(tmp_path):
    pos = 24600
    v = (pos, _ref(pos), _alt(pos), 0.3)
    par = make_bam(tmp_path / "p.bam", "P", 400, seed=21)
    res = make_bam(tmp_path / "r.bam", "R", 400, [v], seed=22, dup_fraction=0.5)
    bed = tmp_path / "r.bed"
    bed.write_text(f"{ALK}\t24500\t24700\n")
    out = {}
    for assay in ("capture", "amplicon"):
        out[assay] = tmp_path / f"{assay}.vcf.gz"
        assert (
            _snv(
                "--regions",
                bed,
                "--parental",
                par,
                "--resistant",
                res,
                "--assay",
                assay,
                "--out",
                out[assay],
            )
            == 0
        )
    dp = {a: _records(p)[v[:3]].format("DP")[1, 0] for a, p in out.items()}
    assert dp["amplicon"] > 1.5 * dp["capture"]
    assert "assay=amplicon" in VCF(str(out["amplicon"])).raw_header


def _failed_qc(path: Path, sample: str) -> str:
    reason = "sample failed QC: only 0% of reads mapped to the reference (fail below 50%)"
    path.write_text(
        json.dumps(
            {
                "sample": sample,
                "status": "fail",
                "reasons": [reason],
                "not_assessable": {s: reason for s in ("snv", "cnv", "fusion")},
            }
        )
    )
    return str(path)


def test_failed_parental_keeps_resistant_findings_without_status(pair, tmp_path):
    """A parental that failed QC is not compared with: the resistant sample's own variants are
    still called (detected; parental not assessable), no STATUS is decided, the parental is a
    column of counts only and its own variants are not records."""
    known = ROOT / "resources" / "known_resistance.tsv"
    out, hot = tmp_path / "c.vcf.gz", tmp_path / "hot.tsv"
    args = ["snv", "--reference", str(REF), "--regions", str(pair["bed"])]
    args += ["--parental", str(pair["par"]), "--resistant", str(pair["res"]), "--out", str(out)]
    args += ["--hotspots", str(known), "--gtf", str(ROOT / "resources/reference/panel_GRCh38.gtf")]
    args += ["--hotspots-out", str(hot), "--qc", _failed_qc(tmp_path / "p.json", "PAR")]
    assert main(args) == 0
    vcf = VCF(str(out))
    assert vcf.samples == ["PAR", "RES"]
    assert "##parental=PAR" in vcf.raw_header
    assert "##parental_not_assessable=sample failed QC: only 0% of reads" in vcf.raw_header
    assert f"##reference={REF.name}\n" in vcf.raw_header
    recs = _records(out)
    s, d, g = pair["snv"], pair["del"], pair["germ"]
    assert set(recs) == {s[:3], d[:3], g[:3]}  # the parental-only variant is no record
    for rec in recs.values():
        assert "STATUS" not in dict(rec.INFO) and rec.INFO["EVIDENCE"] == "RES"
        assert list(rec.format("STATUS")) == [".", "."]
    # the parental column carries its counts (a real parental here, with noise reads only)
    assert recs[s[:3]].FILTER is None and recs[s[:3]].format("DP")[0][0] > 500
    assert recs[s[:3]].format("AD")[0][1] <= 2
    t = pd.read_csv(hot, sep="\t")
    assert (t.loc[t["sample"] == "PAR", "verdict"] == "not assessable").all()
    assert (t.loc[t["sample"] == "PAR", "detection_limit_vaf"].astype(str) == ".").all()  # failed
    assert (t.loc[t["sample"] == "RES", "verdict"] != "not assessable").all()


def test_failed_resistant_sample_is_named_in_the_vcf_header(pair, tmp_path):
    """A resistant sample that failed QC: its column is counts, not findings; the header says
    so (one ##sample_not_assessable line), as hotspots.tsv, cnv.tsv and hits.json do, so that
    a VCF consumer (and somatic-vcf) never takes its calls as a measured result."""
    out = tmp_path / "c.vcf.gz"
    args = ["snv", "--reference", str(REF), "--regions", str(pair["bed"])]
    args += ["--parental", str(pair["par"]), "--resistant", str(pair["res"]), "--out", str(out)]
    args += ["--qc", _failed_qc(tmp_path / "r.json", "RES")]
    assert main(args) == 0
    header = VCF(str(out)).raw_header
    assert '##sample_not_assessable=<Sample=RES,Reason="sample failed QC: only 0% of reads' in (
        header
    )
    assert "##parental_not_assessable" not in header


KNOWN = ROOT / "resources" / "known_resistance.tsv"
GTF = ROOT / "resources" / "reference" / "panel_GRCh38.gtf"


def test_named_alleles_of_the_shipped_table():
    """Each named missense change is tested at the 1-3 single-base alleles that make it; the
    family is every hypothesis at a verified codon, the named alleles weighted."""
    sites = snv.load_hotspot_sites(str(KNOWN), str(GTF), str(REF)).set_index("hgvs_p")
    assert sites.loc["p.L1196M", "alleles"] == [(24538, "T")]
    assert sites.loc["p.G1202R", "alleles"] == [(24520, "G"), (24520, "T")]
    assert len(sites.loc["p.F1174L", "alleles"]) == 3
    # an indel, any change at a residue, a change that needs two bases: no single allele
    assert sites.loc["p.T1151dup", "alleles"] == sites.loc["p.G12", "alleles"] == []
    assert sites.loc["p.G1269S", "alleles"] == []
    with pysam.FastaFile(str(REF)) as fa:
        hyp = snv.hotspot_hypotheses(sites.reset_index(), fa, 10.0)
    assert hyp[(ALK, 24537, "T")] == 10.0 and hyp[(ALK, 24537, "A")] == 1.0
    assert hyp[(ALK, 24537, snv.INDEL_ALT)] == 1.0
    # 15 verified ALK codons x 3 bases x (3 substitutions + 1 indel class), 23 named alleles
    alk = {h: w for h, w in hyp.items() if h[0] == ALK}
    assert len(alk) == 180 and sum(w == 10.0 for w in alk.values()) == 23


def test_named_allele_weight_moves_alpha_to_the_named_alleles(pair, tmp_path):
    """With named_allele_weight 10, L1196M (24538 G>T) is tested at a looser threshold than
    with every hypothesis alike (weight 1), another allele of its codon at a stricter one, and
    the thresholds of the covered hotspot hypotheses still add up to the hotspot share of
    alpha (family-wise error unchanged); the L1196M row's detection limit uses its allele."""
    named = (24537, "G", "T", 0.05)
    other = (24535, "C", "A", 0.05)  # same codon (L1196), not a named allele
    res = make_bam(tmp_path / "named.bam", "NAMED", 1800, [named, other], seed=13, error_rate=0.002)
    sites = snv.load_hotspot_sites(str(KNOWN), str(GTF), str(REF))

    def run(weight: float) -> tuple[dict, pd.DataFrame, snv.CallSet]:
        out, hot = tmp_path / f"{weight}.vcf.gz", tmp_path / f"{weight}.tsv"
        cfg = snv.SnvConfig(named_allele_weight=weight)
        cs = snv.run(
            str(REF), str(pair["bed"]), [str(res)], str(out), str(pair["par"]), cfg, sites, str(hot)
        )
        recs = {(v.POS - 1, v.ALT[0]): v for v in VCF(str(out))}
        return recs, pd.read_csv(hot, sep="\t", na_values=".").set_index(["sample", "hgvs_p"]), cs

    w10, hot10, cs10 = run(10.0)
    w1, hot1, cs1 = run(1.0)
    a, o = w10[(24537, "T")], w10[(24535, "A")]
    assert a.INFO["HOTSPOT"] and o.INFO["HOTSPOT"]
    assert a.INFO["PTHR"] == pytest.approx(cs10.hotspot_threshold, rel=1e-3)
    assert o.INFO["PTHR"] == pytest.approx(cs10.hotspot_codon_threshold, rel=1e-3)
    assert cs10.hotspot_threshold > cs1.hotspot_threshold > cs10.hotspot_codon_threshold
    assert cs1.hotspot_threshold == cs1.hotspot_codon_threshold
    for cs in (cs1, cs10):
        covered = [t for (c, p, _), t in cs.hot.items() if c == ALK and 24350 <= p < 24850]
        assert sum(covered) == pytest.approx(0.05 * 0.5)
        assert cs.n_tests == cs1.n_tests and cs.threshold == cs1.threshold
    # a named row's limit is its allele's, at the named threshold: never higher, and lower
    # where the looser threshold takes one read off the critical count
    named_rows = sites.loc[sites["alleles"].str.len() > 0, "hgvs_p"]
    lim10 = hot10["detection_limit_vaf"].loc[:, list(named_rows)].dropna()
    lim1 = hot1["detection_limit_vaf"].loc[:, list(named_rows)].dropna()
    assert len(lim10) > 10 and (lim10 <= lim1).all()
    assert lim10[("PAR", "p.L1198F")] < lim1[("PAR", "p.L1198F")]


def test_named_alleles_are_what_the_annotator_calls_the_row():
    """The alleles found by translating the codon are exactly the codon substitutions that
    hgvs.py (the annotation stage) names with the row's protein change, for every row."""
    from resistcall.hgvs import ContigCache, annotate_variant
    from resistcall.transcripts import load_transcripts

    sites = snv.load_hotspot_sites(str(KNOWN), str(GTF), str(REF))
    tx = load_transcripts(GTF)
    with pysam.FastaFile(str(REF)) as fa:
        contigs = ContigCache(fa)
        for row in sites.itertuples():
            expected = [
                (p, alt)
                for p in row.positions
                for alt in "ACGT"
                if alt != (ref := contigs.bases(row.chrom, p, p))
                and annotate_variant(tx, contigs, row.chrom, p, ref, alt).hgvs_p == row.hgvs_p
            ]
            assert row.alleles == expected, row.hgvs_p
    assert sum(len(a) > 0 for a in sites.alleles) >= 25
