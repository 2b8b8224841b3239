"""Clinician report: one self-contained HTML page (+ report.json for LIMS) per line.

The report answers two questions on its first screen: what changed in each resistant sample
compared with its parental, and which ALK inhibitor is still expected to work. Everything below
that (variant table, figures, hotspot coverage, QC, methods) is the evidence for those answers.

Design choices that matter to a reader:
- Every input except ``hits.json`` is optional. A stage that was not run is shown as
  "not run", never as an empty table, which a reader would take for "nothing found".
- A known-resistance position with too few reads is shown as "NOT ASSESSABLE", highlighted, in
  the summary and in the hotspot table; it is never folded into "wild type".
- The page embeds its figures as inline SVG and carries its CSS inline: it makes no network
  request and opens offline. Citation links are ordinary ``<a>`` links that only load on click.
- The HTML is rendered from the same dictionary that is written to ``report.json``, so both
  always hold the same content.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import math
import os
import re
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from resistcall import __version__
from resistcall.errors import UserError

log = logging.getLogger(__name__)

SCHEMA = "resistcall-report/1"
ALK_INHIBITORS = ("crizotinib", "ceritinib", "alectinib", "brigatinib", "lorlatinib")
FAK_INHIBITORS = ("defactinib", "bi-853520", "vs-4718", "gsk2256098", "pf-562271", "ifebemtinib")
PREDICTIONS = ("resistant", "reduced sensitivity", "sensitive", "no data")
#: Words shown to a clinician for each prediction (the JSON keeps the annotator's term).
PREDICTION_WORDS = {
    "resistant": "Resistance expected",
    "reduced sensitivity": "Reduced sensitivity",
    "sensitive": "Expected to work",
    "no data": "No data",
}
#: Short words for the compact grid (the long words are in the evidence table and a tooltip).
SHORT_WORDS = {"resistant": "Resistant", "reduced sensitivity": "Reduced",
               "sensitive": "Sensitive", "no data": "No data"}
#: A symbol next to each word so the prediction never rests on colour alone.
ICONS = {"resistant": "✗ ", "reduced sensitivity": "◐ ", "sensitive": "✓ ", "no data": "? "}
EVIDENCE_RANK = {"clinical": 0, "case_report": 1, "case report": 1, "preclinical": 2}
EVIDENCE_WORDS = {
    "clinical": "clinical",
    "case_report": "case report",
    "case report": "case report",
    "preclinical": "preclinical",
}
VERDICTS = ("mutated", "wild type", "insufficient depth")
CHANGED_CALLS = ("amplification", "gain", "loss", "deletion")
POSITIVE_FUSION_CALLS = {"fusion", "pass", "detected", "yes", "called", "true"}

CNV_COLUMNS = ("sample", "gene", "n_targets", "log2_ratio", "copy_number", "ci_low", "ci_high",
               "call")
CNV_TARGET_COLUMNS = ("sample", "gene", "log2_ratio")
HOTSPOT_COLUMNS = ("sample", "gene", "hgvs_p", "residue", "chrom", "positions", "genomic", "depth",
                   "alt_count", "vaf", "verdict", "depth_needed")
FUSION_COLUMNS = ("sample", "gene_5p", "gene_3p", "breakpoint_5p", "breakpoint_3p")
QC_KEYS = ("sample", "total_reads", "mapped_reads", "mapped_fraction", "on_target_fraction")
GENE_ORDER = ("ALK", "MET", "EGFR", "ERBB2", "KIT", "KRAS", "IGF1R")


# --------------------------------------------------------------------------------------------
# small helpers


def _clean(value: Any) -> Any:
    """JSON-safe scalar: NaN/inf -> None, numpy scalars -> Python."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: _clean(v) for k, v in row.items()} for row in df.to_dict("records")]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_url(source: str) -> str | None:
    """Outgoing link for a citation token (PMID:n, CIViC:EIDn/AIDn, DOI:x); None when unknown."""
    token = source.strip()
    m = re.match(r"^PMID:\s*(\d+)", token, re.IGNORECASE)
    if m:
        return f"https://pubmed.ncbi.nlm.nih.gov/{m[1]}/"
    m = re.match(r"^CIViC:\s*EID(\d+)", token, re.IGNORECASE)
    if m:
        return f"https://civicdb.org/evidence/{m[1]}/summary"
    m = re.match(r"^CIViC:\s*AID(\d+)", token, re.IGNORECASE)
    if m:
        return f"https://civicdb.org/assertions/{m[1]}/summary"
    m = re.match(r"^DOI:\s*(10\.\S+)", token, re.IGNORECASE)
    if m:
        return f"https://doi.org/{m[1]}"
    return None


def split_sources(sources: Any) -> list[dict]:
    """Citations as ``{"id", "url"}`` from SOURCE dicts, a list of tokens or a ';' string;
    order kept, duplicates dropped."""
    if sources is None:
        return []
    items = sources if isinstance(sources, (list, tuple)) else str(sources).split(";")
    out: list[dict] = []
    seen: set[str] = set()
    for item in items:
        if isinstance(item, dict):
            text = str(item.get("id") or "").strip()
            url = item.get("url") or source_url(text)
        else:
            text = str(item).strip()
            url = source_url(text)
        if text and text not in seen:
            seen.add(text)
            out.append({"text": text, "url": url if _is_http(url) else None})
    return out


def _is_http(url: Any) -> bool:
    return isinstance(url, str) and url.startswith("https://")


def cite(sources: Any) -> list[dict]:
    return split_sources(sources)


def normalise_prediction(value: Any) -> str:
    text = str(value or "no data").strip().lower().replace("_", " ")
    return text if text in PREDICTIONS else "no data"


def drug_group(drug: str) -> str:
    low = drug.lower()
    if low in ALK_INHIBITORS:
        return "ALK inhibitors"
    if low in FAK_INHIBITORS or "fak" in low or "defactinib" in low:
        return "FAK inhibitors"
    return "Other therapies and combinations"


def _is_verified(match: dict) -> bool:
    """Unverified = the knowledge row was written from memory (verification ``recall``)."""
    if match.get("verification") is not None:
        return str(match["verification"]).lower() != "recall"
    if match.get("verified") is not None:
        return bool(match["verified"])
    return "verif=recall" not in str(match.get("note") or "")


def _fmt_pct(v: Any) -> str:
    v = _clean(v)
    if v is None:
        return "–"
    return f"{100 * float(v):.1f}%"


def _fmt_num(v: Any, digits: int = 0) -> str:
    v = _clean(v)
    if v is None:
        return "–"
    text = f"{float(v):,.{digits}f}"
    return text[1:] if text.startswith("-") and float(text.replace(",", "")) == 0 else text


def finding_kind(f: dict) -> str:
    return str(f.get("kind") or f.get("type") or "").lower()


def finding_label(f: dict) -> str:
    """Short clinical name: 'ALK p.L1196M', 'MET amplification', 'EML4-ALK fusion'."""
    kind = finding_kind(f)
    gene = str(f.get("gene") or "")
    if kind == "fusion":
        return f"{gene.replace('::', '-')} fusion"
    if kind in ("cnv", "amplification", "gain", "copy_number"):
        call = f.get("status") or f.get("call") or f.get("hgvs_p") or "copy-number change"
        return f"{gene} {call}"
    name = f.get("hgvs_p")
    if not name or name in ("p.?", "p.="):
        name = f.get("hgvs_c") or f"{f.get('genomic') or f.get('chrom')}"
    return f"{gene} {name}".strip()


def counts(f: dict, which: str) -> dict:
    """``{"vaf", "alt_count", "depth"}`` of this sample (``which='sample'``) or the parental."""
    nested = f.get(f"{which}_counts")
    if isinstance(nested, dict):
        return {k: _clean(nested.get(k)) for k in ("vaf", "alt_count", "depth")}
    suffix = "" if which == "sample" else "_parental"
    return {k: _clean(f.get(f"{k}{suffix}")) for k in ("vaf", "alt_count", "depth")}


# --------------------------------------------------------------------------------------------
# input loading (validation at the edge: one clear message naming file/row/column)


def load_hits(path: Path) -> dict:
    if not path.exists():
        raise UserError(f"hits file not found: {path}")
    try:
        hits = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON: {exc}") from exc
    for key in ("line", "samples"):
        if key not in hits:
            raise UserError(f"{path}: missing top-level key {key!r}")
    if not isinstance(hits["samples"], list):
        raise UserError(f"{path}: 'samples' must be a list")
    for i, s in enumerate(hits["samples"], start=1):
        if "sample" not in s:
            raise UserError(f"{path}: samples[{i}] has no 'sample' name")
        for key in ("findings", "vus", "other"):
            if not isinstance(s.setdefault(key, []), list):
                raise UserError(f"{path}: samples[{i}] ({s['sample']}): {key!r} must be a list")
        if not isinstance(s.setdefault("drugs", {}), dict):
            raise UserError(f"{path}: samples[{i}] ({s['sample']}): 'drugs' must be an object")
        s.setdefault("condition", "parental" if s["sample"] == hits.get("parental")
                     else "resistant")
    return hits


def load_table(path: Path | None, required: tuple[str, ...], what: str) -> pd.DataFrame | None:
    """Read a TSV contract; None when the stage was not run (path not given)."""
    if path is None:
        return None
    if not path.exists():
        raise UserError(f"{what} file not found: {path}")
    try:
        # "." is the producers' empty cell (fusions.tsv); "NA" the copy-number one.
        df = pd.read_csv(path, sep="\t", na_values=["NA", "nan", "", "."],
                         keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read as a tab-separated table: {exc}") from exc
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)} ({what})")
    return df


def load_hotspots(path: Path | None) -> pd.DataFrame | None:
    df = load_table(path, HOTSPOT_COLUMNS, "hotspots")
    if df is None:
        return None
    verdict = df["verdict"].astype(str).str.strip().str.lower()
    bad = ~verdict.isin(VERDICTS)
    if bad.any():
        row = int(bad.to_numpy().argmax()) + 2  # 1-based, header is row 1
        raise UserError(
            f"{path}: row {row}: column verdict is {df['verdict'][bad].iloc[0]!r}; "
            f"expected one of {', '.join(VERDICTS)}"
        )
    df["verdict"] = verdict
    return df


def load_qc(paths: list[Path] | None) -> list[dict] | None:
    if not paths:
        return None
    out = []
    for path in paths:
        if not path.exists():
            raise UserError(f"QC file not found: {path}")
        try:
            qc = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: not valid JSON: {exc}") from exc
        missing = [k for k in QC_KEYS if k not in qc]
        if missing:
            raise UserError(f"{path}: missing key(s) {', '.join(missing)} (QC summary)")
        qc.setdefault("warnings", [])
        qc.setdefault("depth_quantiles", {})
        out.append(qc)
    return out


def load_samples_sheet(path: Path | None) -> pd.DataFrame | None:
    if path is None:
        return None
    df = load_table(path, ("sample", "line", "condition"), "sample sheet")
    return df.fillna("")


def load_vcf(path: Path | None) -> tuple[pd.DataFrame, dict] | None:
    """Per-sample allele counts for every record of the line's VCF (the VAF figure's data)."""
    if path is None:
        return None
    if not path.exists():
        raise UserError(f"VCF not found: {path}")
    from cyvcf2 import VCF  # local import: cyvcf2 is only needed when a VCF is given

    try:
        vcf = VCF(str(path))
    except OSError as exc:
        raise UserError(f"{path}: cannot read VCF: {exc}") from exc
    header = {"samples": list(vcf.samples), "parental": None, "source": None, "reference": None}
    for line in vcf.raw_header.splitlines():
        for key in ("parental", "source", "reference"):
            if line.startswith(f"##{key}="):
                header[key] = line.split("=", 1)[1]
    rows = []
    for rec in vcf:
        ad = rec.format("AD")
        dp = rec.format("DP")
        for i, sample in enumerate(vcf.samples):
            alt = int(ad[i][1]) if ad is not None and ad.shape[1] > 1 and ad[i][1] >= 0 else None
            depth = int(dp[i][0]) if dp is not None and dp[i][0] >= 0 else None
            if depth is None and ad is not None:
                depth = int(sum(x for x in ad[i] if x >= 0))
            rows.append({
                "chrom": rec.CHROM, "pos": int(rec.POS), "ref": rec.REF,
                "alt": ",".join(rec.ALT), "filter": rec.FILTER or "PASS",
                "status": rec.INFO.get("STATUS"), "sample": sample, "alt_count": alt,
                "depth": depth,
                "vaf": (alt / depth) if alt is not None and depth else None,
            })
    vcf.close()
    return pd.DataFrame(rows), header


# --------------------------------------------------------------------------------------------
# building the report model (pure functions over the loaded inputs)


def _evidence_item(row: dict, labels: dict[str, str]) -> dict:
    fid = row.get("finding")
    level = row.get("evidence_level")
    label = labels.get(str(fid)) or (finding_label(row) if row.get("gene") else str(fid))
    return {
        "finding": label,
        "finding_id": fid,
        "effect": normalise_prediction(row.get("effect")),
        "evidence_level": EVIDENCE_WORDS.get(str(level), level),
        "verified": _is_verified(row),
        "class_level": bool(row.get("class_level")),
    }


def _drug_cells(sample: dict, drugs: list[str], labels: dict[str, str]) -> dict:
    """One grid cell per drug: the annotator's prediction plus the evidence behind it."""
    cells = {}
    raw = sample.get("drugs", {})
    for drug in drugs:
        entry = raw.get(drug)
        if entry is None:
            cells[drug] = {"prediction": "no data", "words": PREDICTION_WORDS["no data"],
                           "evidence": [], "deciding": [], "baseline": [], "no_data": [],
                           "superseded": [], "sources": [], "unverified": False}
            continue
        rows = entry.get("rows")
        if rows is None:  # older layout: findings given as row dicts
            rows = [r for r in entry.get("findings", []) if isinstance(r, dict)]
        evidence = [_evidence_item(r, labels) for r in rows]
        baseline = [_evidence_item(r, labels) for r in entry.get("baseline", []) or []]
        prediction = normalise_prediction(entry.get("prediction"))
        # The rows that agree with the prediction are the ones that decided it.
        deciding = [e for e in evidence if e["effect"] == prediction]
        if not deciding and prediction != "no data":
            deciding = evidence
        verified = entry.get("verified")
        if verified is None:
            verified = all(e["verified"] for e in deciding)
        cells[drug] = {
            "prediction": prediction,
            "words": PREDICTION_WORDS[prediction],
            "evidence": evidence,
            "deciding": deciding,
            "baseline": baseline,
            "no_data": [labels.get(str(f), str(f)) for f in entry.get("no_data_findings", [])
                        or []],
            "superseded": [
                f"{labels.get(str(s.get('finding')), s.get('finding'))} (replaced by "
                f"{labels.get(str(s.get('by')), s.get('by'))})"
                for s in entry.get("superseded", []) or [] if isinstance(s, dict)
            ],
            "sources": cite(entry.get("sources")),
            # flag the cell when its verdict rests on unverified rows only (a verified row
            # that agrees carries it); the unverified rows themselves are tagged one by one
            "unverified": (not verified) or bool(deciding) and not any(
                e["verified"] for e in deciding),
        }
    return cells


def _labels(sample: dict) -> dict[str, str]:
    return {str(f.get("id")): finding_label(f)
            for which in ("findings", "vus", "other") for f in sample.get(which, [])
            if f.get("id") is not None}


def build_drug_grid(resistant: list[dict]) -> dict:
    """Rows: the five ALK inhibitors always, then FAK inhibitors and other agents with rows."""
    seen: list[str] = []
    for s in resistant:
        for drug in s.get("drugs", {}):
            if drug not in seen:
                seen.append(drug)
    alk = list(ALK_INHIBITORS)
    alk += [d for d in seen if drug_group(d) == "ALK inhibitors" and d not in alk]
    fak = sorted((d for d in seen if drug_group(d) == "FAK inhibitors"), key=str.lower)
    other = sorted((d for d in seen if drug_group(d) == "Other therapies and combinations"),
                   key=str.lower)
    drugs = alk + fak + other
    rows = [{"drug": d, "group": drug_group(d)} for d in drugs]
    cells = {s["sample"]: _drug_cells(s, drugs, _labels(s)) for s in resistant}
    return {"drugs": rows, "cells": cells}


def _best_level(matches: list[dict]) -> str | None:
    levels = [str(m.get("evidence_level")) for m in matches if m.get("evidence_level")]
    if not levels:
        return None
    best = min(levels, key=lambda x: EVIDENCE_RANK.get(x, 9))
    return EVIDENCE_WORDS.get(best, best)


def _variant_key(f: dict) -> tuple:
    if f.get("chrom") is not None and f.get("pos") is not None:
        return (str(f["chrom"]), int(f["pos"]), str(f.get("ref")), str(f.get("alt")))
    return (str(f.get("gene")), str(f.get("hgvs_c")), str(f.get("hgvs_p")))


def is_small_variant(f: dict) -> bool:
    """SNV, MNV, indel or compound (a protein-level allele), not copy number or fusion."""
    kind = finding_kind(f)
    if kind in ("snv", "mnv", "indel", "compound"):
        return True
    if kind in ("fusion", "cnv", "amplification", "gain", "copy_number", "deletion", "loss"):
        return False
    return bool(f.get("hgvs_c") or f.get("pos"))


def build_variant_rows(entries: list[dict], vcf: pd.DataFrame | None, parental: str | None,
                       samples: list[str], which: str) -> list[dict]:
    """One row per distinct variant of ``which`` (findings, vus, other) with VAF and reads in
    every sample of the line; the parental column comes from the VCF or parental_counts."""
    rows: dict[tuple, dict] = {}
    for s in entries:
        resistant = s.get("condition") != "parental"
        for f in s.get(which, []):
            if not is_small_variant(f):
                continue
            key = _variant_key(f)
            row = rows.get(key)
            if row is None:
                matches = f.get("matches") or []
                row = {
                    "id": f.get("id"),
                    "kind": finding_kind(f),
                    "label": finding_label(f),
                    "gene": f.get("gene"),
                    "transcript": f.get("refseq") or f.get("transcript"),
                    "hgvs_c": f.get("hgvs_c"),
                    "hgvs_p": f.get("hgvs_p"),
                    "consequence": f.get("consequence"),
                    "exon": f.get("exon"),
                    "chrom": f.get("chrom"),
                    "pos": _clean(f.get("pos")),
                    "genomic": f.get("genomic"),
                    "ref": f.get("ref"),
                    "alt": f.get("alt"),
                    "filter": f.get("filter"),
                    "known": bool(f.get("known", which == "findings")),
                    "status": {},
                    "samples": {},
                    "evidence_level": _best_level(matches),
                    "effects": [
                        {"drug": m.get("drug"), "effect": normalise_prediction(m.get("effect")),
                         "evidence_level": EVIDENCE_WORDS.get(str(m.get("evidence_level")),
                                                              m.get("evidence_level")),
                         "verified": _is_verified(m)}
                        for m in matches
                    ],
                    "sources": cite([src for m in matches
                                     for src in (m.get("sources") or [])]),
                    "phase": _phase_text(f.get("phase")),
                    "compound_parts": f.get("compound_parts"),
                }
                rows[key] = row
            if resistant:
                row["status"][s["sample"]] = f.get("status")
            row["samples"][s["sample"]] = counts(f, "sample")
            if parental and parental not in row["samples"] and f.get("parental_counts"):
                row["samples"][parental] = counts(f, "parental")
            elif parental and parental not in row["samples"] and "vaf_parental" in f:
                row["samples"][parental] = counts(f, "parental")
    # Reads from the VCF cover every sample, also those where the variant was not called.
    if vcf is not None and len(vcf):
        by_site = {(r["chrom"], int(r["pos"]), r["ref"], r["alt"], r["sample"]): r
                   for r in vcf.to_dict("records")}
        for key, row in rows.items():
            if len(key) != 4:
                continue
            for sample in samples:
                rec = by_site.get((*key, sample))
                if rec is not None:
                    row["samples"][sample] = {"vaf": _clean(rec["vaf"]),
                                              "alt_count": _clean(rec["alt_count"]),
                                              "depth": _clean(rec["depth"])}
    out = list(rows.values())
    for row in out:
        for sample in samples:
            row["samples"].setdefault(sample, {"vaf": None, "alt_count": None, "depth": None})
    out.sort(key=lambda r: (_gene_rank(r["gene"]), r["kind"] == "compound", r["chrom"] or "",
                            r["pos"] or 0, r["hgvs_c"] or "", r["hgvs_p"] or ""))
    return out


def _phase_text(phase: Any) -> str | None:
    if phase is None:
        return None
    if isinstance(phase, dict):
        status = phase.get("status") or "unknown"
        pairs = phase.get("pairs") or []
        both = sum(int(p.get("reads_both") or 0) for p in pairs)
        spanning = sum(int(p.get("reads_spanning") or 0) for p in pairs)
        words = {"cis": "on the same reads (cis)", "trans": "on different reads (trans)",
                 "cis+trans": "both together and apart (cis and trans)",
                 "unknown": "phase unknown"}
        text = words.get(status, status)
        if status == "unknown" and phase.get("method"):
            text += f" ({phase['method']})"
        return f"{text}; {both} of {spanning} spanning read pairs carry both" if spanning else text
    return str(phase)


def _gene_rank(gene: Any) -> tuple:
    g = str(gene)
    return (GENE_ORDER.index(g) if g in GENE_ORDER else len(GENE_ORDER), g)


def build_copy_number(cnv: pd.DataFrame | None, resistant: list[str]) -> list[dict] | None:
    if cnv is None:
        return None
    df = cnv[cnv["sample"].isin(resistant)].copy()
    df["_rank"] = df["gene"].map(_gene_rank)
    df["_srank"] = df["sample"].map(resistant.index)
    df = df.sort_values(["_srank", "_rank"]).drop(columns=["_rank", "_srank"])
    return _records(df)


def build_fusions(fusions: pd.DataFrame | None, samples: list[str]) -> list[dict] | None:
    if fusions is None:
        return None
    df = fusions[fusions["sample"].isin(samples)].copy()
    df["_srank"] = df["sample"].map(samples.index)
    df = df.sort_values("_srank", kind="stable").drop(columns="_srank")
    rows = _records(df)
    for r in rows:
        call = str(r.get("call") or "").strip().lower()
        r["positive"] = call in POSITIVE_FUSION_CALLS if "call" in r else True
    return rows


VERDICT_RANK = {"wild type": 0, "insufficient depth": 1, "mutated": 2}


def _codon_positions(text: Any) -> list[int]:
    """``"24536,24537,24538"`` or ``"24536-24538"`` -> contig positions."""
    value = str(text or "")
    m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", value)
    if m:
        return list(range(int(m[1]), int(m[2]) + 1))
    return [int(x) for x in re.findall(r"\d+", value)]


def _variant_spans(entries: list[dict] | None) -> dict[str, list[tuple[str, int, int, str]]]:
    """Per sample, the contig span and label of every small variant it carries."""
    spans: dict[str, list[tuple[str, int, int, str]]] = {}
    for s in entries or []:
        for which in ("findings", "vus", "other"):
            for f in s.get(which, []):
                if finding_kind(f) in ("compound",) or f.get("pos") is None:
                    continue
                if not is_small_variant(f) or not f.get("chrom"):
                    continue
                pos = int(f["pos"])
                ref, alt = str(f.get("ref") or "N"), str(f.get("alt") or "N")
                # an insertion sits between pos and pos + 1: it touches both bases
                end = pos + len(ref) - (0 if len(alt) > len(ref) else 1)
                spans.setdefault(s["sample"], []).append(
                    (str(f["chrom"]), pos, end, finding_label(f)))
    return spans


def build_hotspots(hot: pd.DataFrame | None, samples: list[str],
                   entries: list[dict] | None = None) -> dict | None:
    """Wide table: one row per known codon, one cell per sample with depth and verdict.

    hotspots.tsv has one row per known change, but its verdict belongs to the codon (any call
    overlapping the codon makes every change there 'mutated'). Showing 'p.F1174C: mutated'
    when the sample carries F1174L would mislead, so rows are merged per codon, the known
    changes are listed, and a mutated cell names the variant(s) of that sample that overlap
    the codon (from hits.json)."""
    if hot is None:
        return None
    df = hot[hot["sample"].isin(samples)]
    spans = _variant_spans(entries)
    rows: dict[tuple, dict] = {}
    for rec in _records(df):
        residue = rec.get("residue") or rec["hgvs_p"]
        key = (rec["gene"], residue, rec["chrom"], str(rec["positions"]))
        row = rows.setdefault(key, {
            "gene": rec["gene"], "residue": residue, "changes": [],
            "chrom": rec["chrom"], "positions": rec["positions"], "genomic": rec["genomic"],
            "cells": {}, "uncovered": False, "mutated": False,
        })
        if rec["hgvs_p"] not in row["changes"]:
            row["changes"].append(rec["hgvs_p"])
        new = {k: rec[k] for k in ("depth", "alt_count", "vaf", "verdict", "depth_needed")}
        old = row["cells"].get(rec["sample"])
        if old is not None:  # same codon, another change: one verdict per codon
            if VERDICT_RANK.get(old["verdict"], 0) > VERDICT_RANK.get(new["verdict"], 0):
                new, old = old, new
            new["depth"] = _min_none(new["depth"], old["depth"])
        row["cells"][rec["sample"]] = new
    for row in rows.values():
        codon = set(_codon_positions(row["positions"]))
        for sample, cell in row["cells"].items():
            row["uncovered"] |= cell["verdict"] == "insufficient depth"
            row["mutated"] |= cell["verdict"] == "mutated"
            cell["variants"] = sorted({
                label for chrom, start, end, label in spans.get(sample, [])
                if chrom == row["chrom"] and codon & set(range(start, end + 1))
            }) if cell["verdict"] == "mutated" else []
    out = sorted(rows.values(), key=lambda r: (_gene_rank(r["gene"]), _residue_number(r),
                                               str(r["residue"])))
    uncovered = {s: _uncovered_positions(out, s) for s in samples}
    return {"rows": out, "samples": [s for s in samples if any(s in r["cells"] for r in out)],
            "uncovered": uncovered, "n_positions": len(out)}


def _min_none(a: Any, b: Any) -> Any:
    values = [v for v in (a, b) if v is not None]
    return min(values) if values else None


def _uncovered_positions(rows: list[dict], sample: str) -> list[dict]:
    """Not-assessable known codons of one sample, with the known changes there."""
    return [{"label": f"{r['gene']} {r['residue']}", "gene": r["gene"],
             "residue": r["residue"], "changes": list(r["changes"]),
             "depth": r["cells"][sample]["depth"],
             "depth_needed": r["cells"][sample]["depth_needed"]}
            for r in rows
            if sample in r["cells"] and r["cells"][sample]["verdict"] == "insufficient depth"]


def _residue_number(row: dict) -> int:
    m = re.search(r"\d+", str(row.get("residue") or row.get("hgvs_p") or ""))
    return int(m[0]) if m else 0


def build_qc(qc: list[dict] | None, samples: list[str]) -> list[dict] | None:
    if qc is None:
        return None
    by = {q["sample"]: q for q in qc}
    return [{k: _clean(v) if not isinstance(v, (dict, list)) else v for k, v in by[s].items()}
            for s in samples if s in by]


def build_vaf_points(vcf: pd.DataFrame | None, entries: list[dict], parental: str | None,
                     resistant: list[str]) -> list[dict] | None:
    """Parental vs resistant VAF for every call in the VCF (or, without it, every finding)."""
    labels: dict[tuple, tuple[str, str]] = {}
    for s in entries:
        for which in ("findings", "vus", "other"):
            for f in s.get(which, []):
                if is_small_variant(f) and finding_kind(f) != "compound":
                    labels[_variant_key(f)] = (finding_label(f), which)
    points = []
    if vcf is not None:
        if not parental or parental not in set(vcf["sample"]):
            parental_vaf: dict = {}
        else:
            par = vcf[vcf["sample"] == parental]
            parental_vaf = {(r["chrom"], r["pos"], r["ref"], r["alt"]): r["vaf"]
                            for r in par.to_dict("records")}
        for r in vcf[vcf["sample"].isin(resistant)].to_dict("records"):
            key = (r["chrom"], int(r["pos"]), r["ref"], r["alt"])
            label, which = labels.get(key, (None, None))
            points.append({"sample": r["sample"], "chrom": r["chrom"], "pos": int(r["pos"]),
                           "ref": r["ref"], "alt": r["alt"], "filter": r["filter"],
                           "status": _clean(r["status"]),
                           "vaf_parental": _clean(parental_vaf.get(key)) if parental else None,
                           "vaf": _clean(r["vaf"]), "label": label, "class": which})
        return points
    for s in entries:
        if s["sample"] not in resistant:
            continue
        for which in ("findings", "vus", "other"):
            for f in s.get(which, []):
                if is_small_variant(f) and finding_kind(f) != "compound":
                    points.append({"sample": s["sample"], "chrom": f.get("chrom"),
                                   "pos": _clean(f.get("pos")), "ref": f.get("ref"),
                                   "alt": f.get("alt"), "filter": f.get("filter") or "PASS",
                                   "status": f.get("status"),
                                   "vaf_parental": counts(f, "parental")["vaf"],
                                   "vaf": counts(f, "sample")["vaf"],
                                   "label": finding_label(f), "class": which})
    return points


def _counts_towards(f: dict) -> bool:
    if f.get("counts_towards_verdict") is not None:
        return bool(f["counts_towards_verdict"])
    return str(f.get("filter") or "PASS") in ("PASS", ".") and f.get("status") != "lost"


def build_summary(entries: list[dict], parental: str | None, grid: dict,
                  copy_number: list[dict] | None, fusions: list[dict] | None,
                  hotspots: dict | None, qc: list[dict] | None,
                  sheet: pd.DataFrame | None) -> list[dict]:
    """Per resistant sample: the plain-language answer to 'what changed, what still works'."""
    par_entry = next((s for s in entries if s["sample"] == parental), None)
    cards = []
    for s in entries:
        if s.get("condition") == "parental":
            continue
        name = s["sample"]
        mutations, shared, not_counted, lost = [], [], [], []
        for f in s.get("findings", []):
            if not is_small_variant(f):
                continue
            sc, pc = counts(f, "sample"), counts(f, "parental")
            item = {"label": finding_label(f), "hgvs_c": f.get("hgvs_c"),
                    "status": f.get("status"), "vaf": sc["vaf"], "vaf_parental": pc["vaf"],
                    "kind": finding_kind(f), "phase": _phase_text(f.get("phase")),
                    "filter": f.get("filter")}
            if _counts_towards(f) and f.get("status") == "shared":
                shared.append(item)
            elif _counts_towards(f):
                mutations.append(item)
            elif f.get("status") == "lost":
                lost.append(item)
            else:
                not_counted.append(item)
        cn_changes = cn_unknown = None
        if copy_number is not None:
            mine = [r for r in copy_number if r["sample"] == name]
            cn_changes = [r for r in mine if str(r.get("call")) in CHANGED_CALLS]
            cn_unknown = [r["gene"] for r in mine
                          if str(r.get("call")) not in (*CHANGED_CALLS, "neutral")]
        fusion = _fusion_summary(s, par_entry, fusions, parental)
        cells = grid["cells"].get(name, {})
        alk_cells = {d: cells[d] for d in ALK_INHIBITORS if d in cells}
        by_prediction = {p: [d for d, c in alk_cells.items() if c["prediction"] == p]
                         for p in PREDICTIONS}
        warnings = []
        if qc is not None:
            for q in qc:
                if q["sample"] in (name, parental):
                    warnings += [f"{q['sample']}: {w}" for w in q.get("warnings", [])]
        selected_with = notes = None
        if sheet is not None:
            hit = sheet[sheet["sample"] == name]
            if len(hit):
                selected_with = hit.iloc[0].get("drug") or None
                notes = hit.iloc[0].get("notes") or None
        cards.append({
            "sample": name,
            "condition": s.get("condition"),
            "selected_with": selected_with,
            "notes": notes,
            "mutations": mutations,
            "shared": shared,
            "not_counted": not_counted,
            "lost": lost,
            "n_vus": len([v for v in s.get("vus", []) if is_small_variant(v)]),
            "copy_number": cn_changes,
            "copy_number_not_estimable": cn_unknown,
            "fusion": fusion,
            "uncovered_hotspots": (hotspots["uncovered"].get(name, [])
                                   if hotspots is not None else None),
            "qc_warnings": warnings,
            "expected_to_work": by_prediction["sensitive"],
            "reduced_sensitivity": by_prediction["reduced sensitivity"],
            "resistance_expected": by_prediction["resistant"],
            "no_data": by_prediction["no data"],
            "unverified_drugs": [d for d, c in alk_cells.items() if c["unverified"]],
            "other_options": [{"drug": d, "unverified": c["unverified"]}
                              for d, c in cells.items() if d not in ALK_INHIBITORS
                              and c["prediction"] == "sensitive"],
            "headline": _headline(by_prediction),
        })
    return cards


def _fusion_summary(entry: dict, par_entry: dict | None, fusions: list[dict] | None,
                    parental: str | None) -> dict | None:
    """ALK fusion state of one sample: detected / not detected / not assessable / not run."""
    if fusions is not None:
        rows = [r for r in fusions if r["sample"] == entry["sample"]]
        found = [r for r in rows if r["positive"]]
        par_found = [r for r in fusions if r["sample"] == parental and r["positive"]]
        state = "detected" if found else "no row"
        if not found and rows:
            calls = {str(r.get("call") or "").lower() for r in rows}
            state = "not assessable" if "not assessable" in calls else "not detected"
        details = []
        for r in rows:
            if r["positive"]:
                continue
            if r.get("status"):
                details.append(str(r["status"]))
            elif str(r.get("call")) == "below threshold":
                details.append(f"{_fusion_label(r)} candidate below the calling threshold "
                               f"({_clean(r.get('fragments'))} fragments)")
        return {
            "state": state,
            "labels": sorted({_fusion_label(r) for r in found}),
            "in_parental": bool(par_found) if parental else None,
            "detail": "; ".join(details) or None,
        }
    # without fusions.tsv the annotator may still carry a fusion finding
    mine = [f for f in entry.get("findings", []) if finding_kind(f) == "fusion"]
    if not mine:
        return None
    par = [f for f in (par_entry or {}).get("findings", []) if finding_kind(f) == "fusion"]
    return {"state": "detected", "labels": sorted({finding_label(f) for f in mine}),
            "in_parental": bool(par) if par_entry else None, "detail": None}


def _fusion_label(r: dict) -> str:
    name = str(r.get("variant") or "")
    pair = f"{r.get('gene_5p') or 'unknown partner'}-{r.get('gene_3p')}"
    if not name or name in ("None", "nan", "."):
        return pair
    return name if name.startswith(pair) else f"{pair} {name}"


def _headline(by: dict[str, list[str]]) -> str:
    works = by["sensitive"]
    if works:
        return "Still expected to work: " + ", ".join(works) + "."
    if by["reduced sensitivity"]:
        return ("No ALK inhibitor is clearly expected to work; reduced sensitivity to "
                + ", ".join(by["reduced sensitivity"]) + ".")
    if by["resistant"] and not by["no data"]:
        return "Resistance expected to all five ALK inhibitors in the table."
    return "No ALK inhibitor has evidence that it still works."


def bam_program_versions(paths: list[Path] | None) -> dict[str, str]:
    """Versions of the programs that wrote the BAMs (@PG PN/VN), e.g. bwa and samtools: the
    tools actually used for the data, not those installed where the report runs."""
    if not paths:
        return {}
    import pysam  # local import: only needed when BAMs are given

    found: dict[str, set[str]] = {}
    for path in paths:
        if not path.exists():
            raise UserError(f"BAM not found: {path}")
        try:
            with pysam.AlignmentFile(str(path), "rb", check_sq=False) as bam:
                programs = bam.header.to_dict().get("PG", [])
        except (OSError, ValueError) as exc:
            raise UserError(f"{path}: cannot read BAM header: {exc}") from exc
        for pg in programs:
            name = pg.get("PN") or pg.get("ID", "").split(".")[0]
            if name and pg.get("VN"):
                found.setdefault(name, set()).add(str(pg["VN"]))
    return {name: ", ".join(sorted(v)) for name, v in sorted(found.items())}


def _package_versions() -> dict[str, str]:
    out = {"resistcall": __version__}
    for name in ("pysam", "cyvcf2", "pandas", "numpy", "scipy", "pyranges", "matplotlib",
                 "jinja2", "snakemake"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def run_date(meta: dict, given: str | None) -> str:
    """The only wall-clock value in the report, from (in order) --run-date, the run metadata,
    SOURCE_DATE_EPOCH, or now (UTC)."""
    if given:
        return given
    if meta.get("run_date"):
        return str(meta["run_date"])
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        stamp = dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC)
    else:
        stamp = dt.datetime.now(tz=dt.UTC)
    return stamp.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def build_report(
    hits: dict,
    *,
    cnv: pd.DataFrame | None = None,
    cnv_targets: pd.DataFrame | None = None,
    hotspots: pd.DataFrame | None = None,
    fusions: pd.DataFrame | None = None,
    qc: list[dict] | None = None,
    vcf: tuple[pd.DataFrame, dict] | None = None,
    sheet: pd.DataFrame | None = None,
    meta: dict | None = None,
    inputs: dict[str, dict] | None = None,
    date: str | None = None,
    programs: dict[str, str] | None = None,
) -> dict:
    """The whole report as one JSON-serialisable dictionary (also the template's context)."""
    meta = meta or {}
    line = hits["line"]
    parental = hits.get("parental")
    vcf_df, vcf_header = vcf if vcf is not None else (None, {})
    if not parental and vcf_header.get("parental"):
        parental = vcf_header["parental"]
    entries = hits["samples"]
    resistant = [s["sample"] for s in entries if s.get("condition") != "parental"]
    samples = ([parental] if parental else []) + [s for s in resistant if s != parental]
    if sheet is not None:
        in_sheet = sheet[(sheet["line"] == line) & (sheet["condition"] == "resistant")]
        missing = [s for s in in_sheet["sample"] if s not in resistant]
        if missing:
            log.warning("resistant sample(s) in the sheet have no results: %s", missing)
    else:
        missing = []
    grid = build_drug_grid([s for s in entries if s["sample"] in resistant])
    copy_number = build_copy_number(cnv, resistant)
    fusion_rows = build_fusions(fusions, samples)
    hot = build_hotspots(hotspots, samples, entries)
    qc_rows = build_qc(qc, samples)
    summary = build_summary(entries, parental, grid, copy_number, fusion_rows, hot, qc_rows,
                            sheet)
    knowledge = hits.get("knowledge") or {}
    tool_versions = {**_package_versions(), **(programs or {}),
                     **(meta.get("tool_versions") or {})}
    if vcf_header.get("source"):
        tool_versions.setdefault("variant caller (VCF ##source)", vcf_header["source"])
    stages = {
        "annotation": "ok",
        "small variants (VCF)": "ok" if vcf is not None else "not run",
        "copy number": "ok" if cnv is not None else "not run",
        "copy number per target": "ok" if cnv_targets is not None else "not run",
        "hotspot coverage": "ok" if hotspots is not None else "not run",
        "fusions": "ok" if fusions is not None else "not run",
        "QC": "ok" if qc is not None else "not run",
    }
    return {
        "schema": SCHEMA,
        "line": line,
        "parental": parental,
        "resistant_samples": resistant,
        "samples_without_results": missing,
        "run": {
            "date": run_date(meta, date),
            "resistcall_version": meta.get("resistcall_version") or __version__,
            "reference_build": meta.get("reference_build") or "GRCh38",
            "reference": vcf_header.get("reference") or meta.get("reference"),
            "assay": meta.get("assay"),
            "tool_versions": dict(sorted(tool_versions.items())),
            "config": meta.get("config"),
        },
        "knowledge": knowledge,
        "inputs": inputs or {},
        "stages": stages,
        "summary": summary,
        "drug_grid": grid,
        "variants": build_variant_rows(entries, vcf_df, parental, samples, "findings"),
        "vus": build_variant_rows(entries, vcf_df, parental, samples, "vus"),
        "other_variants": build_variant_rows(entries, vcf_df, parental, samples, "other"),
        "copy_number": copy_number,
        "fusions": fusion_rows,
        "hotspots": hot,
        "qc": qc_rows,
        "vaf_points": build_vaf_points(vcf_df, entries, parental, resistant),
        "research_use_only": RUO_STATEMENT,
    }


RUO_STATEMENT = (
    "For research use only. Not for diagnostic use. This report has not been validated for "
    "clinical decision-making; drug predictions come from a curated table of published data and "
    "must be confirmed by a qualified professional against the cited sources."
)


# --------------------------------------------------------------------------------------------
# rendering


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("resistcall", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True,
                                     default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = _fmt_pct
    env.filters["num"] = _fmt_num
    env.filters["words"] = lambda v: "–" if v is None else str(v).replace("_", " ")
    env.filters["slug"] = lambda v: re.sub(r"[^a-z0-9]+", "-", str(v).lower()).strip("-")
    return env


def render_html(model: dict, figures: dict[str, str | None]) -> str:
    return _env().get_template("report.html.j2").render(r=model, fig=figures, icons=ICONS,
                                                         short=SHORT_WORDS)


def render_index(entries: list[dict], date: str) -> str:
    return _env().get_template("index.html.j2").render(entries=entries, date=date,
                                                       ruo=RUO_STATEMENT)


def make_figures(model: dict, cnv_targets: pd.DataFrame | None) -> dict[str, str | None]:
    from resistcall import figures  # matplotlib import is slow: only when rendering

    out: dict[str, str | None] = {"cnv": None, "vaf": None, "depth": None}
    if model["copy_number"] is not None:
        out["cnv"] = figures.copy_number_svg(model["copy_number"], cnv_targets,
                                             model["resistant_samples"])
    if model["vaf_points"]:
        out["vaf"] = figures.vaf_svg(model["vaf_points"], model["parental"],
                                     model["resistant_samples"])
    if model["qc"]:
        out["depth"] = figures.depth_svg(model["qc"])
    return out


def _write_atomic(pairs: list[tuple[Path, str]]) -> None:
    """Write every output to a temp file first; rename only when all were written."""
    tmps = []
    try:
        for path, text in pairs:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
            tmp.write_text(text, encoding="utf-8")
            tmps.append((tmp, path))
        for tmp, path in tmps:
            os.replace(tmp, path)
    finally:
        for tmp, _ in tmps:
            if tmp.exists():
                tmp.unlink()


def _input_record(path: Path | None) -> dict:
    if path is None:
        return {"path": None, "status": "not given"}
    return {"path": str(path), "sha256": _sha256(path), "status": "used"}


def run_report(args: argparse.Namespace) -> dict:
    hits = load_hits(args.hits)
    meta = {}
    if args.run_metadata is not None:
        if not args.run_metadata.exists():
            raise UserError(f"run metadata file not found: {args.run_metadata}")
        try:
            meta = json.loads(args.run_metadata.read_text())
        except json.JSONDecodeError as exc:
            raise UserError(f"{args.run_metadata}: not valid JSON: {exc}") from exc
    if args.line and hits["line"] != args.line:
        raise UserError(f"{args.hits}: line is {hits['line']!r}, but --line {args.line} was asked")
    cnv_targets = load_table(args.cnv_targets, CNV_TARGET_COLUMNS, "per-target copy number")
    inputs = {
        "hits": _input_record(args.hits),
        "vcf": _input_record(args.vcf),
        "cnv": _input_record(args.cnv),
        "cnv_targets": _input_record(args.cnv_targets),
        "hotspots": _input_record(args.hotspots),
        "fusions": _input_record(args.fusions),
        "samples": _input_record(args.samples),
    }
    for i, q in enumerate(args.qc or []):
        inputs[f"qc[{i}]"] = _input_record(q)
    for i, b in enumerate(args.bam or []):  # header only: not hashed (large)
        inputs[f"bam[{i}]"] = {"path": str(b), "status": "header read"}
    model = build_report(
        hits,
        cnv=load_table(args.cnv, CNV_COLUMNS, "copy number"),
        cnv_targets=cnv_targets,
        hotspots=load_hotspots(args.hotspots),
        fusions=load_table(args.fusions, FUSION_COLUMNS, "fusions"),
        qc=load_qc(args.qc),
        vcf=load_vcf(args.vcf),
        sheet=load_samples_sheet(args.samples),
        meta=meta,
        inputs=inputs,
        date=args.run_date,
        programs=bam_program_versions(args.bam),
    )
    if cnv_targets is not None:
        cnv_targets = cnv_targets[cnv_targets["sample"].isin(model["resistant_samples"])]
    figs = make_figures(model, cnv_targets)
    model["html"] = args.out.name
    text = render_html(model, figs)
    pairs = [(args.out, text)]
    if args.json is not None:
        pairs.append((args.json, json.dumps(model, indent=1, allow_nan=False) + "\n"))
    _write_atomic(pairs)
    log.info("wrote %s%s", args.out, f" and {args.json}" if args.json else "")
    return model


# --------------------------------------------------------------------------------------------
# cohort index


def index_entry(report_json: Path, out_dir: Path) -> dict:
    if not report_json.exists():
        raise UserError(f"report JSON not found: {report_json}")
    try:
        r = json.loads(report_json.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{report_json}: not valid JSON: {exc}") from exc
    if r.get("schema") != SCHEMA:
        raise UserError(f"{report_json}: not a resistcall report (schema {r.get('schema')!r})")
    html_path = report_json.parent / r.get("html", "report.html")
    href = Path(os.path.relpath(html_path.resolve(), out_dir.resolve())).as_posix()
    return {
        "line": r["line"],
        "parental": r["parental"],
        "href": href,
        "run_date": r["run"]["date"],
        "samples": [
            {"sample": c["sample"], "selected_with": c.get("selected_with"),
             "changes": [m["label"] for m in c["mutations"]]
             + [f"{x['gene']} {x['call']}" for x in (c.get("copy_number") or [])],
             "expected_to_work": c["expected_to_work"],
             "n_uncovered": (None if c.get("uncovered_hotspots") is None
                             else len(c["uncovered_hotspots"])),
             "n_warnings": len(c.get("qc_warnings") or [])}
            for c in r["summary"]
        ],
    }


def run_index(args: argparse.Namespace) -> list[dict]:
    entries = [index_entry(p, args.out.parent) for p in args.reports]
    entries.sort(key=lambda e: e["line"])
    dates = sorted({e["run_date"] for e in entries})
    _write_atomic([(args.out, render_index(entries, ", ".join(dates)))])
    return entries


# --------------------------------------------------------------------------------------------
# CLI


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="clinician report for one line: self-contained HTML + report.json",
        description="Write one self-contained HTML page (and report.json for LIMS import) "
        "for one line. Only --hits is required; a stage whose file is not given is shown as "
        "'not run'.",
    )
    p.add_argument("--line", help="line name; must match hits.json (checked)")
    p.add_argument("--hits", type=Path, required=True, help="hits.json from resistcall annotate")
    p.add_argument("--vcf", type=Path, help="snv.vcf.gz of the line (VAF figure, read counts)")
    p.add_argument("--cnv", type=Path, help="cnv.tsv (gene copy number)")
    p.add_argument("--cnv-targets", type=Path, help="cnv_targets.tsv (per-target ratios)")
    p.add_argument("--hotspots", type=Path, help="hotspots.tsv (known-position coverage)")
    p.add_argument("--fusions", type=Path, help="fusions.tsv")
    p.add_argument("--qc", type=Path, nargs="+", help="results/qc/<sample>.qc.json (any number; "
                   "samples of other lines are ignored)")
    p.add_argument("--samples", type=Path, help="sample sheet (selection drug and notes)")
    p.add_argument("--bam", type=Path, nargs="+", help="the line's BAMs: only their header is "
                   "read, for the versions of the programs that wrote them (@PG)")
    p.add_argument("--run-metadata", "--config-json", dest="run_metadata", type=Path,
                   help="JSON with run_date, tool_versions, reference_build, assay, config")
    p.add_argument("--run-date", help="run date shown in the report (default: run metadata, "
                   "then SOURCE_DATE_EPOCH, then now in UTC)")
    p.add_argument("--out", type=Path, required=True, help="report.html")
    p.add_argument("--json", type=Path, help="report.json (same content, for LIMS import)")
    p.set_defaults(func=run_report)

    q = subparsers.add_parser(
        "report-index",
        help="cohort index page linking each line's report",
        description="Write an index page linking every line's report.html, from report.json "
        "files (each next to its report.html).",
    )
    q.add_argument("--reports", type=Path, nargs="+", required=True, help="report.json files")
    q.add_argument("--out", type=Path, required=True, help="index.html")
    q.set_defaults(func=run_index)

