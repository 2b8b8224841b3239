"""The file contracts between stages, stated once (docs/architecture.md, "File contracts").

Stages talk only through files. This module holds what those files must agree on: the columns
of every TSV a stage writes and another reads, the words each kind of verdict may take, the
order genes are shown in and how a citation token becomes a link. Writers build their tables
from these lists and readers check against them, so a contract changes in one place.

Every verdict vocabulary has a ``not assessable`` value; a table or object carrying it also
carries a ``reason`` (a column or key) saying why, so "could not tell" is never silent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from resistcall.errors import UserError

NOT_ASSESSABLE = "not assessable"
#: The column / key that says why a verdict is ``not assessable``.
REASON = "reason"


@dataclass(frozen=True)
class Vocabulary:
    """The words one kind of verdict may take (first = strongest finding, in display order)."""

    kind: str
    values: tuple[str, ...]

    def __contains__(self, value: object) -> bool:
        return value in self.values

    def __iter__(self):
        return iter(self.values)

    def check(self, value: str, where: str) -> str:
        """``value`` if it is one of this vocabulary's words, else one clear error naming
        ``where`` it was read (e.g. ``"<file>: row 6: column verdict"``)."""
        if value not in self.values:
            raise UserError(
                f"{where} is {value!r}; expected a {self.kind}: {', '.join(self.values)}"
            )
        return value


def _text(column: pd.Series) -> pd.Series:
    """Cells as stripped text, empty where missing."""
    return column.astype(object).where(column.notna(), "").astype(str).str.strip()


def check_verdicts(df: pd.DataFrame, column: str, vocab: Vocabulary, path: object) -> None:
    """Every value of ``column`` is a word of ``vocab`` and every ``not assessable`` row says
    why in its ``reason`` column; else one error naming the file, row and column."""
    values = _text(df[column])
    bad = ~values.isin(vocab.values)
    if bad.any():
        row = int(bad.to_numpy().argmax()) + 2  # 1-based, the header is row 1
        vocab.check(values[bad].iloc[0], f"{path}: row {row}: column {column}")
    reasons = df[REASON] if REASON in df.columns else pd.Series("", index=df.index)
    silent = (values == NOT_ASSESSABLE) & _text(reasons).eq("")
    if silent.any():
        row = int(silent.to_numpy().argmax()) + 2
        raise UserError(
            f"{path}: row {row}: column {column} is {NOT_ASSESSABLE!r} without a {REASON!r}"
        )


# ---- verdict vocabularies ----------------------------------------------------------------------
#: SNV/indel status of a resistant sample's allele vs its parental (snv.vcf.gz INFO/FORMAT
#: STATUS, hits ``status``). In the VCF a comparison that could not be made has no STATUS and the
#: header says why; hits.json says ``not assessable`` with the reason in the finding's note.
SNV_STATUS = Vocabulary("SNV status", ("acquired", "enriched", "shared", "lost", NOT_ASSESSABLE))
#: Statuses of an allele present in the resistant sample.
SNV_PRESENT = ("acquired", "enriched", "shared")
#: Coverage verdict of a known-resistance position (hotspots.tsv ``verdict``).
#: ``not detected`` = down to the row's ``detection_limit_vaf``; ``not covered`` (no reads, or a
#: limit above the documented maximum) and ``not assessable`` carry a ``reason`` (docs/snv.md).
HOTSPOT_VERDICT = Vocabulary(
    "hotspot verdict", ("mutated", "not detected", "not covered", NOT_ASSESSABLE)
)
#: Hotspot verdicts that say nothing about whether the codon is mutated.
HOTSPOT_UNKNOWN = ("not covered", NOT_ASSESSABLE)
#: Exon coverage of a transcript model (exon_scope.tsv ``status``, docs/qc.md): ``covered``
#: (median depth >= ``adequate_depth``), ``low depth`` (>= ``call_depth``, the SNV caller's
#: own minimum: a clonal change would be seen, a subclonal one can be missed) or ``not covered``
#: (below it: nothing can be called). Neither of the last two is ever "wild type".
SCOPE_STATUS = Vocabulary("exon coverage", ("covered", "low depth", "not covered"))
#: Gene copy-number call (cnv.tsv ``call``).
CN_CALL = Vocabulary(
    "copy-number call",
    ("amplification", "gain", "neutral", "loss", "deletion", NOT_ASSESSABLE),
)
#: Copy-number calls that are a change (a finding); the others are not.
CN_CHANGED = ("amplification", "gain", "loss", "deletion")
#: Fusion call of one row of fusions.tsv (``call``); only ``detected`` rows are findings.
FUSION_DETECTED = "detected"
FUSION_CALL = Vocabulary(
    "fusion call", (FUSION_DETECTED, "below threshold", "not detected", NOT_ASSESSABLE)
)
#: Per-drug prediction in hits.json ``drugs.<drug>.prediction`` (strongest first).
DRUG_PREDICTION = Vocabulary(
    "drug prediction", ("resistant", "reduced sensitivity", "sensitive", "no data", NOT_ASSESSABLE)
)
#: Sample identity of a resistant sample vs its parental (qc/<line>.identity.tsv ``verdict``).
IDENTITY_VERDICT = Vocabulary(
    "identity verdict", ("match", "possible contamination", "mismatch", NOT_ASSESSABLE)
)
#: What a drug prediction rests on (hits.json ``drugs.<drug>.basis``; docs/annotate.md):
#: table rows, the genotype scan (driver present, nothing found down to the limits), the
#: phenotype (the drug the sample was selected on; report only), or nothing ("no data").
DRUG_BASIS = Vocabulary("prediction basis", ("evidence", "genotype", "phenotype", "none"))
#: Sample QC status (qc.json ``status``): the gate itself; ``fail`` makes the verdicts that
#: rest on the sample ``not assessable`` and carries its ``reasons``.
QC_STATUS = Vocabulary("QC status", ("pass", "warn", "fail"))

# ---- table columns (writer order) --------------------------------------------------------------
#: cnv.tsv: gene copy number per sample; the first nine are the stable core.
CNV_COLUMNS = (
    "sample",
    "gene",
    "n_targets",
    "log2_ratio",
    "copy_number",
    "ci_low",
    "ci_high",
    "call",
    REASON,
    "role",
    "reference",
    "chrom",
    "baseline",
    "chrom_ratio",
    "chrom_ratio_genes",
    "log2_vs_parental",
    "median_count",
    "gc_residual_slope",
    "purity",
    "warning",
)
#: cnv_targets.tsv: per-target normalised ratios.
CNV_TARGET_COLUMNS = (
    "sample",
    "chrom",
    "start",
    "end",
    "genomic",
    "gene",
    "gc",
    "count",
    "ref_count",
    "log2_raw",
    "gc_correction",
    "log2_ratio",
    "weight",
    "baseline",
    "flags",
)
#: fusions.tsv (docs/fusion.md); "." is the empty cell.
FUSION_COLUMNS = (
    "sample",
    "gene_5p",
    "gene_3p",
    "breakpoint_5p",
    "breakpoint_3p",
    "genomic_5p",
    "genomic_3p",
    "location_5p",
    "location_3p",
    "exons",
    "variant",
    "split_reads",
    "discordant_pairs",
    "fragments",
    "microhomology",
    "inserted_sequence",
    "junction_sequence",
    "partner_sequence",
    "call",
    "min_fragments",
    "min_split_reads",
    "breakpoint_region",
    "region_depth",
    "spanning_fragments",
    "spanning_split_reads",
    "detection_limit_af",
    "status",
    REASON,
)
#: hotspots.tsv: what is measured at one known-resistance codon in one sample.
HOTSPOT_MEASURES = (
    "depth",
    "alt_count",
    "vaf",
    "verdict",
    "detection_limit_vaf",
    "target_vaf",
    "depth_needed",
    REASON,
)
#: hotspots.tsv ``reason`` of a ``not assessable`` codon whose only detected call failed the
#: filters (the filter words follow in brackets); annotate turns it into a ``filtered_signal``
#: caveat.
HOTSPOT_FILTERED_SIGNAL = "signal below quality filters at the codon"


def call_reads(alt_count: float | None, vaf: float | None, depth: float | None) -> dict:
    """``{alt_count, depth}`` of the call behind a hotspots.tsv row, at the call's own base.

    The row's ``depth`` is the codon's minimum over its bases, while ``alt_count`` and ``vaf``
    are the call's at its own base (docs/snv.md), so "2 of 13 reads" beside "VAF 11.8%" (2 of
    17) would mix two depths: the base's depth is alt / vaf; ``depth`` is the fallback when
    there is no VAF."""
    if alt_count and vaf:
        depth = float(round(alt_count / vaf))
    return {"alt_count": alt_count, "depth": depth}


#: hotspots.tsv: known-resistance positions x sample.
HOTSPOT_COLUMNS = (
    "sample",
    "gene",
    "hgvs_p",
    "residue",
    "chrom",
    "positions",
    "genomic",
    *HOTSPOT_MEASURES,
)
#: qc/<line>.identity.tsv: one row per resistant sample vs its parental.
IDENTITY_COLUMNS = (
    "sample",
    "parental",
    "informative_sites",
    "concordant",
    "loh",
    "discordant",
    "discordance",
    "verdict",
    REASON,
)
#: qc/<line>.identity_sites.tsv: genotype per candidate germline site and sample.
IDENTITY_SITE_COLUMNS = (
    "sample",
    "chrom",
    "pos",
    "genomic",
    "alt",
    "depth",
    "alt_count",
    "vaf",
    "genotype",
)
#: <line>/exon_scope.tsv: exon coverage of each gene's transcript model per sample.
SCOPE_COLUMNS = (
    "sample",
    "gene",
    "transcript",
    "exon",
    "chrom",
    "start",
    "end",
    "median_depth",
    "status",
    "model",
    "adequate_depth",
    "call_depth",
)
#: pon.tsv(.gz) (``resistcall pon``, read by ``resistcall snv --pon``): one row per covered
#: position x non-reference base (``alt`` A/C/G/T) and one per position for indels (``alt`` =
#: ``indel``: every indel event anchored there, normalised). ``pos`` 1-based; ``depth`` and
#: ``alt_reads`` summed over the ``samples`` that counted there (depth >= pon min_depth, allele
#: fraction <= pon max_vaf); ``excluded`` = samples left out as carrying a variant (a row
#: whose every sample carried one has depth 0). The column names follow a preamble of
#: ``##normal=<Sample=..,File=..,Duplicates=..>`` lines, one per normal (readers skip ``##``;
#: values quoted where needed and read back by resistcall.meta_line).
PON_COLUMNS = ("chrom", "pos", "ref", "alt", "depth", "alt_reads", "samples", "excluded")
#: qc/<sample>.targets.tsv: per-target depth.
QC_TARGET_COLUMNS = (
    "sample",
    "chrom",
    "start",
    "end",
    "gene",
    "mean_depth",
    "min_depth",
    "median_depth",
)
#: qc/<sample>.qc.json: keys every reader may rely on.
QC_KEYS = ("sample", "total_reads", "mapped_reads", "mapped_fraction", "on_target_fraction")
#: hits.tsv columns before and after the per-drug columns (one per drug of the first drug
#: group, in knowledge-table order; see :func:`hits_columns`).
HITS_LEADING = (
    "sample",
    "condition",
    "finding_id",
    "kind",
    "gene",
    "chrom",
    "pos",
    "ref",
    "alt",
    "genomic",
    "transcript",
    "refseq",
    "hgvs_c",
    "hgvs_p",
    "consequence",
    "exon",
    "kinase_domain",
    "alt_count",
    "depth",
    "vaf",
    "alt_count_parental",
    "depth_parental",
    "vaf_parental",
    "ccf",
    "ccf_parental",
    "copy_number",
    "ci_low",
    "ci_high",
    "status",
    "filter",
    "support",
    "known",
    "classification",
)
HITS_TRAILING = (
    "other_drugs",
    "evidence",
    "sources",
    "verified",
    "compound",
    "phase",
    "note",
)


def hits_columns(drugs: Iterable[str]) -> list[str]:
    """hits.tsv header: the fixed columns with one column per drug in between."""
    return [*HITS_LEADING, *drugs, *HITS_TRAILING]


# ---- what readers need (each a subset of its writer's columns; tests/test_contracts.py) ------
#: annotate reads these of cnv.tsv, fusions.tsv and hotspots.tsv.
ANNOTATE_READS = {
    "cnv": ("sample", "gene", "copy_number", "ci_low", "ci_high", "call"),
    "fusions": ("sample", "gene_5p", "gene_3p", "call"),
    "hotspots": (
        "sample",
        "gene",
        "hgvs_p",
        "residue",
        "depth",
        "alt_count",
        "vaf",
        "verdict",
        "detection_limit_vaf",
        "depth_needed",
        REASON,
    ),
}
#: the IGV session (resistcall.igv) reads these of hits.tsv and fusions.tsv.
IGV_READS = {
    "hits": (
        "sample", "kind", "gene", "chrom", "pos", "ref", "hgvs_p", "copy_number", "status",
        "filter",
    ),
    "fusions": ("sample", "gene_5p", "gene_3p", "breakpoint_5p", "breakpoint_3p", "call"),
}  # fmt: skip
#: the report reads these.
REPORT_READS = {
    "cnv": CNV_COLUMNS[:9],
    "cnv_targets": ("sample", "gene", "log2_ratio"),
    "hotspots": HOTSPOT_COLUMNS,
    "fusions": ("sample", "gene_5p", "gene_3p", "breakpoint_5p", "breakpoint_3p", "call"),
}

# ---- caveats ------------------------------------------------------------------------------------
#: Why a drug prediction could change (hits.json ``drugs.<drug>.caveats``): ``unverified``
#: (unverified table rows would give ``would_give``), ``not_assessed`` (a known change at a
#: position the sample could not be checked at), ``qc`` (the sample's QC). Data, not sentences:
#: only the report turns them into words.
#: ``genotype``: a prediction made from the genotype scan, not table rows (docs/annotate.md).
#: ``filtered_signal``: a known change's codon carries a detected call that failed the filters
#: (``alt_count``/``depth`` given), so "expected to work" there is unconfirmed either way.
#: ``low_support``: the resistant/reduced prediction rests only on weakly supported calls.
CAVEAT_KINDS = (
    "unverified",
    "not_assessed",
    "filtered_signal",
    "copy_number",
    "qc",
    "genotype",
    "low_support",
)


def caveat(
    kind: str,
    reason: str,
    *,
    gene: str | None = None,
    residue: str | None = None,
    hgvs_p: str | None = None,
    **extra: object,
) -> dict:
    """One structured caveat ``{kind, gene, residue, hgvs_p, reason, ...}``."""
    if kind not in CAVEAT_KINDS:
        raise ValueError(f"caveat kind {kind!r} is not one of {', '.join(CAVEAT_KINDS)}")
    return {
        "kind": kind,
        "gene": gene,
        "residue": residue,
        "hgvs_p": hgvs_p,
        "reason": reason,
        **extra,
    }


# ---- JSON documents ----------------------------------------------------------------------------
#: ``"schema"`` of hits.json (annotate) and report.json (report); bumped when their shape changes.
HITS_SCHEMA = "resistcall-hits/4"
REPORT_SCHEMA = "resistcall-report/3"


def check_schema(data: object, expected: str, path: object) -> None:
    """One clear error unless ``data`` declares ``expected`` as its ``"schema"``."""
    found = data.get("schema") if isinstance(data, dict) else None
    if found == expected:
        return
    kind = expected.rsplit("/", 1)[0]
    if isinstance(found, str) and found.startswith(f"{kind}/"):
        raise UserError(
            f"{path}: schema {found} is not a version this resistcall reads ({expected}); "
            "rerun the stage that wrote it with this version"
        )
    raise UserError(f"{path}: not a {kind} document (schema {found!r}; expected {expected!r})")


# ---- display order -----------------------------------------------------------------------------
#: Genes of the panel in the order a reader expects them (the driver, then bypass genes);
#: genes not listed follow alphabetically.
GENE_ORDER = ("ALK", "MET", "EGFR", "ERBB2", "KIT", "KRAS", "IGF1R")
#: Bypass genes the report's "what next?" section answers for (copy number, activating
#: mutations): a gene the panel did not read is named as not checked, never as "none found".
BYPASS_GENES = ("MET", "EGFR", "ERBB2", "KIT", "KRAS")


def gene_key(gene: str) -> tuple[int, str]:
    """Sort key putting genes in :data:`GENE_ORDER`, others after them by name."""
    return (GENE_ORDER.index(gene) if gene in GENE_ORDER else len(GENE_ORDER), gene)


# ---- citations ---------------------------------------------------------------------------------
_CITATIONS = (
    ("pmid", re.compile(r"^PMID:\s*(\d+)", re.I), "https://pubmed.ncbi.nlm.nih.gov/{}/"),
    (
        "civic_evidence",
        re.compile(r"^CIViC:\s*EID(\d+)", re.I),
        "https://civicdb.org/links/evidence_items/{}",
    ),
    (
        "civic_assertion",
        re.compile(r"^CIViC:\s*AID(\d+)", re.I),
        "https://civicdb.org/links/assertions/{}",
    ),
    ("doi", re.compile(r"^DOI:\s*(10\.\S+)", re.I), "https://doi.org/{}"),
    ("moalmanac", re.compile(r"^MOAlmanac:", re.I), None),
    ("fda_label", re.compile(r"^FDA-label:", re.I), None),
)


def citation(token: str) -> dict:
    """A citation token (``PMID:n``, ``CIViC:EIDn``/``AIDn``, ``DOI:10.x``, ...) as
    ``{"id", "type", "url"}``; ``url`` is None where the source has no stable link."""
    text = token.strip()
    for kind, pattern, url in _CITATIONS:
        m = pattern.match(text)
        if m:
            return {"id": text, "type": kind, "url": url.format(m[1]) if url else None}
    return {"id": text, "type": "other", "url": None}


#: Plain words for the VCF FILTER names the SNV caller writes (``resistcall.snv.FILTERS`` holds
#: the technical header descriptions); the report shows these, never the raw codes.
FILTER_WORDS = {
    "strand_bias": "reads from one strand only",
    "read_end": "only at read ends (likely primer or adapter)",
    "low_base_quality": "low base quality",
    "homopolymer": "next to a homopolymer run at low fraction",
    "low_depth": "too few reads",
    "low_vaf": "fraction too low to be sure",
    "near_indel": "likely artefact of a nearby indel",
    "pon_variant": "a variant of a panel-of-normals sample at low fraction (likely contamination)",
}


def filter_words(codes: str) -> str:
    """';'-separated FILTER codes in plain words (an unknown code is kept as it is)."""
    return "; ".join(FILTER_WORDS.get(c, c) for c in str(codes).split(";") if c)
