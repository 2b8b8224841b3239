"""Demo panel design: committed BEDs regenerate exactly and obey the BED contracts."""

from __future__ import annotations

import filecmp
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest

from resistcall import panel
from resistcall.cli import main
from resistcall.errors import UserError
from resistcall.reference import read_bed

REPO = Path(__file__).resolve().parents[1]
REF = REPO / "resources" / "reference"
FASTA = REF / "panel_GRCh38.fa"
GTF = REF / "panel_GRCh38.gtf"
KNOWN = REF / "panel_GRCh38.known_sequence.bed"
PANEL = REPO / "resources" / "panel"
NAMES = ("capture_targets", "amplicons", "primers", "snv_regions")


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("panel")
    assert (
        main(
            [
                "panel",
                "--gtf",
                str(GTF),
                "--known-bed",
                str(KNOWN),
                "--fasta",
                str(FASTA),
                "--out-dir",
                str(out),
            ]
        )
        == 0
    )
    return out


@pytest.fixture(scope="module")
def known() -> pd.DataFrame:
    return read_bed(KNOWN, names=("chrom", "start", "end"))


def _inside_known(df: pd.DataFrame, known: pd.DataFrame) -> np.ndarray:
    ok = []
    for chrom, s, e in df[["chrom", "start", "end"]].itertuples(index=False):
        k = known[known["chrom"] == chrom]
        ok.append(bool(((k["start"] <= s) & (k["end"] >= e)).any()))
    return np.array(ok)


@pytest.mark.parametrize("name", NAMES)
def test_committed_beds_regenerate_identically(regenerated, name):
    committed = PANEL / f"demo_{name}.bed"
    assert filecmp.cmp(committed, regenerated / f"demo_{name}.bed", shallow=False), (
        f"{committed} differs from `resistcall panel` output; see resources/panel/README.md"
    )


def test_capture_targets_contract(known):
    t = read_bed(PANEL / "demo_capture_targets.bed")
    assert list(t.sort_values(["chrom", "start", "end"]).index) == list(t.index)  # sorted
    assert _inside_known(t, known).all(), "a target runs into N padding"
    lengths = t["end"] - t["start"]
    assert lengths.max() <= 250 and lengths.min() >= 40
    counts = t["name"].value_counts()
    for gene in panel.PANEL_GENES + panel.CONTROL_GENES:
        assert counts.get(gene, 0) >= 3, f"{gene} has too few targets for copy number"
    with pysam.FastaFile(str(FASTA)) as fa:
        assert not any(
            "N" in fa.fetch(c, s, e).upper()
            for c, s, e in t[["chrom", "start", "end"]].itertuples(index=False)
        )
    # no overlaps between targets
    for _, g in t.groupby("chrom"):
        assert (g["start"].to_numpy()[1:] >= g["end"].to_numpy()[:-1]).all()


def test_fusion_regions_are_tiled():
    t = read_bed(PANEL / "demo_capture_targets.bed")
    alk = t[(t["chrom"] == "chr2_29196228_29226309")]
    covered = np.zeros(30082, bool)
    for s, e in alk[["start", "end"]].itertuples(index=False):
        covered[s:e] = True
    # ALK intron 19 = contig 27302-29233 (1-based) between exon 20 and exon 19
    assert covered[27301:29233].all()
    assert covered[27513]  # H3122 breakpoint chr2:29,223,741
    eml4 = t[t["chrom"] == panel.EML4_BREAKPOINT[0]]
    bp = panel.EML4_BREAKPOINT[1]
    assert ((eml4["start"] < bp) & (eml4["end"] >= bp)).any()
    assert set(eml4["name"]) == {"EML4"}


def test_amplicons_and_primers(known):
    ins = read_bed(PANEL / "demo_amplicons.bed")
    prm = pd.read_csv(
        PANEL / "demo_primers.bed",
        sep="\t",
        header=None,
        names=["chrom", "start", "end", "name", "pool", "strand"],
    )
    amps = panel.read_amplicons(PANEL / "demo_primers.bed", PANEL / "demo_amplicons.bed")
    assert len(amps) == len(ins) == len(prm) // 2
    ilen = amps["insert_end"] - amps["insert_start"]
    assert ilen.between(110, 180).all()
    plen = prm["end"] - prm["start"]
    assert plen.between(18, 25).all()
    assert set(prm["strand"]) == {"+", "-"}
    assert prm["name"].str.fullmatch(r"[A-Z0-9]+_\d{3}_(LEFT|RIGHT)").all()
    assert set(prm["pool"]) == {1, 2}
    assert _inside_known(prm, known).all(), "a primer lies on N"
    # every coding base of the panel genes on real bases lies in some insert
    cds = panel.coding_regions(GTF, panel.PANEL_GENES)
    miss = tot = 0
    for chrom, s, e, _gene in cds.itertuples(index=False):
        k = known[(known["chrom"] == chrom) & (known["start"] < e) & (known["end"] > s)]
        a = ins[ins["chrom"] == chrom]
        for ks, ke in k[["start", "end"]].itertuples(index=False):
            lo, hi = max(s, ks), min(e, ke)
            pos = np.arange(lo, hi)
            hit = (a["start"].to_numpy()[:, None] <= pos) & (a["end"].to_numpy()[:, None] > pos)
            miss += int((~hit.any(axis=0)).sum())
            tot += len(pos)
    assert miss / tot < 0.01


def test_primer_bed_accepted_by_ampliconclip(tmp_path):
    """samtools ampliconclip reads the primer BED (6 columns, LEFT/RIGHT names)."""
    header = {
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": [{"SN": n, "LN": ln} for n, ln in zip(*_fai(), strict=True)],
    }
    bam = tmp_path / "empty.bam"
    with pysam.AlignmentFile(str(bam), "wb", header=header):
        pass
    out = tmp_path / "clipped.bam"
    res = subprocess.run(
        [
            "samtools",
            "ampliconclip",
            "-b",
            str(PANEL / "demo_primers.bed"),
            "-o",
            str(out),
            str(bam),
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert out.exists()


def _fai():
    fai = pd.read_csv(str(FASTA) + ".fai", sep="\t", header=None)
    return list(fai[0]), list(fai[1])


def test_snv_regions_cover_hotspots(known):
    snv = read_bed(PANEL / "demo_snv_regions.bed")
    hotspots = {  # contig positions (1-based) from resources/reference/PROVENANCE.md s5
        "chr2_29196228_29226309": [26166, 26121, 24604, 24538, 24520, 13590, 26181],
        "chr7_55017807_55211651": [156208, 163572, 163593, 174016],
        "chr12_25225577_25245847": [19774, 1766, 51],
        "chr7_116698938_116795854": [73032, 84417],
        "chr4_54723549_54736681": [3890, 9607],
        "chr17_39715216_39726728": [9533, 9596],
    }
    for chrom, positions in hotspots.items():
        s = snv[snv["chrom"] == chrom]
        for p in positions:
            assert ((s["start"] < p) & (s["end"] >= p)).any(), f"{chrom}:{p} not in SNV regions"
    assert set(snv["name"]) == set(panel.SNV_GENES)
    assert _inside_known(snv, known).all()


def test_read_amplicons_rejects_unpaired(tmp_path):
    bed = tmp_path / "p.bed"
    bed.write_text("chr1\t0\t20\tA_001_LEFT\t1\t+\nchr1\t200\t220\tA_002_RIGHT\t1\t-\n")
    with pytest.raises(UserError, match="without a partner"):
        panel.read_amplicons(bed)
    bed.write_text("chr1\t0\t20\tA_001_FWD\t1\t+\n")
    with pytest.raises(UserError, match="row 1"):
        panel.read_amplicons(bed)


def test_split_intervals_equal_pieces():
    df = pd.DataFrame({"Chromosome": ["c"], "Start": [100], "End": [700], "gene": ["G"]})
    out = panel.split_intervals(df, 250, 40)
    assert list(out["Start"]) == [100, 300, 500] and list(out["End"]) == [300, 500, 700]
