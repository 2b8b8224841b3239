"""Calls + copy number + fusions -> hits.tsv / hits.json with per-drug verdicts.

``resistcall annotate`` (method and output contract: docs/annotate.md). Every variant gets HGVS
nomenclature on the panel transcript models; each sample's findings are matched against the
known-resistance table (exact change, synonyms, residue classes, compounds, amplification and
fusion rows); each resistant sample gets a per-drug prediction with the rows and sources behind
it. Variants that match nothing are kept (VUS / other), never dropped.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pysam
from cyvcf2 import VCF

from resistcall import phasing
from resistcall.contracts import (
    ANNOTATE_READS,
    BYPASS_GENES,
    CN_CALL,
    CN_CHANGED,
    FUSION_CALL,
    FUSION_DETECTED,
    HITS_SCHEMA,
    HOTSPOT_FILTERED_SIGNAL,
    HOTSPOT_UNKNOWN,
    NOT_ASSESSABLE,
    SNV_PRESENT,
    call_reads,
    caveat,
    check_verdicts,
    citation,
    hits_columns,
)
from resistcall.drivers import DEFAULT as DRIVERS_DEFAULT
from resistcall.drivers import load_drivers, match_driver
from resistcall.errors import UserError
from resistcall.hgvs import Annotation, ContigCache, annotate_variant, trim
from resistcall.knowledge import (
    DrugGroups,
    KnowledgeBase,
    canonical_protein,
    load_knowledge,
    residue_span,
)
from resistcall.meta_line import parse_meta
from resistcall.outputs import write_texts
from resistcall.qcgate import not_assessable, read_qc
from resistcall.reference import contig_offset, preflight_bams
from resistcall.tables import read_table
from resistcall.transcripts import load_transcripts

log = logging.getLogger(__name__)

PROTEIN_ALTERING = (
    "missense_variant",
    "stop_gained",
    "stop_lost",
    "start_lost",
    "inframe_deletion",
    "inframe_insertion",
    "frameshift_variant",
    "protein_altering_variant",
    "splice_donor_variant",
    "splice_acceptor_variant",
    "coding_sequence_variant",
)
EFFECT_WORDS = {
    "resistant": "resistant",
    "reduced_sensitivity": "reduced sensitivity",
    "sensitive": "sensitive",
}
STATUS_ORDER = {"acquired": 3, "enriched": 2, "shared": 1, "lost": 0}
KIND_ORDER = {"compound": 0, "snv": 1, "mnv": 1, "indel": 1, "cnv": 2, "fusion": 3}


# ---- sources -----------------------------------------------------------------------------------
def _sources(tokens: list[str]) -> list[dict]:
    seen: list[str] = []
    for t in tokens:
        for s in t.split(";"):
            if s and s not in seen:
                seen.append(s)
    return [citation(s) for s in seen]


# ---- findings ----------------------------------------------------------------------------------
@dataclass
class Finding:
    """One alteration as seen in one sample (variant, compound, copy number or fusion)."""

    id: str
    kind: str
    gene: str
    sample: str
    chrom: str | None = None
    pos: int | None = None
    ref: str | None = None
    alt: str | None = None
    genomic: str | None = None
    transcript: str | None = None
    refseq: str | None = None
    hgvs_c: str | None = None
    hgvs_p: str | None = None
    consequence: str | None = None
    exon: str | None = None
    kinase_domain: bool = False
    sample_counts: dict | None = None
    parental_counts: dict | None = None
    copy_number: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    status: str | None = None
    filter: str | None = None
    counts_towards_verdict: bool = False
    matches: list[dict] = field(default_factory=list)
    compound_parts: list[str] | None = None
    part_of: list[str] = field(default_factory=list)
    phase: dict | None = None
    note: str = ""
    #: the activating-driver row this variant matches (resistcall.drivers), if any
    driver: dict | None = None
    #: why a counted call is weakly supported (:func:`low_support`), None if it is not
    low_support: dict | None = None
    #: whether the sample's reads carry it (False for a ``lost`` variant): kept when the QC
    #: gate turns the status into ``not assessable``
    detected: bool = True

    @property
    def known(self) -> bool:
        return bool(self.matches)

    @property
    def verified(self) -> bool | None:
        if not self.matches:
            return None
        return all(m["verification"] != "recall" for m in self.matches)

    @property
    def set_aside(self) -> bool:
        """A compound whose parts are on different molecules (phase ``trans``): not one allele,
        so its table rows apply to nothing in the sample (docs/annotate.md, "Phasing")."""
        return self.kind == "compound" and (self.phase or {}).get("status") == "trans"

    @property
    def classification(self) -> str:
        if self.matches:
            return "known"
        if self.driver:
            return "activating driver"
        if self.kind in ("snv", "mnv", "indel"):
            cons = (self.consequence or "").split("&")
            if (
                any(c in PROTEIN_ALTERING for c in cons)
                or self.kinase_domain
                and any(c.startswith("splice") for c in cons)
            ):
                return "vus"
        if self.kind == "cnv" and self.status == "gain":
            return "vus"
        return "other"

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "gene": self.gene,
            "chrom": self.chrom,
            "pos": self.pos,
            "ref": self.ref,
            "alt": self.alt,
            "genomic": self.genomic,
            "transcript": self.transcript,
            "refseq": self.refseq,
            "hgvs_c": self.hgvs_c,
            "hgvs_p": self.hgvs_p,
            "consequence": self.consequence,
            "exon": self.exon,
            "kinase_domain": self.kinase_domain,
            "sample_counts": self.sample_counts,
            "parental_counts": self.parental_counts,
            "copy_number": self.copy_number,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "status": self.status,
            "filter": self.filter,
            "counts_towards_verdict": self.counts_towards_verdict,
            "known": self.known,
            "classification": self.classification,
            "driver": self.driver,
            "low_support": self.low_support,
            "detected": self.detected,
            "matches": self.matches,
            "verified": self.verified,
            "compound_parts": self.compound_parts,
            "part_of": self.part_of,
            "phase": self.phase,
            "note": self.note or None,
        }


def _match_record(row: pd.Series, match_type: str) -> dict:
    return {
        "table_line": int(row["line"]),
        "table_hgvs_p": row["hgvs_p"],
        "match_type": match_type,
        "drug": row["drug"],
        "drug_class": row["drug_class"],
        "effect": row["effect"],
        "evidence_level": row["evidence_level"],
        "mechanism_class": row["mechanism_class"],
        "verification": row["verification"],
        "sources": _sources([row["sources"]]),
        "note": row["note"],
    }


# ---- VCF ---------------------------------------------------------------------------------------
def _header_value(vcf: VCF, key: str) -> str | None:
    for line in vcf.raw_header.splitlines():
        if line.startswith(f"##{key}="):
            return line.split("=", 1)[1].strip().strip("<>") or None
    return None


def _parental_from_header(vcf: VCF) -> str | None:
    return _header_value(vcf, "parental")


def parental_not_assessable(path: str | Path) -> str | None:
    """Why the VCF's parental was not compared with (``##parental_not_assessable``), or None."""
    return _header_value(VCF(str(path)), "parental_not_assessable")


def vcf_purity(path: str | Path) -> dict[str, float]:
    """Each sample's tumour purity as ``snv`` used it (its ``##purity`` lines; docs/purity.md);
    empty for a VCF that does not say, whose cancer-cell fractions are then not reported."""
    purity = {}
    for line in VCF(str(path)).raw_header.splitlines():
        if line.startswith("##purity=<"):
            try:
                items = parse_meta(line)[1]
                purity[items["Sample"]] = float(items["Purity"])
            except (ValueError, KeyError) as exc:
                raise UserError(f"{path}: unreadable ##purity line ({exc}): {line}") from exc
    return purity


def apply_qc(
    findings: dict[str, list[Finding]],
    verdicts: dict[str, dict],
    qc: dict[str, dict],
    parental: str | None,
    parental_reason: str | None,
) -> dict[str, dict]:
    """QC gate on the annotation (docs/qc.md). A resistant sample that failed QC gets
    ``not assessable`` for every drug and for the status of each of its variants (note
    "detected; sample failed QC"); when the parental failed, a resistant sample's own findings
    still stand, but their comparison status is ``not assessable``. Returns the QC state per
    sample for hits.json."""
    state = {s: {"status": q["status"], "reasons": q.get("reasons", [])} for s, q in qc.items()}
    if parental is not None and parental_reason is None:
        parental_reason = not_assessable(qc, parental, "snv")
    for s, flist in findings.items():
        if s == parental:
            continue
        if parental_reason is not None:
            for f in flist:
                if f.kind in ("snv", "mnv", "indel", "compound"):
                    f.status = "not assessable"
                    f.note = "; ".join(
                        x
                        for x in (f.note, f"detected; parental not assessable ({parental_reason})")
                        if x
                    )
        reason = not_assessable(qc, s, "snv")
        if reason is None or qc[s]["status"] != "fail":
            continue
        # its calls are reads of a failed library: never "acquired"/"lost"/PASS in hits.tsv
        for f in flist:
            if f.kind in ("snv", "mnv", "indel", "compound"):
                seen = "detected" if f.detected else "not detected"
                f.status = "not assessable"
                f.note = "; ".join(x for x in (f.note, f"{seen}; sample failed QC ({reason})") if x)
        for verdict in verdicts.get(s, {}).values():
            verdict["prediction"] = NOT_ASSESSABLE
            verdict["caveats"].append(caveat("qc", reason))
    return state


def _fmt(record, name: str):
    try:
        return record.format(name)
    except KeyError:
        return None


def _num(x) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    if np.isnan(v) or v < -1e30:  # cyvcf2 missing values
        return None
    return v


def read_vcf(path: str | Path) -> tuple[pd.DataFrame, list[str], str | None]:
    """Per (record, alt allele, sample) counts and status; a sites-only VCF gives sample '.'."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"VCF not found: {path}")
    try:
        vcf = VCF(str(path))
    except Exception as exc:  # cyvcf2 raises OSError/Exception on unreadable files
        raise UserError(f"{path}: not a readable VCF ({exc})") from exc
    samples = list(vcf.samples)
    parental = _parental_from_header(vcf)
    if parental is not None and parental not in samples:
        raise UserError(f"{path}: ##parental={parental} names no sample column ({samples})")
    rows = []
    for n, rec in enumerate(vcf, start=1):
        info_status = rec.INFO.get("STATUS")
        filt = rec.FILTER or "PASS"
        ad = _fmt(rec, "AD")
        dp = _fmt(rec, "DP")
        af = _fmt(rec, "AF")
        ccf = _fmt(rec, "CCF")
        st = _fmt(rec, "STATUS")
        gts = rec.genotypes if samples else []
        if not rec.ALT:
            continue
        for ai, alt in enumerate(rec.ALT, start=1):
            if alt in ("*", ".") or alt.startswith("<"):
                continue
            base = {
                "record": n,
                "chrom": rec.CHROM,
                "pos": rec.POS,
                "ref": rec.REF,
                "alt": alt,
                "filter": filt,
                "info_status": info_status,
            }
            if not samples:
                rows.append(
                    {
                        **base,
                        "sample": ".",
                        "alt_count": None,
                        "depth": None,
                        "vaf": None,
                        "status": info_status,
                    }
                )
                continue
            for si, s in enumerate(samples):
                alt_count = _num(ad[si][ai]) if ad is not None and ad.shape[1] > ai else None
                depth = _num(dp[si][0]) if dp is not None else None
                if depth is None and ad is not None:
                    vals = [_num(x) for x in ad[si]]
                    depth = sum(v for v in vals if v is not None) or None
                vaf = None
                if af is not None:
                    vaf = _num(af[si][ai - 1]) if af.shape[1] >= ai else _num(af[si][0])
                if vaf is None and alt_count is not None and depth:
                    vaf = alt_count / depth
                cancer_cells = None
                if ccf is not None:
                    cancer_cells = _num(ccf[si][ai - 1]) if ccf.shape[1] >= ai else None
                status = None
                if st is not None:
                    v = st[si]
                    v = v.decode() if isinstance(v, bytes) else str(v)
                    status = None if v in (".", "", "None") else v
                gt = gts[si] if si < len(gts) else []
                alleles = [g for g in gt[:-1] if g >= 0] if len(gt) > 1 else []
                rows.append(
                    {
                        **base,
                        "sample": s,
                        "alt_count": alt_count,
                        "depth": depth,
                        "vaf": vaf,
                        "ccf": cancer_cells,
                        "status": status,
                        "gt_called": bool(alleles),
                        "gt_alt": ai in alleles,
                    }
                )
    vcf.close()
    df = pd.DataFrame(rows)
    return df, samples or ["."], parental


# ---- inputs: CNV and fusions --------------------------------------------------------------------
# ---- main computation ---------------------------------------------------------------------------
def _present(row: dict) -> bool:
    """Detected in the sample: the genotype when called (snv writes 0/1 only for detected
    alleles, so a few noise reads under 0/0 are not a finding), else alt reads / VAF."""
    if row["sample"] == ".":
        return True
    if row.get("gt_called"):
        return bool(row["gt_alt"])
    if row.get("status") in SNV_PRESENT:
        return True
    if row.get("alt_count") is not None:
        return row["alt_count"] > 0
    if row.get("vaf") is not None:
        return row["vaf"] > 0
    return bool(row.get("gt_alt"))


def _counts(row: dict | None) -> dict | None:
    if row is None:
        return None
    vaf, ccf = row.get("vaf"), row.get("ccf")
    return {
        "alt_count": None if row.get("alt_count") is None else int(row["alt_count"]),
        "depth": None if row.get("depth") is None else int(row["depth"]),
        "vaf": None if vaf is None else round(float(vaf), 4),
        "ccf": None if ccf is None or pd.isna(ccf) else round(float(ccf), 4),
    }


def _variant_kind(ref: str, alt: str) -> str:
    if len(ref) == len(alt):
        return "snv" if len(ref) == 1 else "mnv"
    return "indel"


def _genomic(chrom: str, first: int, last: int) -> str:
    gchrom, off = contig_offset(chrom)
    return f"{gchrom}:{off + first}" if first == last else f"{gchrom}:{off + first}-{off + last}"


#: A call carried by this many alt fragments or fewer is ``low support``: the real background
#: at ALK resistance hotspots reaches 3 alt fragments (0.7%) at ~400x in untreated lines
#: (C1156 in H3122; docs/annotate.md), so such a call should be confirmed before it is acted on.
LOW_SUPPORT_FRAGMENTS = 3


def mutated_limits(hotspots: pd.DataFrame | None) -> dict[tuple[str, str, str], float]:
    """(sample, gene, protein change) -> the codon's 95% detection limit (hotspots.tsv) where
    the change was called: the VAF below which the caller finds it less than 95% of the time."""
    if hotspots is None or "detection_limit_vaf" not in hotspots.columns:
        return {}
    out = {}
    for rec in hotspots.to_dict(orient="records"):
        limit = _num(rec.get("detection_limit_vaf"))
        if str(rec["verdict"]).strip().lower() == "mutated" and limit is not None:
            out[(rec["sample"], rec["gene"], canonical_protein(str(rec["hgvs_p"])))] = limit
    return out


def low_support(counts: dict | None, limit: float | None) -> dict | None:
    """Why a call is weakly supported: at most :data:`LOW_SUPPORT_FRAGMENTS` alt fragments, or
    a VAF below its codon's detection limit ``limit`` (found by luck more than by power); None
    if neither. The call still counts; its drugs get a ``low_support`` caveat."""
    c = counts or {}
    alt, vaf = c.get("alt_count"), c.get("vaf")
    few = alt is not None and alt <= LOW_SUPPORT_FRAGMENTS
    below = limit is not None and vaf is not None and vaf < limit
    if not (few or below):
        return None
    return {
        "alt_count": alt,
        "depth": c.get("depth"),
        "vaf": vaf,
        "detection_limit_vaf": limit if below else None,
    }


def support_words(support: dict | None) -> str:
    """hits.tsv ``support``: empty, or "low" with why (:func:`low_support`)."""
    if support is None:
        return ""
    why = []
    if support["alt_count"] is not None and support["alt_count"] <= LOW_SUPPORT_FRAGMENTS:
        why.append(f"{support['alt_count']} alt fragments")
    if support["detection_limit_vaf"] is not None:
        why.append(f"VAF below the codon's detection limit {support['detection_limit_vaf']:g}")
    return "low: " + "; ".join(why)


def annotate(
    calls: pd.DataFrame,
    samples: list[str],
    parental: str | None,
    kb: KnowledgeBase,
    gtf: str | Path,
    reference: str | Path,
    cnv: pd.DataFrame | None = None,
    fusions: pd.DataFrame | None = None,
    bams: dict[str, str] | None = None,
    hotspots: pd.DataFrame | None = None,
    drivers: pd.DataFrame | None = None,
) -> tuple[dict[str, list[Finding]], dict[str, dict]]:
    """Findings per sample and per-drug verdicts per resistant sample."""
    transcripts = load_transcripts(gtf)
    limits = mutated_limits(hotspots)
    findings: dict[str, list[Finding]] = {s: [] for s in samples}
    with pysam.FastaFile(str(reference)) as fasta:
        contigs = ContigCache(fasta)
        cache: dict[tuple, Annotation] = {}
        records = calls.to_dict(orient="records") if len(calls) else []
        parental_rows = {(r["record"], r["alt"]): r for r in records if r["sample"] == parental}
        for rec in records:
            key = (rec["chrom"], int(rec["pos"]), rec["ref"], rec["alt"])
            if key not in cache:
                if rec["chrom"] not in fasta.references:
                    raise UserError(
                        f"VCF contig {rec['chrom']} is not in the reference {reference}"
                    )
                cache[key] = annotate_variant(transcripts, contigs, *key)
            ann = cache[key]
            s = rec["sample"]
            status = rec.get("status") or (rec.get("info_status") if s != parental else None)
            if s == parental:
                status = "parental"
            if not _present(rec) and status not in ("lost",):
                continue
            par = None
            if parental is not None and s != parental:
                par = parental_rows.get((rec["record"], rec["alt"]))
            # GRCh38 span of the changed bases (deleted bases; an insertion's two flanks)
            tp, tr, _ = trim(key[1], key[2], key[3])
            first, last = (tp, tp + len(tr) - 1) if tr else (tp - 1, tp)
            f = Finding(
                id=f"var:{key[0]}:{key[1]}:{key[2]}:{key[3]}",
                kind=_variant_kind(key[2], key[3]),
                gene=ann.gene,
                sample=s,
                chrom=key[0],
                pos=key[1],
                ref=key[2],
                alt=key[3],
                genomic=_genomic(key[0], first, last),
                transcript=ann.transcript,
                refseq=ann.refseq,
                hgvs_c=ann.hgvs_c or None,
                hgvs_p=ann.hgvs_p or None,
                consequence=ann.consequence,
                exon=ann.exon or None,
                kinase_domain=ann.kinase_domain,
                sample_counts=_counts(rec),
                parental_counts=_counts(par),
                status=status,
                filter=rec["filter"],
                detected=status != "lost",
            )
            f.counts_towards_verdict = (
                f.filter in ("PASS", ".") and status != "lost" and _present(rec)
            )
            if f.counts_towards_verdict and status in ("acquired", "enriched"):
                # only changes that decide drugs; the codon limit is the comparison's test
                limit = limits.get((s, ann.gene, canonical_protein(ann.hgvs_p or "")))
                f.low_support = low_support(f.sample_counts, limit)
            for i in kb.match_change(ann.gene, ann.hgvs_p):
                row = kb.table.loc[i]
                mt = (
                    "residue"
                    if row["alteration_type"] == "residue"
                    else (
                        "exact" if row["canonical"] == canonical_protein(ann.hgvs_p) else "synonym"
                    )
                )
                f.matches.append(_match_record(row, mt))
            if not f.matches and drivers is not None:
                f.driver = match_driver(drivers, ann.gene, ann.hgvs_p, ann.consequence, ann.exon)
            findings.setdefault(s, []).append(f)

    # copy number
    if cnv is not None:
        for rec in cnv.to_dict(orient="records"):
            call = rec["call"].strip().lower()
            if call not in CN_CHANGED:
                continue
            f = Finding(
                id=f"cnv:{rec['gene']}",
                kind="cnv",
                gene=rec["gene"],
                sample=rec["sample"],
                hgvs_p=call,
                consequence="copy_number_change",
                status=call,
                filter="PASS",
                copy_number=_num(rec.get("copy_number")),
                ci_low=_num(rec.get("ci_low")),
                ci_high=_num(rec.get("ci_high")),
            )
            f.counts_towards_verdict = rec["sample"] != parental
            if call == "amplification":
                for i in kb.by_cnv.get(rec["gene"], []):
                    f.matches.append(_match_record(kb.table.loc[i], "amplification"))
            findings.setdefault(rec["sample"], []).append(f)

    # fusions
    if fusions is not None:
        seen: set[tuple[str, str]] = set()
        for rec in fusions.to_dict(orient="records"):
            if rec["call"].strip().lower() != FUSION_DETECTED:
                continue
            g5, g3 = rec["gene_5p"], rec["gene_3p"]
            fid = f"fusion:{g5}::{g3}"
            if (rec["sample"], fid) in seen:
                continue
            seen.add((rec["sample"], fid))
            genomic = None
            if rec.get("genomic_5p") and rec.get("genomic_3p"):
                genomic = f"{rec['genomic_5p']}>{rec['genomic_3p']}"
            f = Finding(
                id=fid,
                kind="fusion",
                gene=f"{g5}::{g3}",
                sample=rec["sample"],
                hgvs_p="fusion",
                consequence="gene_fusion",
                genomic=genomic,
                status=rec["call"],
                filter="PASS",
                note=" ".join(x for x in (rec.get("variant", ""), rec.get("exons", "")) if x),
            )
            f.counts_towards_verdict = True
            for gene in dict.fromkeys((g3, g5)):
                for i in kb.by_fusion.get(gene, []):
                    f.matches.append(_match_record(kb.table.loc[i], "fusion"))
            findings.setdefault(rec["sample"], []).append(f)

    # compounds
    for s, flist in findings.items():
        if s == ".":
            continue  # sites-only VCF: parts cannot be placed in one sample
        counted = [
            f
            for f in flist
            if f.counts_towards_verdict and f.hgvs_p and f.kind in ("snv", "mnv", "indel")
        ]
        by_change = {(f.gene, canonical_protein(cast(str, f.hgvs_p))): f for f in counted}
        compounds: dict[str, Finding] = {}
        for i, parts in kb.match_compounds(set(by_change)):
            row = kb.table.loc[i]
            cid = f"compound:{row['gene']}:{row['hgvs_p']}"
            if cid not in compounds:
                members = [by_change[(row["gene"], p)] for p in parts]
                statuses = [m.status for m in members if m.status in STATUS_ORDER]
                status = min(statuses, key=lambda x: STATUS_ORDER[x]) if statuses else None
                c = Finding(
                    id=cid,
                    kind="compound",
                    gene=row["gene"],
                    sample=s,
                    hgvs_p=row["hgvs_p"],
                    consequence="compound",
                    status=status,
                    filter="PASS",
                    compound_parts=[m.id for m in members],
                    counts_towards_verdict=True,
                    kinase_domain=any(m.kinase_domain for m in members),
                    # as weak as its weakest part
                    low_support=next((m.low_support for m in members if m.low_support), None),
                )
                c.phase = _phase(members, (bams or {}).get(s), reference)
                if c.set_aside:
                    # the parts sit on different molecules: the compound (cis) evidence does
                    # not apply, and each part keeps its own rows
                    c.counts_towards_verdict = False
                    c.low_support = None  # it decides nothing, so nothing to confirm
                    c.note = "parts seen in trans on the reads: compound rows not applied"
                for m in members:
                    m.part_of.append(cid)
                compounds[cid] = c
            compounds[cid].matches.append(_match_record(row, "compound"))
        flist.extend(compounds.values())

    order = {s: i for i, s in enumerate(samples)}
    for s in findings:
        findings[s].sort(key=lambda f: (KIND_ORDER.get(f.kind, 9), f.gene, f.pos or 0, f.id))
    findings = dict(sorted(findings.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))
    verdicts = {
        s: drug_verdicts(flist, kb.groups) for s, flist in findings.items() if s != parental
    }
    if cnv is not None:
        add_copy_number_not_assessed(verdicts, cnv, kb)
    if hotspots is not None:
        add_not_assessed(verdicts, hotspots, kb)
        for s, v in verdicts.items():
            add_genotype_predictions(
                v, findings.get(s, []), on_target_scan(hotspots, s), kb.groups.driver_drugs
            )
    return findings, verdicts


def on_target_scan(hotspots: pd.DataFrame, sample: str, gene: str = "ALK") -> dict:
    """How far one sample's known ALK codons were checked (hotspots.tsv, docs/annotate.md).

    ``n_codons`` known codons of the gene, ``n_clear`` of them ``not detected``, ``limit`` the
    largest detection limit among those (the VAF down to which all of them are excluded),
    ``n_mutated`` and ``n_unknown`` (not covered / not assessable).
    """
    h = hotspots[(hotspots["sample"] == sample) & (hotspots["gene"] == gene)].copy()
    h["verdict"] = h["verdict"].astype(str).str.strip().str.lower()
    rank = {"mutated": 3, "not covered": 2, "not assessable": 2, "not detected": 1}
    by = h.assign(_r=h["verdict"].map(rank).fillna(2)).sort_values("_r", kind="stable")
    codon = by.groupby("residue", sort=False).agg(
        verdict=("verdict", "last"),
        limit=("detection_limit_vaf", lambda x: pd.to_numeric(x, errors="coerce").max()),
    )
    clear = codon[codon["verdict"] == "not detected"]
    return {
        "gene": gene,
        "n_codons": int(len(codon)),
        "n_clear": int(len(clear)),
        "n_mutated": int((codon["verdict"] == "mutated").sum()),
        "n_unknown": int(codon["verdict"].isin(HOTSPOT_UNKNOWN).sum()),
        "limit": _num(clear["limit"].max()) if len(clear) else None,
    }


def add_genotype_predictions(
    v: dict[str, dict], flist: list[Finding], scan: dict, drugs: list[str] | tuple[str, ...]
) -> None:
    """Turn "no data" for an ALK inhibitor into a genotype-based prediction when that is sound.

    Sound when the driver (a detected ALK fusion) is present, no other finding counts (no
    resistance change, VUS or copy-number change that could explain resistance), and the
    known ALK codons were checked (``scan``, at least one ``not detected``): the drug is then
    expected to retain activity (basis ``genotype``, the fusion's baseline rows as evidence),
    with the statement of what was excluded and the caveat that ALK-independent resistance is
    not. Every entry gets a ``basis``: ``evidence`` (table rows decided), ``genotype`` or
    ``none`` (nothing known: "no data").
    """
    counted = [f for f in flist if f.counts_towards_verdict]
    driver = any(f.kind == "fusion" and scan["gene"] in f.gene.split("::") for f in counted)
    others = [
        f
        for f in counted
        if f.kind != "fusion" and f.classification in ("known", "vus", "activating driver")
    ]
    sound = driver and not others and scan["n_clear"] > 0 and not scan["n_mutated"]
    statement = None
    if scan["n_codons"] and scan["limit"] is not None:
        statement = (
            f"no on-target resistance change >= {100 * scan['limit']:.1f}% at "
            f"{scan['n_clear']} of {scan['n_codons']} known {scan['gene']} codons "
            f"({scan['gene']}-independent resistance not excluded)"
        )
    for drug in drugs:  # the driver's inhibitors (drug_groups.tsv, first group)
        entry = v.setdefault(drug, _empty_verdict())
        entry["scan"] = scan
        if entry["prediction"] != "no data":
            entry["basis"] = "evidence"
        elif sound:
            entry["prediction"] = "sensitive"
            entry["basis"] = "genotype"
            entry["statement"] = statement
            entry["caveats"].insert(0, caveat("genotype", f"genotype-based: {statement}"))
        else:
            entry["basis"] = "none"
    for entry in v.values():
        entry.setdefault("basis", "evidence" if entry["prediction"] != "no data" else "none")


#: Predictions a known change that could not be checked could still make worse: they carry
#: its caveat (a ``resistant`` one cannot get worse)
CAVEATED = ("sensitive", "no data", "reduced sensitivity")


def add_not_assessed(verdicts: dict[str, dict], hotspots: pd.DataFrame, kb: KnowledgeBase) -> None:
    """Known resistance changes a sample could not be checked for (hotspots.tsv verdict
    ``not covered`` or ``not assessable``): listed per drug they would affect, so that a
    "sensitive" or "no data" prediction is never read as "those positions are wild type".
    A codon whose reads carry a change that failed the filters gets a ``filtered_signal``
    caveat with its read counts (a possible resistance mutation, unconfirmed), the others a
    ``not_assessed`` one."""
    low = hotspots[hotspots["verdict"].str.strip().str.lower().isin(HOTSPOT_UNKNOWN)]
    for rec in low.to_dict(orient="records"):
        v = verdicts.get(rec["sample"])
        if v is None:
            continue
        reason = rec.get("reason") if isinstance(rec.get("reason"), str) else None
        signal = reason is not None and reason.startswith(HOTSPOT_FILTERED_SIGNAL)
        for i in kb.match_change(rec["gene"], rec["hgvs_p"]):
            row = kb.table.loc[i]
            if row["effect"] == "sensitive":
                continue
            for d in kb.groups.drugs_of(row["drug"], row["drug_class"]):
                entry = v.setdefault(d, _empty_verdict())
                item = {
                    "gene": rec["gene"],
                    "hgvs_p": rec["hgvs_p"],
                    "residue": rec.get("residue"),
                    "depth": _num(rec.get("depth")),
                    "depth_needed": _num(rec.get("depth_needed")),
                    "detection_limit_vaf": _num(rec.get("detection_limit_vaf")),
                    "reason": reason,
                    "effect": row["effect"],
                    "verification": row["verification"],
                }
                if signal:
                    item["signal"] = call_reads(
                        _num(rec.get("alt_count")), _num(rec.get("vaf")), _num(rec.get("depth"))
                    )
                if item not in entry["not_assessed"]:
                    entry["not_assessed"].append(item)
    for v in verdicts.values():
        for entry in v.values():
            missing = entry.get("not_assessed") or []
            if missing and entry["prediction"] in CAVEATED:
                seen = set()
                for m in sorted(missing, key=lambda m: (m["gene"], m["hgvs_p"])):
                    if (m["gene"], m["hgvs_p"]) in seen:
                        continue
                    seen.add((m["gene"], m["hgvs_p"]))
                    entry["caveats"].append(
                        caveat(
                            "filtered_signal" if "signal" in m else "not_assessed",
                            m["reason"] or "not covered",
                            gene=m["gene"],
                            residue=m["residue"] or _residue(m["hgvs_p"]),
                            hgvs_p=m["hgvs_p"],
                            **({"signal": m["signal"]} if "signal" in m else {}),
                        )
                    )


#: Genes whose copy number the product estimates (ALK and the bypass genes); the table's other
#: amplification rows (IGF1R) are outside any panel's scope and not caveated on every report.
CN_SCOPE = ("ALK", *BYPASS_GENES)


def add_copy_number_not_assessed(
    verdicts: dict[str, dict], cnv: pd.DataFrame, kb: KnowledgeBase
) -> None:
    """Known amplifications a sample's copy number could not be checked for: the gene (ALK or
    a bypass gene, the copy-number scope of the product) has no cnv.tsv row (no panel target on
    it) or its call is ``not assessable``. A drug such an amplification would resist gets a
    ``copy_number`` caveat when its prediction is sensitive/no data/reduced, so "expected to
    work" is never read as "MET not amplified"."""
    calls = {
        (r["sample"], r["gene"]): (str(r["call"]).strip().lower(), r.get("reason"))
        for r in cnv.to_dict(orient="records")
    }
    for sample, v in verdicts.items():
        for gene, rows in sorted(kb.by_cnv.items()):
            if gene not in CN_SCOPE:
                continue
            call, why = calls.get((sample, gene), (None, None))
            if call is not None and call != NOT_ASSESSABLE:
                continue
            detail = f"no panel target on {gene}" if call is None else why
            reason = f"{gene} copy number not assessed" + (
                f" ({detail})" if isinstance(detail, str) and detail.strip() else ""
            )
            for i in rows:
                row = kb.table.loc[i]
                if row["effect"] == "sensitive":
                    continue
                for d in kb.groups.drugs_of(row["drug"], row["drug_class"]):
                    entry = v.get(d)
                    if entry is None or entry["prediction"] not in CAVEATED:
                        continue
                    item = caveat(
                        "copy_number",
                        f"{reason}: {gene} amplification would give {row['effect']}",
                        gene=gene,
                        hgvs_p="amplification",
                    )
                    if item not in entry["caveats"]:
                        entry["caveats"].append(item)


def _residue(hgvs_p: str | None) -> str | None:
    span = residue_span(hgvs_p) if hgvs_p else None
    return span[0] if span else None


def _empty_verdict() -> dict:
    return {
        "prediction": "no data",
        "verified": None,
        "findings": [],
        "sources": [],
        "rows": [],
        "no_data_findings": [],
        "baseline": [],
        "superseded": [],
        "caveats": [],
        "not_assessed": [],
    }


def _allele(f: Finding) -> phasing.Allele:
    """The allele of a small-variant finding (whose chrom, pos, ref and alt are always set)."""
    assert f.chrom is not None and f.pos is not None and f.ref is not None and f.alt is not None
    return phasing.Allele(f.chrom, f.pos, f.ref, f.alt)


def _phase(members: list[Finding], bam: str | None, reference: str | Path) -> dict:
    pairs: list[dict[str, Any]] = []
    for i in range(len(members)):
        for j in range(i + 1, len(members)):
            a, b = members[i], members[j]
            if bam is None:
                res = {
                    "reads_both": None,
                    "reads_a_only": None,
                    "reads_b_only": None,
                    "reads_spanning": None,
                    "distance": abs((a.pos or 0) - (b.pos or 0)),
                    "status": "unknown",
                }
            else:
                res = phasing.phase_pair(bam, _allele(a), _allele(b), reference)
            pairs.append({"a": a.id, "b": b.id, **res})
    return {
        "status": phasing.combine([p["status"] for p in pairs]),
        "pairs": pairs,
        "method": "reads" if bam else "no BAM given",
    }


# ---- per-drug verdicts -------------------------------------------------------------------------
def _decide(effects: list[str]) -> str:
    if "resistant" in effects:
        return "resistant"
    if "reduced_sensitivity" in effects:
        return "reduced sensitivity"
    if "sensitive" in effects:
        return "sensitive"
    return "no data"


def drug_verdicts(flist: list[Finding], groups: DrugGroups) -> dict[str, dict]:
    """Per-drug prediction for one sample (aggregation rule in docs/annotate.md); every drug
    of the driver's group gets one, the others only when a finding has rows for them."""
    counted = [f for f in flist if f.counts_towards_verdict]
    compound_of: dict[str, list[str]] = {}
    for f in counted:
        if f.kind == "compound":
            for p in f.compound_parts or []:
                compound_of.setdefault(p, []).append(f.id)
    rows_by_drug: dict[str, list[dict]] = {d: [] for d in groups.driver_drugs}
    for f in counted:
        for m in f.matches:
            if f.kind != "compound" and m["match_type"] == "compound":
                continue
            for d in groups.drugs_of(m["drug"], m["drug_class"]):
                rows_by_drug.setdefault(d, []).append(
                    {
                        "finding": f.id,
                        "hgvs_p": f.hgvs_p,
                        "effect": m["effect"],
                        "evidence_level": m["evidence_level"],
                        "verification": m["verification"],
                        "table_line": m["table_line"],
                        "class_level": m["drug_class"] in groups.applies,
                        "mechanism_class": m["mechanism_class"],
                        "sources": m["sources"],
                        "_fusion": f.kind == "fusion",
                        # a small variant already in the parental at a similar VAF was not
                        # selected by the drug: shown, but only acquired/enriched ones decide
                        "_shared": f.status == "shared" and f.kind in ("snv", "mnv", "indel"),
                        "_gene": f.gene,
                        "_low": f.low_support,
                    }
                )
    assessed = [
        f
        for f in counted
        if f.classification in ("known", "vus") and f.kind not in ("fusion", "compound")
    ]
    out: dict[str, dict] = {}
    for drug, rows in rows_by_drug.items():
        superseded, baseline, in_parental, active = [], [], [], []
        compounds_here = {r["finding"] for r in rows if r["finding"].startswith("compound:")}
        for r in rows:
            by = [c for c in compound_of.get(r["finding"], []) if c in compounds_here]
            if by:
                superseded.append({"finding": r["finding"], "by": by[0]})
            elif (
                r["_fusion"] and r["effect"] == "sensitive" and r["mechanism_class"] == "on_target"
            ):
                baseline.append(r)
            elif r["_shared"]:
                in_parental.append(r)
            else:
                active.append(r)
        verified = [r for r in active if r["verification"] != "recall"]
        deciding = verified or active
        prediction = _decide([r["effect"] for r in deciding])
        with_rows = {r["finding"] for r in rows}
        compound_parts = {p for c in compounds_here for p in compound_of_parts(counted, c)}
        no_data = [f.id for f in assessed if f.id not in with_rows and f.id not in compound_parts]
        clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in active]
        caveats = []
        unverified = [r for r in active if r["verification"] == "recall"]
        if verified and unverified:
            alt_pred = _decide([r["effect"] for r in active])
            if alt_pred != prediction:
                by_change = {(r["hgvs_p"] or r["finding"]): r for r in unverified}
                caveats = [
                    caveat(
                        "unverified",
                        f"unverified row(s) would give '{alt_pred}'",
                        gene=r["_gene"],
                        residue=_residue(r["hgvs_p"]),
                        hgvs_p=name,
                        would_give=alt_pred,
                    )
                    for name, r in sorted(by_change.items())
                ]
        decided = [r for r in deciding if EFFECT_WORDS.get(r["effect"]) == prediction]
        if prediction in ("resistant", "reduced sensitivity") and all(r["_low"] for r in decided):
            # every call behind this prediction is weak: say so (the prediction stands)
            by_finding = {r["finding"]: r for r in decided}
            caveats += [
                caveat(
                    "low_support",
                    "low support",
                    gene=r["_gene"],
                    residue=_residue(r["hgvs_p"]),
                    hgvs_p=r["hgvs_p"],
                    support=r["_low"],
                )
                for _, r in sorted(by_finding.items())
            ]
        out[drug] = {
            "prediction": prediction,
            "verified": bool(verified) if active else None,
            "findings": sorted(
                {r["finding"] for r in deciding if EFFECT_WORDS.get(r["effect"]) == prediction}
            ),
            "sources": _sources(
                [
                    s["id"]
                    for r in deciding
                    for s in r["sources"]
                    if EFFECT_WORDS.get(r["effect"]) == prediction
                ]
            ),
            "rows": clean,
            "no_data_findings": no_data,
            "baseline": [{k: v for k, v in r.items() if not k.startswith("_")} for r in baseline],
            "in_parental": [
                {k: v for k, v in r.items() if not k.startswith("_")} for r in in_parental
            ],
            "superseded": superseded,
            "caveats": caveats,
            "not_assessed": [],
        }
    return out


def compound_of_parts(flist: list[Finding], cid: str) -> list[str]:
    for f in flist:
        if f.id == cid:
            return f.compound_parts or []
    return []


# ---- output ------------------------------------------------------------------------------------
def _fmt_num(x, digits: int = 4) -> str:
    if x is None:
        return ""
    if isinstance(x, float) and not x.is_integer():
        return f"{x:.{digits}f}".rstrip("0").rstrip(".")
    return str(int(x)) if isinstance(x, (int, float)) else str(x)


def tsv_rows(
    findings: dict[str, list[Finding]], parental: str | None, groups: DrugGroups
) -> pd.DataFrame:
    """hits.tsv: one row per finding, one effect column per drug of the driver's group."""
    columns = groups.driver_drugs
    rows = []
    for s, flist in findings.items():
        for f in flist:
            effects: dict[str, list[str]] = {}
            # a set-aside compound's rows apply to nothing: no drug cell may read them as an
            # effect (``evidence`` still lists what was matched)
            for m in [] if f.set_aside else f.matches:
                for d in groups.drugs_of(m["drug"], m["drug_class"]):
                    mark = "*" if m["verification"] == "recall" else ""
                    effects.setdefault(d, []).append(m["effect"] + mark)
            sc, pc = f.sample_counts or {}, f.parental_counts or {}
            phase = f.phase or {}
            note = f.note
            if phase.get("pairs"):
                # a compound set aside (parts in trans) keeps saying so before its read counts
                kept = [note] if note and f.set_aside else []
                note = "; ".join(
                    kept
                    + [
                        f"{p['a']} + {p['b']}: {p['status']}"
                        + (
                            f" (both {p['reads_both']}, a only {p['reads_a_only']}, b only "
                            f"{p['reads_b_only']}, spanning {p['reads_spanning']})"
                            if p.get("reads_both") is not None
                            else f" ({phase.get('method')})"
                        )
                        for p in phase["pairs"]
                    ]
                )
            elif f.matches and not note:
                note = f.matches[0]["note"][:200]
            rows.append(
                {
                    "sample": s,
                    "condition": "parental" if s == parental else "resistant",
                    "finding_id": f.id,
                    "kind": f.kind,
                    "gene": f.gene,
                    "chrom": f.chrom or "",
                    "pos": f.pos or "",
                    "ref": f.ref or "",
                    "alt": f.alt or "",
                    "genomic": f.genomic or "",
                    "transcript": f.transcript or "",
                    "refseq": f.refseq or "",
                    "hgvs_c": f.hgvs_c or "",
                    "hgvs_p": f.hgvs_p or "",
                    "consequence": f.consequence or "",
                    "exon": f.exon or "",
                    "kinase_domain": "yes" if f.kinase_domain else "no",
                    "alt_count": _fmt_num(sc.get("alt_count")),
                    "depth": _fmt_num(sc.get("depth")),
                    "vaf": _fmt_num(sc.get("vaf")),
                    "alt_count_parental": _fmt_num(pc.get("alt_count")),
                    "depth_parental": _fmt_num(pc.get("depth")),
                    "vaf_parental": _fmt_num(pc.get("vaf")),
                    "ccf": _fmt_num(sc.get("ccf")),
                    "ccf_parental": _fmt_num(pc.get("ccf")),
                    "copy_number": _fmt_num(f.copy_number, 2),
                    "ci_low": _fmt_num(f.ci_low, 2),
                    "ci_high": _fmt_num(f.ci_high, 2),
                    "status": f.status or "",
                    "filter": f.filter or "",
                    "support": support_words(f.low_support),
                    "known": "yes" if f.known else "no",
                    "classification": f.classification,
                    **{d: ",".join(dict.fromkeys(effects.get(d, []))) for d in columns},
                    "other_drugs": ";".join(
                        f"{d}={','.join(dict.fromkeys(e))}"
                        for d, e in effects.items()
                        if d not in columns
                    ),
                    "evidence": ";".join(
                        f"{m['drug']}:{m['effect']}:{m['evidence_level']}:{m['verification']}"
                        for m in f.matches
                    ),
                    "sources": ";".join(
                        s["id"]
                        for s in _sources([x["id"] for m in f.matches for x in m["sources"]])
                    ),
                    "verified": "" if f.verified is None else ("yes" if f.verified else "no"),
                    "compound": ";".join(f.part_of),
                    "phase": phase.get("status", "") if f.kind == "compound" else "",
                    "note": note.replace("\t", " ").replace("\n", " "),
                }
            )
    return pd.DataFrame(rows, columns=hits_columns(columns))


def hits_json(
    findings,
    verdicts,
    parental,
    line,
    known_path,
    kb: KnowledgeBase,
    inputs,
    qc=None,
    purity: dict[str, float] | None = None,
) -> dict:
    """hits.json (docs/annotate.md). ``purity``: each sample's tumour purity from the VCF
    (None where it does not say)."""
    data = Path(known_path).read_bytes()
    samples = []
    for s, flist in findings.items():
        samples.append(
            {
                "sample": s,
                "condition": "parental" if s == parental else "resistant",
                "findings": [f.to_json() for f in flist if f.classification == "known"],
                "vus": [f.to_json() for f in flist if f.classification == "vus"],
                "activating": [
                    f.to_json() for f in flist if f.classification == "activating driver"
                ],
                "other": [f.to_json() for f in flist if f.classification == "other"],
                "drugs": verdicts.get(s, {}),
                "qc": (qc or {}).get(s),
                "purity": (purity or {}).get(s),
            }
        )
    return {
        "schema": HITS_SCHEMA,
        "line": line,
        "parental": parental,
        "knowledge": {
            "path": str(known_path),
            "md5": hashlib.md5(data).hexdigest(),
            "rows": len(kb.table),
            "rows_unverified": int((kb.table["verification"] == "recall").sum()),
            "licence": "CIViC CC0 / MOAlmanac GPL-2.0; see resources/README.md",
        },
        "drug_groups": kb.groups.as_json(),
        "inputs": inputs,
        "samples": samples,
    }


def run(
    vcf: str,
    reference: str,
    gtf: str,
    known_table: str,
    out: str,
    *,
    json_out: str | None = None,
    line: str | None = None,
    cnv_tsv: str | None = None,
    fusions_tsv: str | None = None,
    hotspots_tsv: str | None = None,
    bams: Sequence[str] = (),
    drivers_tsv: str | Path = DRIVERS_DEFAULT,
    qc_json: Sequence[str] = (),
) -> pd.DataFrame:
    """Whole stage: annotate calls, copy number and fusions; write hits.tsv (+ hits.json).
    ``qc_json``: the samples' qc.json files (QC gate, docs/qc.md)."""
    kb = load_knowledge(known_table)
    calls, samples, parental = read_vcf(vcf)
    cnv = fus = None
    if cnv_tsv:
        cnv = read_table(cnv_tsv, ANNOTATE_READS["cnv"], "copy-number table")
        check_verdicts(cnv, "call", CN_CALL, cnv_tsv)
    if fusions_tsv:
        fus = read_table(fusions_tsv, ANNOTATE_READS["fusions"], "fusion table")
        check_verdicts(fus, "call", FUSION_CALL, fusions_tsv)
    by_sample: dict[str, str] = {}
    # only read to phase compound parts: a CRAM is decoded with the FASTA, so it must match
    for b, sm in zip(bams, preflight_bams(bams, reference, match_bams=False), strict=True):
        if sm not in samples:
            raise UserError(f"{b}: @RG SM {sm} is not a sample of {vcf} ({samples})")
        by_sample[sm] = str(b)
    for name in (reference, gtf):
        if not Path(name).exists():
            raise UserError(f"file not found: {name}")
    sample_order = [s for s in samples if s != "."] or ["."]
    if parental in sample_order:
        sample_order.remove(parental)
        sample_order.insert(0, parental)
    hot = None
    if hotspots_tsv:
        hot = read_table(hotspots_tsv, ANNOTATE_READS["hotspots"], "hotspot table")
    findings, verdicts = annotate(
        calls,
        sample_order,
        parental,
        kb,
        gtf,
        reference,
        cnv,
        fus,
        by_sample,
        hot,
        load_drivers(drivers_tsv),
    )
    qc_state = apply_qc(
        findings, verdicts, read_qc(list(qc_json)), parental, parental_not_assessable(vcf)
    )
    table = tsv_rows(findings, parental, kb.groups)
    written: list[tuple[str | Path, str]] = [(out, table.to_csv(sep="\t", index=False))]
    if json_out:
        given = {
            "vcf": vcf,
            "cnv": cnv_tsv,
            "fusions": fusions_tsv,
            "hotspots": hotspots_tsv,
            "gtf": gtf,
            "reference": reference,
        }
        inputs = {k: (str(v) if v else None) for k, v in given.items()}
        line = line or Path(out).resolve().parent.name
        data = hits_json(
            findings, verdicts, parental, line, known_table, kb, inputs, qc_state, vcf_purity(vcf)
        )
        written.append((Path(json_out), json.dumps(data, indent=1) + "\n"))
    write_texts(written)
    n_known = int((table["known"] == "yes").sum())
    log.info(
        "%d findings (%d known, %d VUS) written to %s",
        len(table),
        n_known,
        int((table["classification"] == "vus").sum()),
        out,
    )
    return table


def _cmd_annotate(args: argparse.Namespace) -> None:
    run(
        args.vcf,
        args.reference,
        args.gtf,
        args.known,
        args.out,
        json_out=args.json,
        line=args.line,
        cnv_tsv=args.cnv,
        fusions_tsv=args.fusions,
        hotspots_tsv=args.hotspots,
        bams=args.bam or (),
        drivers_tsv=args.drivers,
        qc_json=args.qc or (),
    )


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "annotate",
        help="HGVS + known-resistance matching + per-drug verdicts",
        description="Annotate calls (VCF), copy number and fusions against the known-resistance "
        "table; write hits.tsv and (optionally) hits.json. See docs/annotate.md.",
    )
    p.add_argument("--vcf", required=True, help="calls (any VCF 4.x; sites-only accepted)")
    p.add_argument("--reference", required=True, help="reference FASTA (indexed)")
    p.add_argument("--gtf", required=True, help="transcript models (GTF)")
    p.add_argument("--known", required=True, help="known-resistance table (TSV)")
    p.add_argument("--cnv", help="cnv.tsv from resistcall cnv")
    p.add_argument("--fusions", help="fusions.tsv from resistcall fusion")
    p.add_argument("--bam", nargs="*", help="BAMs for phasing compound parts (matched by @RG SM)")
    p.add_argument(
        "--hotspots",
        help="hotspots.tsv from resistcall snv: known changes whose "
        "positions were not covered or not assessable are listed per drug (not_assessed)",
    )
    p.add_argument(
        "--drivers",
        default=str(DRIVERS_DEFAULT),
        help="activating bypass-driver table (TSV; default: the bundled "
        "resources/activating_drivers.tsv)",
    )
    p.add_argument(
        "--qc",
        nargs="+",
        help="qc.json of the samples (resistcall qc): a failed sample's drug predictions are "
        "not assessable; a failed parental makes comparison statuses not assessable",
    )
    p.add_argument("--line", help="line name for hits.json (default: the output folder name)")
    p.add_argument("--out", required=True, help="hits.tsv")
    p.add_argument("--json", help="hits.json")
    p.set_defaults(func=_cmd_annotate)
