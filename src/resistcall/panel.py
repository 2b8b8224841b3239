"""Demo panel design: capture targets, amplicons (inserts + primers) and SNV regions.

The bundled reference holds real GRCh38 bases only in the blocks of
``panel_GRCh38.known_sequence.bed``; everything else is ``N``. Every interval designed here is
therefore clipped to those blocks: a capture probe, primer or read over ``N`` would be fiction.
The design is deterministic (no randomness, stable sort), so ``resistcall panel`` regenerates the
committed BEDs byte for byte. Interval arithmetic is pyranges; only the splitting of long
intervals into ~250 bp targets and the placement of primers are plain numpy.

BED contracts (docs/architecture.md): targets/inserts/SNV regions ``chrom start end gene``,
primers ``chrom start end name pool strand`` (``samtools ampliconclip -b``).
"""

from __future__ import annotations

import argparse
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyranges as pr
import pysam

from resistcall.annotation import load_annotation
from resistcall.errors import UserError
from resistcall.reference import read_bed

log = logging.getLogger(__name__)

#: Genes whose copy number / variants the product reports.
PANEL_GENES = ("ALK", "EGFR", "MET", "KIT", "ERBB2", "KRAS")
#: Copy-number reference genes (real genes on chromosomes without panel targets).
CONTROL_GENES = ("CD74", "RET", "EWSR1")
#: Genes whose coding exons are screened for SNVs/indels.
SNV_GENES = ("ALK", "EGFR", "KRAS", "MET", "KIT", "ERBB2")
#: Last EML4 base of the H3122 EML4-ALK v1 junction (contig, 1-based); PROVENANCE_EML4.md s6.
EML4_BREAKPOINT = ("chr2_42175501_42332600", 124249)

BED4 = ["chrom", "start", "end", "gene"]
PRIMER_COLUMNS = ["chrom", "start", "end", "name", "pool", "strand"]


@dataclass(frozen=True)
class PanelDesign:
    """Design parameters; the defaults made the committed demo panel."""

    target_padding: int = 20  # bp added to each side of a coding exon (splice sites, probe tails)
    max_target: int = 250  # longer merged regions are split into equal pieces <= this
    min_target: int = 40  # slivers shorter than this (after clipping to real bases) are dropped
    eml4_window: int = 500  # bp either side of the EML4 breakpoint that is targeted
    insert_min: int = 120
    insert_max: int = 180
    insert_padding: int = 5  # bp of intron either side of a coding exon inside the amplicon insert
    primer_min: int = 18
    primer_max: int = 25
    primer_tm: float = 60.0
    snv_padding: int = 10  # splice region around coding exons


# --------------------------------------------------------------------------------------------
# inputs


def read_known_sequence(path: str | Path) -> pr.PyRanges:
    """Real-base blocks of the reference as PyRanges (0-based half-open)."""
    bed = read_bed(path, names=("chrom", "start", "end"))
    return pr.PyRanges(
        pd.DataFrame({"Chromosome": bed["chrom"], "Start": bed["start"], "End": bed["end"]})
    )


def coding_regions(gtf: str | Path, genes: tuple[str, ...]) -> pd.DataFrame:
    """CDS (+ stop codon) rows of ``genes`` as 0-based ``Chromosome Start End gene exon``.

    UTR-only sequence is not part of a panel target: panels target the coding exons.
    """
    path = Path(gtf)
    if not path.exists():
        raise UserError(f"GTF not found: {path}")
    df = load_annotation(path, genes).models
    rows = df[df["Feature"].isin(["CDS", "stop_codon"]) & df["gene_name"].isin(genes)]
    missing = sorted(set(genes) - set(rows["gene_name"]))
    if missing:
        raise UserError(f"{path}: no CDS rows for gene(s) {', '.join(missing)}")
    out = pd.DataFrame(
        {
            "Chromosome": rows["Chromosome"].astype(str),
            "Start": rows["Start"].astype("int64"),
            "End": rows["End"].astype("int64"),
            "gene": rows["gene_name"].astype(str),
        }
    )
    return out.reset_index(drop=True)


def _intron(gtf_df: pd.DataFrame, gene: str, upstream_exon: int) -> tuple[str, int, int]:
    """0-based span of the intron after exon ``upstream_exon`` (transcript order) of ``gene``."""
    ex = gtf_df[(gtf_df["Feature"] == "exon") & (gtf_df["gene_name"] == gene)]
    num = ex["exon_number"].astype(int)
    a = ex[num == upstream_exon]
    b = ex[num == upstream_exon + 1]
    if a.empty or b.empty:
        raise UserError(f"GTF has no exons {upstream_exon}/{upstream_exon + 1} for {gene}")
    spans = sorted(
        [
            (int(a["Start"].iloc[0]), int(a["End"].iloc[0])),
            (int(b["Start"].iloc[0]), int(b["End"].iloc[0])),
        ]
    )
    return str(a["Chromosome"].iloc[0]), spans[0][1], spans[1][0]


# --------------------------------------------------------------------------------------------
# interval helpers (pyranges for set operations)


def _clip_merge(df: pd.DataFrame, known: pr.PyRanges) -> pd.DataFrame:
    """Merge intervals per gene and keep only the parts on real bases."""
    if df.empty:
        return pd.DataFrame(columns=["Chromosome", "Start", "End", "gene"])
    merged = pr.PyRanges(df[["Chromosome", "Start", "End", "gene"]]).merge(by="gene")
    clipped = merged.intersect(known).df
    if clipped.empty:
        return pd.DataFrame(columns=["Chromosome", "Start", "End", "gene"])
    clipped = pr.PyRanges(clipped).merge(by="gene").df
    return clipped[["Chromosome", "Start", "End", "gene"]]


def split_intervals(df: pd.DataFrame, max_len: int, min_len: int) -> pd.DataFrame:
    """Split each interval into the fewest equal pieces no longer than ``max_len``."""
    pieces: list[tuple[str, int, int, str]] = []
    for chrom, start, end, gene in df[["Chromosome", "Start", "End", "gene"]].itertuples(
        index=False
    ):
        n = max(1, math.ceil((end - start) / max_len))
        cuts = np.linspace(start, end, n + 1).round().astype(np.int64)
        bounds = zip(cuts[:-1], cuts[1:], strict=True)
        pieces.extend((chrom, int(s), int(e), gene) for s, e in bounds)
    out = pd.DataFrame(pieces, columns=["Chromosome", "Start", "End", "gene"])
    short = out["End"] - out["Start"] < min_len
    if short.any():
        log.info("dropping %d target slivers shorter than %d bp", int(short.sum()), min_len)
    return out[~short]


def sort_bed(df: pd.DataFrame) -> pd.DataFrame:
    """Conventional BED order (``sort -k1,1 -k2,2n -k3,3n``), stable."""
    return df.sort_values(["chrom", "start", "end"], kind="mergesort").reset_index(drop=True)


def _to_bed4(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "chrom": df["Chromosome"].astype(str).to_numpy(),
            "start": df["Start"].astype("int64").to_numpy(),
            "end": df["End"].astype("int64").to_numpy(),
            "gene": df["gene"].astype(str).to_numpy(),
        }
    )
    return sort_bed(out)


# --------------------------------------------------------------------------------------------
# designs


def design_capture_targets(
    gtf: str | Path, known_bed: str | Path, params: PanelDesign = PanelDesign()
) -> pd.DataFrame:
    """Capture targets: padded coding exons of panel + control genes, ALK intron 19 tiled,
    the EML4 intron-13 region around the H3122 breakpoint; split into <= ``max_target`` bp."""
    known = read_known_sequence(known_bed)
    gtf_df = load_annotation(gtf, ("ALK", "EML4")).models
    cds = coding_regions(gtf, PANEL_GENES + CONTROL_GENES)
    cds["Start"] = (cds["Start"] - params.target_padding).clip(lower=0)
    cds["End"] = cds["End"] + params.target_padding
    # ALK intron 19: genomic fusion breakpoints (EML4-ALK and others) fall here.
    chrom, s, e = _intron(gtf_df, "ALK", 19)
    extra = [(chrom, s, e, "ALK")]
    # EML4 intron 13 around the H3122 breakpoint: fusion-side reads for the caller.
    chrom, s, e = _intron(gtf_df, "EML4", 13)
    bp_chrom, bp = EML4_BREAKPOINT
    if bp_chrom != chrom or not s < bp <= e:
        raise UserError(f"EML4 breakpoint {bp_chrom}:{bp} is not in EML4 intron 13 of the GTF")
    extra.append((chrom, max(s, bp - params.eml4_window), min(e, bp + params.eml4_window), "EML4"))
    regions = pd.concat(
        [cds, pd.DataFrame(extra, columns=["Chromosome", "Start", "End", "gene"])],
        ignore_index=True,
    )
    clipped = _clip_merge(regions, known)
    return _to_bed4(split_intervals(clipped, params.max_target, params.min_target))


def design_snv_regions(
    gtf: str | Path, known_bed: str | Path, params: PanelDesign = PanelDesign()
) -> pd.DataFrame:
    """Coding exons (+ splice region) of the SNV genes, on real bases, merged per gene."""
    known = read_known_sequence(known_bed)
    cds = coding_regions(gtf, SNV_GENES)
    cds["Start"] = (cds["Start"] - params.snv_padding).clip(lower=0)
    cds["End"] = cds["End"] + params.snv_padding
    return _to_bed4(_clip_merge(cds, known))


def primer_tm(seq: str) -> float:
    """Basic GC-content melting temperature (Marmur/Doty form used for 18-25-mers)."""
    gc = sum(seq.count(b) for b in "GC")
    return 64.9 + 41.0 * (gc - 16.4) / len(seq)


def _best_primer_length(seq_from_insert: str, params: PanelDesign) -> int | None:
    """Length (18-25) whose Tm is closest to the target; the sequence runs away from the insert."""
    best, best_d = None, math.inf
    for n in range(params.primer_min, params.primer_max + 1):
        s = seq_from_insert[:n]
        if len(s) < n or "N" in s:
            break
        d = abs(primer_tm(s) - params.primer_tm)
        if d < best_d - 1e-9:
            best, best_d = n, d
    return best


def _tile(a: int, b: int, lo: int, hi: int, params: PanelDesign) -> list[tuple[int, int]]:
    """Equal inserts of insert_min..insert_max bp covering [a, b), kept inside [lo, hi)."""
    length = b - a
    n = max(1, math.ceil(length / params.insert_max))
    total = max(length, params.insert_min * n)
    start = a - (total - length) // 2
    start = min(max(start, lo), hi - total)  # shift into the block when it would spill over
    if start < lo:  # block too short for n minimum inserts: use what is there
        start, total = lo, hi - lo
        n = max(1, math.ceil(total / params.insert_max))
    cuts = np.linspace(start, start + total, n + 1).round().astype(np.int64)
    return [(int(s), int(e)) for s, e in zip(cuts[:-1], cuts[1:], strict=True)]


def design_amplicons(
    gtf: str | Path,
    known_bed: str | Path,
    fasta: str | Path,
    params: PanelDesign = PanelDesign(),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Amplicon inserts tiling coding exons (panel + control genes) and their primer pairs.

    Returns (inserts ``chrom start end gene``, primers ``chrom start end name pool strand``).
    Primers are 18-25 bp chosen for Tm closest to 60 C, directly flanking the insert, entirely
    on real bases; neighbouring amplicons alternate between pools 1 and 2.
    """
    known = read_known_sequence(known_bed)
    blocks = known.df
    cds = coding_regions(gtf, PANEL_GENES + CONTROL_GENES)
    cds["Start"] = cds["Start"] - params.insert_padding
    cds["End"] = cds["End"] + params.insert_padding
    regions = _clip_merge(cds, known)
    regions = regions[regions["End"] - regions["Start"] >= params.min_target]
    regions = regions.sort_values(["Chromosome", "Start"], kind="mergesort")
    inserts, primers = [], []
    counter: dict[str, int] = {}
    with pysam.FastaFile(str(fasta)) as fa:
        for chrom, a, b, gene in regions[["Chromosome", "Start", "End", "gene"]].itertuples(
            index=False
        ):
            blk = blocks[
                (blocks["Chromosome"] == chrom) & (blocks["Start"] <= a) & (blocks["End"] >= b)
            ]
            lo, hi = int(blk["Start"].iloc[0]), int(blk["End"].iloc[0])
            for s, e in _tile(a, b, lo + params.primer_max, hi - params.primer_max, params):
                left_seq = fa.fetch(chrom, max(lo, s - params.primer_max), s).upper()[::-1]
                right_seq = fa.fetch(chrom, e, min(hi, e + params.primer_max)).upper()
                nl = _best_primer_length(left_seq, params)
                nr = _best_primer_length(right_seq, params)
                if nl is None or nr is None:
                    log.warning("no primer room for %s:%d-%d (%s); skipped", chrom, s, e, gene)
                    continue
                counter[gene] = counter.get(gene, 0) + 1
                name = f"{gene}_{counter[gene]:03d}"
                pool = 1 + (counter[gene] - 1) % 2
                inserts.append((chrom, s, e, gene))
                primers.append((chrom, s - nl, s, f"{name}_LEFT", pool, "+"))
                primers.append((chrom, e, e + nr, f"{name}_RIGHT", pool, "-"))
    ins = sort_bed(pd.DataFrame(inserts, columns=BED4))
    prm = sort_bed(pd.DataFrame(primers, columns=PRIMER_COLUMNS))
    return ins, prm


def read_amplicons(primer_bed: str | Path, insert_bed: str | Path | None = None) -> pd.DataFrame:
    """Pair LEFT/RIGHT primers into amplicons.

    Returns ``chrom start end insert_start insert_end gene name`` where start/end span the whole
    amplicon (primers included). The gene comes from the insert BED when given (insert =
    between LEFT end and RIGHT start), else from the amplicon name prefix.
    """
    prm = read_bed(primer_bed, names=("chrom", "start", "end", "name"))
    m = prm["name"].str.extract(r"^(?P<amp>.+)_(?P<side>LEFT|RIGHT)(?:_.*)?$")
    if m["amp"].isna().any():
        row = int(m["amp"].isna().idxmax()) + 1
        raise UserError(f"{primer_bed}: row {row}: primer name does not end in _LEFT/_RIGHT")
    prm = prm.assign(amp=m["amp"], side=m["side"])
    left = prm[prm["side"] == "LEFT"].set_index("amp")
    right = prm[prm["side"] == "RIGHT"].set_index("amp")
    unpaired = sorted(set(left.index) ^ set(right.index))
    if unpaired:
        raise UserError(f"{primer_bed}: primers without a partner: {', '.join(unpaired[:5])}")
    right = right.loc[left.index]
    amps = pd.DataFrame(
        {
            "chrom": left["chrom"].to_numpy(),
            "start": left["start"].to_numpy(),
            "end": right["end"].to_numpy(),
            "insert_start": left["end"].to_numpy(),
            "insert_end": right["start"].to_numpy(),
            "name": left.index.to_numpy(),
        }
    )
    if insert_bed is not None:
        ins = read_bed(insert_bed)
        key = ins.set_index(["chrom", "start", "end"])["name"]
        idx = pd.MultiIndex.from_arrays([amps["chrom"], amps["insert_start"], amps["insert_end"]])
        amps["gene"] = key.reindex(idx).to_numpy()
        if amps["gene"].isna().any():
            bad = amps.loc[amps["gene"].isna(), "name"].iloc[0]
            raise UserError(f"{insert_bed}: no insert between the primers of amplicon {bad}")
    else:
        amps["gene"] = amps["name"].str.replace(r"_\d+$", "", regex=True)
    amps = amps[["chrom", "start", "end", "insert_start", "insert_end", "gene", "name"]]
    return amps.sort_values(["chrom", "start", "end"], kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# output


def write_bed(df: pd.DataFrame, path: str | Path) -> None:
    """Write without header, atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    df.to_csv(tmp, sep="\t", header=False, index=False, lineterminator="\n")
    tmp.replace(path)


def build_panel(
    gtf: str | Path,
    known_bed: str | Path,
    fasta: str | Path,
    out_dir: str | Path,
    prefix: str = "demo",
    params: PanelDesign = PanelDesign(),
) -> dict[str, Path]:
    """Design everything; write ``<prefix>_{capture_targets,amplicons,primers,snv_regions}.bed``."""
    out_dir = Path(out_dir)
    targets = design_capture_targets(gtf, known_bed, params)
    inserts, primers = design_amplicons(gtf, known_bed, fasta, params)
    snv = design_snv_regions(gtf, known_bed, params)
    paths = {
        "capture_targets": out_dir / f"{prefix}_capture_targets.bed",
        "amplicons": out_dir / f"{prefix}_amplicons.bed",
        "primers": out_dir / f"{prefix}_primers.bed",
        "snv_regions": out_dir / f"{prefix}_snv_regions.bed",
    }
    write_bed(targets, paths["capture_targets"])
    write_bed(inserts, paths["amplicons"])
    write_bed(primers, paths["primers"])
    write_bed(snv, paths["snv_regions"])
    for key, df in (("capture_targets", targets), ("amplicons", inserts), ("snv_regions", snv)):
        log.info(
            "%s: %d intervals, %d bp, genes %s",
            paths[key],
            len(df),
            int((df["end"] - df["start"]).sum()),
            ",".join(sorted(df["gene"].unique())),
        )
    log.info("%s: %d primers", paths["primers"], len(primers))
    return paths


def _cmd_panel(args: argparse.Namespace) -> None:
    build_panel(args.gtf, args.known_bed, args.fasta, args.out_dir, args.prefix)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "panel",
        help="design the demo panel (capture targets, amplicons, primers, SNV regions)",
        description="Design the demo panel BEDs from the GTF and the known-sequence BED. "
        "Deterministic: rerunning reproduces the committed resources/panel/*.bed.",
    )
    ref = Path("resources/reference")
    p.add_argument("--gtf", default=str(ref / "panel_GRCh38.gtf"))
    p.add_argument("--known-bed", default=str(ref / "panel_GRCh38.known_sequence.bed"))
    p.add_argument("--fasta", default=str(ref / "panel_GRCh38.fa"))
    p.add_argument("--out-dir", default="resources/panel")
    p.add_argument("--prefix", default="demo")
    p.set_defaults(func=_cmd_panel)
