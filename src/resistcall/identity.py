"""Sample identity: do the samples of a line come from one individual? (``resistcall identity``)

Method in docs/qc.md ("Sample identity"). Germline SNPs seen in the panel are genotyped in every
sample of a line (allele counts from :mod:`resistcall.pileup`); each resistant sample is
compared with its parental at the sites both cover at ``min_depth``. Like somalier and
NGSCheckMate, the signal is genotype concordance, with one rule for derived samples: a
heterozygous parental site that is homozygous in the resistant sample is loss of heterozygosity
(resistant derivatives lose heterozygosity), not a mismatch. An allele the parental does not
have (hom -> het, or opposite homozygotes) is a discordance. Fewer than ``min_sites``
informative sites: ``not assessable``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from resistcall.contracts import IDENTITY_COLUMNS, IDENTITY_SITE_COLUMNS, NOT_ASSESSABLE
from resistcall.errors import UserError
from resistcall.outputs import write_tsvs
from resistcall.pileup import PileupParams, count_regions
from resistcall.reference import bam_sample, genomic_label

#: Genotype codes: hom ref, het, hom alt; -1 = depth too low or VAF between the bands.
HOM_REF, HET, HOM_ALT, NO_CALL = 0, 1, 2, -1


@dataclass(frozen=True)
class IdentityParams:
    """Thresholds (docs/qc.md, "Sample identity")."""

    #: a site is genotyped in a sample only at this many counted fragments.
    min_depth: int = 30
    #: VAF bands: hom ref below, het within, hom alt at or above; between bands: no call.
    hom_ref_max: float = 0.05
    het_min: float = 0.15
    hom_alt_min: float = 0.90
    #: a candidate SNP needs this VAF in some sample (germline-like, not a subclone).
    site_min_vaf: float = 0.15
    #: fewer informative sites than this: not assessable.
    min_sites: int = 4
    #: mismatch: at least this many discordant sites and this fraction of the informative ones.
    min_discordant: int = 2
    max_discordance: float = 0.25
    #: possible contamination: at least this many sites where one sample is homozygous and the
    #: other holds the other allele in the gap band (``hom_ref_max`` .. ``het_min``), and this
    #: fraction of the sites where the first is homozygous and the second has the depth.
    min_foreign_sites: int = 2
    min_foreign_share: float = 0.25


def genotype(alt: np.ndarray, depth: np.ndarray, p: IdentityParams) -> np.ndarray:
    """Genotype code per site from alt count and depth (VAF bands, ``NO_CALL`` in between)."""
    vaf = np.where(depth > 0, alt / np.maximum(depth, 1), 0.0)
    out = np.full(len(vaf), NO_CALL)
    out[vaf < p.hom_ref_max] = HOM_REF
    out[(vaf >= p.het_min) & (vaf < p.hom_alt_min)] = HET
    out[vaf >= p.hom_alt_min] = HOM_ALT
    out[depth < p.min_depth] = NO_CALL
    return out


def compare(parental: np.ndarray, resistant: np.ndarray, p: IdentityParams) -> dict:
    """Concordance of two genotype vectors over the same sites.

    Informative: both called and not both hom ref. Het -> hom in the resistant is LOH (counted
    apart, not discordant); any other difference brings an allele the parental lacks or
    removes a homozygous one (discordant).
    """
    called = (parental != NO_CALL) & (resistant != NO_CALL)
    informative = called & ~((parental == HOM_REF) & (resistant == HOM_REF))
    same = informative & (parental == resistant)
    loh = informative & (parental == HET) & (resistant != HET)
    discordant = informative & ~same & ~loh
    n, d = int(informative.sum()), int(discordant.sum())
    frac = d / n if n else float("nan")
    if n < p.min_sites:
        verdict = NOT_ASSESSABLE
        reason = f"{n} informative germline sites (< {p.min_sites}) at >= {p.min_depth} reads"
    elif d >= p.min_discordant and frac >= p.max_discordance:
        verdict, reason = "mismatch", None
    else:
        verdict, reason = "match", None
    return {
        "informative_sites": n,
        "concordant": int(same.sum()),
        "loh": int(loh.sum()),
        "discordant": d,
        # a fraction over fewer than min_sites decides nothing: no measured-looking number
        "discordance": round(frac, 4) if verdict != NOT_ASSESSABLE else None,
        "verdict": verdict,
        "reason": reason,
    }


def selected_positions(hotspots_tsv: str | None) -> set[tuple[str, int]]:
    """(contig, 1-based position) of every known-resistance codon in hotspots.tsv.

    The drug selects for new alleles there, so they are acquired, not germline: a resistant
    derivative gaining L1196M must not read as another individual's SNP."""
    if hotspots_tsv is None:
        return set()
    table = pd.read_csv(hotspots_tsv, sep="\t", usecols=["chrom", "positions"], dtype=str)
    return {
        (chrom, int(pos))
        for chrom, positions in table.drop_duplicates().itertuples(index=False)
        for pos in str(positions).split(",")
        if pos.strip().isdigit()
    }


def site_table(
    names: list[str],
    bams: list[str],
    reference: str,
    regions: pd.DataFrame,
    p: IdentityParams,
    exclude: set[tuple[str, int]] | None = None,
) -> pd.DataFrame:
    """Candidate germline SNPs (VAF >= ``site_min_vaf`` in some sample) genotyped in every sample,
    leaving out ``exclude`` (known-resistance positions, see :func:`selected_positions`).

    The alt allele of a site is the most frequent non-reference base summed over the samples.
    """
    params = PileupParams.for_assay("capture")
    per_sample = []
    for bam in bams:
        parts = count_regions(bam, reference, regions, params)
        per_sample.append(parts)
    rows = []
    for r, _ in enumerate(regions.itertuples(index=False)):
        parts = [s[r] for s in per_sample]
        acgt = np.stack([c.counts[:, :4, :].sum(axis=2) for c in parts])  # (S, n, 4)
        depth = acgt.sum(axis=2)
        ref_i = np.array(["ACGT".find(chr(b)) for b in parts[0].ref])
        ok = ref_i >= 0
        alt_tot = acgt.sum(axis=0).astype(float)
        alt_tot[np.arange(len(ref_i))[ok], ref_i[ok]] = -1
        alt_i = alt_tot.argmax(axis=1)
        alt_n = np.take_along_axis(acgt, alt_i[None, :, None], axis=2)[:, :, 0]
        vaf = np.where(depth > 0, alt_n / np.maximum(depth, 1), 0.0)
        cand = ok & ((vaf >= p.site_min_vaf) & (depth >= p.min_depth)).any(axis=0)
        for i in np.flatnonzero(cand):
            pos1 = int(parts[0].positions[i]) + 1
            if exclude and (parts[0].contig, pos1) in exclude:
                continue
            gts = genotype(alt_n[:, i], depth[:, i], p)
            for s, name in enumerate(names):
                rows.append(
                    {
                        "sample": name,
                        "chrom": parts[0].contig,
                        "pos": pos1,
                        "genomic": genomic_label(parts[0].contig, pos1),
                        "alt": "ACGT"[alt_i[i]],
                        "depth": int(depth[s, i]),
                        "alt_count": int(alt_n[s, i]),
                        "vaf": round(float(vaf[s, i]), 4),
                        "genotype": int(gts[s]),
                    }
                )
    return pd.DataFrame(rows, columns=list(IDENTITY_SITE_COLUMNS))


def foreign_alleles(
    gt_other: np.ndarray, vaf: np.ndarray, depth: np.ndarray, p: IdentityParams
) -> tuple[int, int, float]:
    """(sites in the gap band, sites looked at, median foreign-allele fraction of the former)
    of one sample at the sites where the other sample is homozygous.

    The foreign allele is the one the homozygous sample lacks (alt where it is hom ref, ref
    where it is hom alt). Between ``hom_ref_max`` and ``het_min`` it is neither noise nor a
    germline het: DNA of another individual (a contaminant heterozygous there shows half its
    share) or a subclonal acquired change, which is why the verdict says "possible"."""
    hom = ((gt_other == HOM_REF) | (gt_other == HOM_ALT)) & (depth >= p.min_depth)
    foreign = np.where(gt_other == HOM_REF, vaf, 1.0 - vaf)[hom]
    gap = foreign[(foreign >= p.hom_ref_max) & (foreign < p.het_min)]
    return len(gap), int(hom.sum()), float(np.median(gap)) if len(gap) else float("nan")


def contamination(wide: pd.DataFrame, parental: str, name: str, p: IdentityParams) -> str | None:
    """The reason for a ``possible contamination`` verdict, looking both ways (either sample
    may carry foreign DNA), or None. ``wide``: genotype, vaf and depth per site x sample."""
    for x, y in ((name, parental), (parental, name)):
        n_gap, n_hom, med = foreign_alleles(
            wide["genotype"][y].to_numpy(int),
            wide["vaf"][x].to_numpy(float),
            wide["depth"][x].to_numpy(int),
            p,
        )
        if n_gap >= p.min_foreign_sites and n_gap >= p.min_foreign_share * n_hom:
            return (
                f"{x}: {n_gap} of {n_hom} sites where {y} is homozygous carry the other allele "
                f"at {100 * p.hom_ref_max:.0f}-{100 * p.het_min:.0f}% (median "
                f"{100 * med:.1f}%): another individual's DNA, or subclonal changes there"
            )
    return None


def check_line(sites: pd.DataFrame, parental: str, resistant: list[str], p: IdentityParams):
    """One identity row per resistant sample vs the parental: a matching pair whose samples
    carry foreign alleles at homozygous sites reads ``possible contamination``."""
    wide = sites.pivot_table(
        index=["chrom", "pos"], columns="sample", values=["genotype", "vaf", "depth"]
    )
    rows = []
    for name in resistant:
        if wide.empty:
            res = compare(np.array([], dtype=int), np.array([], dtype=int), p)
        else:
            gt = wide["genotype"]
            res = compare(gt[parental].to_numpy(int), gt[name].to_numpy(int), p)
            why = contamination(wide, parental, name, p) if res["verdict"] == "match" else None
            if why:
                res.update(verdict="possible contamination", reason=why)
        rows.append({"sample": name, "parental": parental, **res})
    return pd.DataFrame(rows, columns=list(IDENTITY_COLUMNS))


def mqc_table(identity: pd.DataFrame, line: str) -> str:
    """MultiQC custom-content table (``*_mqc.tsv``: header comments, then a plain TSV)."""
    head = [
        "# id: 'resistcall_identity'",
        "# section_name: 'Sample identity (resistcall)'",
        "# description: 'Germline genotype concordance of each resistant sample with its "
        "parental; het -> hom counts as loss of heterozygosity, not mismatch (docs/qc.md)'",
        "# plot_type: 'table'",
    ]
    cols = ["Sample", "line", "parental", "verdict", "informative_sites", "discordant", "loh"]
    body = identity.rename(columns={"sample": "Sample"}).assign(line=line)[cols]
    return "\n".join(head) + "\n" + body.to_csv(sep="\t", index=False, na_rep=".")


def run(
    reference: str,
    regions_bed: str,
    parental: str,
    resistant: list[str],
    out: str,
    sites_out: str,
    mqc_out: str | None,
    line: str,
    p: IdentityParams = IdentityParams(),
    hotspots: str | None = None,
) -> pd.DataFrame:
    """Whole stage: genotype every BAM of the line, compare, write the tables atomically."""
    from resistcall.snv import merged_regions  # one BED -> merged regions helper

    bams = [parental, *resistant]
    for b in bams:
        if not Path(b).exists():
            raise UserError(f"BAM not found: {b}")
    names = [bam_sample(b) for b in bams]
    with pysam.FastaFile(reference) as fa:
        regions = merged_regions(regions_bed, fa)
    sites = site_table(names, bams, reference, regions, p, selected_positions(hotspots))
    identity = check_line(sites, names[0], names[1:], p)
    pairs = [(out, identity), (sites_out, sites)]
    write_tsvs(pairs, na_rep=".")
    if mqc_out:
        from resistcall.outputs import write_texts

        write_texts([(mqc_out, mqc_table(identity, line))])
    return identity


def _cmd_identity(args: argparse.Namespace) -> None:
    run(
        args.reference,
        args.regions,
        args.parental,
        args.resistant,
        args.out,
        args.sites_out,
        args.mqc_out,
        args.line,
        hotspots=args.hotspots,
    )


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "identity",
        help="germline genotype concordance of resistant samples with their parental",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--reference", required=True, help="reference FASTA (+ .fai)")
    p.add_argument("--regions", required=True, help="panel BED (3+ columns)")
    p.add_argument("--parental", required=True, help="parental BAM")
    p.add_argument("--resistant", required=True, nargs="+", help="resistant BAM(s)")
    p.add_argument("--line", default="", help="line name (for the MultiQC table)")
    p.add_argument("--out", required=True, help="identity.tsv (one row per resistant sample)")
    p.add_argument("--sites-out", required=True, help="genotypes per site and sample (TSV)")
    p.add_argument("--mqc-out", help="MultiQC custom-content table (*_mqc.tsv)")
    p.add_argument(
        "--hotspots",
        help="hotspots.tsv (resistcall snv): its known-resistance positions are not used as "
        "germline sites (the drug selects new alleles there)",
    )
    p.set_defaults(func=_cmd_identity)
