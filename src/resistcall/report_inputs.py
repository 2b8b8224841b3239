"""Inputs of the clinician report: read and check each stage's file at the edge.

Each loader returns ``None`` when its stage was not run (no path given) and raises ``UserError``
naming the file, row and column when a file breaks its contract (docs/architecture.md).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from resistcall.contracts import (
    CN_CALL,
    FUSION_CALL,
    HITS_SCHEMA,
    HOTSPOT_VERDICT,
    IDENTITY_COLUMNS,
    IDENTITY_VERDICT,
    QC_KEYS,
    REPORT_READS,
    SCOPE_COLUMNS,
    SCOPE_STATUS,
    check_schema,
    check_verdicts,
)
from resistcall.errors import UserError


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json(path: Path, what: str) -> dict:
    """A JSON input, or one clear error naming the file."""
    if not path.exists():
        raise UserError(f"{what} not found: {path}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON: {exc}") from exc


def load_hits(path: Path) -> dict:
    """hits.json of ``resistcall annotate`` (docs/annotate.md), checked against its schema."""
    hits = read_json(path, "hits file")
    check_schema(hits, HITS_SCHEMA, path)
    for key in ("line", "parental", "drug_groups", "samples"):
        if key not in hits:
            raise UserError(f"{path}: missing top-level key {key!r}")
    if not isinstance(hits["samples"], list):
        raise UserError(f"{path}: 'samples' must be a list")
    for i, s in enumerate(hits["samples"], start=1):
        if "sample" not in s:
            raise UserError(f"{path}: samples[{i}] has no 'sample' name")
        for key, kind in SAMPLE_KEYS.items():
            if not isinstance(s.get(key), kind):
                raise UserError(
                    f"{path}: samples[{i}] ({s['sample']}): {key!r} must be a {kind.__name__}"
                )
    return hits


#: Keys of every sample of hits.json and their JSON types.
SAMPLE_KEYS = {"condition": str, "findings": list, "vus": list, "other": list, "drugs": dict}


def load_table(path: Path | None, required: tuple[str, ...], what: str) -> pd.DataFrame | None:
    """Read a TSV contract; None when the stage was not run (path not given)."""
    if path is None:
        return None
    if not path.exists():
        raise UserError(f"{what} file not found: {path}")
    try:
        # "." is the producers' empty cell (fusions.tsv); "NA" the copy-number one.
        df = pd.read_csv(path, sep="\t", na_values=["NA", "nan", "", "."], keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read as a tab-separated table: {exc}") from exc
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)} ({what})")
    return df


def load_cnv(path: Path | None) -> pd.DataFrame | None:
    df = load_table(path, REPORT_READS["cnv"], "copy number")
    if df is not None:
        check_verdicts(df, "call", CN_CALL, path)
    return df


def gc_trends(genes: pd.DataFrame) -> dict[str, float | None]:
    """Per sample, the GC trend left after correction (cnv.tsv ``gc_residual_slope``, one value
    per sample; None without GC, i.e. a run without a reference). Shared by the report and
    the MultiQC content."""
    slope = pd.to_numeric(genes["gc_residual_slope"], errors="coerce")
    first = slope.groupby(genes["sample"], sort=False).first()
    return {str(k): None if pd.isna(v) else round(float(v), 4) for k, v in first.items()}


def load_fusions(path: Path | None) -> pd.DataFrame | None:
    df = load_table(path, REPORT_READS["fusions"], "fusions")
    if df is not None:
        check_verdicts(df, "call", FUSION_CALL, path)
    return df


def load_identity(path: Path | None) -> pd.DataFrame | None:
    """identity.tsv (``resistcall identity``): one row per resistant sample vs its parental."""
    df = load_table(path, IDENTITY_COLUMNS, "sample identity")
    if df is not None:
        check_verdicts(df, "verdict", IDENTITY_VERDICT, path)
    return df


def load_scope(path: Path | None) -> pd.DataFrame | None:
    """exon_scope.tsv (``resistcall scope``): exon coverage per sample and gene."""
    df = load_table(path, SCOPE_COLUMNS, "exon coverage scope")
    if df is not None:
        check_verdicts(df, "status", SCOPE_STATUS, path)
    return df


def load_hotspots(path: Path | None) -> pd.DataFrame | None:
    df = load_table(path, REPORT_READS["hotspots"], "hotspots")
    if df is None:
        return None
    check_verdicts(df, "verdict", HOTSPOT_VERDICT, path)
    return df


def load_qc(paths: list[Path] | None) -> list[dict] | None:
    if not paths:
        return None
    out = []
    for path in paths:
        qc = read_json(path, "QC file")
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
    # an all-empty column (no drug given) reads as float NaN: object first, then "" (pandas 4
    # refuses a string fill value on a float column)
    return None if df is None else df.astype(object).fillna("")


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
    declared = {h["ID"] for h in vcf.header_iter() if h["HeaderType"] == "FORMAT"}
    has_ad, has_dp = "AD" in declared, "DP" in declared
    rows = []
    for rec in vcf:
        ad = rec.format("AD") if has_ad else None
        dp = rec.format("DP") if has_dp else None
        for i, sample in enumerate(vcf.samples):
            alt = int(ad[i][1]) if ad is not None and ad.shape[1] > 1 and ad[i][1] >= 0 else None
            depth = int(dp[i][0]) if dp is not None and dp[i][0] >= 0 else None
            if depth is None and ad is not None:
                depth = int(sum(x for x in ad[i] if x >= 0))
            rows.append(
                {
                    "chrom": rec.CHROM,
                    "pos": int(rec.POS),
                    "ref": rec.REF,
                    "alt": ",".join(rec.ALT),
                    "filter": rec.FILTER or "PASS",
                    "status": rec.INFO.get("STATUS"),
                    "sample": sample,
                    "alt_count": alt,
                    "depth": depth,
                    "vaf": (alt / depth) if alt is not None and depth else None,
                }
            )
    vcf.close()
    columns = [
        "chrom",
        "pos",
        "ref",
        "alt",
        "filter",
        "status",
        "sample",
        "alt_count",
        "depth",
        "vaf",
    ]
    return pd.DataFrame(rows, columns=columns), header


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


def input_record(path: Path | None) -> dict:
    if path is None:
        return {"path": None, "status": "not given"}
    return {"path": str(path), "sha256": _sha256(path), "status": "used"}
