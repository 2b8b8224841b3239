"""Panel of normals: per-site, per-allele error counts from unrelated samples (``resistcall pon``).

Why: the caller's class background (one rate per substitution class over the whole panel)
cannot see a position that is noisy in every library (a recurrent alignment or chemistry
artefact), nor one that is cleaner than its class. Counting the same positions in samples
that do not belong to the run gives each (position, allele) its own error count, which the
caller (``snv --pon``) combines with the class background (docs/snv.md, "Panel of normals").

A sample carrying a real variant at a position (germline or somatic) would teach the panel
that the variant is noise; its counts of that allele at that position are left out when its
allele fraction exceeds ``max_vaf`` (the ``excluded`` column counts how many were).

The table's preamble records each normal (``##normal=<Sample=..,File=..,Duplicates=..>``, file
names only; a value with a delimiter in it is quoted, resistcall.meta_line): a capture normal
whose header names no duplicate-marking program is counted with its PCR duplicates, which is
warned about and kept on record (resistcall.duplicates).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from resistcall.contracts import PON_COLUMNS
from resistcall.duplicates import normal_duplicates
from resistcall.errors import UserError
from resistcall.inputs.files import open_alignments
from resistcall.meta_line import format_meta
from resistcall.options import add_options, from_args
from resistcall.outputs import write_tsv
from resistcall.pileup import ALLELES, PileupParams, count_regions
from resistcall.reference import preflight_bams
from resistcall.snv import BASES, INDEL_ALT, SampleCounts, concat_counts, merged_regions
from resistcall.snv_config import PonOptions

log = logging.getLogger(__name__)


def allele_table(s: SampleCounts) -> pd.DataFrame:
    """One row per (position, non-reference base) and one ``indel`` row per position:
    ``chrom pos ref alt depth alt_reads`` (pos 1-based; indel = every indel event anchored
    at the position, normalised)."""
    depth = s.depth
    acgt = s.counts[:, :4, :].sum(axis=2)
    rows = []
    for ab in BASES:
        keep = (s.ref != ord(ab)) & np.isin(s.ref, np.frombuffer(b"ACGT", dtype=np.uint8))
        rows.append(
            pd.DataFrame(
                {
                    "chrom": s.contig[keep],
                    "pos": s.pos[keep] + 1,
                    "ref": [chr(c) for c in s.ref[keep]],
                    "alt": ab,
                    "depth": depth[keep],
                    "alt_reads": acgt[keep, ALLELES.index(ab)],
                }
            )
        )
    ind = np.zeros(len(s.pos), dtype=np.int64)
    if len(s.indels):
        index = pd.Series(np.arange(len(s.pos)), index=pd.MultiIndex.from_arrays([s.contig, s.pos]))
        tot = s.indels.groupby(["contig", "pos"])[["fwd", "rev"]].sum().sum(axis=1)
        idx = index.reindex(tot.index)
        good = idx.notna().to_numpy()
        np.add.at(ind, idx.to_numpy()[good].astype(int), tot.to_numpy()[good])
    rows.append(
        pd.DataFrame(
            {
                "chrom": s.contig,
                "pos": s.pos + 1,
                "ref": [chr(c) for c in s.ref],
                "alt": INDEL_ALT,
                "depth": depth,
                "alt_reads": ind,
            }
        )
    )
    return pd.concat(rows, ignore_index=True)


def combine(tables: list[pd.DataFrame], opts: PonOptions) -> pd.DataFrame:
    """Sum samples per (chrom, pos, alt), leaving out a sample where it is shallower than
    ``min_depth`` or its allele fraction exceeds ``max_vaf``."""
    key = ["chrom", "pos", "ref", "alt"]
    parts = []
    for t in tables:
        ok = t["depth"] >= opts.min_depth
        variant = ok & (t["alt_reads"] > opts.max_vaf * t["depth"])
        use = ok & ~variant
        parts.append(
            t[key].assign(
                depth=np.where(use, t["depth"], 0),
                alt_reads=np.where(use, t["alt_reads"], 0),
                samples=use.astype(int),
                excluded=variant.astype(int),
            )
        )
    allp = pd.concat(parts, ignore_index=True)
    out = allp.groupby(key, as_index=False, sort=False)[
        ["depth", "alt_reads", "samples", "excluded"]
    ].sum()
    # a row where every sample carried a variant stays (depth 0): it marks a known variant
    out = out[(out["samples"] > 0) | (out["excluded"] > 0)]
    return out.reset_index(drop=True)[list(PON_COLUMNS)]


def normal_record(name: str, bam: str, reference: str, assay: str) -> str:
    """The panel's preamble line about one normal; warns (naming the file) when a capture
    normal's duplicates were not marked."""
    with open_alignments(bam, reference) as handle:
        duplicates, warning = normal_duplicates(assay, handle.header.to_dict())
    if warning:
        log.warning("%s: %s", bam, warning)
    return format_meta("normal", {"Sample": name, "File": Path(bam).name, "Duplicates": duplicates})


def build_pon(
    bams: list[str],
    reference: str,
    regions: str,
    opts: PonOptions = PonOptions(),
    assay: str = "capture",
) -> tuple[pd.DataFrame, list[str]]:
    """Count every BAM over the regions (the caller's own counting, ``assay`` rules) and
    combine them; returns the table and its preamble (one record per normal)."""
    if not bams:
        raise UserError("resistcall pon needs at least one BAM")
    names = preflight_bams(bams, reference)
    records = [normal_record(n, b, reference, assay) for n, b in zip(names, bams, strict=True)]
    params = PileupParams.for_assay(assay)
    tables = []
    with pysam.FastaFile(reference) as fasta:
        reg = merged_regions(regions, fasta)
        for name, bam in zip(names, bams, strict=True):
            log.info("counting %s (%s)", name, bam)
            counts = count_regions(bam, reference, reg, params)
            s = concat_counts(name, counts, fasta)
            tables.append(allele_table(s))
        out = combine(tables, opts)
        order = {c: i for i, c in enumerate(fasta.references)}
    out = out.assign(_o=out["chrom"].map(order), _a=out["alt"] == INDEL_ALT)
    out = out.sort_values(["_o", "pos", "_a", "alt"], kind="stable").drop(columns=["_o", "_a"])
    return out.reset_index(drop=True), records


def write_pon(pon: pd.DataFrame, records: list[str], out: str | Path) -> None:
    """TSV (gzip-compressed when the name ends in .gz) after its preamble, written atomically."""
    write_tsv(pon, out, preamble=records)


def _cmd_pon(args: argparse.Namespace) -> None:
    opts = from_args(PonOptions, args)
    pon, records = build_pon(args.bams, args.reference, args.regions, opts, args.assay)
    write_pon(pon, records, args.out)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "pon",
        help="panel of normals: per-site error counts for resistcall snv --pon",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--reference", required=True, help="reference FASTA (+ .fai)")
    p.add_argument("--regions", required=True, help="BED of regions (3+ columns)")
    p.add_argument(
        "--bams", required=True, nargs="+", help="BAMs of unrelated samples (not of the run)"
    )
    p.add_argument(
        "--assay",
        choices=("amplicon", "capture"),
        default="capture",
        help="capture skips duplicates; amplicon keeps them (as resistcall snv)",
    )
    p.add_argument("--out", required=True, help="panel-of-normals table (.tsv or .tsv.gz)")
    add_options(p, PonOptions)
    p.set_defaults(func=_cmd_pon)
