"""Coverage scope: which exons of each gene's transcript model the panel reads cover
(``resistcall scope``). Method in docs/qc.md ("Exon coverage scope").

A mutation scan is only as wide as what was read: an exon without reads is "not checked", never
"wild type". Per gene (one model per gene, ``transcripts.TranscriptSet.by_gene``) and sample,
each exon of the model gets its median depth (primary, non-duplicate reads) and a status:
``covered`` (median >= ``min_depth``), ``thin`` (some reads, below it) or ``no reads``. A
partial model (the bundled ALK model holds exons 19-28) says so: the exons outside it are
outside the model, not measured.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pysam

from resistcall.contracts import SCOPE_COLUMNS
from resistcall.outputs import write_tsv
from resistcall.reference import bam_sample
from resistcall.transcripts import TranscriptSet, load_transcripts

#: median exon depth for ``covered``: at ~100 fragments the SNV caller's detection limit is a
#: few percent (docs/snv.md), the scale at which a resistance subclone is reported.
MIN_DEPTH = 100


def exon_depth(bam: pysam.AlignmentFile, chrom: str, start: int, end: int) -> float:
    """Median depth over 1-based inclusive ``[start, end]`` (duplicates/secondary skipped)."""
    if chrom not in bam.references:
        return 0.0
    cov = bam.count_coverage(chrom, start - 1, end, quality_threshold=0, read_callback="all")
    return float(np.median(np.sum(cov, axis=0)))


def exon_scope(ts: TranscriptSet, bams: dict[str, str], min_depth: int = MIN_DEPTH) -> pd.DataFrame:
    """One row per sample x gene x modelled exon, in gene then transcript order."""
    rows = []
    for sample, path in bams.items():
        with pysam.AlignmentFile(path) as bam:
            for gene in sorted(ts.by_gene):
                t = ts.by_gene[gene]
                numbers = sorted(t.exon_numbers)
                model = f"exons {numbers[0]}-{numbers[-1]}" if numbers else ""
                partial = not (t.start_complete and t.end_complete)
                for (start, end), number in zip(t.exons, t.exon_numbers, strict=True):
                    depth = exon_depth(bam, t.chrom, start, end)
                    status = (
                        "covered" if depth >= min_depth else ("thin" if depth > 0 else "no reads")
                    )
                    rows.append(
                        {
                            "sample": sample,
                            "gene": gene,
                            "transcript": t.refseq or t.transcript_id,
                            "exon": int(number),
                            "chrom": t.chrom,
                            "start": int(start),
                            "end": int(end),
                            "median_depth": round(depth, 1),
                            "status": status,
                            "model": f"{model} (partial model)" if partial else model,
                        }
                    )
    return pd.DataFrame(rows, columns=list(SCOPE_COLUMNS))


def _cmd_scope(args: argparse.Namespace) -> None:
    ts = load_transcripts(args.gtf)
    bams = {bam_sample(b): b for b in args.bam}
    write_tsv(exon_scope(ts, bams, args.min_depth), args.out)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "scope",
        help="which exons of each gene's transcript model the reads cover",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--gtf", required=True, help="transcript models (GTF)")
    p.add_argument("--bam", required=True, nargs="+", help="BAMs of the line")
    p.add_argument("--min-depth", type=int, default=MIN_DEPTH, help="median depth for 'covered'")
    p.add_argument("--out", required=True, help="exon_scope.tsv")
    p.set_defaults(func=_cmd_scope)
