"""Coverage scope: which exons of each gene's transcript model the panel reads cover
(``resistcall scope``). Method in docs/qc.md ("Exon coverage scope").

A mutation scan is only as wide as what was read: an exon without reads is "not checked", never
"wild type". Per gene (one model per gene, ``transcripts.TranscriptSet.by_gene``) and sample,
each exon of the model gets its median depth (primary, non-duplicate reads) and a status
(``contracts.SCOPE_STATUS``): ``covered`` (median >= ``adequate_depth``), ``low depth``
(median >= ``call_depth``, the SNV caller's ``min_depth``: a clonal change would be called, a
subclonal one can be missed) or ``not covered`` (below that nothing can be called; a stray
off-target read pair gives an exon a median of 1, which is not coverage). A partial model (the
bundled ALK model holds exons 19-28) says so: the exons outside it are outside the model, not
measured.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from resistcall.contracts import SCOPE_COLUMNS, SCOPE_STATUS
from resistcall.coverage import base_depths
from resistcall.errors import UserError
from resistcall.outputs import write_tsv
from resistcall.reference import preflight_bams
from resistcall.snv_config import SnvConfig
from resistcall.transcripts import Transcript, TranscriptSet, load_transcripts

#: median exon depth for ``covered``: at ~100 fragments the SNV caller's detection limit is a
#: few percent (docs/snv.md), the scale at which a resistance subclone is reported.
ADEQUATE_DEPTH = 100
#: below this median depth an exon is ``not covered``: the SNV caller filters every call there
#: (``low_depth``, ``snv.min_depth``); the workflow passes the configured value.
CALL_DEPTH = SnvConfig().min_depth
#: exons closer than this are read in one query (each read decoded once)
MERGE_GAP = 1000
COVERED, LOW_DEPTH, NOT_COVERED = SCOPE_STATUS.values


def exon_status(depth: float, adequate_depth: int, call_depth: int) -> str:
    """``covered`` / ``low depth`` / ``not covered`` for an exon's median depth."""
    if depth >= adequate_depth:
        return COVERED
    return LOW_DEPTH if depth >= call_depth else NOT_COVERED


def model_label(t: Transcript) -> str:
    """The model's exon range (``exons 19-28``), marked when the model is partial."""
    numbers = sorted(t.exon_numbers)
    model = f"exons {numbers[0]}-{numbers[-1]}" if numbers else ""
    return model if t.start_complete and t.end_complete else f"{model} (partial model)"


def exon_scope(
    ts: TranscriptSet,
    bams: dict[str, str],
    adequate_depth: int = ADEQUATE_DEPTH,
    call_depth: int = CALL_DEPTH,
    reference: str | None = None,
) -> pd.DataFrame:
    """One row per sample x gene x modelled exon, in gene then transcript order (a CRAM is
    decoded with ``reference``)."""
    if not 0 < call_depth <= adequate_depth:
        raise UserError(
            f"scope: call depth {call_depth} must be between 1 and the adequate depth "
            f"{adequate_depth}"
        )
    exons = [
        (gene, t, model_label(t), int(start), int(end), int(number))
        for gene, t in sorted(ts.by_gene.items())
        for (start, end), number in zip(t.exons, t.exon_numbers, strict=True)
    ]
    regions = pd.DataFrame(
        [(t.chrom, start - 1, end) for _, t, _, start, end, _ in exons],
        columns=["chrom", "start", "end"],
    )
    rows = []
    for sample, path in bams.items():
        depths, _ = base_depths(path, regions, MERGE_GAP, reference)
        for (gene, t, model, start, end, number), cov in zip(exons, depths, strict=True):
            depth = float(np.median(cov))
            rows.append(
                {
                    "sample": sample,
                    "gene": gene,
                    "transcript": t.refseq or t.transcript_id,
                    "exon": number,
                    "chrom": t.chrom,
                    "start": start,
                    "end": end,
                    "median_depth": round(depth, 1),
                    "status": exon_status(depth, adequate_depth, call_depth),
                    "model": model,
                    "adequate_depth": adequate_depth,
                    "call_depth": call_depth,
                }
            )
    return pd.DataFrame(rows, columns=list(SCOPE_COLUMNS))


def _cmd_scope(args: argparse.Namespace) -> None:
    ts = load_transcripts(args.gtf)
    bams = dict(zip(preflight_bams(args.bam, args.reference), args.bam, strict=True))
    table = exon_scope(ts, bams, args.adequate_depth, args.call_depth, args.reference)
    write_tsv(table, args.out)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "scope",
        help="which exons of each gene's transcript model the reads cover",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--gtf", required=True, help="transcript models (GTF)")
    p.add_argument("--bam", required=True, nargs="+", help="BAMs of the line")
    p.add_argument("--reference", help="FASTA a CRAM is decoded with")
    p.add_argument(
        "--adequate-depth",
        type=int,
        default=ADEQUATE_DEPTH,
        help="median exon depth for 'covered' (default %(default)s)",
    )
    p.add_argument(
        "--call-depth",
        type=int,
        default=CALL_DEPTH,
        help="median exon depth below which it is 'not covered': the SNV caller's min_depth "
        "(default %(default)s)",
    )
    p.add_argument("--out", required=True, help="exon_scope.tsv")
    p.set_defaults(func=_cmd_scope)
