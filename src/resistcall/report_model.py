"""The clinician report's content: one JSON-serialisable dictionary per line.

Pure functions over the loaded inputs (``report_inputs``): they decide what the page and
``report.json`` say, so both always agree. Two rules shape them: a stage that was not run is
``None`` (rendered "not run", never an empty table), and a known position with too few reads is
"not assessable", never folded into "wild type".
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import re
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from resistcall import __version__
from resistcall.contracts import (
    BYPASS_GENES,
    CN_CHANGED,
    DRUG_PREDICTION,
    FUSION_DETECTED,
    HOTSPOT_FILTERED_SIGNAL,
    HOTSPOT_MEASURES,
    HOTSPOT_UNKNOWN,
    NOT_ASSESSABLE,
    REPORT_SCHEMA,
    SCOPE_STATUS,
    call_reads,
    citation,
    gene_key,
)
from resistcall.errors import UserError
from resistcall.reference import BUILD
from resistcall.report_inputs import gc_trends
from resistcall.snv_config import SnvConfig

log = logging.getLogger(__name__)

#: Drug predictions, strongest first: the annotator's vocabulary (contracts.DRUG_PREDICTION).
PREDICTIONS = DRUG_PREDICTION.values
#: Words shown to a clinician for each prediction (the JSON keeps the annotator's term).
PREDICTION_WORDS = {
    "resistant": "Resistance expected",
    "reduced sensitivity": "Reduced sensitivity",
    "sensitive": "Expected to work",
    "no data": "No data",
    "not assessable": "Not assessable (QC failed)",
}
#: Words for a prediction that rests on the genotype scan or on the phenotype, not on table rows.
BASIS_WORDS = {
    "genotype": "Expected to retain activity (genotype-based)",
    "phenotype": "Resistant phenotype; mechanism not found",
}
EVIDENCE_RANK = {"clinical": 0, "case_report": 1, "case report": 1, "preclinical": 2}
EVIDENCE_WORDS = {
    "clinical": "clinical",
    "case_report": "case report",
    "case report": "case report",
    "preclinical": "preclinical",
}
#: One verdict per codon: the strongest of the changes listed there.
VERDICT_RANK = {"not detected": 0, "not assessable": 1, "not covered": 1, "mutated": 2}
#: the documented default maximum (docs/snv.md): a codon with a larger detection limit is not
#: covered; the report uses the run's own value when the run metadata gives it.
MAX_DETECTION_LIMIT = SnvConfig().max_detection_limit
RUO_STATEMENT = (
    "For research use only. Not for diagnostic use. This report has not been validated for "
    "clinical decision-making; drug predictions come from a curated table of published data and "
    "must be confirmed by a qualified professional against the cited sources."
)


def json_safe(value: Any) -> Any:
    """JSON-safe scalar: NaN/inf -> None, numpy scalars -> Python."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: json_safe(v) for k, v in row.items()} for row in df.to_dict("records")]


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
            url = item.get("url") or citation(text)["url"]
        else:
            text = str(item).strip()
            url = citation(text)["url"]
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


def _is_verified(match: dict) -> bool:
    """Unverified = the knowledge row was written from memory (verification ``recall``)."""
    if match.get("verification") is not None:
        return str(match["verification"]).lower() != "recall"
    if match.get("verified") is not None:
        return bool(match["verified"])
    return "verif=recall" not in str(match.get("note") or "")


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
        return {k: json_safe(nested.get(k)) for k in ("vaf", "alt_count", "depth")}
    suffix = "" if which == "sample" else "_parental"
    return {k: json_safe(f.get(f"{k}{suffix}")) for k in ("vaf", "alt_count", "depth")}


def cancer_cell_fraction(f: dict, which: str) -> float | None:
    """The finding's cancer-cell fraction in this sample or the parental (hits.json counts'
    ``ccf``, from the VCF's FORMAT/CCF); None where the VCF gives none."""
    nested = f.get(f"{which}_counts")
    return json_safe(nested.get("ccf")) if isinstance(nested, dict) else None


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


def _not_assessed_item(m: dict) -> dict:
    """One known change whose codon had too few reads in the sample (annotate ``not_assessed``)."""
    gene, hgvs_p = m.get("gene"), m.get("hgvs_p")
    residue = m.get("residue")
    if not residue or residue != residue:  # missing or NaN
        span = re.match(r"^p\.\[?([A-Z][a-z]{0,2}|[A-Z*])?(\d+)", str(hgvs_p or ""))
        residue = f"{span[1] or ''}{span[2]}" if span else None
    return {
        "gene": gene,
        "hgvs_p": hgvs_p,
        "residue": residue,
        "label": f"{gene} {hgvs_p}".strip(),
        "position": f"{gene} {residue}".strip() if residue else f"{gene} {hgvs_p}".strip(),
        "depth": json_safe(m.get("depth")),
        "depth_needed": json_safe(m.get("depth_needed")),
        "detection_limit_vaf": json_safe(m.get("detection_limit_vaf")),
        "effect": normalise_prediction(m.get("effect")),
        "verified": _is_verified(m),
        # a filtered signal's call at its own base (annotate, contracts.call_reads), else None
        "signal": m.get("signal"),
    }


def _not_assessed_positions(items: list[dict], signal: bool = False) -> list[dict]:
    """The not-assessed changes grouped by codon (one depth per codon), in listing order: the
    codons without reads enough (``signal`` False: "not covered") or those whose reads carry a
    change below the quality filters (``signal`` True: "unconfirmed signal", with its reads)."""
    out: dict[str, dict] = {}
    for m in items:
        if bool(m.get("signal")) != signal:
            continue
        pos = out.setdefault(
            m["position"],
            {
                "label": m["position"],
                "changes": [],
                "depth": m["depth"],
                "depth_needed": m["depth_needed"],
                "detection_limit_vaf": m["detection_limit_vaf"],
                "signal": m.get("signal"),
            },
        )
        if m["hgvs_p"] not in pos["changes"]:
            pos["changes"].append(m["hgvs_p"])
    return list(out.values())


def fmt_num(v: Any, digits: int = 0) -> str:
    """A number as the page shows it (thousands separated, ``digits`` decimals, no "-0"), "–"
    when missing: the report's ``num`` filter and the depths the model words."""
    v = json_safe(v)
    if v is None:
        return "–"
    text = f"{float(v):,.{digits}f}"
    return text[1:] if text.startswith("-") and float(text.replace(",", "")) == 0 else text


def depth_words(depth: Any, reads: dict | None = None) -> str:
    """The depths a known codon's statement names, each by what it is: a call's reads counted
    at the base it changes (``reads``, :func:`resistcall.contracts.call_reads`), then the
    codon's minimum depth (hotspots.tsv ``depth``, what "not covered" and the limit rest on):
    "2 of 17 reads at the call's base; codon min depth 13×", or "codon min depth 13×"."""
    codon = f"codon min depth {fmt_num(depth)}×"
    if reads is None or not reads.get("depth"):
        return codon
    call = f"{fmt_num(reads['alt_count'])} of {fmt_num(reads['depth'])} reads"
    return f"{call} at the call's base; {codon}"


def signal_words(depth: Any, reads: dict | None) -> str:
    """A filtered signal at a known codon, the same words wherever it is shown."""
    return f"unconfirmed signal: {depth_words(depth, reads)}"


def _reads(signal: dict) -> str:
    """ "2 of 12 reads" from a caveat's read counts (annotate ``signal`` / ``support``)."""
    alt, depth = json_safe(signal.get("alt_count")), json_safe(signal.get("depth"))
    if alt is None:
        return "reads"
    return f"{alt:g} of {depth:g} reads" if depth is not None else f"{alt:g} reads"


def _caveat_parts(caveats: list[dict]) -> list[tuple[str, str, str | None]]:
    """(kind, text, would_give) per kind of caveat, in the annotator's order: the words are made
    here from hits.json's structured caveats."""
    parts: dict[str, list[dict]] = {}
    for c in caveats:
        parts.setdefault(c["kind"], []).append(c)
    out = []
    for kind, items in parts.items():
        names = ", ".join(
            sorted(
                {
                    (f"{c['gene']} {c['hgvs_p']}" if kind == "not_assessed" else c["hgvs_p"])
                    or c["reason"]
                    for c in items
                }
            )
        )
        if kind == "unverified":
            alt = items[0].get("would_give")
            out.append((kind, f"unverified row(s) would give '{alt}': {names}", alt))
        elif kind == "not_assessed":
            out.append((kind, f"not assessable (not covered): {names}", None))
        elif kind == "filtered_signal":
            # reads at the codon carry a change that failed the filters (e.g. 2 of 12 reads
            # G1202R at a thinly covered codon): neither "not covered" nor wild type
            seen: dict[str, str] = {}
            for c in items:
                codon = f"{c['gene']} {c['residue'] or c['hgvs_p']}"
                seen.setdefault(codon, f"{_reads(c.get('signal') or {})}, {c['reason']}")
            for codon, why in seen.items():
                out.append(
                    (
                        kind,
                        f"a change was seen at {codon} ({why}): neither mutated nor wild type,"
                        " confirm with more reads",
                        None,
                    )
                )
        elif kind == "low_support":
            for c in items:
                sup = c.get("support") or {}
                limit = json_safe(sup.get("detection_limit_vaf"))
                below = f", below this codon's {100 * limit:.1f}% detection limit" if limit else ""
                out.append(
                    (
                        kind,
                        f"{c['gene']} {c['hgvs_p']} rests on {_reads(sup)}{below}: low support,"
                        " confirm with an orthogonal assay (e.g. ddPCR) or more reads",
                        None,
                    )
                )
        elif kind == "copy_number":  # one part: "MET copy number not assessed (...): ..."
            reasons = dict.fromkeys(str(c["reason"]) for c in items)
            out.append((kind, "; ".join(reasons), None))
        else:
            out += [(kind, str(c["reason"]), None) for c in items]
    return out


def caveat_sentence(caveats: list[dict]) -> str | None:
    """All caveats of one drug cell as one sentence ("; "-joined parts), None without any."""
    return "; ".join(text for _, text, _ in _caveat_parts(caveats)) or None


#: caveat kinds worded per change (:func:`_caveat_parts`) and flagged once per cell
PER_CHANGE_FLAGS = {"filtered_signal": "unconfirmed signal", "low_support": "low support: confirm"}


def cell_caveats(caveats: list[dict], items: list[dict]) -> list[dict]:
    """Short, visible flags for one drug cell: why its prediction could change (one per kind:
    unverified rows that disagree with the verified ones, known changes not assessable in the
    sample, a filtered signal at a known codon, calls with low support, the sample's QC)."""
    n = len(_not_assessed_positions(items))
    where = (
        f"{n} position{'s' if n != 1 else ''} not assessable"
        if n
        else "known changes not assessable"
    )
    flags: list[dict] = []
    for kind, text, alt in _caveat_parts(caveats):
        if kind == "genotype":
            flags.append(
                {
                    "kind": kind,
                    "short": "genotype-based; ALK-independent resistance not excluded",
                    "text": text,
                }
            )
        elif kind == "not_assessed":
            flags.append({"kind": kind, "short": where, "text": text})
        elif kind in PER_CHANGE_FLAGS:
            same = next((f for f in flags if f["kind"] == kind), None)
            if same is not None:  # one flag per kind: each change is a part of its text
                same["text"] += "; " + text
            else:
                flags.append({"kind": kind, "short": PER_CHANGE_FLAGS[kind], "text": text})
        elif kind == "copy_number":  # each reason starts with its gene (annotate)
            genes = ", ".join(dict.fromkeys(part.split(" ", 1)[0] for part in text.split("; ")))
            short = f"copy number not assessed: {genes}"
            flags.append({"kind": kind, "short": short, "text": text})
        elif kind == "unverified":
            words = PREDICTION_WORDS[normalise_prediction(alt)].lower()
            flags.append({"kind": kind, "short": f"unverified data: {words}", "text": text})
        else:
            flags.append({"kind": kind, "short": "see caveat", "text": text})
    return flags


def _drug_cells(sample: dict, drugs: list[str], labels: dict[str, str]) -> dict:
    """One grid cell per drug: the annotator's prediction plus the evidence behind it."""
    cells = {}
    raw = sample.get("drugs", {})
    for drug in drugs:
        entry = raw.get(drug)
        if entry is None:
            cells[drug] = {
                "prediction": "no data",
                "words": PREDICTION_WORDS["no data"],
                "evidence": [],
                "deciding": [],
                "baseline": [],
                "in_parental": [],
                "no_data": [],
                "superseded": [],
                "sources": [],
                "unverified": False,
                "caveat": None,
                "caveats": [],
                "not_assessed": [],
                "not_assessed_positions": [],
                "signal_positions": [],
                "basis": "none",
                "statement": None,
            }
            continue
        evidence = [_evidence_item(r, labels) for r in entry["rows"]]
        baseline = [_evidence_item(r, labels) for r in entry.get("baseline", []) or []]
        in_parental = [_evidence_item(r, labels) for r in entry.get("in_parental", []) or []]
        prediction = normalise_prediction(entry.get("prediction"))
        # The rows that agree with the prediction are the ones that decided it.
        deciding = [e for e in evidence if e["effect"] == prediction]
        if not deciding and prediction != "no data":
            deciding = evidence
        verified = entry.get("verified")
        if verified is None:
            verified = all(e["verified"] for e in deciding)
        not_assessed = [
            _not_assessed_item(m) for m in entry.get("not_assessed") or [] if isinstance(m, dict)
        ]
        positions = _not_assessed_positions(not_assessed)
        signals = _not_assessed_positions(not_assessed, signal=True)
        caveats = entry["caveats"]
        basis = entry.get("basis") or ("none" if prediction == "no data" else "evidence")
        cells[drug] = {
            "prediction": prediction,
            "basis": basis,
            "statement": entry.get("statement"),
            "words": BASIS_WORDS.get(basis, PREDICTION_WORDS[prediction]),
            "evidence": evidence,
            "deciding": deciding,
            "baseline": baseline,
            "in_parental": in_parental,
            "no_data": [
                labels.get(str(f), str(f)) for f in entry.get("no_data_findings", []) or []
            ],
            "superseded": [
                f"{labels.get(str(s.get('finding')), s.get('finding'))} (replaced by "
                f"{labels.get(str(s.get('by')), s.get('by'))})"
                for s in entry.get("superseded", []) or []
                if isinstance(s, dict)
            ],
            "sources": cite(entry.get("sources")),
            # flag the cell when its verdict rests on unverified rows only (a verified row
            # that agrees carries it); the unverified rows themselves are tagged one by one
            "unverified": (not verified)
            or bool(deciding)
            and not any(e["verified"] for e in deciding),
            # why the prediction could change, in words (hits.json keeps the structured list)
            "caveat": caveat_sentence(caveats),
            "caveats": cell_caveats(caveats, not_assessed),
            "not_assessed": not_assessed,
            # not covered (no depth) and unconfirmed signal (reads with a filtered change) apart
            "not_assessed_positions": positions,
            "signal_positions": signals,
        }
    return cells


def _labels(sample: dict) -> dict[str, str]:
    return {
        str(f.get("id")): finding_label(f)
        for which in ("findings", "vus", "other")
        for f in sample.get(which, [])
        if f.get("id") is not None
    }


def apply_phenotype(grid: dict, sheet: pd.DataFrame | None) -> None:
    """The drug a sample was selected on is, by phenotype, one it resists: a cell for that drug
    that no finding explains reads "resistant phenotype; mechanism not found". A cell that is
    ``not assessable`` (the sample failed QC: nothing was looked for) keeps its verdict and its
    QC caveat: "mechanism not found" would claim a search that was not possible."""
    if sheet is None:
        return
    drugs = dict(
        zip(sheet["sample"], sheet["drug"].astype(str).str.strip().str.lower(), strict=True)
    )
    for sample, cells in grid["cells"].items():
        cell = cells.get(drugs.get(sample, ""))
        if cell is None or cell["prediction"] in ("resistant", NOT_ASSESSABLE):
            continue
        cell.update(
            prediction="resistant",
            basis="phenotype",
            words=BASIS_WORDS["phenotype"],
            caveats=[],
            statement="the sample was selected on this drug; no finding explains the resistance",
        )


def _selected_with(sheet: pd.DataFrame | None) -> dict[str, str]:
    """Sample -> the drug it was selected on (the sheet's ``drug``, lower case), where given."""
    if sheet is None:
        return {}
    drugs = sheet["drug"].astype(str).str.strip()
    return {s: d for s, d in zip(sheet["sample"], drugs, strict=True) if d and d != "nan"}


def _why_shown(i: int, g: dict, selected: dict[str, str]) -> str | None:
    """Why a group is a drug-grid group (None: it is not one)."""
    if i == 0:
        return "the driver's inhibitors: always shown"
    if g["show"] == "grid":
        return "always shown (resources/drug_groups.tsv)"
    if g["show"] == "selected":
        mine = {d.lower() for d in g["drugs"]}
        by = sorted(f"{s} was selected on {d}" for s, d in selected.items() if d.lower() in mine)
        return "shown because " + "; ".join(by) if by else None
    return None


def build_drug_grid(
    resistant: list[dict], groups: list[dict], selected: dict[str, str] | None = None
) -> dict:
    """Rows: every drug of the first group (the driver's inhibitors) always, then the drugs
    of the other groups that have rows, alphabetically. Groups come from the knowledge table's
    drug_groups.tsv through hits.json, so a new drug needs no code change. Grid columns: the
    groups shown always, and a ``selected`` group only when a resistant sample (``selected``:
    sample -> the drug of the sheet) was selected on one of its drugs; each says why."""
    seen: list[str] = []
    for s in resistant:
        for drug in s.get("drugs", {}):
            if drug not in seen:
                seen.append(drug)
    group_of = {d: g for g in groups for d in g["drugs"]}
    stray = [d for d in seen if d not in group_of]
    if stray:
        raise UserError(f"hits.json: drug {stray[0]!r} is in no drug group (drug_groups)")
    mine = {s["sample"] for s in resistant}
    chosen = {k: v for k, v in (selected or {}).items() if k in mine}
    why = {g["name"]: _why_shown(i, g, chosen) for i, g in enumerate(groups)}
    # the drug a sample was selected on is a row even without table rows (its phenotype)
    asked = {d.lower() for d in chosen.values()}
    rows = []
    for i, g in enumerate(groups):
        drugs = (
            g["drugs"]
            if i == 0
            else sorted(
                (d for d in g["drugs"] if d in seen or (why[g["name"]] and d.lower() in asked)),
                key=str.lower,
            )
        )
        rows += [{"drug": d, "group": g["name"], "grid": why[g["name"]] is not None} for d in drugs]
    header = [
        {"name": g["name"], "n": n, "why": why[g["name"]]}
        for g in groups
        if why[g["name"]] is not None and (n := sum(r["group"] == g["name"] for r in rows))
    ]
    cells = {s["sample"]: _drug_cells(s, [r["drug"] for r in rows], _labels(s)) for s in resistant}
    driver = list(groups[0]["drugs"]) if groups else []
    return {"drugs": rows, "grid_groups": header, "driver": driver, "cells": cells}


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


#: the mutation table's status of a compound whose parts were seen in trans
NOT_APPLIED_TRANS = "not applied (trans)"


def _set_aside(f: dict) -> bool:
    """hits.json's side of annotate's ``Finding.set_aside``: a compound whose parts are in
    trans, whose table rows apply to nothing in the sample."""
    return finding_kind(f) == "compound" and (f.get("phase") or {}).get("status") == "trans"


def build_variant_rows(
    entries: list[dict],
    vcf: pd.DataFrame | None,
    parental: str | None,
    samples: list[str],
    which: str,
) -> list[dict]:
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
                    "pos": json_safe(f.get("pos")),
                    "genomic": f.get("genomic"),
                    "ref": f.get("ref"),
                    "alt": f.get("alt"),
                    "filter": f.get("filter"),
                    "known": bool(f.get("known", which == "findings")),
                    "status": {},
                    # the resistant samples where its rows were set aside (parts in trans)
                    "not_applied": [],
                    "low_support": {},
                    "samples": {},
                    "evidence_level": _best_level(matches),
                    "effects": [
                        {
                            "drug": m.get("drug"),
                            "effect": normalise_prediction(m.get("effect")),
                            "evidence_level": EVIDENCE_WORDS.get(
                                str(m.get("evidence_level")), m.get("evidence_level")
                            ),
                            "verified": _is_verified(m),
                        }
                        for m in matches
                    ],
                    "sources": cite(
                        [src for m in matches for src in (m.get("sources") or [])]
                        + list((f.get("driver") or {}).get("sources") or [])
                    ),
                    "driver": (f.get("driver") or {}).get("description"),
                    "phase": _phase_text(f.get("phase")),
                    "compound_parts": f.get("compound_parts"),
                }
                rows[key] = row
            if resistant:
                # a compound whose parts sit on different reads was not applied (annotate):
                # its timing ("acquired") must not read as an acquired compound mutation
                trans = _set_aside(f)
                row["status"][s["sample"]] = NOT_APPLIED_TRANS if trans else f.get("status")
                if trans:
                    row["not_applied"].append(s["sample"])
                # the first screen tags a low-support call; the table must not show it bare
                if f.get("low_support") and not trans:
                    row["low_support"][s["sample"]] = True
            row["samples"][s["sample"]] = counts(f, "sample")
            if parental and parental not in row["samples"] and f.get("parental_counts"):
                row["samples"][parental] = counts(f, "parental")
            elif parental and parental not in row["samples"] and "vaf_parental" in f:
                row["samples"][parental] = counts(f, "parental")
    # Reads from the VCF cover every sample, also those where the variant was not called.
    if vcf is not None and len(vcf):
        by_site = {
            (r["chrom"], int(r["pos"]), r["ref"], r["alt"], r["sample"]): r
            for r in vcf.to_dict("records")
        }
        for key, row in rows.items():
            if len(key) != 4:
                continue
            for sample in samples:
                rec = by_site.get((*key, sample))
                if rec is not None:
                    row["samples"][sample] = {
                        "vaf": json_safe(rec["vaf"]),
                        "alt_count": json_safe(rec["alt_count"]),
                        "depth": json_safe(rec["depth"]),
                    }
    out = list(rows.values())
    for row in out:
        for sample in samples:
            row["samples"].setdefault(sample, {"vaf": None, "alt_count": None, "depth": None})
        # set aside wherever it was seen: its rows' effects apply to nothing (hits.tsv leaves
        # its drug cells empty), so they must not read as "lorlatinib: resistant"
        applied = not row["not_applied"] or len(row["not_applied"]) < len(row["status"])
        for e in row["effects"]:
            e["applied"] = applied
    out.sort(
        key=lambda r: (
            gene_key(str(r["gene"])),
            r["kind"] == "compound",
            r["chrom"] or "",
            r["pos"] or 0,
            r["hgvs_c"] or "",
            r["hgvs_p"] or "",
        )
    )
    return out


def _phase_text(phase: Any) -> str | None:
    if phase is None:
        return None
    if isinstance(phase, dict):
        status = phase.get("status") or "unknown"
        pairs = phase.get("pairs") or []
        both = sum(int(p.get("reads_both") or 0) for p in pairs)
        spanning = sum(int(p.get("reads_spanning") or 0) for p in pairs)
        words = {
            "cis": "on the same reads (cis)",
            "trans": "on different reads (trans)",
            "cis+trans": "both together and apart (cis and trans)",
            "unknown": "phase unknown",
        }
        text = words.get(status, status)
        if status == "unknown" and phase.get("method"):
            text += f" ({phase['method']})"
        if not spanning:
            return text
        # the pairs carrying one change only say how much the phase rests on: 0 of 191 pairs
        # carry both reads as strong, but a 2-read minor allele is all the evidence there is
        only = [
            (int(p.get("reads_a_only") or 0), int(p.get("reads_b_only") or 0))
            for p in pairs
            if p.get("reads_a_only") is not None or p.get("reads_b_only") is not None
        ]
        text = f"{text}; {both} of {spanning} spanning read pairs carry both"
        if only:
            listed = ", ".join(f"{a} and {b}" for a, b in only)
            text += f" ({listed} carry only one of the two)"
        return text
    return str(phase)


def build_copy_number(cnv: pd.DataFrame | None, resistant: list[str]) -> list[dict] | None:
    if cnv is None:
        return None
    df = cnv[cnv["sample"].isin(resistant)].copy()
    df["_rank"] = df["gene"].astype(str).map(gene_key)
    df["_srank"] = df["sample"].map(resistant.index)
    df = df.sort_values(["_srank", "_rank"]).drop(columns=["_rank", "_srank"])
    return _records(df)


def build_gc_trends(cnv: pd.DataFrame | None, resistant: list[str]) -> list[dict] | None:
    """The GC trend left after each resistant sample's correction (QC; None when cnv.tsv was
    not given or has no such column, e.g. an older run)."""
    if cnv is None or "gc_residual_slope" not in cnv.columns:
        return None
    trends = gc_trends(cnv)
    calls = cnv.groupby("sample")["call"].agg(lambda c: bool((c == NOT_ASSESSABLE).all()))
    return [
        {"sample": s, "slope": trends[s], "not_assessable": bool(calls.get(s, False))}
        for s in resistant
        if s in trends
    ]


def build_fusions(fusions: pd.DataFrame | None, samples: list[str]) -> list[dict] | None:
    if fusions is None:
        return None
    df = fusions[fusions["sample"].isin(samples)].copy()
    df["_srank"] = df["sample"].map(samples.index)
    df = df.sort_values("_srank", kind="stable").drop(columns="_srank")
    rows = _records(df)
    for r in rows:
        r["positive"] = r["call"] == FUSION_DETECTED
    return rows


def _codon_positions(text: Any) -> list[int]:
    """``"24536,24537,24538"`` or ``"24536-24538"`` -> contig positions."""
    value = str(text or "")
    m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", value)
    if m:
        return list(range(int(m[1]), int(m[2]) + 1))
    return [int(x) for x in re.findall(r"\d+", value)]


def _variant_spans(entries: list[dict] | None) -> dict[str, list[tuple[str, int, int, dict]]]:
    """Per sample, the contig span of every small variant it carries, with its label and its
    own read counts (two alleles at one codon each keep theirs)."""
    spans: dict[str, list[tuple[str, int, int, dict]]] = {}
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
                    (str(f["chrom"]), pos, end, {"label": finding_label(f), **counts(f, "sample")})
                )
    return spans


def build_hotspots(
    hot: pd.DataFrame | None,
    samples: list[str],
    entries: list[dict] | None = None,
    max_limit: float = MAX_DETECTION_LIMIT,
) -> dict | None:
    """Wide table: one row per known codon, one cell per sample with depth and verdict.

    hotspots.tsv has one row per known change, but its verdict belongs to the codon (any call
    overlapping the codon makes every change there 'mutated'). Showing 'p.F1174C: mutated'
    when the sample carries F1174L would mislead, so rows are merged per codon, the known
    changes are listed, and a mutated cell names the variant(s) of that sample that overlap
    the codon (from hits.json). ``max_limit``: the run's ``snv.max_detection_limit`` (the
    limit above which a codon is ``not covered``), shown in the report's explanations."""
    if hot is None:
        return None
    df = hot[hot["sample"].isin(samples)]
    spans = _variant_spans(entries)
    rows: dict[tuple, dict] = {}
    for rec in _records(df):
        residue = rec.get("residue") or rec["hgvs_p"]
        key = (rec["gene"], residue, rec["chrom"], str(rec["positions"]))
        row = rows.setdefault(
            key,
            {
                "gene": rec["gene"],
                "residue": residue,
                "changes": [],
                "chrom": rec["chrom"],
                "positions": rec["positions"],
                "genomic": rec["genomic"],
                "cells": {},
                "uncovered": False,
                "mutated": False,
            },
        )
        if rec["hgvs_p"] not in row["changes"]:
            row["changes"].append(rec["hgvs_p"])
        new: dict[str, Any] = {k: rec.get(k) for k in HOTSPOT_MEASURES}
        old = row["cells"].get(rec["sample"])
        if old is not None:  # same codon, another change: one verdict per codon
            if VERDICT_RANK.get(old["verdict"], 0) > VERDICT_RANK.get(new["verdict"], 0):
                new, old = old, new
            new["depth"] = _min_none(new["depth"], old["depth"])
            new["detection_limit_vaf"] = _max_none(
                new["detection_limit_vaf"], old["detection_limit_vaf"]
            )
        row["cells"][rec["sample"]] = new
    for row in rows.values():
        codon = set(_codon_positions(row["positions"]))
        for sample, cell in row["cells"].items():
            row["uncovered"] |= cell["verdict"] in HOTSPOT_UNKNOWN
            row["mutated"] |= cell["verdict"] == "mutated"
            cell["call_reads"] = _cell_call_reads(cell)
            cell["variants"] = (
                sorted(
                    {
                        v["label"]: v
                        for chrom, start, end, v in spans.get(sample, [])
                        if chrom == row["chrom"] and codon & set(range(start, end + 1))
                    }.values(),
                    key=lambda v: v["label"],
                )
                if cell["verdict"] == "mutated"
                else []
            )
    out = sorted(
        rows.values(),
        key=lambda r: (gene_key(str(r["gene"])), _residue_number(r), str(r["residue"])),
    )
    uncovered = {s: _uncovered_positions(out, s) for s in samples}
    target = df["target_vaf"].dropna()
    return {
        "target_vaf": json_safe(target.iloc[0]) if len(target) else None,
        "max_detection_limit": max_limit,
        "rows": out,
        "samples": [s for s in samples if any(s in r["cells"] for r in out)],
        "uncovered": uncovered,
        "n_positions": len(out),
    }


def _cell_call_reads(cell: dict) -> dict | None:
    """A mutated or filtered-signal cell's call as alt of the reads at its own base (not the
    codon's minimum depth, which the cell states apart); None for the other verdicts, whose
    largest non-reference count is noise, not a call."""
    signal = str(cell.get("reason") or "").startswith(HOTSPOT_FILTERED_SIGNAL)
    if cell["verdict"] != "mutated" and not signal:
        return None
    return call_reads(cell["alt_count"], cell["vaf"], None)


def max_detection_limit(config: dict | None) -> float:
    """The run's ``snv.max_detection_limit`` (run metadata ``config``), else the default: the
    report explains "not covered" with the maximum the snv stage applied, not a constant."""
    snv = (config or {}).get("snv") if isinstance(config, dict) else None
    value = json_safe((snv or {}).get("max_detection_limit")) if isinstance(snv, dict) else None
    try:
        return float(value) if value is not None else MAX_DETECTION_LIMIT
    except (TypeError, ValueError):
        return MAX_DETECTION_LIMIT


def _min_none(a: Any, b: Any) -> Any:
    values = [v for v in (a, b) if v is not None]
    return min(values) if values else None


def _max_none(a: Any, b: Any) -> Any:
    values = [v for v in (a, b) if v is not None]
    return max(values) if values else None


def _uncovered_positions(rows: list[dict], sample: str) -> list[dict]:
    """Not-assessable known codons of one sample, with the known changes there (``reads``: the
    call of a filtered signal there, else None: not covered)."""
    return [
        {
            "label": f"{r['gene']} {r['residue']}",
            "gene": r["gene"],
            "residue": r["residue"],
            "changes": list(r["changes"]),
            "depth": r["cells"][sample]["depth"],
            "depth_needed": r["cells"][sample]["depth_needed"],
            "detection_limit_vaf": r["cells"][sample]["detection_limit_vaf"],
            "reason": r["cells"][sample]["reason"],
            # a filtered signal's call (its reads at its own base), None when not covered
            "reads": r["cells"][sample]["call_reads"],
        }
        for r in rows
        if sample in r["cells"] and r["cells"][sample]["verdict"] in HOTSPOT_UNKNOWN
    ]


def _residue_number(row: dict) -> int:
    m = re.search(r"\d+", str(row.get("residue") or row.get("hgvs_p") or ""))
    return int(m[0]) if m else 0


def _ranges(numbers: list[int]) -> str:
    """[3, 4, 5, 7] -> '3-5, 7'."""
    out: list[str] = []
    for n in sorted(numbers):
        if out and int(out[-1].split("-")[-1]) == n - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{n}"
        else:
            out.append(str(n))
    return ", ".join(out)


def build_scope(scope: pd.DataFrame | None, samples: list[str]) -> dict | None:
    """Per sample and gene: the model's exons, which are covered, at low depth or not covered
    (exon ranges as text, e.g. ``3-7, 9``), and every exon with its median depth."""
    if scope is None:
        return None
    out: dict[str, dict] = {}
    for (sample, gene), g in scope.groupby(["sample", "gene"], sort=False):
        if sample not in samples:
            continue
        by = {st: sorted(int(x) for x in g.loc[g["status"] == st, "exon"]) for st in SCOPE_STATUS}
        model = str(g["model"].iloc[0])
        exons = [
            {"exon": int(r["exon"]), "median_depth": json_safe(r["median_depth"]),
             "status": r["status"]}
            for r in g.sort_values("exon").to_dict("records")
        ]  # fmt: skip
        out.setdefault(sample, {})[gene] = {
            "transcript": str(g["transcript"].iloc[0]),
            "model": model,
            "partial_model": "partial" in model,
            "adequate_depth": int(g["adequate_depth"].iloc[0]),
            "call_depth": int(g["call_depth"].iloc[0]),
            "covered": _ranges(by["covered"]),
            "low_depth": _ranges(by["low depth"]),
            "not_covered": _ranges(by["not covered"]),
            "exons": exons,
            "n_exons": int(len(g)),
        }
    return out


def unread_genes(scope: dict | None, sample: str, genes: tuple[str, ...]) -> list[str] | None:
    """``genes`` without any exon read (covered or low depth) in ``sample``, or absent from the
    scope table (not in the reference's models); None when the scope was not run."""
    if scope is None:
        return None
    mine = scope.get(sample, {})
    return [g for g in genes if g not in mine or not (mine[g]["covered"] or mine[g]["low_depth"])]


def build_identity(identity: pd.DataFrame | None, resistant: list[str]) -> dict | None:
    """Sample identity per resistant sample (identity.tsv), keyed by sample."""
    if identity is None:
        return None
    return {r["sample"]: r for r in _records(identity) if r["sample"] in resistant}


def build_qc(qc: list[dict] | None, samples: list[str]) -> list[dict] | None:
    if qc is None:
        return None
    by = {q["sample"]: q for q in qc}
    return [
        {k: json_safe(v) if not isinstance(v, (dict, list)) else v for k, v in by[s].items()}
        for s in samples
        if s in by
    ]


def build_vaf_points(
    vcf: pd.DataFrame | None, entries: list[dict], parental: str | None, resistant: list[str]
) -> list[dict] | None:
    """Parental vs resistant VAF for every call in the VCF (or, without it, every finding)."""
    labels: dict[tuple, tuple[str, str]] = {}
    for s in entries:
        for which in ("findings", "vus", "other"):
            for f in s.get(which, []):
                if is_small_variant(f) and finding_kind(f) != "compound":
                    labels[_variant_key(f)] = (finding_label(f), which)
    points = []
    if vcf is not None and len(vcf):  # a sites-only VCF has no counts: use the findings
        if not parental or parental not in set(vcf["sample"]):
            parental_vaf: dict = {}
        else:
            par = vcf[vcf["sample"] == parental]
            parental_vaf = {
                (r["chrom"], r["pos"], r["ref"], r["alt"]): r["vaf"] for r in par.to_dict("records")
            }
        for r in vcf[vcf["sample"].isin(resistant)].to_dict("records"):
            key = (r["chrom"], int(r["pos"]), r["ref"], r["alt"])
            label, section = labels.get(key, (None, None))
            points.append(
                {
                    "sample": r["sample"],
                    "chrom": r["chrom"],
                    "pos": int(r["pos"]),
                    "ref": r["ref"],
                    "alt": r["alt"],
                    "filter": r["filter"],
                    "status": json_safe(r["status"]),
                    "vaf_parental": json_safe(parental_vaf.get(key)) if parental else None,
                    "vaf": json_safe(r["vaf"]),
                    "label": label,
                    "class": section,
                }
            )
        return points
    for s in entries:
        if s["sample"] not in resistant:
            continue
        for which in ("findings", "vus", "other"):
            for f in s.get(which, []):
                if is_small_variant(f) and finding_kind(f) != "compound":
                    points.append(
                        {
                            "sample": s["sample"],
                            "chrom": f.get("chrom"),
                            "pos": json_safe(f.get("pos")),
                            "ref": f.get("ref"),
                            "alt": f.get("alt"),
                            "filter": f.get("filter") or "PASS",
                            "status": f.get("status"),
                            "vaf_parental": counts(f, "parental")["vaf"],
                            "vaf": counts(f, "sample")["vaf"],
                            "label": finding_label(f),
                            "class": which,
                        }
                    )
    return points


def _counts_towards(f: dict) -> bool:
    if f.get("counts_towards_verdict") is not None:
        return bool(f["counts_towards_verdict"])
    return str(f.get("filter") or "PASS") in ("PASS", ".") and f.get("status") != "lost"


def not_assessable_items(card: dict) -> list[str]:
    """What the card could not assess, as the first screen's one line (each hotspot once)."""
    items = []
    # the hotspot table's positions (with depth), then any a drug cell's caveat names besides;
    # a codon whose reads carry a change below the filters is not "not covered": it is named
    # apart with its reads, as in the coverage table and the caveats
    hot = card.get("uncovered_hotspots") or []
    signals = {u["label"]: signal_words(u["depth"], u["reads"]) for u in hot if u.get("reads")}
    for k in card.get("caveats", []):
        for p in k.get("signal_positions") or []:
            signals.setdefault(p["label"], p["words"])
    labels = {
        u["label"]: u["label"]
        + (f" ({fmt_num(u['depth'])}×)" if u.get("depth") is not None else "")
        for u in hot
        if u["label"] not in signals
    }
    for k in card.get("caveats", []):
        for pos in k["positions"]:
            if pos not in signals:
                labels.setdefault(pos, pos)
    if labels:
        n = len(labels)
        listed = ", ".join(labels.values())
        items.append(f"{n} known resistance position{'s' if n > 1 else ''} ({listed})")
    items += [f"{pos} ({words}; neither mutated nor wild type)" for pos, words in signals.items()]
    if card.get("copy_number_not_assessable"):
        items.append("copy number")
    elif card.get("copy_number_not_estimable"):
        items.append("copy number of " + ", ".join(card["copy_number_not_estimable"]))
    # bypass genes the panel does not read (no target, or no exon with reads) have no row in
    # cnv.tsv: without this item a MET amplification (resistance to every later ALK inhibitor)
    # was not mentioned at all, as if it had been checked
    unread = [
        g
        for g in card.get("bypass_unread") or []
        if g not in (card.get("copy_number_not_estimable") or [])
    ]
    if unread and not card.get("copy_number_not_assessable"):
        items.append(
            ", ".join(unread) + " not read by the panel (no exon covered: copy number and"
            " mutations not checked)"
        )
    if (card.get("fusion") or {}).get("state") == "not assessable":
        items.append("ALK fusion")
    if card.get("identity") and card["identity"].get("verdict") == NOT_ASSESSABLE:
        items.append("sample identity")
    return items + scope_items("ALK", card.get("alk_scope"))


def exon_words(ranges: str) -> str:
    """'11' -> 'exon 11'; '1, 2, 8' -> 'exons 1, 2, 8'."""
    return f"exon {ranges}" if ranges.isdigit() else f"exons {ranges}"


def scope_items(gene: str, scope: dict | None) -> list[str]:
    """The exons of ``gene`` that were not read adequately, for the not-assessable line: not
    covered, at low depth (with depth), outside a partial model. Never read as wild type."""
    if not scope:
        return []
    items = []
    if scope["not_covered"]:
        items.append(f"{gene} {exon_words(scope['not_covered'])} (not covered)")
    low = [e for e in scope["exons"] if e["status"] == "low depth"]
    if low:
        listed = ", ".join(f"{e['exon']} ({e['median_depth']:.0f}×)" for e in low)
        items.append(f"{gene} exon{'s' if len(low) > 1 else ''} {listed} at low depth")
    if scope["partial_model"]:
        modelled = scope["model"].replace(" (partial model)", "")
        items.append(f"{gene} exons outside the reference's model ({modelled} modelled)")
    return items


def build_summary(
    entries: list[dict],
    parental: str | None,
    grid: dict,
    copy_number: list[dict] | None,
    fusions: list[dict] | None,
    hotspots: dict | None,
    qc: list[dict] | None,
    sheet: pd.DataFrame | None,
) -> list[dict]:
    """Per resistant sample: the plain-language answer to 'what changed, what still works'."""
    par_entry = next((s for s in entries if s["sample"] == parental), None)
    failed = {q["sample"]: q for q in qc or [] if q.get("status") == "fail"}
    cards = []

    def parental_measured(f: dict) -> bool:
        """A failed parental's VAF (a few reads, often 0 of 1) is not a measurement: "–"."""
        return not (f.get("status") == "not assessable" and parental in failed)

    for s in entries:
        if s.get("condition") == "parental":
            continue
        name = s["sample"]
        mutations, shared, not_counted, lost = [], [], [], []
        for f in s.get("findings", []):
            if not is_small_variant(f):
                continue
            sc, pc = counts(f, "sample"), counts(f, "parental")
            status = f.get("status")
            parental_ok = parental_measured(f)
            if status == "not assessable" and name in failed:
                status = (
                    f"{'detected' if f.get('detected', True) else 'not detected'}; sample failed QC"
                )
            elif status == "not assessable":
                status = "detected; parental not assessable"
            item = {
                "label": finding_label(f),
                "hgvs_c": f.get("hgvs_c"),
                "status": status,
                "vaf": sc["vaf"],
                "alt_count": sc["alt_count"],
                "depth": sc["depth"],
                "low_support": bool(f.get("low_support")),
                "vaf_parental": pc["vaf"] if parental_ok else None,
                "ccf": cancer_cell_fraction(f, "sample"),
                "ccf_parental": cancer_cell_fraction(f, "parental") if parental_ok else None,
                "kind": finding_kind(f),
                "phase": _phase_text(f.get("phase")),
                "filter": f.get("filter"),
            }
            if _counts_towards(f) and f.get("status") == "shared":
                shared.append(item)
            elif _counts_towards(f):
                mutations.append(item)
            elif f.get("status") == "lost":
                lost.append(item)
            else:
                not_counted.append(item)
        cn_changes = cn_unknown = cn_assessed = cn_reason = None
        cn_reasons: list[str] = []
        if copy_number is not None:
            mine = [r for r in copy_number if r["sample"] == name]
            # every gene not assessable for one reason (the sample or its parental failed
            # QC, too few reads): say so once instead of "no change"
            reasons = {str(r.get("reason")) for r in mine if str(r.get("call")) == "not assessable"}
            if mine and len(reasons) == 1 and all(r.get("call") == "not assessable" for r in mine):
                cn_reason = reasons.pop()
            cn_changes = [r for r in mine if str(r.get("call")) in CN_CHANGED]
            cn_assessed = [
                r["gene"] for r in mine if str(r.get("call")) in (*CN_CHANGED, "neutral")
            ]
            unknown = [r for r in mine if str(r.get("call")) not in (*CN_CHANGED, "neutral")]
            cn_unknown = [r["gene"] for r in unknown]
            cn_reasons = list(
                dict.fromkeys(f"{r['gene']}: {r['reason']}" for r in unknown if r.get("reason"))
            )
        fusion = _fusion_summary(s, par_entry, fusions, parental)
        if fusion is not None and parental in failed:
            fusion["in_parental"] = None  # the parental cannot say either way
        cells = grid["cells"].get(name, {})
        alk_cells = {d: cells[d] for d in grid["driver"] if d in cells}
        by_prediction = {
            p: [d for d, c in alk_cells.items() if c["prediction"] == p] for p in PREDICTIONS
        }
        caveat_drugs = [d for d, c in alk_cells.items() if c["caveats"]]
        uncertain = uncertain_drugs(by_prediction, alk_cells)
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
        purity = {"sample": s.get("purity"), "parental": (par_entry or {}).get("purity")}
        cards.append(
            {
                "sample": name,
                "condition": s.get("condition"),
                # shown (with cancer-cell fractions) when either sample is not pure
                "purity": purity if any(p is not None and p < 1 for p in purity.values()) else None,
                "selected_with": selected_with,
                "notes": notes,
                "mutations": mutations,
                "shared": shared,
                "not_counted": not_counted,
                "lost": lost,
                "n_vus": len([v for v in s.get("vus", []) if is_small_variant(v)]),
                "activating": [
                    {
                        "label": finding_label(f),
                        "status": f.get("status"),
                        "vaf": counts(f, "sample")["vaf"],
                        "vaf_parental": (
                            counts(f, "parental")["vaf"] if parental_measured(f) else None
                        ),
                        "description": (f.get("driver") or {}).get("description"),
                    }
                    for f in s.get("activating", [])
                    if _counts_towards(f)
                ],
                "copy_number": cn_changes,
                "copy_number_not_estimable": cn_unknown,
                "copy_number_assessed": cn_assessed,
                "copy_number_reasons": cn_reasons,
                "copy_number_not_assessable": cn_reason,
                "qc_failed": [
                    {
                        "sample": q,
                        "role": "parental" if q == parental else "this sample",
                        "reasons": failed[q].get("reasons", []),
                    }
                    for q in (parental, name)
                    if q in failed
                ],
                "fusion": fusion,
                "uncovered_hotspots": (
                    hotspots["uncovered"].get(name, []) if hotspots is not None else None
                ),
                "qc_warnings": warnings,
                "expected_to_work": by_prediction["sensitive"],
                "reduced_sensitivity": by_prediction["reduced sensitivity"],
                "resistance_expected": by_prediction["resistant"],
                "no_data": by_prediction["no data"],
                "unverified_drugs": [d for d, c in alk_cells.items() if c["unverified"]],
                "caveat_drugs": caveat_drugs,
                # the headline's "Uncertain: ..." (the cohort index lists them apart too)
                "uncertain_drugs": list(uncertain),
                "caveats": [
                    {
                        "drug": d,
                        "prediction": c["prediction"],
                        "words": c["words"],
                        "short": "; ".join(f["short"] for f in c["caveats"]),
                        "text": "; ".join(f["text"] for f in c["caveats"]),
                        "positions": [p["label"] for p in c["not_assessed_positions"]],
                        "signal_positions": [
                            {"label": p["label"], "words": signal_words(p["depth"], p["signal"])}
                            for p in c["signal_positions"]
                        ],
                    }
                    for d, c in cells.items()
                    if c["caveats"] and (d in grid["driver"] or c["prediction"] == "sensitive")
                ],
                "other_options": [
                    {"drug": d, "unverified": c["unverified"], "caveat": bool(c["caveats"])}
                    for d, c in cells.items()
                    if d not in grid["driver"] and c["prediction"] == "sensitive"
                ],
                "scan": _scan_statement(s),
                "phenotype_drugs": _with_basis(alk_cells, "phenotype"),
                "genotype_drugs": _with_basis(alk_cells, "genotype"),
                "headline": _headline(by_prediction, set(caveat_drugs), alk_cells, uncertain),
            }
        )
    return cards


def _fusion_summary(
    entry: dict, par_entry: dict | None, fusions: list[dict] | None, parental: str | None
) -> dict | None:
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
                details.append(
                    f"{_fusion_label(r)} candidate below the calling threshold "
                    f"({json_safe(r.get('fragments'))} fragments)"
                )
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
    return {
        "state": "detected",
        "labels": sorted({finding_label(f) for f in mine}),
        "in_parental": bool(par) if par_entry else None,
        "detail": None,
    }


def _fusion_label(r: dict) -> str:
    name = str(r.get("variant") or "")
    pair = f"{r.get('gene_5p') or 'unknown partner'}-{r.get('gene_3p')}"
    if not name or name in ("None", "nan", "."):
        return pair
    return name if name.startswith(pair) else f"{pair} {name}"


def _scan_statement(sample: dict) -> str | None:
    """Annotate's statement of what the ALK hotspot scan excluded (any drug carries it)."""
    for entry in (sample.get("drugs") or {}).values():
        scan = entry.get("scan") if isinstance(entry, dict) else None
        if scan and scan.get("limit") is not None and scan.get("n_codons"):
            return (
                f"No on-target resistance change ≥ {100 * scan['limit']:.1f}% at "
                f"{scan['n_clear']} of {scan['n_codons']} known {scan['gene']} codons"
            )
    return None


def _flag_texts(cells: dict, drugs: list[str], kind: str) -> dict[str, str]:
    """drug -> the text of its cell's ``kind`` flag, for those of ``drugs`` that carry one."""
    out = {}
    for d in drugs:
        flag = next((f for f in cells.get(d, {}).get("caveats", []) if f["kind"] == kind), None)
        if flag is not None:
            out[d] = flag["text"]
    return out


def uncertain_drugs(by: dict[str, list[str]], cells: dict) -> dict[str, str]:
    """drug -> why, for the drugs expected to work but for a filtered signal at one of their
    resistance codons: neither confirmed to work nor resistant."""
    return _flag_texts(cells, by["sensitive"], "filtered_signal")


def still_expected(drugs: list[str], uncertain: Iterable[str]) -> list[str]:
    """``drugs`` (expected to work) less the uncertain ones: what the headline and the cohort
    index say still works."""
    doubtful = set(uncertain)
    return [d for d in drugs if d not in doubtful]


def _with_basis(cells: dict, basis: str) -> list[str]:
    """Drugs whose prediction rests on ``basis`` (phenotype, genotype, evidence)."""
    return [d for d, c in cells.items() if c.get("basis") == basis]


def _headline(
    by: dict[str, list[str]],
    caveated: set[str] | frozenset = frozenset(),
    cells: dict | None = None,
    uncertain: dict[str, str] | None = None,
) -> str:
    """One sentence; a drug whose prediction could change is marked "(with caveats)". A drug
    expected to work but for a filtered signal at one of its resistance codons is "uncertain"
    (``uncertain``: :func:`uncertain_drugs`, as the card has it), and a resistance resting only
    on low-support calls says so."""
    if by["not assessable"] and not any(by[p] for p in PREDICTIONS if p != "not assessable"):
        return "Not assessable: the sample failed QC, so no drug prediction can be made."

    def names(drugs: list[str]) -> str:
        return ", ".join(f"{d} (with caveats)" if d in caveated else d for d in drugs)

    cells = cells or {}
    if uncertain is None:
        uncertain = uncertain_drugs(by, cells)

    def uncertain_sentence() -> str:
        why = "; ".join(dict.fromkeys(uncertain.values()))
        return f" Uncertain: {', '.join(uncertain)}, as {why}."

    phenotype = _with_basis(cells, "phenotype")
    genotype = _with_basis(cells, "genotype")
    if genotype:
        # a filtered signal at a resistance codon of a genotype-based drug: that drug is
        # uncertain here too (the scan excluded the clear codons, not this one)
        retain = still_expected(genotype, uncertain)
        found = "No confirmed resistance mechanism" if uncertain else "No resistance mechanism"
        text = f"{found} found; ALK-independent resistance not excluded."
        if retain:
            text += " Expected to retain activity (genotype-based): " + ", ".join(retain) + "."
        if uncertain:
            text += uncertain_sentence()
        if phenotype:
            text += " " + ", ".join(phenotype) + ": resistant phenotype; mechanism not found."
        return text
    weak = _flag_texts(cells, by["resistant"] + by["reduced sensitivity"], "low_support")
    works = still_expected(by["sensitive"], uncertain)
    if works:
        text = "Still expected to work: " + names(works) + "."
    elif by["reduced sensitivity"]:
        text = (
            "No ALK inhibitor is clearly expected to work; reduced sensitivity to "
            + names(by["reduced sensitivity"])
            + "."
        )
    elif uncertain:
        text = "No ALK inhibitor is confirmed to work."
    elif by["resistant"] and not by["no data"] and not by["not assessable"]:
        text = "Resistance expected to all five ALK inhibitors in the table."
    elif by["resistant"] and by["not assessable"]:
        text = (
            "Resistance expected to "
            + names(by["resistant"])
            + "; not assessable: "
            + ", ".join(by["not assessable"])
            + "."
        )
    else:
        text = "No ALK inhibitor has evidence that it still works."
    if uncertain:
        text += uncertain_sentence()
    if weak:
        why = "; ".join(dict.fromkeys(weak.values()))
        text += f" Resistance to {', '.join(weak)}: {why}."
    return text


def _package_versions() -> dict[str, str]:
    out = {"resistcall": __version__}
    for name in (
        "pysam",
        "cyvcf2",
        "pandas",
        "numpy",
        "scipy",
        "pyranges",
        "matplotlib",
        "jinja2",
        "snakemake",
    ):
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


def panel_of_normals(config: dict | None) -> str | None:
    """What the run's panel of normals was (config ``pon``, from the run metadata), for the
    methods: a panel changes calls (an artefact site's noise, the pon_variant filter), so the
    report says one was used. File names only: the config may hold absolute paths."""
    pon = (config or {}).get("pon") or {}
    normals, built = pon.get("normals"), pon.get("file")
    if isinstance(normals, list) and normals:
        n = len(normals)
        return f"{n} unrelated sample{'s' if n > 1 else ''} (pon.normals)"
    if normals:
        return f"the unrelated samples of {Path(str(normals)).name} (pon.normals)"
    if built:
        return f"{Path(str(built)).name}, built earlier (pon.file)"
    return None


def _assay_from_qc(qc: list[dict] | None) -> str | None:
    """The assay the QC stage ran with (qc.json ``assay``), when all samples agree."""
    assays = {q.get("assay") for q in qc or [] if q.get("assay")}
    return assays.pop() if len(assays) == 1 else None


def build_report(
    hits: dict,
    *,
    cnv: pd.DataFrame | None = None,
    cnv_targets: pd.DataFrame | None = None,
    hotspots: pd.DataFrame | None = None,
    fusions: pd.DataFrame | None = None,
    identity: pd.DataFrame | None = None,
    scope: pd.DataFrame | None = None,
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
    resistant = [
        s["sample"] for s in entries if s.get("condition") != "parental" and s["sample"] != parental
    ]
    samples = ([parental] if parental else []) + [s for s in resistant if s != parental]
    if sheet is not None:
        in_sheet = sheet[(sheet["line"] == line) & (sheet["condition"] == "resistant")]
        missing = [s for s in in_sheet["sample"] if s not in resistant]
        if missing:
            log.warning("resistant sample(s) in the sheet have no results: %s", missing)
    else:
        missing = []
    grid = build_drug_grid(
        [s for s in entries if s["sample"] in resistant],
        hits["drug_groups"],
        _selected_with(sheet),
    )
    apply_phenotype(grid, sheet)
    copy_number = build_copy_number(cnv, resistant)
    fusion_rows = build_fusions(fusions, samples)
    hot = build_hotspots(hotspots, samples, entries, max_detection_limit(meta.get("config")))
    qc_rows = build_qc(qc, samples)
    summary = build_summary(entries, parental, grid, copy_number, fusion_rows, hot, qc_rows, sheet)
    ident = build_identity(identity, resistant)
    exon_scope = build_scope(scope, samples)
    for card in summary:
        card["identity"] = (ident or {}).get(card["sample"])
        card["alk_scope"] = (exon_scope or {}).get(card["sample"], {}).get("ALK")
        card["bypass_unread"] = unread_genes(exon_scope, card["sample"], BYPASS_GENES)
        card["not_assessable"] = not_assessable_items(card)
    knowledge = hits.get("knowledge") or {}
    tool_versions = {**_package_versions(), **(programs or {}), **(meta.get("tool_versions") or {})}
    if vcf_header.get("source"):
        tool_versions.setdefault("variant caller (VCF ##source)", vcf_header["source"])
    stages = {
        "annotation": "ok",
        "small variants (VCF)": "ok" if vcf is not None else "not run",
        "copy number": "ok" if cnv is not None else "not run",
        "copy number per target": "ok" if cnv_targets is not None else "not run",
        "hotspot coverage": "ok" if hotspots is not None else "not run",
        "fusions": "ok" if fusions is not None else "not run",
        "sample identity": "ok" if identity is not None else "not run",
        "exon coverage scope": "ok" if scope is not None else "not run",
        "QC": "ok" if qc is not None else "not run",
    }
    return {
        "schema": REPORT_SCHEMA,
        "line": line,
        "parental": parental,
        "resistant_samples": resistant,
        "samples_without_results": missing,
        "run": {
            "date": run_date(meta, date),
            "resistcall_version": meta.get("resistcall_version") or __version__,
            "reference_build": meta.get("reference_build") or BUILD,
            "reference": vcf_header.get("reference") or meta.get("reference"),
            "assay": meta.get("assay") or _assay_from_qc(qc),
            "tool_versions": dict(sorted(tool_versions.items())),
            "config": meta.get("config"),
            "panel_of_normals": panel_of_normals(meta.get("config")),
            "transcripts": meta.get("transcripts") or [],
        },
        "knowledge": knowledge,
        "inputs": inputs or {},
        "stages": stages,
        "summary": summary,
        "drug_grid": grid,
        "variants": build_variant_rows(entries, vcf_df, parental, samples, "findings"),
        "vus": build_variant_rows(entries, vcf_df, parental, samples, "vus"),
        "activating": build_variant_rows(entries, vcf_df, parental, samples, "activating"),
        "other_variants": build_variant_rows(entries, vcf_df, parental, samples, "other"),
        "copy_number": copy_number,
        "gc_trends": build_gc_trends(cnv, resistant),
        "fusions": fusion_rows,
        "hotspots": hot,
        "qc": qc_rows,
        "identity": ident,
        "scope": exon_scope,
        "bypass_genes": list(BYPASS_GENES),
        "vaf_points": build_vaf_points(vcf_df, entries, parental, resistant),
        "research_use_only": RUO_STATEMENT,
    }
