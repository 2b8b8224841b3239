"""Allele/indel counting: exact counts on small real-shaped BAMs (panel reference, paired reads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pysam
import pytest

from resistcall.pileup import ALLELES, PileupParams, count_region, read_positions

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "resources" / "reference" / "panel_GRCh38.fa"
ALK = "chr2_29196228_29226309"


def _haplotype(seq: str, start: int, variant) -> list[tuple[int | None, str]]:
    """(ref position or None for inserted base, base) along one fragment's haplotype."""
    hap = [(start + i, b) for i, b in enumerate(seq)]
    if variant is None:
        return hap
    pos, ref, alt = variant
    i = pos - start
    if len(ref) == len(alt) == 1:
        hap[i] = (pos, alt)
    elif len(alt) > len(ref):  # insertion after the anchor
        hap[i + 1 : i + 1] = [(None, b) for b in alt[1:]]
    else:  # deletion of ref[1:]
        del hap[i + 1 : i + len(ref)]
    return hap


def _cigar(entries: list[tuple[int | None, str]]) -> list[tuple[int, int]]:
    ops: list[list[int]] = []

    def push(op: int, n: int = 1) -> None:
        if ops and ops[-1][0] == op:
            ops[-1][1] += n
        else:
            ops.append([op, n])

    last = None
    for rpos, _ in entries:
        if rpos is None:
            push(1)
            continue
        if last is not None and rpos > last + 1:
            push(2, rpos - last - 1)
        push(0)
        last = rpos
    return [(op, n) for op, n in ops]


def make_bam(
    path: Path,
    sample: str,
    n_frag: int,
    variants: list[tuple[int, str, str, float]] = (),
    start: int = 24300,
    end: int = 24900,
    read_len: int = 100,
    insert: int = 150,
    seed: int = 0,
    qual: int = 35,
    error_rate: float = 0.0,
    dup_fraction: float = 0.0,
    contig: str = ALK,
    mapq: int = 60,
) -> Path:
    """Paired reads from the panel reference with variants at given VAFs (one per fragment).

    ``variants``: (0-based anchor position, ref, alt, vaf) in VCF style. Fragments of ``insert``
    bp; mates overlap when insert < 2 * read_len. Sorted and indexed; @RG SM = ``sample``.
    """
    rng = np.random.default_rng(seed)
    with pysam.FastaFile(str(REF)) as fa:
        seq = fa.fetch(contig, start, end).upper()
        header = {
            "HD": {"VN": "1.6", "SO": "unsorted"},
            "SQ": [{"SN": n, "LN": ln} for n, ln in zip(fa.references, fa.lengths, strict=True)],
            "RG": [{"ID": sample, "SM": sample}],
        }
    tmp = path.with_suffix(".unsorted.bam")
    with pysam.AlignmentFile(str(tmp), "wb", header=header) as out:
        for f in range(n_frag):
            chosen = None
            u = rng.random()
            acc = 0.0
            for v in variants:
                acc += v[3]
                if u < acc:
                    chosen = v[:3]
                    break
            hap = _haplotype(seq, start, chosen)
            i = int(rng.integers(0, len(hap) - insert))
            frag = hap[i : i + insert]
            dup = rng.random() < dup_fraction
            for mate in (1, 2):
                ent = frag[:read_len] if mate == 1 else frag[-read_len:]
                while ent[0][0] is None:
                    ent = ent[1:]
                while ent[-1][0] is None:
                    ent = ent[:-1]
                bases = [b for _, b in ent]
                errs = rng.random(len(bases)) < error_rate
                for j in np.flatnonzero(errs):
                    bases[j] = "ACGT"[("ACGT".index(bases[j]) + 1 + int(rng.integers(0, 3))) % 4]
                a = pysam.AlignedSegment(out.header)
                a.query_name = f"{sample}_f{f}"
                a.query_sequence = "".join(bases)
                a.flag = (99 if mate == 1 else 147) | (0x400 if dup else 0)
                a.reference_id = out.get_tid(contig)
                a.reference_start = ent[0][0]
                a.mapping_quality = mapq
                a.cigartuples = _cigar(ent)
                a.next_reference_id = a.reference_id
                other = frag[-read_len:] if mate == 1 else frag[:read_len]
                a.next_reference_start = next(p for p, _ in other if p is not None)
                a.template_length = insert if mate == 1 else -insert
                a.query_qualities = pysam.qualitystring_to_array(chr(qual + 33) * len(bases))
                a.set_tag("RG", sample)
                out.write(a)
    pysam.sort("-o", str(path), str(tmp))
    pysam.index(str(path))
    tmp.unlink()
    return path


def _count(bam: Path, params: PileupParams | None = None, start=24300, end=24900):
    params = params or PileupParams()
    with pysam.AlignmentFile(str(bam)) as b, pysam.FastaFile(str(REF)) as fa:
        return count_region(b, fa, ALK, start, end, params)


def _ref(pos: int, n: int = 1) -> str:
    with pysam.FastaFile(str(REF)) as fa:
        return fa.fetch(ALK, pos, pos + n).upper()


def test_snv_counts_overlapping_mates_once(tmp_path):
    pos = 24600
    ref = _ref(pos)
    alt = "A" if ref != "A" else "C"
    bam = make_bam(tmp_path / "s.bam", "S", 400, [(pos, ref, alt, 0.25)], seed=1)
    c = _count(bam)
    i = pos - 24300
    # every fragment is 150 bp with 100 bp mates: bases in the overlap are seen twice in the
    # BAM but must be counted once per fragment
    with pysam.AlignmentFile(str(bam)) as b:
        frags = {r.query_name for r in b.fetch(ALK, pos, pos + 1)}
        reads = sum(1 for _ in b.fetch(ALK, pos, pos + 1))
    assert reads > len(frags)  # some mates overlap here
    assert c.depth[i] == len(frags)
    ai = ALLELES.index(alt)
    n_alt = c.counts[i, ai].sum()
    assert n_alt + c.counts[i, ALLELES.index(ref)].sum() == len(frags)
    assert 0.15 < n_alt / len(frags) < 0.35
    assert c.counts[i, ai, 0] > 0 and c.counts[i, ai, 1] > 0  # both strands
    # htslib merges the two mates' qualities where they overlap (0.8 x sum), never lowers them
    assert c.qual_sum[i, ai] >= 35 * n_alt
    # without overlap handling the same position counts mates twice
    raw = _count(bam, PileupParams(ignore_overlaps=False))
    assert raw.depth[i] == reads


def test_no_depth_cap_beyond_pysam_default(tmp_path):
    bam = make_bam(
        tmp_path / "deep.bam", "D", 9000, start=24500, end=24700, insert=190, read_len=95, seed=2
    )
    c = _count(bam, start=24500, end=24700)
    assert c.depth.max() == 9000  # every fragment spans the middle; pysam's default caps 8000


def test_duplicates_by_assay(tmp_path):
    bam = make_bam(tmp_path / "dup.bam", "D", 600, dup_fraction=0.3, seed=3)
    cap = _count(bam, PileupParams.for_assay("capture"))
    amp = _count(bam, PileupParams.for_assay("amplicon"))
    assert amp.depth.sum() > cap.depth.sum() * 1.3
    with pytest.raises(ValueError):
        PileupParams.for_assay("wgs")


def test_base_quality_threshold(tmp_path):
    # insert 250: no mate overlap (overlapping mates would get htslib's merged quality)
    bam = make_bam(tmp_path / "q.bam", "Q", 200, qual=15, insert=250, seed=4)
    assert _count(bam, PileupParams(min_base_quality=20)).depth.sum() == 0
    assert _count(bam, PileupParams(min_base_quality=10)).depth.sum() > 0


def test_indels_are_vcf_style(tmp_path):
    ins_pos, del_pos = 24550, 24650
    ins = (ins_pos, _ref(ins_pos), _ref(ins_pos) + "GAT", 0.2)
    dele = (del_pos, _ref(del_pos, 3), _ref(del_pos), 0.3)
    bam = make_bam(tmp_path / "i.bam", "I", 800, [ins, dele], seed=5)
    c = _count(bam)
    tab = c.indels.assign(n=c.indels.fwd + c.indels.rev).set_index(["pos", "ref", "alt"])
    n_ins = tab.loc[(ins_pos, ins[1], ins[2]), "n"]
    n_del = tab.loc[(del_pos, dele[1], dele[2]), "n"]
    i, d = ins_pos - 24300, del_pos - 24300
    assert 0.1 < n_ins / c.depth[i] < 0.3
    assert 0.2 < n_del / c.depth[d] < 0.4
    # reads spanning the deletion show '*' at the deleted bases
    assert c.counts[d + 1, ALLELES.index("*")].sum() == pytest.approx(n_del, abs=3)


def test_read_positions_for_candidates(tmp_path):
    pos = 24600
    ref = _ref(pos)
    alt = "T" if ref != "T" else "G"
    bam = make_bam(tmp_path / "r.bam", "R", 300, [(pos, ref, alt, 0.5)], seed=6)
    with pysam.AlignmentFile(str(bam)) as b:
        dist = read_positions(b, ALK, pos, PileupParams(), alt)
    c = _count(bam)
    assert len(dist) == c.counts[pos - 24300, ALLELES.index(alt)].sum()
    assert dist.min() >= 0 and dist.max() <= 49


def test_mapping_quality_threshold(tmp_path):
    bam = make_bam(tmp_path / "m.bam", "M", 100, mapq=10, seed=7)
    assert _count(bam, PileupParams(min_mapping_quality=20)).depth.sum() == 0
    assert _count(bam, PileupParams(min_mapping_quality=0)).depth.sum() > 0
