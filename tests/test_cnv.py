"""cnv: fragment counting on hand-built BAMs, the normalisation model on simulated counts,
and the CLI end to end on small BAMs written here (no aligner needed)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pyranges as pr
import pysam
import pytest
from reference_counters import reference_fragment_spans
from test_pileup import ALK, REF, make_bam

from resistcall import _kernel, cnv, contracts, coverage
from resistcall.cli import main
from resistcall.errors import UserError
from resistcall.qc import STAGES

from conftest import GTF, REFERENCE, REPO

KNOWN = REPO / "resources" / "reference" / "panel_GRCh38.known_sequence.bed"
CAPTURE_BED = REPO / "resources" / "panel" / "demo_capture_targets.bed"
EGFR = "chr7_55017807_55211651"


# ------------------------------------------------------------------------------ helpers


def _cnv(*args: object) -> int:
    """``resistcall cnv`` with these options (paths as str)."""
    return main(["cnv", *map(str, args)])


def _cnv_pair(cli_bams: tuple, *extra: object) -> int:
    """``resistcall cnv`` on the cli_bams fixture's targets, parental and resistant BAM."""
    bed, pb, rb = cli_bams
    return _cnv("--targets", bed, "--parental", pb, "--resistant", rb, *extra)


def panel_targets() -> pd.DataFrame:
    """The demo capture targets, or (before they exist) coding exons of the GTF on real
    bases, split like a capture design would be: every panel gene at its real size."""
    if CAPTURE_BED.exists():
        return cnv.load_targets(CAPTURE_BED)
    gtf = pr.read_gtf(str(GTF))
    cds = gtf[gtf.Feature == "CDS"]
    known = pr.read_bed(str(KNOWN))
    exons = cds.intersect(known).df
    df = pd.DataFrame(
        {
            "chrom": exons["Chromosome"].astype(str),
            "start": exons["Start"] - 20,
            "end": exons["End"] + 20,
            "gene": exons["gene_name"].astype(str),
        }
    )
    df = df[df["end"] - df["start"] >= 60].drop_duplicates(["chrom", "start", "end"])
    return df.sort_values(["chrom", "start"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def targets() -> pd.DataFrame:
    return panel_targets()


@pytest.fixture(scope="module")
def gc(targets) -> np.ndarray:
    return coverage.target_gc(REFERENCE, targets)


def simulate_counts(targets, gc, cn, gc_bias, rng, eff, depth=400.0):
    """Poisson fragment counts: depth x target efficiency x sample GC curve x CN/2."""
    a, b = gc_bias
    curve = np.exp(a * (gc - 0.5) + b * (gc - 0.5) ** 2)
    copies = np.array([cn.get(g, 2.0) for g in targets["gene"]])
    mu = depth * eff * curve * copies / 2.0
    return rng.poisson(mu / mu.mean() * depth)


def run_model(
    targets,
    gc,
    truth,
    seed=1,
    eff_sd=0.6,
    biases=((1.0, -8.0), (-2.5, -15.0)),
    params=None,
    depth=400.0,
    purity=1.0,
):
    rng = np.random.default_rng(seed)
    # normal admixture: the bulk carries purity x tumour copies + (1 - purity) x 2
    truth = {g: purity * c + (1.0 - purity) * 2.0 for g, c in truth.items()}
    eff = np.exp(rng.normal(0.0, eff_sd, len(targets)))
    parental = simulate_counts(targets, gc, {}, biases[0], rng, eff, depth)
    resistant = simulate_counts(targets, gc, truth, biases[1], rng, eff, depth)
    ref = cnv.parental_reference("P", parental)
    cn, per_target = cnv.analyse(
        targets,
        [cnv.SampleInput("R", "resistant", resistant)],
        ref,
        gc,
        params or cnv.Params(),
        purity={"R": purity},
    )
    return cn.set_index("gene"), per_target


# ---------------------------------------------------------------------------- statistics


def test_weighted_median_and_biweight_resist_outliers():
    x = np.array([0.0, 0.1, -0.1, 0.05, 5.0, 6.0])
    w = np.ones_like(x)
    assert cnv.weighted_median(x, w) == pytest.approx(0.05)
    assert abs(cnv.biweight_location(x, w)) < 0.1
    # weights matter: a heavy target pulls the median
    assert cnv.weighted_median(x, np.array([1, 1, 1, 1, 10, 1.0])) == 5.0
    # vectorised rows equal per-row calls
    rows = np.vstack([x, x[::-1] + 1])
    np.testing.assert_allclose(
        cnv.biweight_location(rows, np.ones_like(rows)),
        [cnv.biweight_location(r, np.ones_like(r)) for r in rows],
    )


def test_loess_recovers_smooth_trend_and_ignores_outliers():
    rng = np.random.default_rng(3)
    x = rng.uniform(0.3, 0.7, 200)
    y = 3.0 * (x - 0.5) - 20.0 * (x - 0.5) ** 2 + rng.normal(0, 0.05, 200)
    y[:10] += 4.0  # outliers (e.g. a failed or amplified target)
    grid = np.linspace(0.35, 0.65, 7)
    fit = cnv.loess(x, y, np.ones_like(x), grid, span=0.4)
    np.testing.assert_allclose(fit, 3.0 * (grid - 0.5) - 20.0 * (grid - 0.5) ** 2, atol=0.06)
    # no extrapolation beyond the data: clamped to the edge value
    edge = cnv.loess(x, y, np.ones_like(x), np.array([x.max(), 0.99]), span=0.4)
    assert edge[0] == pytest.approx(edge[1])
    # ...or, on request (GC curve fitted on baseline targets, evaluated at a changed gene's
    # more extreme GC), continued along the edge tangent
    line = 2.0 * x - 1.0
    far = cnv.loess(x, line, np.ones_like(x), np.array([0.2, 0.9]), span=0.4, extrapolate=True)
    np.testing.assert_allclose(far, [2.0 * 0.2 - 1.0, 2.0 * 0.9 - 1.0], atol=1e-3)


def test_overlap_and_midpoint_counting_match_brute_force():
    rng = np.random.default_rng(5)
    t_start = np.array([100, 400, 450, 1000])
    t_end = np.array([250, 520, 600, 1100])
    f_start = rng.integers(0, 1200, 500)
    f_end = f_start + rng.integers(50, 300, 500)
    brute = [int(((f_start < e) & (f_end > s)).sum()) for s, e in zip(t_start, t_end, strict=True)]
    assert coverage.count_overlaps(t_start, t_end, f_start, f_end).tolist() == brute
    mids = coverage.count_midpoints(t_start, t_end, f_start, f_end)
    # a fragment is counted at most once even where targets overlap (400-520 / 450-600)
    mid = (f_start + f_end) / 2
    in_any = ((mid[:, None] >= t_start) & (mid[:, None] < t_end)).any(axis=1)
    assert mids.sum() == in_any.sum()
    assert mids[0] == ((mid >= 100) & (mid < 250)).sum()


# ------------------------------------------------------------------------ BAM counting


def write_bam(path, fragments, sample="S1"):
    """fragments: (contig, start, length, kind) with kind in ok, dup, lowmapq, secondary,
    single, mate_unmapped; pairs are 2 x 50 bp reads (FR), sorted and indexed."""
    with pysam.FastaFile(str(REFERENCE)) as fa:
        header = {
            "HD": {"VN": "1.6", "SO": "coordinate"},
            "SQ": [{"SN": n, "LN": ln} for n, ln in zip(fa.references, fa.lengths, strict=True)],
            "RG": [{"ID": "rg1", "SM": sample}],
        }
        segs = []
        hdr = pysam.AlignmentHeader.from_dict(header)
        for i, (contig, start, length, kind) in enumerate(fragments):
            rid = hdr.get_tid(contig)
            end = start + length
            mates = [(start, 0x40 | 0x20, length), (end - 50, 0x80 | 0x10, -length)]
            for pos, flag, tlen in mates:
                seg = pysam.AlignedSegment(hdr)
                seg.query_name = f"f{i}"
                f = flag | 0x1 | 0x2
                if kind == "dup":
                    f |= 0x400
                if kind == "secondary" and flag & 0x40:
                    f |= 0x100
                seg.flag = f
                seg.reference_id = rid
                seg.reference_start = pos
                seg.next_reference_id = rid
                seg.next_reference_start = end - 50 if flag & 0x40 else start
                seg.template_length = tlen
                seg.mapping_quality = 5 if kind == "lowmapq" else 60
                seg.cigarstring = "50M"
                seg.query_sequence = fa.fetch(contig, pos, pos + 50)
                seg.query_qualities = pysam.qualitystring_to_array("I" * 50)
                seg.set_tag("RG", "rg1")
                if kind == "single":
                    seg.flag = 0
                    seg.next_reference_id = -1
                    seg.next_reference_start = -1
                    seg.template_length = 0
                    segs.append(seg)
                    break
                if kind == "mate_unmapped":
                    seg.flag = 0x1 | 0x8 | 0x40
                    seg.template_length = 0
                    segs.append(seg)
                    break
                segs.append(seg)
        segs.sort(key=lambda s: (s.reference_id, s.reference_start))
        with pysam.AlignmentFile(str(path), "wb", header=hdr) as out:
            for seg in segs:
                out.write(seg)
    pysam.index(str(path))
    return path


def test_fragments_counted_once_with_flag_and_mapq_filters(tmp_path):
    targets = pd.DataFrame(
        {
            "chrom": [EGFR, EGFR],
            "start": [1000, 1400],
            "end": [1200, 1500],
            "gene": ["A", "B"],
        }
    )
    frags = (
        [(EGFR, 950, 200, "ok")] * 10  # overlaps target A only (950-1150)
        + [(EGFR, 1100, 350, "ok")] * 4  # spans both targets: counted in each (capture)
        + [(EGFR, 1000, 150, "dup")] * 5  # duplicates: capture skips, amplicon keeps
        + [(EGFR, 1000, 150, "lowmapq")] * 3  # MAPQ 5 < 20
        + [(EGFR, 1000, 150, "secondary")] * 2
        + [(EGFR, 1410, 60, "single")] * 2  # single-end read in B
        + [(EGFR, 1420, 100, "mate_unmapped")] * 3
        + [(EGFR, 1450, 50, "ok")] * 2  # both mates at the same position: once each
        + [(EGFR, 3000, 200, "ok")] * 7  # off target
    )
    bam = write_bam(tmp_path / "a.bam", frags)
    capture = coverage.count_targets(bam, targets, "capture", min_mapq=20)
    assert capture.fragments.tolist() == [10 + 4, 4 + 2 + 3 + 2]
    assert capture.with_duplicates.tolist() == [10 + 4 + 5, 4 + 2 + 3 + 2]
    amplicon = coverage.count_targets(bam, targets, "amplicon", min_mapq=20)
    # midpoints: 1050 (A) x10, 1275 (none) x4, 1075 dup (A) x5, 1435 single (B), 1445 (B),
    # 1475 (B)
    assert amplicon.fragments.tolist() == [10 + 5, 2 + 3 + 2]
    assert amplicon.with_duplicates.tolist() == amplicon.fragments.tolist()
    low = coverage.count_targets(bam, targets, "capture", min_mapq=0)
    assert low.fragments.tolist() == [17, 11]
    # the compiled per-read loop gives the former pure-Python loop's spans, in order
    windows = coverage.fetch_windows(targets)
    for dups in (False, True):
        for mapq in (0, 20):
            new = coverage.fragment_spans(bam, windows, min_mapq=mapq, count_duplicates=dups)
            old = reference_fragment_spans(bam, windows, min_mapq=mapq, count_duplicates=dups)
            assert new.keys() == old.keys()
            for contig, (s, e, d) in old.items():
                assert new[contig][0].tolist() == s.tolist()
                assert new[contig][1].tolist() == e.tolist()
                assert new[contig][2].tolist() == d.tolist()
                assert d.sum() == (5 if dups else 0)


def test_target_gc_matches_sequence(targets):
    gc = coverage.target_gc(REFERENCE, targets.iloc[:3])
    with pysam.FastaFile(str(REFERENCE)) as fa:
        t = targets.iloc[0]
        seq = fa.fetch(t.chrom, int(t.start), int(t.end)).upper()
    assert gc[0] == pytest.approx((seq.count("G") + seq.count("C")) / len(seq))
    # padding measures the sequence the fragments carry; N never counts
    padded = coverage.target_gc(REFERENCE, targets.iloc[:1], pad=100)
    with pysam.FastaFile(str(REFERENCE)) as fa:
        seq = fa.fetch(t.chrom, max(0, int(t.start) - 100), int(t.end) + 100).upper()
    acgt = sum(seq.count(b) for b in "ACGT")
    assert padded[0] == pytest.approx((seq.count("G") + seq.count("C")) / acgt)
    with pytest.raises(UserError, match="not found"):
        coverage.target_gc(REFERENCE.parent / "missing.fa", targets)


# ------------------------------------------------------------------------------- model


def test_multi_gene_changes_with_different_gc_bias(targets, gc):
    truth = {"EGFR": 12.0, "MET": 5.0, "KIT": 1.0, "ALK": 3.0, "ERBB2": 20.0}
    cn, per_target = run_model(targets, gc, truth)
    for gene in ("ALK", "EGFR", "MET", "KIT", "ERBB2", "KRAS", "CD74", "RET", "EWSR1"):
        true = truth.get(gene, 2.0)
        assert cn.loc[gene, "copy_number"] == pytest.approx(true, rel=0.15), gene
        assert cn.loc[gene, "ci_low"] <= cn.loc[gene, "copy_number"] <= cn.loc[gene, "ci_high"]
    assert cn.loc["EGFR", "call"] == "amplification"
    assert cn.loc["ERBB2", "call"] == "amplification"
    assert cn.loc["KIT", "call"] == "loss"
    assert cn.loc["ALK", "call"] == "gain"
    assert cn.loc["RET", "call"] == "neutral"
    # changed genes never enter the baseline; controls do
    assert set(cn.index[cn["baseline"] == "yes"]) >= {"CD74", "RET", "EWSR1"}
    assert not set(cn.index[cn["baseline"] == "yes"]) & set(truth)
    # GC correction did something: resistant and parental curves differ
    assert per_target["gc_correction"].std() > 0.05


def test_gc_curves_a_slope_apart_fitted_on_baseline_and_residual_reported(targets, gc):
    # parental and resistant GC slopes 3 apart, ERBB2 (GC-rich, 5 targets) amplified
    truth = {"ERBB2": 8.0, "KIT": 8.0, "KRAS": 1.0}
    cn, per_target = run_model(targets, gc, truth, biases=((-1.5, -5.0), (1.5, -18.0)))
    for gene in ("ERBB2", "KIT", "KRAS", "CD74", "RET", "EWSR1", "MET", "EGFR", "ALK"):
        assert cn.loc[gene, "copy_number"] == pytest.approx(truth.get(gene, 2.0), rel=0.15), gene
    # the residual GC trend is reported once per sample and is small after correction
    slope = cn["gc_residual_slope"].unique()
    assert len(slope) == 1 and abs(slope[0]) < 0.03
    # ...and the raw ratios did carry a strong trend, so the QC number can fail
    usable = per_target["weight"] > 0
    raw_slope = np.polyfit(per_target.loc[usable, "gc"], per_target.loc[usable, "log2_raw"], 1)[0]
    assert abs(raw_slope * 0.1) > 0.1


def test_purity_30_percent_gives_tumour_cell_copy_number(targets, gc):
    truth = {"MET": 10.0, "EGFR": 6.0, "KIT": 0.0}
    cn, _ = run_model(targets, gc, truth, depth=1500.0, purity=0.3)
    assert (cn["purity"] == 0.3).all()
    assert cn.loc["MET", "copy_number"] == pytest.approx(10.0, rel=0.15)
    assert cn.loc["EGFR", "copy_number"] == pytest.approx(6.0, rel=0.15)
    assert cn.loc["KIT", "copy_number"] < 0.5  # homozygous loss in the tumour cells
    assert cn.loc["MET", "call"] == "amplification"
    assert cn.loc["KIT", "call"] == "deletion"
    assert cn.loc["RET", "copy_number"] == pytest.approx(2.0, rel=0.15)
    # read as a pure sample, the same data would hide the amplification: bulk MET is 4.4
    bulk, _ = run_model(targets, gc, {"MET": 4.4, "EGFR": 3.2, "KIT": 1.4}, depth=1500.0)
    assert bulk.loc["MET", "copy_number"] == pytest.approx(4.4, rel=0.15)
    assert bulk.loc["MET", "call"] != "amplification"


def test_impure_parental_pool_mode_and_parental_mode(targets, gc):
    """Biopsies on both sides (parental 60%, resistant 30% tumour). Against a pool of
    normals each sample is rescaled with its own purity: the parental's tumour ALK gain and
    the resistant's MET amplification read as tumour copies. Against the parental (the
    relative model: its tumour cells carry 2 copies of the baseline genes) the parental's
    purity cancels: the resistant's numbers are the same whatever the parental's purity."""
    rng = np.random.default_rng(21)
    eff = np.exp(rng.normal(0.0, 0.5, len(targets)))

    def bulk(tumour: dict[str, float], purity: float) -> dict[str, float]:
        return {g: purity * c + (1.0 - purity) * 2.0 for g, c in tumour.items()}

    pool = np.column_stack(
        [
            simulate_counts(targets, gc, {}, (rng.normal(0, 1), -8.0), rng, eff, 1500.0)
            for _ in range(4)
        ]
    )
    parental = simulate_counts(targets, gc, bulk({"ALK": 4.0}, 0.6), (0.5, -5.0), rng, eff, 1500.0)
    resistant = simulate_counts(
        targets, gc, bulk({"ALK": 4.0, "MET": 10.0}, 0.3), (-1.0, -12.0), rng, eff, 1500.0
    )
    samples = [
        cnv.SampleInput("P", "parental", parental),
        cnv.SampleInput("R", "resistant", resistant),
    ]
    ref = cnv.pool_reference(pool, gc, cnv.Params(), ["N1", "N2", "N3", "N4"])
    cn, _ = cnv.analyse(targets, samples, ref, gc, cnv.Params(), purity={"P": 0.6, "R": 0.3})
    p = cn[cn["sample"] == "P"].set_index("gene")
    r = cn[cn["sample"] == "R"].set_index("gene")
    assert p.loc["ALK", "copy_number"] == pytest.approx(4.0, rel=0.15)
    assert p.loc["ALK", "call"] == "gain" and p.loc["RET", "call"] == "neutral"
    assert r.loc["MET", "copy_number"] == pytest.approx(10.0, rel=0.15)
    assert r.loc["MET", "call"] == "amplification"
    assert r.loc["ALK", "copy_number"] == pytest.approx(4.0, rel=0.15)
    assert (p["purity"] == 0.6).all() and (r["purity"] == 0.3).all()
    # parental mode: a parental without changes, read at purity 0.6 or 1.0, same answer
    clean = simulate_counts(targets, gc, {}, (0.5, -5.0), rng, eff, 1500.0)
    ref = cnv.parental_reference("P", clean)
    runs = [
        cnv.analyse(targets, samples[1:], ref, gc, cnv.Params(), purity={"P": q, "R": 0.3})[0]
        for q in (0.6, 1.0)
    ]
    pd.testing.assert_frame_equal(runs[0], runs[1])
    met = runs[0].set_index("gene").loc["MET"]
    assert met["copy_number"] == pytest.approx(10.0, rel=0.15)


def test_loess_bootstrap_spread_matches_sampling_spread(targets, gc):
    # the refitted-curve bootstrap (one matrix product per power for all replicates) must
    # reproduce how much the curve really varies between independent libraries: inside the
    # baseline targets' GC range and where it is continued beyond it (CD74/RET at GC 0.62+)
    x = gc[gc < 0.56]
    w = np.ones_like(x)
    at = np.array([0.45, 0.55, 0.62, 0.70])
    rng = np.random.default_rng(0)
    fits, spread = [], []
    for i in range(200):
        y = 1.5 * (x - 0.5) - 10.0 * (x - 0.5) ** 2 + rng.normal(0.0, 0.1, len(x))
        fits.append(cnv.loess(x, y, w, at, 0.75, extrapolate=True))
        if i < 5:
            draws = np.random.default_rng(i).multinomial(len(x), w / len(x), size=500)
            spread.append(cnv.loess(x, y, w, at, 0.75, extrapolate=True, resample=draws).std(0))
    np.testing.assert_allclose(np.mean(spread, 0), np.std(fits, 0), rtol=0.25)
    assert np.std(fits, 0)[3] > 5 * np.std(fits, 0)[0]  # the extreme is the uncertain part
    # a replicate that draws every point once is the fit itself
    one = cnv.loess(x, y, w, at, 0.75, extrapolate=True, resample=np.ones((1, len(x))))
    np.testing.assert_allclose(one[0], cnv.loess(x, y, w, at, 0.75, extrapolate=True))


def test_gc_curve_uncertainty_widens_ci_only_where_baseline_is_sparse(targets, gc):
    # capture_purity30's false CD74 gain: the baseline held no GC-rich targets (ERBB2 and
    # the GC-rich genes changed), so the curve at CD74/RET's GC (0.60+) was a continuation;
    # the interval must carry that, while genes in the baseline's GC range stay as tight
    genes = sorted(set(targets["gene"]))
    codes = np.array([genes.index(g) for g in targets["gene"]])
    in_base = gc < 0.56
    params = cnv.Params()
    for seed in range(3):
        rng = np.random.default_rng(seed)
        eff = np.exp(rng.normal(0.0, 0.25, len(targets)))
        parental = simulate_counts(targets, gc, {}, (-1.5, -5.0), rng, eff)
        resistant = simulate_counts(targets, gc, {}, (1.5, -18.0), rng, eff)
        raw = cnv.log2_normalised(resistant) - cnv.log2_normalised(parental)
        w = 1.0 / (cnv.poisson_log2_var(resistant) + cnv.poisson_log2_var(parental))
        ratio = raw - cnv.baseline_gc_curve(raw, w, gc, in_base, params.gc_span)
        boot = cnv.correction_replicates(raw, w, gc, in_base, params, rng)
        # the replicate corrections scatter ~10x more at the GC extreme than mid-range
        sd = boot.std(0)
        assert np.median(sd[gc > 0.62]) > 5 * np.median(sd[(gc > 0.42) & (gc < 0.5)])
        # against the baseline centre's uncertainty alone (the interval before)
        centre_only = cnv.correction_replicates(ratio, w, None, in_base, params, rng)
        width = []
        for corr in (boot, centre_only):
            fit = cnv.gene_estimates(
                ratio, w, codes, len(genes), params, np.random.default_rng(1), 0.1, corr
            )
            width.append(pd.Series(fit.ci_high - fit.ci_low, index=genes))
        widening = width[0] / width[1]
        assert widening["CD74"] > 1.25 and widening["RET"] > 1.25, widening.round(2).to_dict()
        assert widening["MET"] < 1.15 and widening["KIT"] < 1.15, widening.round(2).to_dict()


def test_few_target_gene_carries_curve_uncertainty_even_when_its_targets_agree():
    # three identical targets: resampling them says nothing, so the GC curve's uncertainty
    # at their GC must reach the interval through the t-floor, not only through the draws
    ratio = np.array([0.1, 0.1, 0.1, 0.0, 0.0, 0.0])
    codes = np.array([0, 0, 0, 1, 1, 1])
    w = np.ones(6)
    rng = np.random.default_rng(4)
    spread = np.array([0.3, 0.3, 0.3, 0.01, 0.01, 0.01])  # gene 0 at a sparse GC extreme
    boot = rng.normal(0.0, 1.0, (1000, 1)) * spread[None, :]
    params = cnv.Params()
    with_curve = cnv.gene_estimates(ratio, w, codes, 2, params, rng, 0.05, boot)
    without = cnv.gene_estimates(ratio, w, codes, 2, params, rng, 0.05, np.zeros((1000, 6)))
    width = with_curve.ci_high - with_curve.ci_low
    before = without.ci_high - without.ci_low
    t = 4.303  # t_2, 97.5%
    assert width[0] == pytest.approx(2 * t * np.sqrt(0.05**2 / 3 + 0.3**2), rel=0.1)
    assert width[0] > 5 * before[0]
    assert width[1] == pytest.approx(before[1], rel=0.1)  # mid-GC gene: nearly unchanged


def test_gc_interval_keeps_clean_calls_at_30_percent_purity(targets, gc):
    # steep GC difference, 30% tumour: one-copy changes move the bulk ratio by 0.2 log2 only;
    # the wider interval must not cost these calls, nor call the unchanged genes
    truth = {"EGFR": 4.0, "MET": 12.0, "KIT": 1.0}
    cn, _ = run_model(
        targets, gc, truth, biases=((-1.5, -5.0), (1.5, -18.0)), depth=1500.0, purity=0.3
    )
    assert cn.loc["MET", "call"] == "amplification"
    assert cn.loc["EGFR", "call"] == "gain"
    assert cn.loc["KIT", "call"] == "loss"
    for gene in ("ALK", "CD74", "ERBB2", "EWSR1", "KRAS", "RET"):
        assert cn.loc[gene, "call"] == "neutral", gene
        assert cn.loc[gene, "ci_low"] < 2.0 < cn.loc[gene, "ci_high"], gene


def test_small_gene_outlier_target_judged_against_pooled_sd():
    # a 3-target gene with one wild target (KRAS in a benchmark run): with three targets the
    # gene's own MAD is as wide as the outlier, so it is kept; against the pooled SD it is not
    x = np.array([0.14, 0.01, 0.57])
    w = np.ones(3)
    assert cnv.biweight_location(x, w) > 0.2
    assert abs(cnv.biweight_location(x, w, c=4.685, sd=0.1)) < 0.1
    fit = cnv.gene_estimates(
        x, w, np.zeros(3, dtype=int), 1, cnv.Params(bootstrap=50), np.random.default_rng(0), 0.1
    )
    assert abs(fit.estimate[0]) < 0.1


def test_amplified_gene_with_a_third_of_targets_does_not_drag_baseline(targets, gc):
    egfr = targets[targets["gene"] == "EGFR"]
    others = targets[targets["gene"] != "EGFR"]
    # keep ~35% of targets in EGFR by thinning the other genes
    rank = others.groupby("gene").cumcount()
    size = others.groupby("gene")["gene"].transform("size")
    keep = others[rank < np.maximum(3, size // 2)]
    panel = pd.concat([egfr, keep]).sort_values(["chrom", "start"]).reset_index(drop=True)
    share = (panel["gene"] == "EGFR").mean()
    assert share > 0.3
    gc_panel = coverage.target_gc(REFERENCE, panel)
    # EGFR at 20 copies takes ~85% of the library: depth as in a real panel run
    cn, _ = run_model(panel, gc_panel, {"EGFR": 20.0}, depth=2000.0)
    assert cn.loc["EGFR", "copy_number"] == pytest.approx(20.0, rel=0.15)
    neutral = cn.drop(index=["EGFR", "EML4"], errors="ignore")
    neutral = neutral[neutral["n_targets"] >= 3]
    assert (neutral["log2_ratio"].abs() < 0.15).all(), neutral["log2_ratio"]


def test_no_false_amplification_in_unchanged_samples(targets, gc):
    calls = []
    for seed in range(20):
        cn, _ = run_model(targets, gc, {}, seed=100 + seed)
        calls += cn["call"].tolist()
        assert (cn.loc[["EGFR", "MET", "ALK", "KIT", "ERBB2"], "copy_number"] - 2).abs().max() < 0.3
    assert "amplification" not in calls
    assert "gain" not in calls and "loss" not in calls


def test_few_targets_is_not_assessable_with_reason_not_neutral(targets, gc):
    cn, _ = run_model(targets, gc, {}, params=cnv.Params(min_targets=4))
    assert cn.loc["KRAS", "call"] == "not assessable"
    assert cn.loc["KRAS", "reason"] == "3 usable targets (< 4)"
    assert (cn.loc[cn["call"] != "not assessable", "reason"] == "").all()


def test_not_assessable_gene_shows_no_ratio_at_all(targets, gc):
    """EML4 (2 intronic targets, < min_targets) is not assessable: no copy number, and no
    FISH-like ratio against ALK either (it rests on the same withheld estimate)."""
    cn, _ = run_model(targets, gc, {})
    assert cn.loc["EML4", "call"] == "not assessable"
    assert cn.loc["EML4", "chrom_ratio_genes"] == "ALK"  # a reference gene exists
    row = cn.loc["EML4", ["log2_ratio", "copy_number", "ci_low", "ci_high", "chrom_ratio"]]
    assert row.isna().all()
    assessed = cn[cn["call"] != "not assessable"]
    assert assessed["copy_number"].notna().all()
    # a failed sample (apply_qc) loses its ratios as well
    gated = cnv.apply_qc(cn.reset_index(), {"R": "sample failed QC: x"}, None)
    cols = ["log2_ratio", "copy_number", "ci_low", "ci_high", "chrom_ratio", "log2_vs_parental"]
    assert gated[cols].isna().all().all()


def test_call_thresholds():
    p = cnv.Params()
    assert cnv.call_gene(7.0, 6.2, 7.9, 10, np.nan, p)[0] == "amplification"
    # FISH-like ratio >= 2 with CN >= 2x ploidy: amplification below the CN 6 cut-off
    assert cnv.call_gene(4.5, 4.1, 5.0, 10, 2.2, p)[0] == "amplification"
    assert cnv.call_gene(4.5, 4.1, 5.0, 10, np.nan, p)[0] == "gain"
    assert cnv.call_gene(3.0, 2.7, 3.3, 10, np.nan, p)[0] == "gain"
    assert cnv.call_gene(1.0, 0.9, 1.1, 10, np.nan, p)[0] == "loss"
    assert cnv.call_gene(0.2, 0.1, 0.4, 10, np.nan, p)[0] == "deletion"
    call, notes = cnv.call_gene(3.0, 1.8, 4.0, 10, np.nan, p)
    assert call == "neutral" and "CI includes ploidy" in notes[0]
    assert cnv.call_gene(9.0, 8.0, 10.0, 2, np.nan, p)[0] == "not assessable"


def test_chrom_ratio_uses_same_chromosome_baseline_genes():
    est = np.array([2.0, 0.0, 0.1])
    ratio, used = cnv.chrom_ratios(
        est, np.array([False, True, True]), ["chr7", "chr7", "chr2"], ["MET", "EGFR", "ALK"]
    )
    assert ratio[0] == pytest.approx(4.0)
    assert used[0] == "EGFR"
    assert np.isnan(ratio[2])


def test_pool_and_flat_references_report_parental_rows(targets, gc):
    rng = np.random.default_rng(9)
    eff = np.exp(rng.normal(0.0, 0.5, len(targets)))
    pool = np.column_stack(
        [simulate_counts(targets, gc, {}, (rng.normal(0, 1), -8.0), rng, eff) for _ in range(4)]
    )
    parental = simulate_counts(targets, gc, {"ALK": 4.0}, (0.5, -5.0), rng, eff)
    resistant = simulate_counts(targets, gc, {"ALK": 4.0, "MET": 10.0}, (-1.0, -12.0), rng, eff)
    samples = [
        cnv.SampleInput("P", "parental", parental),
        cnv.SampleInput("R", "resistant", resistant),
    ]
    ref = cnv.pool_reference(pool, gc, cnv.Params(), ["N1", "N2", "N3", "N4"])
    cn, _ = cnv.analyse(targets, samples, ref, gc, cnv.Params())
    p = cn[cn["sample"] == "P"].set_index("gene")
    r = cn[cn["sample"] == "R"].set_index("gene")
    assert p.loc["ALK", "copy_number"] == pytest.approx(4.0, rel=0.15)
    assert r.loc["MET", "copy_number"] == pytest.approx(10.0, rel=0.15)
    assert r.loc["ALK", "log2_vs_parental"] == pytest.approx(0.0, abs=0.15)
    assert (cn["reference"] == "pool(N1,N2,N3,N4)").all()
    flat = cnv.flat_reference(targets, "capture")
    cn_flat, _ = cnv.analyse(targets, samples, flat, gc, cnv.Params())
    assert cn_flat["warning"].str.contains("flat reference").all()
    # efficiency not cancelled: the intervals are wider than against the pool
    width = (cn_flat["ci_high"] - cn_flat["ci_low"]).median()
    assert width > (cn["ci_high"] - cn["ci_low"]).median()


# ------------------------------------------------------------------------------ CLI


def _fragments_for(targets, counts, rng):
    with pysam.FastaFile(str(REFERENCE)) as fa:
        lengths = dict(zip(fa.references, fa.lengths, strict=True))
    frags = []
    for t, n in zip(targets.itertuples(index=False), counts, strict=True):
        length = rng.integers(150, 260, n)
        # midpoints inside the target so capture and amplicon counting agree
        mid = rng.integers(t.start, t.end, n)
        starts = np.clip(mid - length // 2, 0, lengths[t.chrom] - length)
        frags += [(t.chrom, int(s), int(ln), "ok") for s, ln in zip(starts, length, strict=True)]
    return frags


def _bam_pair(tmp, targets, seed, biases, depth):
    """Parental and resistant (MET at 8 copies) BAMs over six genes' targets, whose yield
    follows the targets' own GC with the (slope, curvature) ``biases`` of the two samples."""
    sub = targets[targets["gene"].isin(["EGFR", "MET", "RET", "CD74", "EWSR1", "KIT"])]
    sub = sub.reset_index(drop=True)
    gc_sub = coverage.target_gc(REFERENCE, sub)
    rng = np.random.default_rng(seed)
    eff = np.exp(rng.normal(0, 0.4, len(sub)))
    bed = tmp / "targets.bed"
    sub.to_csv(bed, sep="\t", header=False, index=False)
    p = simulate_counts(sub, gc_sub, {}, biases[0], rng, eff, depth=depth)
    r = simulate_counts(sub, gc_sub, {"MET": 8.0}, biases[1], rng, eff, depth=depth)
    pb = write_bam(tmp / "p.bam", _fragments_for(sub, p, rng), sample="PAR")
    rb = write_bam(tmp / "r.bam", _fragments_for(sub, r, rng), sample="RES")
    return bed, pb, rb


@pytest.fixture(scope="module")
def cli_bams(tmp_path_factory, targets):
    return _bam_pair(tmp_path_factory.mktemp("cnvbam"), targets, 11, [(0.0, 0.0), (1.0, -5.0)], 60)


def test_cli_end_to_end(cli_bams, tmp_path):
    bed, pb, rb = cli_bams
    out, per_target = tmp_path / "cn.tsv", tmp_path / "t.tsv"
    rc = _cnv_pair(
        cli_bams,
        "--reference",
        REFERENCE,
        "--assay",
        "capture",
        "--out",
        out,
        "--targets-out",
        per_target,
        "--amp-cn",
        "6",
        "--bootstrap",
        "200",
    )
    assert rc == 0
    cn = pd.read_csv(out, sep="\t")
    assert cn.columns.tolist() == list(contracts.CNV_COLUMNS)
    assert set(cn["sample"]) == {"RES"}
    assert sorted(cn["gene"]) == ["CD74", "EGFR", "EWSR1", "KIT", "MET", "RET"]
    met = cn.set_index("gene").loc["MET"]
    assert met["call"] == "amplification"
    assert met["copy_number"] == pytest.approx(8.0, rel=0.2)
    assert set(cn["call"]) <= set(contracts.CN_CALL)
    t = pd.read_csv(per_target, sep="\t")
    assert t.columns.tolist() == list(contracts.CNV_TARGET_COLUMNS)
    assert t["genomic"].iloc[0].startswith("chr")
    # capture GC: the target and half a fragment either side (what the counted fragments carry)
    sub = pd.read_csv(bed, sep="\t", header=None, names=["chrom", "start", "end", "gene"])
    padded = coverage.target_gc(REFERENCE, sub, pad=100)
    assert t["gc"].to_numpy() == pytest.approx(padded, abs=1e-4)
    # deterministic: a second run, its BAMs counted in 2 threads, gives identical bytes
    out2 = tmp_path / "cn2.tsv"
    args2 = ("--reference", REFERENCE, "--out", out2, "--bootstrap", "200", "--threads", "2")
    assert _cnv_pair(cli_bams, *args2) == 0
    assert out.read_bytes() == out2.read_bytes()


@pytest.mark.parametrize("truth", ["insert", "product"])
def test_gc_misfit_prefers_the_measure_the_yield_follows(targets, truth):
    """amplicon_gc auto: counts whose GC bias follows one sequence (the insert, or the insert
    with its primers) leave less target scatter after correction with that sequence's GC."""
    measures = {"insert": coverage.target_gc(REFERENCE, targets), "product": None}
    measures["product"] = coverage.target_gc(REFERENCE, targets, pad=20)
    rng = np.random.default_rng(5)
    eff = np.exp(rng.normal(0.0, 0.6, len(targets)))
    p = simulate_counts(targets, measures[truth], {}, (-1.0, -5.0), rng, eff, depth=800)
    r = simulate_counts(targets, measures[truth], {"MET": 8.0}, (1.5, -15.0), rng, eff, depth=800)
    ref = cnv.parental_reference("P", p)
    tested = [cnv.SampleInput("R", "resistant", r)]
    misfit = {k: cnv.gc_misfit(targets, tested, ref, v, cnv.Params()) for k, v in measures.items()}
    other = "product" if truth == "insert" else "insert"
    assert misfit[truth] < misfit[other]


@pytest.fixture(scope="module")
def insert_gc_bams(tmp_path_factory, targets):
    """An amplicon-like pair at ~500 fragments per target whose yield follows the insert's
    GC, with GC curves far apart (slopes 2.5 apart): deep enough to tell the GC measures."""
    tmp = tmp_path_factory.mktemp("insertgc")
    return _bam_pair(tmp, targets, 12, [(-1.0, -5.0), (1.5, -15.0)], 500)


def test_cli_amplicon_gc_chooses_insert_or_product(insert_gc_bams, tmp_path, caplog):
    """Amplicon GC is the PCR product's (the insert and ~20 bp of primer either side) or the
    insert's alone; by default (auto) whichever leaves less scatter. These BAMs' yield follows
    the insert's GC, so auto picks the insert; each can be forced; capture keeps its window."""
    bed = insert_gc_bams[0]
    per_target = tmp_path / "t.tsv"
    args = ("--assay", "amplicon", "--out", tmp_path / "cn.tsv", "--targets-out", per_target)
    sub = pd.read_csv(bed, sep="\t", header=None, names=["chrom", "start", "end", "gene"])
    product = coverage.target_gc(REFERENCE, sub, pad=20)
    insert = coverage.target_gc(REFERENCE, sub)
    assert np.abs(product - insert).max() > 0.01  # the two differ on these targets
    for choice, expected in (("auto", insert), ("product", product), ("insert", insert)):
        with caplog.at_level(logging.INFO, logger="resistcall.cnv"):
            rc = _cnv_pair(insert_gc_bams, "--reference", REFERENCE, *args, "--amplicon-gc", choice)
        assert rc == 0
        t = pd.read_csv(per_target, sep="\t")
        assert t["gc"].to_numpy() == pytest.approx(expected, abs=1e-4), choice
        cn = pd.read_csv(tmp_path / "cn.tsv", sep="\t").set_index("gene")
        assert cn.loc["MET", "copy_number"] == pytest.approx(8.0, rel=0.2)
    assert "amplicon GC over the insert (target scatter left after GC correction" in caplog.text
    args = ("--assay", "capture", "--out", tmp_path / "c.tsv", "--targets-out", per_target)
    rc = _cnv_pair(insert_gc_bams, "--reference", REFERENCE, *args, "--amplicon-gc", "insert")
    assert rc == 0
    padded = coverage.target_gc(REFERENCE, sub, pad=100)
    assert pd.read_csv(per_target, sep="\t")["gc"].to_numpy() == pytest.approx(padded, abs=1e-4)


def _marked_library(targets, molecules, narrow, rng):
    """Fragments as ``samtools markdup`` leaves them: 15% PCR copies, and every fragment whose
    (start, length) was already seen marked ``dup``. Targets of a ``narrow`` gene allow only
    100 fragment keys (a small block read deep), the others thousands."""
    seen, frags = set(), []
    for t, n in zip(targets.itertuples(index=False), molecules, strict=True):
        few = t.gene == narrow
        for _ in range(n):
            length = 200 + int(rng.integers(0, 5 if few else 60))
            start = t.start - int(rng.integers(0, 20 if few else 120))
            for _copy in range(1 + int(rng.random() < 0.15 / 0.85)):
                kind = "dup" if (start, length) in seen else "ok"
                seen.add((start, length))
                frags.append((t.chrom, start, length, kind))
    return frags


def test_duplicate_saturated_targets_counted_from_all_fragments(cli_bams, tmp_path):
    """MET amplified 8x on targets that allow few fragment ends: deduplication compresses
    it; the saturation step flags its targets (and only those) and restores the level."""
    with pysam.FastaFile(str(REFERENCE)) as fa:
        contig_end = dict(zip(fa.references, fa.lengths, strict=True))
    sub = cnv.load_targets(cli_bams[0])
    # away from contig ends, where clipped fragment starts would collide in every gene
    sub = sub[(sub["start"] >= 200) & (sub["end"] + 300 <= sub["chrom"].map(contig_end))]
    bed = tmp_path / "targets.bed"
    sub.to_csv(bed, sep="\t", header=False, index=False)
    gc_sub = coverage.target_gc(REFERENCE, sub)
    rng = np.random.default_rng(5)
    eff = np.exp(rng.normal(0, 0.3, len(sub)))
    p = simulate_counts(sub, gc_sub, {}, (0.0, 0.0), rng, eff, depth=120)
    r = simulate_counts(sub, gc_sub, {"MET": 8.0}, (0.0, 0.0), rng, eff, depth=120)
    pb = write_bam(tmp_path / "p.bam", _marked_library(sub, p, "MET", rng), sample="PAR")
    rb = write_bam(tmp_path / "r.bam", _marked_library(sub, r, "MET", rng), sample="RES")
    met = {}
    for z in ("3", "0"):
        out, per_target = tmp_path / f"cn{z}.tsv", tmp_path / f"t{z}.tsv"
        args = ("--reference", REFERENCE, "--bootstrap", "200", "--saturation-z", z)
        assert (
            _cnv(
                "--targets",
                bed,
                "--parental",
                pb,
                "--resistant",
                rb,
                "--out",
                out,
                "--targets-out",
                per_target,
                *args,
            )
            == 0
        )
        met[z] = pd.read_csv(out, sep="\t").set_index("gene").loc["MET", "copy_number"]
        t = pd.read_csv(per_target, sep="\t", keep_default_na=False)
        flagged = t["flags"].str.contains("duplicate_saturated")
        if z == "3":
            assert (flagged == (t["gene"] == "MET")).all()
        else:
            assert not flagged.any()
    assert met["0"] < 6.0  # compressed by deduplication
    assert met["3"] == pytest.approx(8.0, rel=0.15)


def test_cli_pool_reference_tests_parental_and_resistant(cli_bams, tmp_path, gc):
    """--pool: three unrelated normals form the reference; the parental is tested as well
    (its rows are reported), the resistant's MET gain is found against the pool."""
    bed, pb, rb = cli_bams
    sub = cnv.load_targets(bed)
    gc_sub = coverage.target_gc(REFERENCE, sub)
    rng = np.random.default_rng(11)
    eff = np.exp(rng.normal(0, 0.4, len(sub)))  # the cli_bams panel's efficiencies
    pool = []
    for i, bias in enumerate([(0.5, 0.0), (-0.5, -3.0), (0.0, 2.0)]):
        counts = simulate_counts(sub, gc_sub, {}, bias, rng, eff, depth=60)
        pool.append(write_bam(tmp_path / f"n{i}.bam", _fragments_for(sub, counts, rng), f"N{i}"))
    out, per_target = tmp_path / "cn.tsv", tmp_path / "t.tsv"
    args = ("--reference", REFERENCE, "--bootstrap", "200", "--out", out, "--pool", *pool)
    assert _cnv_pair(cli_bams, *args, "--targets-out", per_target) == 0
    # the reference counts are the pool members' (median), not the tested samples'
    members = np.column_stack([coverage.count_targets(b, sub, "capture").fragments for b in pool])
    t = pd.read_csv(per_target, sep="\t")
    assert (t.loc[t["sample"] == "RES", "ref_count"].to_numpy() == np.median(members, 1)).all()
    cn = pd.read_csv(out, sep="\t").set_index(["sample", "gene"])
    assert set(cn.index.get_level_values("sample")) == {"PAR", "RES"}
    assert (cn["reference"] == "pool(N0,N1,N2)").all()
    assert cn.loc[("RES", "MET"), "call"] == "amplification"
    assert cn.loc[("PAR", "MET"), "call"] == "neutral"
    assert cn.loc[("RES", "MET"), "copy_number"] == pytest.approx(8.0, rel=0.25)


def test_cli_rejects_bad_input(cli_bams, tmp_path, capsys):
    bed, pb, rb = cli_bams
    bad = tmp_path / "bad.bed"
    bad.write_text(f"{EGFR}\t100\t200\n")
    rc = _cnv("--targets", bad, "--parental", pb, "--resistant", rb, "--out", tmp_path / "x.tsv")
    assert rc == 2
    assert "expected at least 4 columns" in capsys.readouterr().err
    unindexed = tmp_path / "u.bam"
    unindexed.write_bytes(rb.read_bytes())
    rc = _cnv(
        "--targets", bed, "--parental", pb, "--resistant", unindexed, "--out", tmp_path / "x.tsv"
    )
    assert rc == 2
    assert "no index" in capsys.readouterr().err
    rc = _cnv("--targets", bed, "--parental", pb, "--resistant", pb, "--out", tmp_path / "x.tsv")
    assert rc == 2
    assert "share an @RG SM" in capsys.readouterr().err
    rc = _cnv_pair(cli_bams, "--gain-cn", "1.8", "--out", tmp_path / "x.tsv")
    assert rc == 2
    assert "thresholds must satisfy" in capsys.readouterr().err
    assert not (tmp_path / "x.tsv").exists()


def test_homozygous_deletion_and_empty_reference(targets, gc):
    cn, _ = run_model(targets, gc, {"KIT": 0.0, "MET": 8.0})
    assert cn.loc["KIT", "call"] == "deletion"
    assert cn.loc["KIT", "copy_number"] < 0.1
    assert cn.loc["MET", "call"] == "amplification"
    empty = cnv.parental_reference("P", np.zeros(len(targets), dtype=int))
    rows, _ = cnv.analyse(
        targets,
        [cnv.SampleInput("R", "resistant", np.full(len(targets), 50))],
        empty,
        gc,
        cnv.Params(bootstrap=10),
    )
    assert (rows["call"] == "not assessable").all()


def test_gene_that_is_its_own_baseline_is_not_assessable(targets, gc):
    """Real capture extracts often have reads over ALK only: ALK would then be its own
    baseline and read 'neutral 2.0' by construction. That is no measurement."""
    rng = np.random.default_rng(5)
    alk = (targets["gene"] == "ALK").to_numpy()
    parental = np.where(alk, rng.poisson(400, len(targets)), 0)
    resistant = np.where(alk, rng.poisson(380, len(targets)), 0)
    rows, per_target = cnv.analyse(
        targets,
        [cnv.SampleInput("R", "resistant", resistant)],
        cnv.parental_reference("P", parental),
        gc,
        cnv.Params(bootstrap=50),
    )
    rows = rows.set_index("gene")
    assert (rows["call"] == "not assessable").all()
    assert "no baseline gene other than ALK" in rows.loc["ALK", "reason"]
    assert np.isnan(rows.loc["ALK", "copy_number"]) and np.isnan(rows.loc["ALK", "log2_ratio"])
    # the other genes: no usable targets at all
    assert rows.loc["MET", "reason"].startswith("0 usable targets")
    # targets without reference reads are flagged, so no figure draws them as values
    flagged = per_target[~per_target["gene"].eq("ALK")]["flags"]
    assert (flagged == "low_reference_count").all()
    # with the other genes covered, ALK is measured again
    both = np.where(alk, parental, rng.poisson(400, len(targets)))
    rows2, _ = cnv.analyse(
        targets,
        [cnv.SampleInput("R", "resistant", both)],
        cnv.parental_reference("P", both),
        gc,
        cnv.Params(bootstrap=50),
    )
    assert rows2.set_index("gene").loc["ALK", "call"] == "neutral"


def _qc_json(path, sample, status, stages=()):
    reason = "sample failed QC: 0 mapped reads on target (fail below 2000)"
    path.write_text(
        json.dumps(
            {
                "sample": sample,
                "status": status,
                "reasons": [reason] if status == "fail" else [],
                "not_assessable": {s: reason for s in stages},
            }
        )
    )
    return str(path)


@pytest.mark.parametrize("failed", ["RES", "PAR"])
def test_failed_qc_gives_not_assessable_never_a_copy_number(cli_bams, tmp_path, failed):
    """A resistant sample that failed QC (e.g. 0 mapped reads) must not read 'neutral'; when
    the parental failed, every relative copy number rests on it and is not assessable too."""
    bed, pb, rb = cli_bams
    out = tmp_path / "cn.tsv"
    qc = [
        _qc_json(tmp_path / f"{s}.qc.json", s, *(("fail", STAGES) if s == failed else ("pass",)))
        for s in ("PAR", "RES")
    ]
    args = ["cnv", "--targets", str(bed), "--parental", str(pb), "--resistant", str(rb)]
    per_target = tmp_path / "cn_targets.tsv"
    gated = ["--qc", *qc, "--out", str(out), "--targets-out", str(per_target)]
    assert main([*args, "--bootstrap", "50", *gated]) == 0
    cn = pd.read_csv(out, sep="\t")
    assert (cn["call"] == "not assessable").all()
    assert cn["copy_number"].isna().all() and cn["ci_low"].isna().all()
    # nothing measured-looking is left for MultiQC or the report: no GC trend, no per-target
    # ratio or weight (they came from the pseudo-count when the sample had no reads)
    assert cn["gc_residual_slope"].isna().all() and cn["warning"].isna().all()
    targets = pd.read_csv(per_target, sep="\t")
    assert targets["log2_ratio"].isna().all() and (targets["weight"] == 0).all()
    assert targets["flags"].str.contains("not_assessable").all()
    reason = cn["reason"].iloc[0]
    assert "0 mapped reads on target" in reason
    assert reason.startswith("parental PAR: ") == (failed == "PAR")
    # a passing parental and resistant pair still gets its calls (MET amplified)
    qc_ok = [_qc_json(tmp_path / f"{s}.ok.json", s, "pass") for s in ("PAR", "RES")]
    assert main([*args, "--bootstrap", "50", "--qc", *qc_ok, "--out", str(out)]) == 0
    assert pd.read_csv(out, sep="\t").set_index("gene").loc["MET", "call"] == "amplification"


def test_a_sample_with_almost_no_reads_is_not_assessable_without_qc(cli_bams, tmp_path, targets):
    """Even run alone (no qc.json), a resistant library of a few hundred reads gets no copy
    number and no loss call: its median target holds fewer than min_count fragments."""
    bed, pb, _ = cli_bams
    sub = pd.read_csv(bed, sep="\t", header=None, names=["chrom", "start", "end", "gene"])
    rng = np.random.default_rng(3)
    few = write_bam(tmp_path / "few.bam", _fragments_for(sub, np.full(len(sub), 2), rng), "FEW")
    out = tmp_path / "cn.tsv"
    args = ["cnv", "--targets", str(bed), "--parental", str(pb), "--resistant", str(few)]
    assert main([*args, "--bootstrap", "50", "--out", str(out)]) == 0
    cn = pd.read_csv(out, sep="\t")
    assert (cn["call"] == "not assessable").all() and cn["copy_number"].isna().all()
    assert cn["reason"].iloc[0] == "median 2 fragments per target (< 20)"


def test_cram_fragment_counts_equal_its_bam(tmp_path):
    """A CRAM (decoded with the FASTA, one query per window) gives its BAM's fragment count
    per target in both assays; the kernel refuses several CRAM windows in one pass (htslib
    1.16's multi-region iterator skips CRAM reads)."""
    bam = make_bam(tmp_path / "f.bam", "F", 400, [], seed=5, insert=140)
    cram = tmp_path / "f.cram"
    pysam.view("-C", "-T", str(REF), "-o", str(cram), str(bam), catch_stdout=False)
    pysam.index(str(cram))
    targets = pd.DataFrame(
        {"chrom": ALK, "start": [24300, 24480, 24700], "end": [24420, 24600, 24820], "gene": "ALK"}
    )
    for assay in ("capture", "amplicon"):
        from_bam = coverage.count_targets(bam, targets, assay)
        assert from_bam.fragments.min() > 20
        from_cram = coverage.count_targets(cram, targets, assay, reference=REF)
        assert from_cram.fragments.tolist() == from_bam.fragments.tolist()
        assert from_cram.with_duplicates.tolist() == from_bam.with_duplicates.tolist()
    with _kernel.Reader(cram, REF) as reads, pytest.raises(ValueError, match="one window"):
        starts, ends = np.array([24300, 24700]), np.array([24420, 24820])
        _kernel.fragment_spans(reads, ALK, starts, ends, 0, 0, 1000)
