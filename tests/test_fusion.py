"""resistcall fusion: junction placement, evidence counting, per-sample status, VCF breakends.

Simulated libraries are built from the real panel sequence (EML4 intron 13, ALK intron 19) and
aligned with the real bwa, so the caller sees real aligner behaviour (soft clips, SA tags, and
``-M`` secondaries). The real-data tests realign the public H3122/HCC827 capture reads
(../shared/realdata/DNAfusion) to the panel reference and also run on the BAMs as shipped.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
from scipy.special import gammaincinv
from scipy.stats import poisson
from test_cram_inputs import cram_of

from resistcall import qc
from resistcall.cli import main
from resistcall.contracts import FUSION_COLUMNS
from resistcall.errors import UserError
from resistcall.fusion import (
    Gene,
    Junction,
    Settings,
    _locate_unknown_partner,
    detection_limit,
    detection_power,
    held_windows,
    load_genes,
    located_partner_genes,
    run,
)
from resistcall.fusion_evidence import (
    PanelSequence,
    ReadInfo,
    make_part,
    parse_cigar,
    revcomp,
    split_junction,
)
from resistcall.fusion_vcf import breakend_alt

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REF = REPO / "resources" / "reference" / "panel_GRCh38.fa"
GTF = REPO / "resources" / "reference" / "panel_GRCh38.gtf"
KNOWN = REPO / "resources" / "known_resistance.tsv"
#: H3122 junction recorded in shared/reference/PROVENANCE_EML4.md (GRCh38)
EML4_BP, ALK_BP = 42299750, 29223741
ALK_LO, ALK_HI = 29222200, 29225990  # ALK exon 21 .. exon 19, all real bases in the panel
EML4_LO = 42299337  # first real base of the EML4 intron-13 block

needs_bwa = pytest.mark.skipif(
    shutil.which("bwa") is None or shutil.which("samtools") is None,
    reason="bwa and samtools are needed to align simulated reads",
)


@pytest.fixture(scope="module")
def panel() -> PanelSequence:
    return PanelSequence(REF)


def _mutate(seq: str, rng: np.random.Generator, rate: float = 0.002) -> str:
    arr = np.array(list(seq))
    hit = rng.random(arr.size) < rate
    arr[hit] = rng.choice(list("ACGT"), hit.sum())
    return "".join(arr)


def _pairs(source: str, n: int, rng, read_len=100, insert=(230, 300), must_span=None):
    """n read pairs from source; with must_span, every fragment covers that index."""
    out = []
    for _ in range(n):
        size = int(rng.integers(*insert))
        if must_span is None:
            start = int(rng.integers(0, len(source) - size))
        else:
            lo = max(0, must_span - size + 1)
            start = int(rng.integers(lo, min(must_span, len(source) - size)))
        frag = source[start : start + size]
        if rng.random() < 0.5:
            frag = revcomp(frag)
        out.append((_mutate(frag[:read_len], rng), _mutate(revcomp(frag)[:read_len], rng)))
    return out


def _align(bwa_index: Path, pairs, out: Path, sample: str, extra=()) -> Path:
    """Write FASTQs, align with bwa mem (extra flags e.g. -M), sort and index."""
    r1, r2 = out.with_suffix(".R1.fq"), out.with_suffix(".R2.fq")
    with open(r1, "w") as f1, open(r2, "w") as f2:
        for i, (a, b) in enumerate(pairs):
            f1.write(f"@{sample}_{i}\n{a}\n+\n{'I' * len(a)}\n")
            f2.write(f"@{sample}_{i}\n{b}\n+\n{'I' * len(b)}\n")
    sam = subprocess.run(
        [
            "bwa",
            "mem",
            "-v",
            "1",
            *extra,
            "-R",
            f"@RG\\tID:{sample}\\tSM:{sample}",
            str(bwa_index),
            str(r1),
            str(r2),
        ],
        check=True,
        capture_output=True,
    ).stdout
    if "-M" in extra:  # like the real H3122 BAM: split parts secondary, SA tags dropped
        sam = b"\n".join(
            b"\t".join(f for f in line.split(b"\t") if not f.startswith(b"SA:Z:"))
            for line in sam.split(b"\n")
        )
    out.with_suffix(".sam").write_bytes(sam)
    pysam.sort("-o", str(out), str(out.with_suffix(".sam")))
    pysam.index(str(out))
    return out


def _h3122_like(panel: PanelSequence) -> tuple[str, int]:
    """EML4 intron 13 (to the breakpoint) joined to ALK intron 19 read on the minus strand,
    with the real one-base microhomology written once; returns (sequence, junction index)."""
    eml4 = panel.fetch("chr2", EML4_LO, EML4_BP)
    alk = revcomp(panel.fetch("chr2", ALK_LO, ALK_BP - 1))
    return eml4 + alk, len(eml4)


def _normal(panel: PanelSequence) -> str:
    return panel.fetch("chr2", ALK_LO, ALK_HI)


def test_place_finds_strand_offset_and_insertion(panel):
    seq = panel.fetch("chr2", 42299500, 42299560)
    fwd = panel.place(seq)
    assert (fwd.chrom, fwd.pos, fwd.strand, fwd.offset) == ("chr2", 42299500, "+", 0)
    rev = panel.place(revcomp(seq))
    # outward start of the reverse-complemented piece is the last base of the forward piece
    assert (rev.pos, rev.strand, rev.offset) == (42299560, "-", 0)
    before = panel.fetch("chr2", 42299499, 42299499)
    ins = panel.place("TTAG" + next(b for b in "ACGT" if b != before) + seq)
    assert (ins.pos, ins.offset) == (42299500, 5)
    assert panel.place("ACGT" * 10) is None


def test_gene_locations_and_exon_numbers(panel):
    genes = load_genes(GTF, panel.lengths)
    assert genes["EML4"].location(EML4_BP) == ("intron 13", 13, 14)
    assert genes["ALK"].location(ALK_BP) == ("intron 19", 19, 20)
    assert genes["ALK"].location(29223400)[0] == "exon 20"
    start, end, label = genes["ALK"].breakpoint_region()
    assert label == "ALK intron 19" and start == 29223529 and end == 29225460


@needs_bwa
@pytest.mark.parametrize("bwa_flags", [(), ("-M",)], ids=["bwa", "bwa-M"])
def test_simulated_eml4_alk_v1(tmp_path, panel, bwa_index, bwa_flags):
    rng = np.random.default_rng(8)
    fused, junction = _h3122_like(panel)
    fusion = _pairs(fused, 60, rng, must_span=junction)
    normal = _pairs(_normal(panel), 900, rng)
    bam = _align(bwa_index, fusion + normal, tmp_path / "s.bam", "S1", bwa_flags)
    df = run(
        str(REF),
        str(GTF),
        [str(bam)],
        str(tmp_path / "f.tsv"),
        str(tmp_path / "f.vcf.gz"),
        Settings(),
    )
    assert list(pd.read_csv(tmp_path / "f.tsv", sep="\t").columns) == list(FUSION_COLUMNS)
    row = df[df["call"] == "detected"].iloc[0]
    assert (row.gene_5p, row.gene_3p, row.variant, row.exons) == ("EML4", "ALK", "v1", "E13;A20")
    assert (row.location_5p, row.location_3p) == ("intron 13", "intron 19")
    assert row.genomic_5p == f"chr2:{EML4_BP}" and row.genomic_3p == f"chr2:{ALK_BP}"
    assert row.breakpoint_3p == f"chr2_29196228_29226309:{ALK_BP - 29196227}"
    assert row.microhomology == "A"
    # every simulated fusion fragment spans the junction; a few cross it by < 3 bases only
    assert 54 <= row.fragments <= 60
    assert row.split_reads >= 40 and row.discordant_pairs >= 5
    assert (df["call"] == "detected").sum() == 1

    with pysam.VariantFile(str(tmp_path / "f.vcf.gz")) as vf:
        recs = list(vf)
        assert vf.index is not None or Path(f"{tmp_path / 'f.vcf.gz'}.tbi").exists()
        assembly = [r.value for r in vf.header.records if r.key == "assembly"]
    assert assembly == ["GRCh38"]  # run()'s default build, as docs/reference.md promises
    assert len(recs) == 2
    alk = next(r for r in recs if r.chrom.startswith("chr2_2919"))
    eml = next(r for r in recs if r.chrom.startswith("chr2_4217"))
    assert alk.alts[0] == f"{alk.ref}]chr2_42175501_42332600:{eml.pos}]"
    assert eml.alts[0] == f"{eml.ref}]chr2_29196228_29226309:{alk.pos}]"
    assert alk.info["MATEID"] == (eml.id,) and eml.info["MATEID"] == (alk.id,)
    assert alk.info["HOMLEN"] == (1,) and alk.filter.keys() == ["PASS"]
    assert alk.samples["S1"]["FR"] == row.fragments


@needs_bwa
def test_cram_with_reference_gives_its_bams_fusion_rows(tmp_path, panel, bwa_index):
    """A CRAM (decoded with --reference: evidence reads and breakpoint-region depth) gives the
    rows of its BAM."""
    rng = np.random.default_rng(8)
    fused, junction = _h3122_like(panel)
    pairs = _pairs(fused, 30, rng, must_span=junction) + _pairs(_normal(panel), 400, rng)
    bam = _align(bwa_index, pairs, tmp_path / "s.bam", "S1")
    cram = cram_of(bam)
    for path in (bam, cram):
        argv = ["fusion", "--reference", str(REF), "--gtf", str(GTF), "--bam", str(path)]
        assert main([*argv, "--out", str(path.with_suffix(".tsv"))]) == 0
    from_bam = pd.read_csv(bam.with_suffix(".tsv"), sep="\t")
    assert from_bam["call"].tolist()[0] == "detected" and from_bam["region_depth"].iloc[0] > 20
    pd.testing.assert_frame_equal(pd.read_csv(cram.with_suffix(".tsv"), sep="\t"), from_bam)


@needs_bwa
def test_every_sample_gets_a_status(tmp_path, panel, bwa_index):
    rng = np.random.default_rng(3)
    neg = _align(bwa_index, _pairs(_normal(panel), 900, rng), tmp_path / "neg.bam", "NEG")
    low = _align(bwa_index, _pairs(_normal(panel), 15, rng), tmp_path / "low.bam", "LOW")
    df = run(str(REF), str(GTF), [str(neg), str(low)], str(tmp_path / "f.tsv"), None, Settings())
    assert list(df["sample"]) == ["NEG", "LOW"]
    neg_row, low_row = df.iloc[0], df.iloc[1]
    assert neg_row.call == "not detected" and neg_row.gene_3p == "ALK"
    assert int(neg_row.region_depth) >= 20
    # the 95%-power limit from the spanning fragments the row shows, not 5 / depth
    n_span, n_split = int(neg_row.spanning_fragments), int(neg_row.spanning_split_reads)
    assert 0 < n_split <= n_span
    limit = float(neg_row.detection_limit_af)
    assert limit == float(f"{detection_limit(n_span, n_split, 5, 2):.3g}")
    assert limit > 5 / int(neg_row.region_depth)
    assert "ALK intron 19" in neg_row.status
    assert f"{n_span} fragments span a breakpoint there" in neg_row.status
    assert f"allele fraction >= {neg_row.detection_limit_af} with 95% power" in neg_row.status
    assert low_row.call == "not assessable" and "not assessable" in low_row.status
    assert pd.isna(low_row.detection_limit_af) or low_row.detection_limit_af in (".", "")


def test_detection_limit_is_the_95_percent_power_allele_fraction():
    """Support ~ Poisson(f n_span): with every spanning fragment a split read the limit is the
    Poisson rate giving P(X >= 5) = 0.95 (9.154) over n_span; fewer split-capable fragments
    (min_split_reads 2) raise it; power at the limit is 0.95; no power at all gives 1."""
    assert gammaincinv(5, 0.95) == pytest.approx(9.1535, abs=1e-4)
    for n in (50, 1000, 1197):
        f = detection_limit(n, n, 5, 2)
        assert f == pytest.approx(gammaincinv(5, 0.95) / n, rel=1e-5)
        assert poisson.sf(4, f * n) == pytest.approx(0.95, abs=1e-5)
    # joint rule, checked against a direct sum over the split count
    n_span, n_split, m, s = 600, 120, 5, 2
    f = detection_limit(n_span, n_split, m, s)
    lam_s, lam_d = f * n_split, f * (n_span - n_split)
    direct = sum(poisson.pmf(k, lam_s) * poisson.sf(m - k - 1, lam_d) for k in range(s, m))
    direct += poisson.sf(m - 1, lam_s)
    assert detection_power(f, n_span, n_split, m, s) == pytest.approx(direct, rel=1e-9)
    assert direct == pytest.approx(0.95, abs=1e-5)
    assert f > detection_limit(n_span, n_span, m, s)
    assert detection_limit(5, 5, 5, 2) == 1.0  # even f = 1 gives P(X >= 5) = 0.56
    assert detection_limit(100, 0, 5, 2) == 1.0  # no read could be split: no call possible
    assert np.isnan(detection_limit(float("nan"), float("nan"), 5, 2))


def _tiled_pairs_bam(path: Path, panel: PanelSequence) -> Path:
    """Panel-aligned BAM, no aligner: a 300-bp fragment starting at every base from 400 bp
    before ALK intron 19 to its end, read 1 = its first 100 bases (forward), read 2 = its last
    100 (reverse); each also once more as a duplicate (0x400) and read 1 once as a secondary
    record (same name). At an interior position p a fragment starting at s would support a
    junction (min_clip 5) as a split read if read 1 crosses p (p-94 <= s <= p-4, 91 starts) or
    read 2 does (p-294 <= s <= p-204, 91), as a pair if read 1 ends at or before p and read 2
    starts after it (p-199 <= s <= p-99, 101): n_split = 182, n_span = 283; depth = 200."""
    contig, offset = "chr2_29196228_29226309", 29196227
    lengths = panel.lengths
    header = {
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": [{"SN": n, "LN": ln} for n, ln in lengths.items()],
        "RG": [{"ID": "TILE", "SM": "TILE"}],
    }
    tid = list(lengths).index(contig)
    lo, hi = 29223529 - 400, 29225460
    records = []
    for s in range(lo, hi + 1):
        c = s - offset - 1  # 0-based contig start of the fragment
        for dup in (False, True):
            name = f"{'d' if dup else 'f'}{s}"
            for i, (start, rev) in enumerate(((c, False), (c + 200, True))):
                records.append((start, name, i, rev, dup, False))
            if not dup:
                records.append((c, name, 0, False, False, True))
    unsorted = path.with_suffix(".unsorted.bam")
    with pysam.AlignmentFile(str(unsorted), "wb", header=header) as out:
        for start, name, i, rev, dup, secondary in records:
            a = pysam.AlignedSegment()
            a.query_name, a.reference_id, a.reference_start = name, tid, start
            a.cigartuples = [(0, 100)]
            a.query_sequence = panel.fetch("chr2", start + offset + 1, start + offset + 100)
            a.query_qualities = pysam.qualitystring_to_array("I" * 100)
            a.mapping_quality = 60
            a.flag = 0x1 | 0x2 | (0x40 if i == 0 else 0x80)
            a.flag |= (0x10 if rev else 0x20) | (0x400 if dup else 0) | (0x100 if secondary else 0)
            a.next_reference_id = tid
            a.next_reference_start = start + 200 if i == 0 else start - 200
            a.template_length = 300 if i == 0 else -300
            a.set_tags([("RG", "TILE"), ("NM", 0)])
            out.write(a)
    pysam.sort("-o", str(path), str(unsorted))
    pysam.index(str(path))
    return path


def test_spanning_fragments_of_a_bam_built_to_known_counts(tmp_path, panel):
    """detection_limit_af rests on the fragments that would support a junction, counted with
    the caller's rules (duplicates out, a secondary record of a fragment counted once)."""
    bam = _tiled_pairs_bam(tmp_path / "tile.bam", panel)
    df = run(str(REF), str(GTF), [str(bam)], str(tmp_path / "f.tsv"), None, Settings())
    row = df.iloc[0]
    assert row.call == "not detected" and row.region_depth == "200"
    assert (row.spanning_fragments, row.spanning_split_reads) == ("283", "182")
    assert float(row.detection_limit_af) == pytest.approx(detection_limit(283, 182, 5, 2), 1e-3)
    assert 0.0323 < float(row.detection_limit_af) < 0.034  # 9.154 / 283 = 0.0323, old: 5/200
    # min_clip 3: reads crossing by 3-4 bases count too (95 + 95 split starts, 101 pair-only)
    wide = run(str(REF), str(GTF), [str(bam)], str(tmp_path / "g.tsv"), None, Settings(min_clip=3))
    assert (wide.iloc[0].spanning_fragments, wide.iloc[0].spanning_split_reads) == ("291", "190")


def test_split_junction_from_two_alignments_of_one_read():
    # 100-base read: bases 0-59 forward at 1000 (then hard clip), bases 58-99 reverse at 5000
    a = make_part("chr2", 1000, False, parse_cigar("60M40H"))
    b = make_part("chr2", 5000, True, parse_cigar("42M58S"))
    assert (a.q_start, a.q_end, a.end) == (0, 60, 1059)
    assert (b.q_start, b.q_end, b.end) == (58, 100, 5041)
    # inversion-type join: both kept parts lie left of their breakends; 2 bases shared
    assert split_junction(a, b) == (1059, +1, 5041, +1, 2, 0)
    assert split_junction(b, a) == (5041, +1, 1059, +1, 2, 0)
    c = make_part("chr7", 300, False, parse_cigar("65S35M"))
    assert split_junction(a, c) == (1059, +1, 300, -1, 0, 5)


def test_unplaced_partner_is_located_from_its_split_reads():
    """Whole-genome BAM, partner outside the panel (e.g. KIF5B on chr10): the SA parts of the
    junction's split reads say where it is; reads that are not split reads do not count."""
    j = Junction("chr2", ALK_BP, +1, "ACGT" * 10)
    j.split = {"r1", "r2", "r3"}

    def info(name, *parts):
        return ReadInfo(name, "chr2", ALK_BP - 55, ALK_BP, "A" * 96, (), (), None, parts)

    infos = [
        info("r1", make_part("chr10", 32_017_400, True, parse_cigar("40S56M"))),
        info("r2", make_part("chr10", 32_017_390, True, parse_cigar("30S66M"))),
        info("r3", make_part("chr5", 100, False, parse_cigar("50M46S"))),
        info("x9", make_part("chr10", 32_017_420, True, parse_cigar("40S56M"))),
    ]
    _locate_unknown_partner(j, infos, Settings())
    assert j.partner_locus == "chr10:32017390-32017400"
    assert j.located == ("chr10", 32017390, 32017400)
    assert j.pairs == set()
    lone = Junction("chr2", ALK_BP, +1, "ACGT" * 10, split={"r1", "r3"})
    _locate_unknown_partner(lone, infos, Settings())
    assert lone.partner_locus == ""  # one fragment per locus is not enough


def test_only_coding_genes_at_a_located_partner_are_held():
    """A located partner locus holds the coding gene around it; a lncRNA or no gene there leaves
    the partner unknown, and placed junctions or junctions without a locus hold nothing."""
    genes = {
        "KIF5B": Gene("KIF5B", "chr10", 32_009_010, 32_056_443, "-", []),
        "LNC1": Gene("LNC1", "chr9", 40_300_000, 40_400_000, "+", [], coding=False),
    }

    def located(chrom, lo, hi, placed=False):
        j = Junction("chr2", ALK_BP, +1, "ACGT" * 10, located=(chrom, lo, hi))
        if placed:
            j.p_chrom, j.p_pos, j.p_side = chrom, lo, -1
        return j

    kif5b = located("chr10", 32_017_390, 32_017_400)
    assert [g.name for g in located_partner_genes([kif5b, kif5b], genes)] == ["KIF5B"]
    assert located_partner_genes([located("chr9", 40_358_425, 40_358_425)], genes) == []
    assert located_partner_genes([located("chr10", 50_000_000, 50_000_010)], genes) == []
    assert located_partner_genes([located("chr10", 32_017_390, 32_017_400, True)], genes) == []
    assert located_partner_genes([Junction("chr2", ALK_BP, +1, "ACGT" * 10)], genes) == []


def test_a_whole_gencode_holds_only_the_fusion_gene_and_its_partners():
    """``resistcall fusion --gtf gencode.gtf`` by hand models every gene of the genome: holding
    each ± 100 kb would load most of GRCh38 into memory. The run's cache (tens of genes) keeps
    every window; beyond the limit only ALK and its known partners are held."""
    lengths = {"chr2": 242_193_529, "chr10": 133_797_422}
    exon = [(1, 0, 0)]
    cache = {
        "ALK": Gene("ALK", "chr2", 29_192_774, 29_921_586, "-", exon),
        "EML4": Gene("EML4", "chr2", 42_169_350, 42_332_548, "+", exon),
        "MET": Gene("MET", "chr7", 116_672_196, 116_798_377, "+", exon),  # not in the FASTA
    }
    assert [w[0] for w in held_windows(cache, lengths, "ALK")] == ["chr2", "chr2"]
    gencode = dict(cache)
    for i in range(300):  # 300 genes x (100 kb + 2 x 100 kb pad) = 90 Mb > the 50 Mb limit
        start = 50_000_000 + i * 200_000
        gencode[f"G{i}"] = Gene(f"G{i}", "chr10", start, start + 100_000, "+", exon)
    gencode["KIF5B"] = Gene("KIF5B", "chr10", 32_009_010, 32_056_443, "-", exon)
    held = held_windows(gencode, lengths, "ALK")
    assert sorted(held) == sorted(
        (g.chrom, g.start - 100_000, g.end + 100_000)
        for g in (gencode["ALK"], gencode["EML4"], gencode["KIF5B"])
    )


def test_breakend_alt_forms():
    """VCF 4.2 section 5.4: the bracket points the way the mate's kept sequence extends."""
    assert breakend_alt("A", +1, "c:5", +1, "") == "A]c:5]"
    assert breakend_alt("A", +1, "c:5", -1, "") == "A[c:5["
    assert breakend_alt("A", -1, "c:5", +1, "") == "]c:5]A"
    assert breakend_alt("A", -1, "c:5", -1, "") == "[c:5[A"
    assert breakend_alt("A", +1, "c:5", -1, "GT") == "AGT[c:5["
    assert breakend_alt("A", -1, "c:5", -1, "GT") == "[c:5[ACA"
    assert breakend_alt("A", +1, None, None, "GGC") == "AGGC."
    assert breakend_alt("A", -1, None, None, "GGC") == ".GCCA"


@needs_bwa
def test_weak_evidence_is_below_threshold_not_a_call(tmp_path, panel, bwa_index):
    rng = np.random.default_rng(5)
    fused, junction = _h3122_like(panel)
    pairs = _pairs(fused, 3, rng, must_span=junction) + _pairs(_normal(panel), 900, rng)
    bam = _align(bwa_index, pairs, tmp_path / "w.bam", "W1")
    df = run(str(REF), str(GTF), [str(bam)], str(tmp_path / "f.tsv"), None, Settings())
    assert list(df["call"]) == ["below threshold", "not detected"]
    weak, status = df.iloc[0], df.iloc[1]
    assert (weak.gene_5p, weak.variant, weak.genomic_3p) == ("EML4", "v1", f"chr2:{ALK_BP}")
    assert 2 <= weak.fragments <= 3
    assert "1 candidate(s) below threshold" in status.status
    # the same evidence is a call when the user lowers the threshold
    df = run(
        str(REF),
        str(GTF),
        [str(bam)],
        str(tmp_path / "f.tsv"),
        None,
        Settings(min_fragments=2, min_split_reads=1),
    )
    assert list(df["call"]) == ["detected"]


@needs_bwa
def test_partner_not_in_reference_is_reported(tmp_path, panel, bwa_index):
    rng = np.random.default_rng(11)
    partner = "".join(rng.choice(list("ACGT"), 400))
    bp = 29224500  # inside ALK intron 19; ALK keeps its 3' part (lower coordinates)
    fused = panel.fetch("chr2", ALK_LO, bp) + partner
    pairs = _pairs(fused, 50, rng, must_span=bp - ALK_LO + 1) + _pairs(_normal(panel), 600, rng)
    bam = _align(bwa_index, pairs, tmp_path / "u.bam", "U1")
    df = run(
        str(REF),
        str(GTF),
        [str(bam)],
        str(tmp_path / "f.tsv"),
        str(tmp_path / "f.vcf.gz"),
        Settings(),
    )
    row = df[df["call"] == "detected"].iloc[0]
    assert (row.gene_5p, row.gene_3p, row.genomic_3p) == ("unknown", "ALK", f"chr2:{bp}")
    assert row.breakpoint_5p == "." and row.location_3p == "intron 19"
    assert row.partner_sequence[:30] == partner[:30]
    assert row.fragments >= 25
    with pysam.VariantFile(str(tmp_path / "f.vcf.gz")) as vf:
        (rec,) = list(vf)
    assert rec.alts[0].endswith(".") and rec.info["PARTNER_SEQ"].startswith(partner[:30])


def test_fasta_without_the_fusion_genes_chromosome_gives_not_assessable_rows(tmp_path):
    """validate warns "gene ALK is on no contig of the FASTA; not assessable": the fusion stage
    then writes that for every sample (it failed late with 'no exon rows', and was retried)."""
    egfr = "chr7_55017807_55211651"
    fasta = tmp_path / "egfr.fa"
    with pysam.FastaFile(str(REF)) as fa:
        fasta.write_text(f">{egfr}\n{fa.fetch(egfr)}\n")
    pysam.faidx(str(fasta))
    header = {"HD": {"VN": "1.6"}, "SQ": [{"SN": egfr, "LN": 193845}]}
    bams = []
    for sample in ("P", "R"):
        bam = tmp_path / f"{sample}.bam"
        with pysam.AlignmentFile(
            str(bam), "wb", header={**header, "RG": [{"ID": sample, "SM": sample}]}
        ):
            pass
        pysam.index(str(bam))
        bams.append(str(bam))
    df = run(
        str(fasta), str(GTF), bams, str(tmp_path / "f.tsv"), str(tmp_path / "f.vcf.gz"), Settings()
    )
    assert list(df["sample"]) == ["P", "R"]
    assert set(df["call"]) == {"not assessable"}
    assert set(df["reason"]) == {"gene ALK is on no contig of the reference FASTA"}
    with pysam.VariantFile(str(tmp_path / "f.vcf.gz")) as vf:
        assert list(vf.header.contigs) == [egfr] and not list(vf)


def test_bad_inputs_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="gene NOPE"):
        run(str(REF), str(GTF), [], str(tmp_path / "f.tsv"), None, Settings(gene="NOPE"))
    header = {
        "HD": {"VN": "1.6"},
        "SQ": [{"SN": "scaffold1", "LN": 1000}],
        "RG": [{"ID": "x", "SM": "X"}],
    }
    bam = tmp_path / "odd.bam"
    with pysam.AlignmentFile(str(bam), "wb", header=header):
        pass
    pysam.index(str(bam))
    with pytest.raises(UserError, match="contig names match neither"):
        run(str(REF), str(GTF), [str(bam)], str(tmp_path / "f.tsv"), None, Settings())
    assert not (tmp_path / "f.tsv").exists()
    bad_gtf = tmp_path / "bad.gtf"
    bad_gtf.write_text(
        'chrZ_1_100\tx\texon\t1\t50\t.\t+\t.\tgene_name "ALK"; '
        'transcript_id "T1"; exon_number "1";\n'
    )
    with pytest.raises(UserError, match="no contig in common with the reference FASTA"):
        run(str(REF), str(bad_gtf), [], str(tmp_path / "f.tsv"), None, Settings())


def test_cli_reports_bad_input_with_exit_code_2(tmp_path, capsys):
    rc = main(
        [
            "fusion",
            "--reference",
            str(REF),
            "--gtf",
            str(GTF),
            "--bam",
            str(tmp_path / "missing.bam"),
            "--out",
            str(tmp_path / "f.tsv"),
        ]
    )
    assert rc == 2
    assert "BAM not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(
            [
                "fusion",
                "--reference",
                str(REF),
                "--gtf",
                str(GTF),
                "--bam",
                "x.bam",
                "--out",
                "f.tsv",
                "--min-fragments",
                "0",
            ]
        )


# ---------------------------------------------------------------- real data (H3122, HCC827)


@pytest.fixture(scope="module")
def realdata() -> Path:
    d = SHARED / "realdata" / "DNAfusion"
    if not (d / "H3122_EML4.bam").exists():
        pytest.skip(f"real data folder {d} is absent")
    return d


def _check_h3122(df: pd.DataFrame, sample: str) -> pd.Series:
    rows = df[(df["sample"] == sample) & (df["call"] == "detected")]
    assert len(rows) == 1, rows
    row = rows.iloc[0]
    assert (row.gene_5p, row.gene_3p, row.variant, row.exons) == ("EML4", "ALK", "v1", "E13;A20")
    assert abs(int(row.genomic_5p.split(":")[1]) - EML4_BP) <= 5
    assert abs(int(row.genomic_3p.split(":")[1]) - ALK_BP) <= 5
    assert row.fragments > 100
    return row


def _check_hcc827(df: pd.DataFrame, sample: str) -> None:
    rows = df[df["sample"] == sample]
    assert not (rows["call"] == "detected").any(), rows
    status = rows.iloc[-1]
    assert status.call == "not detected" and int(status.region_depth) > 500


@pytest.mark.slow
@pytest.mark.realdata
def test_real_h3122_hcc827_realigned_to_panel(real_panel_bams, tmp_path):
    df = run(
        str(REF),
        str(GTF),
        [str(real_panel_bams["H3122"]), str(real_panel_bams["HCC827"])],
        str(tmp_path / "f.tsv"),
        str(tmp_path / "f.vcf.gz"),
        Settings(),
    )
    row = _check_h3122(df, "H3122")
    assert row.split_reads > 50 and row.discordant_pairs > 50
    _check_hcc827(df, "HCC827")


@pytest.mark.slow
@pytest.mark.realdata
def test_real_bams_as_shipped_hg38_bwa_M(realdata, tmp_path):
    """hg38 names (plain chr2), bwa -M secondaries, no SA on most splits, no @RG line."""
    h, c = realdata / "H3122_EML4.bam", realdata / "HCC827_EML4.bam"
    df = run(
        str(REF),
        str(GTF),
        [str(h), str(c)],
        str(tmp_path / "f.tsv"),
        str(tmp_path / "f.vcf.gz"),
        Settings(),
    )
    row = _check_h3122(df, "H3122_EML4")
    # most split evidence is only visible through secondary split parts and clip re-mapping
    assert row.split_reads > 100
    _check_hcc827(df, "HCC827_EML4")


@pytest.mark.slow
@pytest.mark.realdata
def test_real_h3122_on_a_whole_genome_with_alk_only_targets(realdata, genome38, tmp_path):
    """A capture kit tiles ALK, not EML4 (AVENIO has no EML4 probes), so no target names EML4.
    On a whole genome the caller holds only modelled genes in memory to place clipped sequence:
    the annotation models the fusion gene's known partners anyway, and H3122 gives EML4-ALK v1
    (it once read 'no ALK fusion detected' at 776x, the Alu-rich EML4 clip unplaceable)."""
    from resistcall.annotation import write_cache

    alk_only = tmp_path / "alk_probes.bed"
    rows = genome38["targets"].read_text().splitlines()
    alk_only.write_text("".join(r + "\n" for r in rows if int(r.split("\t")[1]) < 30_000_000))
    cache = {k: tmp_path / f"cache.{k}" for k in ("gtf", "choice", "targets")}
    choice = write_cache(cache, genome38["gtf"], genome38["fasta"], alk_only, KNOWN, ["ALK"])
    assert "EML4" in set(choice["gene"])  # modelled although no target lies on it
    assert "EML4" not in set(pd.read_csv(cache["targets"], sep="\t", header=None)[3])
    h, c = realdata / "H3122_EML4.bam", realdata / "HCC827_EML4.bam"
    df = run(
        str(genome38["fasta"]),
        str(cache["gtf"]),
        [str(h), str(c)],
        str(tmp_path / "f.tsv"),
        None,
        Settings(),
    )
    _check_h3122(df, "H3122_EML4")
    _check_hcc827(df, "HCC827_EML4")


@needs_bwa
def test_30bp_reads_fail_qc_and_never_read_not_detected(tmp_path, panel, bwa_index):
    """The same EML4-ALK fragments read at 30 bp give no split or discordant evidence; QC
    (read length from samtools stats) fails the sample, so the fusion call is not assessable
    instead of a confident 'no ALK fusion detected'."""
    rng = np.random.default_rng(8)
    fused, junction = _h3122_like(panel)
    pairs = _pairs(fused, 60, rng, read_len=30, must_span=junction)
    pairs += _pairs(_normal(panel), 3000, rng, read_len=30)
    bam = _align(bwa_index, pairs, tmp_path / "short.bam", "SHORT")
    stats = tmp_path / "short.stats.txt"
    stats.write_text(pysam.stats(str(bam)))
    contig, offset = "chr2_29196228_29226309", 29196227
    targets = tmp_path / "t.bed"
    targets.write_text(f"{contig}\t{ALK_LO - offset}\t{ALK_HI - offset}\tALK\n")
    summary, _ = qc.run_qc(bam, stats, targets)
    assert summary["status"] == "fail" and summary["read_length"] == 30
    assert "reads are 30 bp on average" in summary["reasons"][0]
    args = (str(REF), str(GTF), [str(bam)], str(tmp_path / "f.tsv"), None, Settings())
    assert list(run(*args)["call"]) == ["not detected"]  # what a user got before the gate
    df = run(*args, {"SHORT": summary})
    assert list(df["call"]) == ["not assessable"]
    # no detection limit on a row that could not be assessed (it read as "ruled out down to")
    assert df["detection_limit_af"].iloc[0] in (".", "") or pd.isna(
        df["detection_limit_af"].iloc[0]
    )
    assert (
        df["status"]
        .iloc[0]
        .startswith("ALK fusion not assessable: sample failed QC: reads are 30 bp on average")
    )


@needs_bwa
@pytest.mark.slow
@pytest.mark.parametrize("modelled", [False, True], ids=["span only", "recurrent, modelled"])
def test_partner_outside_the_modelled_genes_is_named_from_the_gtf(tmp_path, panel, modelled):
    """KIF5B-ALK on a whole genome (N-filled chr2 and chr10 of real length) with ALK-only
    targets. Without CDS rows (as any partner outside the recurrent ones) the annotation cache
    has only KIF5B's span and the caller does not hold its sequence: the junction's split reads
    align there (bwa SA tags), and the caller holds KIF5B on demand and names it, where it once
    reported 'unknown-ALK ... its reads align at chr10:32017400-32017400' from split reads alone
    (21 of the 50 fusion fragments, no discordant pairs). With its CDS, KIF5B, a recurrent ALK
    partner, is modelled by the cache and held from the start: named with its intron."""
    from wholegenome import (
        CHR2_GRCH38,
        CHR10_GRCH38,
        chromosome,
        gencode_gtf,
        kif5b_rows,
        lift_bam,
        probe_bed,
        write_genome,
    )

    from resistcall.annotation import write_cache

    rng = np.random.default_rng(24)
    block_start, kif5b_bp, alk_bp = 32_014_001, 32_017_400, 29_224_500  # ALK intron 19
    # synthetic KIF5B intron sequence at its GRCh38 place; no microhomology at the junction
    block = list(rng.choice(list("ACGT"), 7000))
    i = kif5b_bp - block_start
    block[i - 1] = next(b for b in "ACGT" if b != panel.fetch("chr2", alk_bp, alk_bp))
    block[i] = next(b for b in "ACGT" if b != panel.fetch("chr2", alk_bp + 1, alk_bp + 1))
    partner = "".join(block)
    # reads aligned with bwa mem to the two loci, then moved to whole-chromosome coordinates
    mini = tmp_path / "mini.fa"
    alk_contig = "chr2_29196228_29226309"
    with pysam.FastaFile(str(REF)) as fa:
        mini.write_text(
            f">{alk_contig}\n{fa.fetch(alk_contig)}\n"
            f">chr10_{block_start}_{block_start + len(partner) - 1}\n{partner}\n"
        )
    subprocess.run(["bwa", "index", str(mini)], check=True, capture_output=True)
    # KIF5B (minus strand) keeps its 5' part (>= bp), ALK (minus strand) its 3' part (<= bp)
    fused = panel.fetch("chr2", ALK_LO, alk_bp) + partner[i : i + 400]
    pairs = _pairs(fused, 50, rng, must_span=alk_bp - ALK_LO + 1)
    pairs += _pairs(_normal(panel), 600, rng)
    raw = _align(mini, pairs, tmp_path / "raw.bam", "K1")
    fasta = write_genome(
        tmp_path / "genome.fa",
        [
            ("chr2", chromosome(CHR2_GRCH38, [alk_contig, "chr2_42175501_42332600"])),
            ("chr10", chromosome(CHR10_GRCH38, [], pieces={block_start: partner})),
        ],
    )
    bam = lift_bam(raw, tmp_path / "K1.bam", fasta)
    with pysam.AlignmentFile(str(bam)) as b:
        assert b.references == ("chr2", "chr10")
        assert any(r.has_tag("SA") and "chr10," in r.get_tag("SA") for r in b.fetch("chr2"))
    exons = {24: (32_017_800, 32_017_900), 25: (32_016_900, 32_017_000)}
    gtf = gencode_gtf(tmp_path / "gencode.gtf.gz", extra=kif5b_rows(exons, cds=modelled))
    alk_only = probe_bed(tmp_path / "alk_probes.bed", {"ALK"})
    cache = {k: tmp_path / f"cache.{k}" for k in ("gtf", "choice", "targets")}
    choice = write_cache(cache, gtf, fasta, alk_only, KNOWN, ["ALK"])
    assert ("KIF5B" in set(choice["gene"])) is modelled  # else a span in the cache, no model
    df = run(
        str(fasta),
        str(cache["gtf"]),
        [str(bam)],
        str(tmp_path / "f.tsv"),
        str(tmp_path / "f.vcf.gz"),
        Settings(),
    )
    row = df.iloc[0]
    assert (row.gene_5p, row.gene_3p, row.call) == ("KIF5B", "ALK", "detected")
    assert (row.genomic_5p, row.genomic_3p) == (f"chr10:{kif5b_bp}", f"chr2:{alk_bp}")
    assert row.location_3p == "intron 19" and row.partner_sequence == "."
    assert row.location_5p == ("intron 24" if modelled else "gene body (no model)")
    assert row.status.startswith("KIF5B-ALK detected")
    # placed like a modelled partner: its discordant pairs count too
    assert row.discordant_pairs >= 10 and row.fragments >= 45
    assert len(df) == 1
    with pysam.VariantFile(str(tmp_path / "f.vcf.gz")) as vf:
        alts = sorted((r.chrom, r.alts[0]) for r in vf)
    assert alts[0] == ("chr10", f"]chr2:{alk_bp}]{partner[i]}")
    assert alts[1][0] == "chr2" and alts[1][1].endswith(f"[chr10:{kif5b_bp}[")
