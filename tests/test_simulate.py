"""Simulator: determinism, truth recovered from the reads, amplicon primers, no N, CLI files."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
import yaml

from resistcall import simulate as S
from resistcall.cli import main
from resistcall.errors import UserError
from resistcall.panel import read_amplicons
from resistcall.reference import read_bed
from resistcall.simulate.genome import COMPLEMENT

REPO = Path(__file__).resolve().parents[1]
REF = REPO / "resources" / "reference"
FASTA = REF / "panel_GRCh38.fa"
KNOWN = REF / "panel_GRCh38.known_sequence.bed"
PANEL = REPO / "resources" / "panel"
ALK = "chr2_29196228_29226309"
MET = "chr7_116698938_116795854"
CD74 = "chr5_150401537_150413069"

L1196M = S.Variant(ALK, 24538, "G", "T", 0.25, "ALK")
T1151DUP = S.Variant(ALK, 26178, "G", "GCGT", 0.10, "ALK")
G1202DEL = S.Variant(ALK, 24516, "TCTC", "T", 0.15, "ALK")
MNV = S.Variant(ALK, 24519, "CC", "TT", 0.20, "ALK")  # c.3604_3605delinsAA (G1202K)
#: EML4-ALK v1 junction in EML4 sense (PROVENANCE_EML4.md s6): EML4 ...gtgg | T | CTGATT... ALK
JUNCTION = "GCTGGAGTGCAGTGGTCTGATTTTTAGCTTTG"


@pytest.fixture(scope="module")
def ref() -> S.Reference:
    return S.load_reference(FASTA, KNOWN)


@pytest.fixture(scope="module")
def targets() -> pd.DataFrame:
    return read_bed(PANEL / "demo_capture_targets.bed", names=("chrom", "start", "end", "gene"))


@pytest.fixture(scope="module")
def amplicons() -> pd.DataFrame:
    return read_amplicons(PANEL / "demo_primers.bed", PANEL / "demo_amplicons.bed")


def _align(fa: Path, r1: Path, r2: Path, out: Path) -> Path:
    cmd = ["bwa", "mem", "-t", "2", "-K", "10000000", "-v", "1", str(fa), str(r1), str(r2)]
    bwa = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    subprocess.run(
        ["samtools", "sort", "-o", str(out), "-"], stdin=bwa.stdout, check=True, capture_output=True
    )
    bwa.wait()
    pysam.index(str(out))
    return out


def _binom_ok(k: int, n: int, p: float, z: float = 4.0) -> bool:
    return abs(k - n * p) <= z * np.sqrt(n * p * (1 - p)) + 1


# ------------------------------------------------------------------ determinism


def test_same_seed_same_bytes_different_seed_differs(ref, targets, tmp_path):
    kw = dict(
        n_fragments=3000,
        variants=[L1196M],
        fusion=S.EML4_ALK_V1.with_fraction(0.3),
        copy_numbers={"MET": 6},
    )
    paths = []
    for tag, seed in (("a", 7), ("b", 7), ("c", 8)):
        r1, r2 = tmp_path / f"{tag}_R1.fq.gz", tmp_path / f"{tag}_R2.fq.gz"
        S.simulate_library(ref, targets, seed=seed, out_r1=r1, out_r2=r2, **kw)
        paths.append((r1.read_bytes(), r2.read_bytes()))
    assert paths[0] == paths[1]
    assert paths[0][0] != paths[2][0]
    # gzip header carries no time stamp or file name
    assert paths[0][0][4:8] == b"\0\0\0\0"


# ------------------------------------------------------------------ reads are real-shaped


def test_fastq_records_and_no_reads_from_n(ref, targets, tmp_path):
    r1, r2 = tmp_path / "x_R1.fq.gz", tmp_path / "x_R2.fq.gz"
    lib = S.simulate_library(
        ref, targets, n_fragments=4000, seed=3, out_r1=r1, out_r2=r2, read_prefix="X"
    )
    with gzip.open(r1, "rt") as f1, gzip.open(r2, "rt") as f2:
        l1, l2 = f1.read().splitlines(), f2.read().splitlines()
    assert len(l1) == len(l2) == 4 * 4000
    assert l1[0::4] == l2[0::4] and l1[0].startswith("@X:")
    seqs = l1[1::4] + l2[1::4]
    assert not any("N" in s for s in seqs)
    assert all(len(s) == len(q) for s, q in zip(seqs, l1[3::4] + l2[3::4], strict=True))
    # every fragment lies inside one real-base block
    b = ref.blocks
    inside = np.zeros(lib.n, bool)
    for c, bs, be in b[["cid", "start", "end"]].itertuples(index=False):
        inside |= (lib.chrom == c) & (lib.start >= bs) & (lib.end <= be)
    assert inside.all()
    # fragment length distribution around the requested mean
    flen = lib.end - lib.start
    assert 170 < flen.mean() < 210 and flen.min() >= 60
    # reads shorter than the read length only when the fragment is
    assert (lib.length == np.minimum(100, flen)).all()


def test_substitution_errors_match_qualities(ref, targets):
    lib = S.simulate_library(
        ref,
        targets,
        n_fragments=20000,
        seed=11,
        duplicate_rate=0.0,
        errors=S.ErrorModel(q_start=30, q_end=22, base_sd=4.0),
    )
    g = ref.offsets[lib.chrom] + lib.start
    j = np.arange(100)
    valid = j[None, :] < lib.length[:, None]
    fwd = ref.seq[np.minimum(g[:, None] + j, len(ref.seq) - 1)]
    rev = COMPLEMENT[ref.seq[np.maximum(g[:, None] + (lib.end - lib.start)[:, None] - 1 - j, 0)]]
    expect_r1 = np.where(lib.r1_reverse[:, None], rev, fwd)
    err = (lib.r1 != expect_r1) & valid
    q = lib.q1.astype(float)
    # mean quality falls along the read (Illumina-like)
    assert q[:, :10].mean() > q[:, 80:90].mean() + 3
    for lo, hi in ((15, 20), (20, 25), (25, 30)):
        m = valid & (q >= lo) & (q < hi)
        expected = (10 ** (-q[m] / 10)).mean()
        observed = err[m].mean()
        n = int(m.sum())
        assert abs(observed - expected) < 4 * np.sqrt(expected / n) + 1e-4, (lo, observed, expected)


# ------------------------------------------------------------------ truth recovered


def test_vaf_and_copy_number_in_fragments(ref, targets):
    variants = [L1196M, T1151DUP, G1202DEL]
    lib = S.simulate_library(
        ref, targets, n_fragments=60000, seed=5, variants=variants, copy_numbers={"MET": 8}
    )
    base = S.simulate_library(ref, targets, n_fragments=60000, seed=6)
    u = ~lib.duplicate
    for i, v in enumerate(variants):
        n = int(lib.covers[u, i].sum())
        k = int(lib.carrier[u, i].sum())
        assert n > 100 and _binom_ok(k, n, v.vaf), (v, k, n)
    assert 0.09 < lib.duplicate.mean() < 0.21 and 0.84 < lib.on_target.mean() < 0.92

    def share(x, contig):
        return np.mean(x.chrom == ref.cid(contig))

    ratio = (share(lib, MET) / share(lib, CD74)) / (share(base, MET) / share(base, CD74))
    assert 3.3 < ratio < 4.8  # 8 copies vs 2


def test_normal_admixture_at_30_percent_purity(ref, targets):
    # a heterozygous clonal variant (VAF 0.5 in the tumour) and MET at 8 tumour copies
    lib = S.simulate_library(
        ref,
        targets,
        n_fragments=60000,
        seed=5,
        variants=[L1196M],
        copy_numbers={"MET": 8},
        purity=0.3,
        fusion=S.EML4_ALK_V1.with_fraction(0.4),
    )
    base = S.simulate_library(ref, targets, n_fragments=60000, seed=6)
    u = ~lib.duplicate
    n, k = int(lib.covers[u, 0].sum()), int(lib.carrier[u, 0].sum())
    assert n > 100 and _binom_ok(k, n, 0.5 * 0.3), (k, n)  # bulk VAF = purity x 0.5

    def share(x, contig):
        return np.mean(x.chrom == ref.cid(contig))

    # bulk MET = 0.3 x 8 + 0.7 x 2 = 3.8 copies: ratio 1.9 against CD74
    ratio = (share(lib, MET) / share(lib, CD74)) / (share(base, MET) / share(base, CD74))
    assert 1.6 < ratio < 2.25
    alk = (lib.chrom == ref.cid(ALK)) & (lib.start <= 27513) & (lib.end >= 27515)
    assert _binom_ok(int((alk & lib.fusion).sum()), int(alk.sum()), 0.4 * 0.3)
    with pytest.raises(UserError, match="purity"):
        S.simulate_library(ref, targets, n_fragments=100, purity=0.0)


def test_overlapping_variants_keep_their_vafs(ref, targets):
    a = S.Variant(ALK, 24520, "C", "T", 0.3)  # G1202R; MNV covers 24519-24520
    lib = S.simulate_library(ref, targets, n_fragments=80000, seed=9, variants=[a, MNV])
    u = ~lib.duplicate
    assert not (lib.carrier[u, 0] & lib.carrier[u, 1]).any()
    for i, v in enumerate((a, MNV)):
        n, k = int(lib.covers[u, i].sum()), int(lib.carrier[u, i].sum())
        assert _binom_ok(k, n, v.vaf), (v, k, n)
    # G1202del's repeat reaches G1202R's base: one allele per molecule there too
    lib = S.simulate_library(ref, targets, n_fragments=40000, seed=9, variants=[a, G1202DEL])
    assert not (lib.carrier[:, 0] & lib.carrier[:, 1]).any()


def test_fusion_fragments_carry_the_h3122_junction(ref, targets):
    fusion = S.EML4_ALK_V1.with_fraction(0.4)
    lib = S.simulate_library(
        ref, targets, n_fragments=30000, seed=2, fusion=fusion, duplicate_rate=0.0
    )
    assert lib.fusion.sum() > 50
    reads = [S.decode(r[r < 4]) for r in lib.r1[lib.fusion]] + [
        S.decode(r[r < 4]) for r in lib.r2[lib.fusion]
    ]
    rc = S.decode(S.revcomp(S.encode(JUNCTION)))
    hits = sum((JUNCTION in s) or (rc in s) for s in reads)
    assert hits > 10
    normal = [S.decode(r[r < 4]) for r in lib.r1[~lib.fusion]]
    assert not any(JUNCTION in s or rc in s for s in normal)
    # fraction among fragments that cover the ALK breakpoint
    alk = (lib.chrom == ref.cid(ALK)) & (lib.start <= 27513) & (lib.end >= 27515)
    assert _binom_ok(int((alk & lib.fusion).sum()), int(alk.sum()), 0.4)


@pytest.mark.slow
def test_aligned_vafs_indels_and_split_reads(ref, targets, bwa_index, tmp_path):
    variants = [L1196M, T1151DUP, G1202DEL, MNV]
    fusion = S.EML4_ALK_V1.with_fraction(0.35)
    r1, r2 = tmp_path / "s_R1.fq.gz", tmp_path / "s_R2.fq.gz"
    alk_only = targets[targets["gene"] == "ALK"]
    S.simulate_library(
        ref,
        alk_only,
        n_fragments=40000,
        seed=4,
        variants=variants,
        fusion=fusion,
        duplicate_rate=0.0,
        out_r1=r1,
        out_r2=r2,
    )
    bam = _align(bwa_index, r1, r2, tmp_path / "s.bam")
    with pysam.AlignmentFile(str(bam)) as aln:

        def counts(pos, test):
            n = k = 0
            for col in aln.pileup(
                ALK,
                pos - 1,
                pos,
                truncate=True,
                min_base_quality=0,
                stepper="nofilter",
                max_depth=10**6,
                ignore_orphans=False,
            ):
                for r in col.pileups:
                    n += 1
                    k += bool(test(r))
            return k, n

        def base(alt):
            return lambda r: (
                not r.is_del
                and not r.is_refskip
                and r.alignment.query_sequence[r.query_position] == alt
            )

        k, n = counts(24538, base("T"))
        assert n > 500 and _binom_ok(k, n, 0.25, 5)
        k, n = counts(26178, lambda r: r.indel == 3)
        assert _binom_ok(k, n, 0.10, 5)
        k, n = counts(24516, lambda r: r.indel == -3)
        assert _binom_ok(k, n, 0.15, 5)
        k, n = counts(24519, base("T"))
        assert _binom_ok(k, n, 0.20, 5)
        split = [
            r
            for r in aln.fetch(ALK, 27400, 27600)
            if r.has_tag("SA") and "chr2_42175501_42332600" in r.get_tag("SA")
        ]
        assert len(split) > 20
        ends = {r.reference_end for r in split if r.cigartuples[-1][0] in (4, 5)}
        assert 27514 in ends or 27513 in ends


# ------------------------------------------------------------------ amplicon assay


def test_amplicon_reads_start_at_primers(ref, amplicons, tmp_path):
    lib = S.simulate_library(
        ref, amplicons, assay="amplicon", n_fragments=20000, seed=1, read_length=150
    )
    on = lib.on_target
    assert lib.duplicate.sum() == 0 and on.mean() > 0.97
    amp = amplicons.set_index(["start", "end"])
    keys = list(zip(lib.start[on], lib.end[on], strict=True))
    assert all(k in amp.index for k in keys[:2000])  # fragment == primer-to-primer amplicon
    # the forward read begins with the LEFT primer, the reverse read with the RIGHT primer (rc)
    prm = pd.read_csv(
        PANEL / "demo_primers.bed",
        sep="\t",
        header=None,
        names=["chrom", "start", "end", "name", "pool", "strand"],
    )
    left = {
        (c, s): e - s
        for c, s, e, n in prm[["chrom", "start", "end", "name"]].itertuples(index=False)
        if n.endswith("LEFT")
    }
    ok = total = 0
    for i in np.flatnonzero(on)[:2000]:
        fwd = lib.r2[i] if lib.r1_reverse[i] else lib.r1[i]
        chrom = ref.names[lib.chrom[i]]
        n = left[(chrom, int(lib.start[i]))]
        primer = ref.fetch(chrom, int(lib.start[i]), int(lib.start[i]) + n)
        ok += int((fwd[:n] != primer).sum() <= 1)
        rev = lib.r1[i] if lib.r1_reverse[i] else lib.r2[i]
        rprimer = S.revcomp(ref.fetch(chrom, int(lib.end[i]) - 20, int(lib.end[i])))
        ok += int((rev[:18] != rprimer[:18]).sum() <= 1)
        total += 2
    assert ok / total > 0.97
    # efficiencies vary several-fold between amplicons
    per_amp = pd.Series(keys).value_counts()
    assert per_amp.quantile(0.9) / per_amp.quantile(0.1) > 3


def test_amplicon_variant_only_in_insert(ref, amplicons):
    v = S.Variant(ALK, 24538, "G", "T", 0.5)
    lib = S.simulate_library(
        ref, amplicons, assay="amplicon", n_fragments=20000, seed=3, variants=[v], read_length=150
    )
    cov = lib.covers[:, 0]
    assert cov.sum() > 30 and _binom_ok(int(lib.carrier[:, 0].sum()), int(cov.sum()), 0.5)
    a = amplicons[(amplicons["chrom"] == ALK)]
    inside = (a["insert_start"] <= 24537) & (a["insert_end"] >= 24538)
    assert set(zip(lib.start[cov], lib.end[cov], strict=True)) <= set(
        zip(a.loc[inside, "start"], a.loc[inside, "end"], strict=True)
    )


@pytest.mark.slow
def test_amplicon_primers_clipped_by_samtools(ref, amplicons, bwa_index, tmp_path):
    r1, r2 = tmp_path / "a_R1.fq.gz", tmp_path / "a_R2.fq.gz"
    S.simulate_library(
        ref,
        amplicons,
        assay="amplicon",
        n_fragments=5000,
        seed=2,
        read_length=150,
        out_r1=r1,
        out_r2=r2,
    )
    bam = _align(bwa_index, r1, r2, tmp_path / "a.bam")
    clipped = tmp_path / "clipped.bam"
    subprocess.run(
        [
            "samtools",
            "ampliconclip",
            "--both-ends",
            "-b",
            str(PANEL / "demo_primers.bed"),
            "-o",
            str(clipped),
            str(bam),
        ],
        check=True,
        capture_output=True,
    )
    with pysam.AlignmentFile(str(clipped)) as f:
        reads = [r for r in f if not r.is_unmapped and not r.is_secondary]
    # the read's 5' end (alignment end for reverse reads) is its primer: soft-clipped
    soft = sum(1 for r in reads if r.cigartuples[-1 if r.is_reverse else 0][0] == 4)
    assert soft / len(reads) > 0.95


# ------------------------------------------------------------------ variants and inputs


def test_normalize_variant_left_aligns_and_checks_ref(ref):
    d = S.normalize_variant(ref, S.Variant(ALK, 24517, "CTCC", "C"))  # same deletion, shifted
    assert (d.pos, d.ref, d.alt) == (24516, "TCTC", "T")
    assert d.span == (24515, 24521)  # through the right-most placement (24518-24520) + 1 base
    i = S.normalize_variant(ref, S.Variant(ALK, 26181, "T", "TCGT"))  # dup written 3' on plus
    assert (i.pos, i.ref, i.alt) == (26178, "G", "GCGT")
    assert i.span == (26177, 26183)  # CGTC|GTC repeat: same allele inserted after 26182
    with pytest.raises(UserError, match="REF does not match"):
        S.normalize_variant(ref, S.Variant(ALK, 24538, "A", "T"))


def test_target_on_n_is_rejected(ref):
    bad = pd.DataFrame({"chrom": [ALK], "start": [5000], "end": [5200], "gene": ["ALK"]})
    with pytest.raises(UserError, match="not on real reference bases"):
        S.simulate_library(ref, bad, n_fragments=10)


# ------------------------------------------------------------------ CLI


def _demo_config(tmp_path: Path, fragments: int = 4000) -> Path:
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    samples = pd.read_csv(REPO / "config" / "samples.tsv", sep="\t", dtype=str)
    units = pd.read_csv(REPO / "config" / "units.tsv", sep="\t", dtype=str, keep_default_na=False)
    units["fq1"] = [str(tmp_path / "fq" / f"{s}_1.fq.gz") for s in units["sample"]]
    units["fq2"] = [str(tmp_path / "fq" / f"{s}_2.fq.gz") for s in units["sample"]]
    samples.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    units.to_csv(tmp_path / "units.tsv", sep="\t", index=False)
    cfg["samples"] = str(tmp_path / "samples.tsv")
    cfg["units"] = str(tmp_path / "units.tsv")
    for key in ("fasta", "gtf"):
        cfg["reference"][key] = str(REPO / cfg["reference"][key])
    for key in ("targets", "snv_regions", "primers"):
        cfg["panel"][key] = str(REPO / cfg["panel"][key])
    cfg["simulate"]["fragments"] = fragments
    cfg["simulate"]["out_dir"] = str(tmp_path / "truth")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_cli_writes_exactly_the_sheet_files_and_truth(tmp_path):
    config = _demo_config(tmp_path)
    assert main(["simulate", "--config", str(config)]) == 0
    units = pd.read_csv(tmp_path / "units.tsv", sep="\t")
    expected = sorted(Path(p).name for p in [*units["fq1"], *units["fq2"]])
    assert sorted(p.name for p in (tmp_path / "fq").iterdir()) == expected
    truth = pd.read_csv(tmp_path / "truth" / "truth.tsv", sep="\t", keep_default_na=False)
    assert list(truth.columns) == S.TRUTH_COLUMNS
    cr1 = truth[(truth["sample"] == "H3122_CR1")].set_index("hgvs_p")
    assert cr1.loc["p.L1196M", "expected"] == "acquired"
    assert cr1.loc["p.C1156Y", "expected"] == "enriched"
    assert cr1.loc["p.R1275Q", "expected"] == "lost"
    assert cr1.loc["p.G1125=", "expected"] == "shared"
    cnv = truth[truth["kind"] == "cnv"].set_index(["sample", "gene"])["copy_number"]
    assert float(cnv[("H3122_CR1", "MET")]) == 8 and float(cnv[("H3122_P", "KIT")]) == 2
    vaf = truth[truth["kind"] != "cnv"]["vaf"].astype(float)
    acquired = truth[truth["expected"] == "acquired"]["vaf"].astype(float)
    assert acquired.min() <= 0.02 and acquired.max() >= 0.4 and vaf.max() <= 0.5
    assert set(truth[truth["kind"] == "fusion"]["gene"]) == {"EML4::ALK"}
    with pysam.VariantFile(str(tmp_path / "truth" / "truth.vcf.gz")) as vcf:
        samples = list(vcf.header.samples)
        recs = list(vcf)
    assert len(recs) == 9 and samples == ["H3122_P", "H3122_CR1", "H3122_CR2"]
    # second run: up to date, nothing rewritten
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "fq").iterdir()}
    assert main(["simulate", "--config", str(config)]) == 0
    assert before == {p: p.stat().st_mtime_ns for p in (tmp_path / "fq").iterdir()}
    # forced: simulated again, identical bytes, so the files (and their mtimes) are kept
    assert main(["simulate", "--config", str(config), "--force"]) == 0
    assert before == {p: p.stat().st_mtime_ns for p in (tmp_path / "fq").iterdir()}


def test_cli_explicit_arguments_amplicon(tmp_path):
    rc = main(
        [
            "simulate",
            "--reference",
            str(FASTA),
            "--targets",
            str(PANEL / "demo_amplicons.bed"),
            "--primers",
            str(PANEL / "demo_primers.bed"),
            "--assay",
            "amplicon",
            "--sample",
            "S1",
            "--out-dir",
            str(tmp_path),
            "--fragments",
            "2000",
            "--variant",
            f"{ALK}:24538:G:T:0.3",
            "--copy-number",
            "MET=6",
            "--read-length",
            "150",
        ]
    )
    assert rc == 0
    assert (tmp_path / "S1_R1.fastq.gz").exists() and (tmp_path / "truth.tsv").exists()
    assert (
        main(["simulate", "--reference", str(FASTA), "--targets", "x.bed", "--variant", "bad"]) == 2
    )


def test_cli_demo_as_amplicon_into_other_folder(tmp_path):
    """--assay amplicon on the (capture) demo config: primers from panel.primers, genes from the
    primer names, FASTQs moved to --out-dir under the units sheet's file names."""
    config = _demo_config(tmp_path, fragments=2000)
    out = tmp_path / "amp"
    assert (
        main(["simulate", "--config", str(config), "--assay", "amplicon", "--out-dir", str(out)])
        == 0
    )
    units = pd.read_csv(tmp_path / "units.tsv", sep="\t")
    names = {Path(p).name for p in [*units["fq1"], *units["fq2"]]}
    assert names <= {p.name for p in out.iterdir()}
    assert not (tmp_path / "fq").exists()
    amps = read_amplicons(PANEL / "demo_primers.bed")
    left = set()
    with pysam.FastaFile(str(FASTA)) as fa:
        for c, s in zip(amps["chrom"], amps["start"], strict=True):
            left.add(fa.fetch(c, int(s), int(s) + 18).upper())
    with (
        gzip.open(out / "H3122_P_1.fq.gz", "rt") as f1,
        gzip.open(out / "H3122_P_2.fq.gz", "rt") as f2,
    ):
        r1, r2 = f1.read().splitlines()[1::4], f2.read().splitlines()[1::4]
    starts_with_left = sum(
        (a[:18] in left) or (b[:18] in left) for a, b in zip(r1, r2, strict=True)
    )
    assert starts_with_left / len(r1) > 0.9


def test_cli_rejects_misspelt_simulate_keys(tmp_path, capsys):
    config = _demo_config(tmp_path)
    cfg = yaml.safe_load(config.read_text())
    cfg["simulate"]["fragment"] = 10
    config.write_text(yaml.safe_dump(cfg))
    assert main(["simulate", "--config", str(config)]) == 2
    assert "unknown key(s) fragment" in capsys.readouterr().err
    cfg["simulate"].pop("fragment")
    cfg["simulate"]["samples"]["H3122_P"]["copy_numbers"] = {"MET": 3}
    config.write_text(yaml.safe_dump(cfg))
    assert main(["simulate", "--config", str(config)]) == 2
    assert "simulate.samples.H3122_P: unknown key(s) copy_numbers" in capsys.readouterr().err
    assert not (tmp_path / "fq").exists()


def test_blocks_without_bed_are_the_real_base_runs(tmp_path, ref):
    """Without a known-sequence BED the non-N runs are used: for the bundled reference they are
    exactly the BED's blocks (so nothing is ever drawn from N padding)."""
    shutil.copy(FASTA, tmp_path / "x.fasta")
    shutil.copy(str(FASTA) + ".fai", tmp_path / "x.fasta.fai")
    runs = S.load_reference(tmp_path / "x.fasta")
    cols = ["chrom", "start", "end"]
    assert runs.blocks[cols].reset_index(drop=True).equals(ref.blocks[cols].reset_index(drop=True))
