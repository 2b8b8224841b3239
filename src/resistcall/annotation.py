"""Genome annotation from a GTF: gene spans of every gene, one transcript model per needed gene.

A lab's GTF (GENCODE, Ensembl or NCBI RefSeq; plain or gzipped) has millions of rows, of which a
run needs a few hundred: the transcripts of the genes under the panel targets and in the
knowledge table. The file is streamed once in chunks (linear time, bounded memory): every row
feeds the per-gene span table (to name fusion partners and the genes under targets), and only the
rows of the needed genes are kept. pyranges then parses those rows. The result is written as a
small GTF under ``results/reference/`` (rule ``annotation``) so that the stages never re-read the
large file; loading that cache goes through the same code.

Transcript choice per gene (docs/reference.md): config override -> the knowledge table's RefSeq
accession (where the GTF carries it) -> ``MANE_Select`` / ``MANE Select`` tag ->
``Ensembl_canonical`` tag -> longest complete CDS (warned). A transcript whose CDS is incomplete
(``cds_start_NF``/``cds_end_NF`` tag, CDS length not a multiple of 3) is never chosen, unless the
GTF numbers its CDS explicitly (``cds_c_start``, as the bundled partial models do).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyranges as pr

from resistcall import outputs
from resistcall.errors import UserError
from resistcall.fusion_variants import known_partners

log = logging.getLogger(__name__)

GTF_COLUMNS = ["seqname", "source", "feature", "start", "end", "score", "strand", "frame", "attr"]
#: attribute written on the rows of the chosen transcript in the cache: the choice's reason
CHOICE_ATTR = "resistcall_choice"
CHOICE_COLUMNS = ["gene", "transcript_id", "refseq", "reason", "candidates"]
SPAN_COLUMNS = ["gene", "chrom", "start", "end", "strand", "coding"]

_NAME = re.compile(r'gene_name "([^"]*)"')
_GENE = re.compile(r'(?:^|; ?)gene "([^"]*)"')
_GENE_ID = re.compile(r'gene_id "([^"]*)"')
_TYPE = re.compile(r'gene_(?:bio)?type "([^"]*)"')
_TID = re.compile(r'transcript_id "([^"]*)"')
_REFSEQ = re.compile(r'refseq_equivalent "([^"]*)"')
_CHOICE = re.compile(CHOICE_ATTR + r' "([^"]*)"')
_MANE = r'tag "MANE[_ ]Select"'
_CANONICAL = r'tag "Ensembl_canonical"'
_INCOMPLETE = r'tag "(?:cds_start_NF|cds_end_NF)"'


@dataclass(frozen=True)
class Annotation:
    """What a run needs from the GTF.

    spans: one row per gene x contig x strand (``SPAN_COLUMNS``, 1-based inclusive).
    models: pyranges rows (Chromosome, Feature, Start 0-based, End, Strand, attributes...) of the
    chosen transcript of every needed gene, ``gene_name`` filled for every row.
    choice: one row per needed coding gene (``CHOICE_COLUMNS``).
    """

    spans: pd.DataFrame
    models: pd.DataFrame
    choice: pd.DataFrame

    def gene_at(self, chrom: str, start: int, end: int) -> list[str]:
        """Genes overlapping [start, end] (1-based), coding genes first, then by name."""
        s = self.spans
        hit = s[(s["chrom"] == chrom) & (s["start"] <= end) & (s["end"] >= start)]
        hit = hit.sort_values(["coding", "gene"], ascending=[False, True])
        return list(dict.fromkeys(hit["gene"]))


# ---- streaming passes ------------------------------------------------------------------------
_NAME_B = re.compile(rb'gene_name "([^"]*)"|(?:^|; ?)gene "([^"]*)"|gene_id "([^"]*)"')


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of every non-comment line of a GTF, plain or gzipped."""
    with open(path, "rb") as probe:
        gz = probe.read(2) == b"\x1f\x8b"
    try:
        with gzip.open(path, "rb") if gz else open(path, "rb") as handle:
            for number, line in enumerate(handle, 1):
                if line[:1] != b"#" and line.strip():
                    yield number, line
    except (OSError, EOFError) as exc:
        raise UserError(f"{path}: not a readable GTF ({exc})") from exc


def _frame(path: Path, kept: list[tuple[int, bytes]]) -> pd.DataFrame:
    """pandas parses the kept rows (9 string columns), indexed by their line number."""
    if not kept:
        return pd.DataFrame(columns=GTF_COLUMNS)
    try:
        df = pd.read_csv(
            io.BytesIO(
                b"".join(line if line.endswith(b"\n") else line + b"\n" for _, line in kept)
            ),
            sep="\t",
            header=None,
            names=GTF_COLUMNS,
            dtype=str,
            quoting=csv.QUOTE_NONE,
            keep_default_na=False,
            encoding="utf-8",
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a readable GTF ({exc})") from exc
    df.index = [number for number, _ in kept]
    if df["attr"].eq("").any():
        raise UserError(f"{path}: line {df.index[df['attr'].eq('')][0]}: not a 9-column GTF row")
    return df


def _gene_names(attr: pd.Series) -> pd.Series:
    """gene_name (GENCODE/Ensembl), else gene (NCBI RefSeq), else gene_id."""
    name = attr.str.extract(_NAME, expand=False)
    for pattern in (_GENE, _GENE_ID):
        missing = name.isna()
        if not missing.any():
            break
        name[missing] = attr[missing].str.extract(pattern, expand=False)
    return name


def _named(path: Path, df: pd.DataFrame) -> pd.DataFrame:
    """Rows with their gene name and integer positions (one clear error per bad row)."""
    name = _gene_names(df["attr"])
    if name.isna().any():
        raise UserError(f"{path}: line {df.index[name.isna()][0]}: no gene_name, gene or gene_id")
    start = pd.to_numeric(df["start"], errors="coerce")
    end = pd.to_numeric(df["end"], errors="coerce")
    bad = start.isna() | end.isna() | (end < start)
    if bad.any():
        raise UserError(f"{path}: line {df.index[bad][0]}: start/end are not positions")
    return df.assign(gene=name, start=start.astype("int64"), end=end.astype("int64"))


def _spans(path: Path) -> pd.DataFrame:
    """Pass 1: the span of every gene from its gene row (transcript, else exon rows in a GTF
    without gene rows); coding = gene_type/gene_biotype protein_coding or CDS rows."""
    genes, transcripts, exons, cds = [], [], [], set()
    for number, line in _lines(path):
        fields = line.split(b"\t", 3)
        feature = fields[2] if len(fields) > 2 else b""
        if feature == b"gene":
            genes.append((number, line))
        elif feature == b"transcript" and not genes:
            transcripts.append((number, line))
        elif feature == b"exon" and not genes and not transcripts:
            exons.append((number, line))
        elif feature == b"CDS":
            m = _NAME_B.search(line)
            if m:
                cds.add(next(g for g in m.groups() if g is not None).decode())
    rows = _named(path, _frame(path, genes or transcripts or exons))
    if rows.empty:
        raise UserError(f"{path}: no gene, transcript or exon rows (is it a GTF?)")
    rows["coding"] = rows["attr"].str.contains(
        'gene_(?:bio)?type "protein_coding"', regex=True
    ) | rows["gene"].isin(cds)
    spans = (
        rows.groupby(["gene", "seqname", "strand"], sort=False)
        .agg(start=("start", "min"), end=("end", "max"), coding=("coding", "any"))
        .reset_index()
        .rename(columns={"seqname": "chrom"})
        .sort_values(["chrom", "start", "gene"], kind="stable")
    )
    return spans[SPAN_COLUMNS].reset_index(drop=True)


def _rows(path: Path, wanted: set[str] | None) -> pd.DataFrame:
    """Pass 2: every row of the wanted genes (all rows when None), parsed by pandas."""
    if wanted is None:
        kept = list(_lines(path))
    elif not wanted:
        kept = []
    else:
        names = b"|".join(re.escape(n.encode()) for n in sorted(wanted))
        rx = re.compile(rb'(?:gene_name|gene_id|gene) "(?:' + names + rb')"')
        kept = [(n, line) for n, line in _lines(path) if rx.search(line)]
    rows = _named(path, _frame(path, kept))
    if wanted is not None:
        rows = rows[rows["gene"].isin(wanted)]
    rows = rows.assign(start=rows["start"].astype(str), end=rows["end"].astype(str))
    return rows[[*GTF_COLUMNS, "gene"]].reset_index(drop=True)


def scan_gtf(
    path: str | Path, genes: Iterable[str] | None, regions: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(span of every gene, rows of the wanted genes) in two linear passes over the GTF.

    Wanted: ``genes`` (every gene when None) plus the coding genes overlapping ``regions``
    (chrom, start, end; 0-based BED: the panel targets). Pass 1 reads only gene rows; pass 2
    keeps the rows naming a wanted gene. Python only tests bytes per line; pandas parses the
    few rows kept."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"GTF not found: {path}")
    spans = _spans(path)
    wanted = None if genes is None else set(genes)
    if wanted is not None and regions is not None and len(regions):
        coding = spans[spans["coding"]]
        hits = pr.PyRanges(
            pd.DataFrame(
                {
                    "Chromosome": coding["chrom"].to_numpy(),
                    "Start": coding["start"].to_numpy() - 1,
                    "End": coding["end"].to_numpy(),
                    "gene": coding["gene"].to_numpy(),
                }
            )
        ).overlap(
            pr.PyRanges(
                pd.DataFrame(
                    {
                        "Chromosome": regions["chrom"].to_numpy(),
                        "Start": regions["start"].to_numpy(),
                        "End": regions["end"].to_numpy(),
                    }
                )
            )
        )
        if len(hits):
            wanted |= set(hits.df["gene"])
    return spans, _rows(path, wanted)


# ---- transcript choice -----------------------------------------------------------------------
def _accession(tid: str) -> tuple[str, str]:
    base, _, version = tid.partition(".")
    return base, version


def transcript_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per coding transcript: gene, CDS length, tags (MANE, canonical), completeness, refseq."""
    tid = rows["attr"].str.extract(_TID, expand=False)
    rows = rows.assign(transcript_id=tid)[tid.notna()]
    cds = rows[rows["feature"] == "CDS"]
    if cds.empty:
        return pd.DataFrame(
            columns=["transcript_id", "gene", "cds_length", "mane", "canonical", "complete"]
        )
    length = (
        (cds["end"].astype("int64") - cds["start"].astype("int64") + 1)
        .groupby(cds["transcript_id"])
        .sum()
    )
    attrs = rows.groupby("transcript_id")["attr"].agg(" ".join)
    table = pd.DataFrame({"cds_length": length})
    table["gene"] = rows.groupby("transcript_id")["gene"].first()
    a = attrs.reindex(table.index)
    table["mane"] = a.str.contains(_MANE, regex=True)
    table["canonical"] = a.str.contains(_CANONICAL, regex=True)
    explicit = a.str.contains("cds_c_start", regex=False)
    nf = a.str.contains(_INCOMPLETE, regex=True)
    table["complete"] = explicit | (~nf & (table["cds_length"] % 3 == 0))
    table["refseq"] = a.str.extract(_REFSEQ, expand=False)
    table["cached"] = a.str.extract(_CHOICE, expand=False)
    return table.reset_index(names="transcript_id")


def choose(
    table: pd.DataFrame,
    genes: Iterable[str],
    overrides: dict[str, str] | None = None,
    known: dict[str, str] | None = None,
) -> pd.DataFrame:
    """The transcript of every gene with a complete coding transcript, with the reason.

    ``overrides``: gene -> transcript id (config ``reference.transcripts``); ``known``: gene ->
    RefSeq accession of the knowledge table. Genes without any complete coding transcript are
    left out (the caller decides whether that is an error)."""
    overrides, known = overrides or {}, known or {}
    out = []
    for gene in sorted(set(genes) & set(table["gene"])):
        cand = table[table["gene"] == gene].sort_values("transcript_id")
        if cand.empty:
            continue
        ok = cand[cand["complete"]]
        n = f"{len(cand)} coding, {len(ok)} complete"
        pick, reason = None, ""
        if gene in overrides:
            want = _accession(overrides[gene])[0]
            hit = cand[cand["transcript_id"].map(lambda t: _accession(t)[0]) == want]
            if hit.empty:
                raise UserError(
                    f"reference.transcripts: {gene}: transcript {overrides[gene]} is not a "
                    f"coding transcript of {gene} in the GTF (it has "
                    f"{', '.join(cand['transcript_id'][:5])})"
                )
            pick, reason = hit.iloc[0], "config reference.transcripts"
        elif ok["cached"].notna().any():
            pick = ok[ok["cached"].notna()].iloc[0]
            reason = str(pick["cached"])
        if pick is None and gene in known and not ok.empty:
            base, version = _accession(known[gene])
            ids = ok["transcript_id"].map(lambda t: _accession(t)[0])
            refs = ok["refseq"].fillna("").map(lambda t: _accession(t)[0])
            hit = ok[(ids == base) | (refs == base)]
            if not hit.empty:
                pick = hit.iloc[0]
                found = pick["transcript_id"] if ids[hit.index[0]] == base else pick["refseq"]
                reason = f"knowledge table {known[gene]}"
                have = _accession(str(found))[1]
                if have and version and have != version:
                    log.warning(
                        "%s: the knowledge table names %s, the GTF has %s (version differs)",
                        gene,
                        known[gene],
                        found,
                    )
                    reason += f" (GTF has {found})"
        for flag, label in (("mane", "MANE Select"), ("canonical", "Ensembl canonical")):
            if pick is None and ok[flag].any():
                pick, reason = ok[ok[flag]].iloc[0], label
        if pick is None and len(ok) == 1:
            pick, reason = ok.iloc[0], "only complete coding transcript in the GTF"
        if pick is None and not ok.empty:
            pick = ok.sort_values("cds_length", ascending=False, kind="stable").iloc[0]
            reason = "longest complete CDS (no MANE/canonical tag)"
            log.warning(
                "%s: no MANE Select or canonical transcript; using %s (%s)",
                gene,
                pick["transcript_id"],
                reason,
            )
        if pick is None:
            continue
        out.append(
            {
                "gene": gene,
                "transcript_id": pick["transcript_id"],
                "refseq": _refseq(pick, reason, known.get(gene)),
                "reason": reason,
                "candidates": n,
            }
        )
    return pd.DataFrame(out, columns=CHOICE_COLUMNS)


def _refseq(pick: pd.Series, reason: str, known: str | None) -> str:
    """RefSeq accession of the chosen transcript: the GTF's, else the knowledge table's when the
    choice is MANE Select (MANE pairs one Ensembl and one RefSeq transcript; the table is
    written for the MANE transcript)."""
    if isinstance(pick["refseq"], str) and pick["refseq"]:
        return pick["refseq"]
    if reason.startswith("knowledge table"):
        return str(pick["transcript_id"])
    return known if known and reason == "MANE Select" else ""


# ---- cache -----------------------------------------------------------------------------------
def cache_text(spans: pd.DataFrame, rows: pd.DataFrame, choice: pd.DataFrame) -> tuple[str, str]:
    """The cache GTF in two parts: a gene row per gene span; every row of the chosen
    transcripts (the only part pyranges needs to parse)."""
    genes = pd.DataFrame(
        {
            "seqname": spans["chrom"],
            "source": "resistcall",
            "feature": "gene",
            "start": spans["start"].astype(str),
            "end": spans["end"].astype(str),
            "score": ".",
            "strand": spans["strand"],
            "frame": ".",
            "attr": 'gene_id "'
            + spans["gene"]
            + '"; gene_name "'
            + spans["gene"]
            + '"; gene_type "'
            + np.where(spans["coding"], "protein_coding", "other")
            + '";',
        }
    )
    tid = rows["attr"].str.extract(_TID, expand=False)
    reason = dict(zip(choice["transcript_id"], choice["reason"], strict=True))
    chosen = rows[tid.isin(reason.keys()) & (rows["feature"] != "gene")].copy()
    ctid = tid[chosen.index]
    # the gene name every stage uses, and the reason (read back as the cached choice)
    no_name = ~chosen["attr"].str.contains('gene_name "', regex=False)
    chosen.loc[no_name, "attr"] = (
        chosen.loc[no_name, "attr"].str.rstrip()
        + ' gene_name "'
        + chosen.loc[no_name, "gene"]
        + '";'
    )
    refseq = dict(zip(choice["transcript_id"], choice["refseq"], strict=True))
    add = ~chosen["attr"].str.contains("refseq_equivalent", regex=False) & ctid.map(refseq).ne("")
    chosen.loc[add, "attr"] = (
        chosen.loc[add, "attr"].str.rstrip() + ' refseq_equivalent "' + ctid[add].map(refseq) + '";'
    )
    chosen["attr"] = (
        chosen["attr"].str.replace(r"\s*" + _CHOICE.pattern + ";?", "", regex=True).str.rstrip()
        + f' {CHOICE_ATTR} "'
        + ctid.map(reason).str.replace('"', "'")
        + '";'
    )
    as_text = {"sep": "\t", "header": False, "index": False, "quoting": csv.QUOTE_NONE}
    return genes.to_csv(**as_text), chosen[GTF_COLUMNS].to_csv(**as_text)


#: columns the models frame always has (also when no gene of the run is modelled)
MODEL_COLUMNS = ["Chromosome", "Feature", "Start", "End", "Strand", "gene_name", "transcript_id"]


def _parse(text: str) -> pd.DataFrame:
    """pyranges parses the (small) filtered GTF."""
    if not text.strip():
        return pd.DataFrame(columns=MODEL_COLUMNS)
    with tempfile.NamedTemporaryFile("w", suffix=".gtf") as tmp:
        tmp.write(text)
        tmp.flush()
        with warnings.catch_warnings():  # pyranges 0.1 uses a pandas keyword pandas deprecates
            warnings.filterwarnings("ignore", message="The inplace keyword")
            df = pr.read_gtf(tmp.name).df
    for col in ("Chromosome", "Feature", "Strand"):
        df[col] = df[col].astype(str)
    return df


def _annotate(
    spans: pd.DataFrame,
    rows: pd.DataFrame,
    genes: Iterable[str] | None,
    overrides: dict[str, str] | None,
    known: dict[str, str] | None,
) -> tuple[Annotation, str]:
    wanted = set(rows["gene"]) if genes is None else set(genes)
    choice = choose(transcript_table(rows), wanted, overrides, known)
    gene_text, model_text = cache_text(spans, rows, choice)
    models = _parse(model_text)
    return Annotation(spans, models, choice), gene_text + model_text


def load_annotation(
    gtf: str | Path,
    genes: Iterable[str] | None = None,
    overrides: dict[str, str] | None = None,
    known: dict[str, str] | None = None,
) -> Annotation:
    """Spans of every gene and the chosen model of ``genes`` (every gene when None).

    The stages read the cache GTF of rule ``annotation`` this way; given a whole-genome GTF
    directly it is read in one pass too (slower, same result)."""
    spans, rows = scan_gtf(gtf, genes)
    return _annotate(spans, rows, genes, overrides, known)[0]


def fasta_lengths(fasta: str | Path) -> dict[str, int]:
    """Contig lengths from the FASTA's .fai (samtools faidx)."""
    import pysam

    fasta = Path(fasta)
    if not fasta.exists():
        raise UserError(f"reference FASTA not found: {fasta}")
    try:
        with pysam.FastaFile(str(fasta)) as fa:
            return dict(zip(fa.references, fa.lengths, strict=True))
    except (OSError, ValueError) as exc:
        raise UserError(
            f"{fasta}: cannot be indexed as FASTA ({exc}); give a FASTA (plain or bgzip) with "
            "its samtools faidx index, or one samtools faidx can index"
        ) from exc


def check_against_fasta(ann: Annotation, gtf: str | Path, lengths: dict[str, int]) -> Annotation:
    """The GTF must be in the FASTA's coordinates: contigs in common and genes inside them.

    Genes on contigs the FASTA lacks (other chromosomes of a whole-genome GTF used with a partial
    FASTA, alt/decoy contigs) are dropped with a warning."""
    s = ann.spans
    common = set(s["chrom"]) & set(lengths)
    if not common:
        raise UserError(
            f"{gtf}: no contig in common with the reference FASTA (GTF: "
            f"{', '.join(sorted(set(s['chrom']))[:3])}; FASTA: {', '.join(list(lengths)[:3])}): "
            "the GTF is for another genome or naming (chr2 vs 2); use the annotation of the "
            "FASTA's build and naming"
        )
    on = s[s["chrom"].isin(common)]
    past = on[on["end"] > on["chrom"].map(lengths)]
    if len(past):
        r = past.iloc[0]
        raise UserError(
            f"{gtf}: gene {r['gene']} ends at {r['chrom']}:{r['end']}, past the end of "
            f"{r['chrom']} in the FASTA ({lengths[r['chrom']]} bp): the GTF is in other "
            "coordinates than the FASTA (another build, or panel-contig coordinates)"
        )
    dropped = sorted(set(s["chrom"]) - common)
    if dropped:
        log.warning(
            "%s: %d contig(s) of the GTF are not in the FASTA and are ignored (%s)",
            gtf,
            len(dropped),
            ", ".join(dropped[:5]),
        )
    models = ann.models[ann.models["Chromosome"].isin(common)].reset_index(drop=True)
    kept = set(models["transcript_id"]) if len(models) else set()
    choice = ann.choice[ann.choice["transcript_id"].isin(kept)].reset_index(drop=True)
    return Annotation(on.reset_index(drop=True), models, choice)


# ---- panel targets ---------------------------------------------------------------------------
BACKBONE = "backbone"


def assign_targets(targets: pd.DataFrame, spans: pd.DataFrame) -> pd.DataFrame:
    """Gene of every target by overlap with coding genes (pyranges); none -> ``backbone``.

    Vendor BEDs name probes or amplicons in column 4 (or nothing); the gene a target measures
    comes from the annotation. Several coding genes: the one with the largest overlap, then the
    first by name."""
    coding = spans[spans["coding"]]
    q = pr.PyRanges(
        pd.DataFrame(
            {
                "Chromosome": targets["chrom"].to_numpy(),
                "Start": targets["start"].to_numpy(),
                "End": targets["end"].to_numpy(),
                "idx": np.arange(len(targets)),
            }
        )
    )
    g = pr.PyRanges(
        pd.DataFrame(
            {
                "Chromosome": coding["chrom"].to_numpy(),
                "Start": coding["start"].to_numpy() - 1,
                "End": coding["end"].to_numpy(),
                "gene": coding["gene"].to_numpy(),
            }
        )
    )
    gene = np.full(len(targets), BACKBONE, dtype=object)
    if len(q) and len(g):
        hits = q.join(g, report_overlap=True)
        if len(hits):
            h = hits.df.sort_values(["idx", "Overlap", "gene"], ascending=[True, False, True])
            first = h.drop_duplicates("idx")
            gene[first["idx"].to_numpy()] = first["gene"].to_numpy()
    return targets.assign(gene=gene)[["chrom", "start", "end", "gene"]]


#: a BED name that reads as a gene symbol (CD74, EWSR1, C11orf95), not a probe or amplicon
#: name (AVN_P00012, ALK_ex23_1)
_SYMBOL = re.compile(r"[A-Z][A-Za-z0-9]*(?:-[A-Z0-9]+)?")


def _check_named_targets(
    targets: str | Path, assigned: pd.DataFrame, gtf_genes: set[str], gtf: str | Path
) -> None:
    """A BED that names genes in column 4 (most named targets carry the gene they overlap) must
    find each named gene in the GTF: a target named CD74 on no gene means the GTF lacks CD74 (or
    is in other coordinates), and would silently become backbone."""
    from resistcall.reference import read_bed

    try:
        name = read_bed(targets)["name"].str.strip()
    except UserError:
        return  # 3-column BED: genes come from the GTF only
    symbol = name.str.fullmatch(_SYMBOL.pattern)
    if not symbol.any() or (name[symbol] == assigned["gene"][symbol]).mean() < 0.5:
        return  # probe or amplicon names
    off = symbol & (assigned["gene"] == BACKBONE)
    if not off.any():
        return
    row, gene = int(off.idxmax()) + 1, name[off].iloc[0]
    if gene in gtf_genes:
        raise UserError(
            f"{targets}: row {row} names gene {gene} but lies on no {gene} model of {gtf}: "
            "the BED and the GTF are in different coordinates (build or contig naming); use the "
            "BED and GTF of the FASTA's build"
        )
    raise UserError(
        f"{targets}: row {row}: panel gene {gene} is not in the GTF {gtf} (no row with "
        f"gene_name/gene {gene}): its targets would be backbone and the gene never reported; use "
        "a GTF of the whole genome, rename the gene to the GTF's symbol, or leave column 4 empty "
        "on backbone targets"
    )


def prepare(
    gtf: str | Path,
    fasta: str | Path,
    targets: str | Path,
    known: str | Path | None = None,
    extra_genes: Iterable[str] = (),
    overrides: dict[str, str] | None = None,
) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """(cache GTF text, transcript choice, targets with their gene) for one run.

    Genes needing a model: those under the targets, the knowledge table's mutation genes and
    ``extra_genes`` (the fusion gene). Every one must be in the GTF with a complete CDS. The
    fusion gene's known 5' partners (:func:`known_partners`) are modelled when the GTF has
    them (never required)."""
    from resistcall.knowledge import MUTATION_TYPES, load_known
    from resistcall.reference import read_bed

    lengths = fasta_lengths(fasta)
    bed = read_bed(targets, names=("chrom", "start", "end"))
    off = ~bed["chrom"].isin(list(lengths))
    if off.any():
        r = bed[off].iloc[0]
        raise UserError(
            f"{targets}: row {int(bed.index[off][0]) + 1}: contig {r['chrom']} is not in the "
            f"reference FASTA {Path(fasta).name} (targets must be in the FASTA's coordinates)"
        )
    known_tx: dict[str, str] = {}
    known_genes: set[str] = set()
    if known:
        table = load_known(known)
        mut = table[table["alteration_type"].isin(MUTATION_TYPES)]
        known_genes = set(mut["gene"])
        known_tx = dict(zip(table["gene"], table["transcript"], strict=True))
    regions = bed.assign(chrom=bed["chrom"].astype(str))
    needed = known_genes | set(extra_genes)
    # the known 5' partners of a requested fusion gene (EML4 for ALK) are modelled when the GTF
    # has them, although no target lies on them (capture kits tile ALK, not EML4): the fusion
    # caller holds only modelled genes of a whole genome in memory to place clipped sequence
    partners = known_partners(set(extra_genes)) - needed
    spans, rows = scan_gtf(gtf, needed | partners, regions)
    ann, _ = _annotate(spans, rows, None, overrides, known_tx)
    ann = check_against_fasta(ann, gtf, lengths)
    assigned = assign_targets(bed, ann.spans)
    panel = set(assigned["gene"]) - {BACKBONE}
    names = set(spans["gene"])
    _check_named_targets(targets, assigned, names, gtf)
    for gene, what in [
        *((g, "knowledge-table") for g in sorted(known_genes)),
        *((g, "requested") for g in sorted(set(extra_genes))),
    ]:
        if gene not in names:
            raise UserError(
                f"{gtf}: {what} gene {gene} is not in the GTF (no row with gene_name/gene "
                f"{gene}); use a GTF of the whole genome or rename the gene to the GTF's symbol"
            )
    chosen = set(ann.choice["gene"])
    on_fasta = set(ann.spans["gene"])
    for gene in sorted((needed | panel) - chosen):
        if gene not in on_fasta:
            log.warning("%s: gene %s is on no contig of the FASTA; not assessable", gtf, gene)
            continue
        kind = "panel" if gene in panel else "knowledge-table"
        raise UserError(
            f"{gtf}: {kind} gene {gene} has no complete coding transcript (no CDS rows, or only "
            "cds_start_NF/cds_end_NF isoforms): HGVS and hotspots need a CDS; use a GTF with CDS "
            "features"
        )
    return "".join(cache_text(ann.spans, rows, ann.choice)), ann.choice, assigned


# ---- the run's cache (rule ``annotation`` and ``resistcall validate``) ----------------------
#: the cache's files under the run's results folder: the GTF read once, the transcript per gene
#: and why, the targets with their gene
CACHE = {
    "gtf": "reference/annotation.gtf",
    "choice": "reference/transcripts.tsv",
    "targets": "reference/targets.bed",
}


def cache_paths(results: str | Path = "results") -> dict[str, Path]:
    return {key: Path(results) / name for key, name in CACHE.items()}


def config_genes(config: dict) -> tuple[list[str], dict[str, str]]:
    """(genes needing a model besides the panel's and the knowledge table's, transcript
    overrides) of a run config: the fusion gene and ``reference.transcripts``."""
    from resistcall.options import effective

    fusion_gene = effective("fusion", config.get("fusion") or {})["gene"]
    return [fusion_gene], dict(config["reference"].get("transcripts") or {})


#: what the cache was made for, under the results folder (see :func:`record_cache_key`)
CACHE_KEY = "reference/annotation.key"


def cache_key(config: dict, base_dir: str | Path = ".") -> str:
    """What the run's cache must be made for, hashed: the config's GTF, FASTA, targets and
    knowledge table (each by name, size and whole-second mtime, so that the same files give the
    same key wherever they are resolved), the genes and the transcript overrides."""
    genes, overrides = config_genes(config)
    names = [config["reference"]["gtf"], config["reference"]["fasta"]]
    names += [config["panel"]["targets"], config["known_resistance"]]
    files = []
    for name in names:
        path = Path(base_dir) / str(name)
        stat = path.stat() if path.is_file() else None
        files.append([path.name, stat.st_size, int(stat.st_mtime)] if stat else [str(name)])
    made_for = json.dumps([files, sorted(genes), sorted(overrides.items())])
    return hashlib.sha256(made_for.encode()).hexdigest() + "\n"


def record_cache_key(config: dict, results: str | Path = "results", write: bool = True) -> Path:
    """The workflow's record of :func:`cache_key`, rewritten only when it changed
    (``write=False``: only its path, for ``snakemake --lint``). Rule ``annotation`` takes it as
    input: a config edit after ``resistcall validate`` wrote the cache (of which Snakemake keeps
    no record) makes it newer than the cache, so the cache is rebuilt instead of silently
    describing the former targets or transcripts. Unchanged, it is not rewritten (every cluster
    job reads the Snakefile again)."""
    path = Path(results) / CACHE_KEY
    text = cache_key(config)
    if write and (not path.is_file() or path.read_text() != text):
        path.parent.mkdir(parents=True, exist_ok=True)
        outputs.write_text(path, text)
    return path


def key_beside_cache(out: dict[str, Path], key: Path, text: str) -> None:
    """Write the key of a cache just written (``resistcall validate``) with the cache's own
    mtime, so that it does not make the cache look out of date to Snakemake."""
    outputs.write_text(key, text)
    made = min(p.stat().st_mtime for p in out.values())
    os.utime(key, (made, made))


def write_cache(
    out: dict[str, Path],
    gtf: str | Path,
    fasta: str | Path,
    targets: str | Path,
    known: str | Path | None,
    extra_genes: Iterable[str] = (),
    overrides: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Run every GTF check (:func:`prepare`) and write the cache; returns the transcript choice."""
    text, choice, assigned = prepare(gtf, fasta, targets, known, extra_genes, overrides)
    outputs.write_texts(
        [
            (out["gtf"], text),
            (out["choice"], choice.to_csv(sep="\t", index=False)),
            (out["targets"], assigned.to_csv(sep="\t", index=False, header=False)),
        ]
    )
    return choice


def cache_is_current(out: dict[str, Path], inputs: Iterable[str | Path]) -> bool:
    """Every cache file exists and is newer than every input (as Snakemake decides)."""
    if not all(p.is_file() for p in out.values()):
        return False
    oldest = min(p.stat().st_mtime for p in out.values())
    return all(Path(p).stat().st_mtime <= oldest for p in inputs)


# ---- command line ----------------------------------------------------------------------------
def _overrides(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        gene, sep, tid = item.partition("=")
        if not sep or not gene or not tid:
            raise UserError(f"--transcript {item!r}: expected GENE=TRANSCRIPT_ID")
        out[gene] = tid
    return out


def _cmd_annotation(args) -> None:
    write_cache(
        {"gtf": args.out, "choice": args.choice_out, "targets": args.targets_out},
        args.gtf,
        args.reference,
        args.targets,
        args.known,
        args.gene,
        _overrides(args.transcript),
    )


def register(sub) -> None:
    p = sub.add_parser(
        "annotation",
        help="read the GTF once: gene spans, chosen transcript per gene, target genes",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--gtf", required=True, help="GTF (plain or .gz) in the FASTA's coordinates")
    p.add_argument("--reference", required=True, help="reference FASTA (with .fai)")
    p.add_argument("--targets", required=True, help="panel BED (column 4 optional, any name)")
    p.add_argument("--known", help="known-resistance table (its mutation genes need models)")
    p.add_argument("--gene", action="append", default=[], help="another gene needing a model")
    p.add_argument(
        "--transcript",
        action="append",
        default=[],
        metavar="GENE=ID",
        help="transcript of a gene (config reference.transcripts), overrides the choice",
    )
    p.add_argument("--out", required=True, help="annotation cache (small GTF)")
    p.add_argument("--choice-out", required=True, help="transcript per gene and why (TSV)")
    p.add_argument("--targets-out", required=True, help="targets with their gene (BED)")
    p.set_defaults(func=_cmd_annotation)
