"""resistcall's own sections of the run's MultiQC report (``resistcall multiqc-content``).

MultiQC reads samtools stats/markdup itself; what only resistcall knows (panel coverage,
hotspot assessability, copy-number noise, fusion support) is written as MultiQC custom content:
one ``*_mqc.json`` table per topic, grouped under a "resistcall" heading, keyed by the sample
names samtools' files carry. Every number is defined in docs/qc.md ("MultiQC report").
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from resistcall import contracts
from resistcall.contracts import NOT_ASSESSABLE
from resistcall.errors import UserError
from resistcall.outputs import write_texts
from resistcall.report_inputs import gc_trends, load_qc, load_table

log = logging.getLogger(__name__)

PARENT = {
    "parent_id": "resistcall",
    "parent_name": "resistcall",
    "parent_description": "Panel-specific QC computed by resistcall (docs/qc.md).",
}
PERCENT = {"suffix": "%", "min": 0, "max": 100, "format": "{:,.1f}"}
#: fewest used targets for a copy-number spread (a MAD of fewer is not a spread)
MIN_SPREAD_TARGETS = 5


def _section(name: str, title: str, description: str, headers: dict, data: dict[str, dict]) -> dict:
    return {
        "id": f"resistcall_{name}",
        "section_name": title,
        "description": description,
        "plot_type": "table",
        "pconfig": {"id": f"resistcall_{name}_table", "title": f"resistcall: {title}"},
        **PARENT,
        "headers": headers,
        "data": data,
    }


def _number(value: object) -> float | None:
    """A finite float, or None (MultiQC shows an empty cell: never a made-up 0)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _text(value: object) -> str | None:
    """A table cell as text; the contracts' empty cell "." (or a missing one) as None."""
    return None if pd.isna(value) or value == "." else str(value)


def _percent(value: object) -> float | None:
    number = _number(value)
    return None if number is None else round(100 * number, 2)


def coverage_section(qc: list[dict]) -> dict:
    """Per sample, from qc.json: on-target fraction, target depth, targets at >= 100x."""
    data = {
        q["sample"]: {
            "on_target": _percent(q.get("on_target_fraction")),
            "median_target_depth": _number(q.get("median_target_depth")),
            "mean_target_depth": _number(q.get("mean_target_depth")),
            "targets_100x": _percent(q.get("fraction_targets_100x")),
        }
        for q in qc
    }
    headers = {
        "on_target": {
            "title": "On target",
            "description": "Unique (non-duplicate) mapped reads overlapping a panel target",
            **PERCENT,
        },
        "median_target_depth": {
            "title": "Median depth",
            "description": "Median over targets of the target's mean depth",
            "format": "{:,.0f}",
            "suffix": "x",
        },
        "mean_target_depth": {
            "title": "Mean depth",
            "description": "Mean over targets of the target's mean depth",
            "format": "{:,.0f}",
            "suffix": "x",
            "hidden": True,
        },
        "targets_100x": {
            "title": "Targets >= 100x",
            "description": "Targets whose mean depth is at least 100x",
            **PERCENT,
        },
    }
    return _section(
        "coverage",
        "Target coverage",
        "Panel coverage per sample (resistcall qc; docs/qc.md).",
        headers,
        data,
    )


def _verdict_key(verdict: str) -> str:
    return "verdict_" + verdict.replace(" ", "_")


def hotspot_section(hotspots: pd.DataFrame) -> dict:
    """Per sample: known-resistance positions by verdict, their depth and, where hotspots.tsv
    has it, the detection limit (smallest VAF the caller would have found there)."""
    hotspots = hotspots.assign(depth=pd.to_numeric(hotspots["depth"], errors="coerce"))
    has_limit = "detection_limit_vaf" in hotspots.columns
    if has_limit:
        limit = pd.to_numeric(hotspots["detection_limit_vaf"], errors="coerce")
        # a not-assessable position (failed sample) has no detection limit worth showing
        limit = limit.where(hotspots["verdict"] != NOT_ASSESSABLE)
        hotspots = hotspots.assign(detection_limit_vaf=limit)
    verdicts = list(dict.fromkeys(hotspots["verdict"]))
    data = {}
    for sample, rows in hotspots.groupby("sample", sort=False):
        counts = rows["verdict"].value_counts()
        row: dict[str, Any] = {"positions": len(rows)}
        row |= {_verdict_key(v): int(counts.get(v, 0)) for v in verdicts}
        row["min_depth"] = _number(rows["depth"].min())
        row["median_depth"] = _number(rows["depth"].median())
        if has_limit:
            row["median_detection_limit"] = _percent(rows["detection_limit_vaf"].median())
            row["max_detection_limit"] = _percent(rows["detection_limit_vaf"].max())
        data[str(sample)] = row
    headers: dict[str, dict[str, Any]] = {
        "positions": {"title": "Positions", "description": "Known-resistance positions assessed"}
    }
    for verdict in verdicts:
        headers[_verdict_key(verdict)] = {
            "title": verdict.capitalize(),
            "description": f"Positions with verdict '{verdict}' (hotspots.tsv)",
            "format": "{:,.0f}",
        }
    headers["min_depth"] = {
        "title": "Min depth",
        "description": "Lowest depth at a known-resistance position",
        "format": "{:,.0f}",
    }
    headers["median_depth"] = {
        "title": "Median depth",
        "description": "Median depth over known-resistance positions",
        "format": "{:,.0f}",
    }
    if has_limit:
        headers["median_detection_limit"] = {
            "title": "Median detection limit",
            "description": "Median over positions of the smallest VAF detected with 95% power",
            **PERCENT,
        }
        headers["max_detection_limit"] = {
            "title": "Worst detection limit",
            "description": "Largest per-position detection limit (VAF)",
            **PERCENT,
        }
    return _section(
        "hotspots",
        "Known-resistance positions",
        "Coverage verdict of every known-resistance position per sample (hotspots.tsv; "
        "docs/snv.md, 'Hotspot verdicts').",
        headers,
        data,
    )


def target_spread(targets: pd.DataFrame) -> pd.DataFrame:
    """Per sample: used targets and the robust SD (1.4826 x MAD) of each used target's log2
    ratio around its gene's median, i.e. the noise left once the genes' real levels are
    removed; None below ``MIN_SPREAD_TARGETS`` used targets."""
    used = targets[pd.to_numeric(targets["weight"], errors="coerce") > 0].copy()
    used["log2_ratio"] = pd.to_numeric(used["log2_ratio"], errors="coerce")
    used = used.dropna(subset=["log2_ratio"])
    used["resid"] = used["log2_ratio"] - used.groupby(["sample", "gene"])["log2_ratio"].transform(
        "median"
    )
    rows = []
    for sample in dict.fromkeys(targets["sample"]):
        resid = used.loc[used["sample"] == sample, "resid"].to_numpy()
        spread = (
            float(1.4826 * np.median(np.abs(resid - np.median(resid))))
            if len(resid) >= MIN_SPREAD_TARGETS
            else None
        )
        rows.append({"sample": sample, "used_targets": len(resid), "spread": spread})
    return pd.DataFrame(rows, columns=["sample", "used_targets", "spread"])


def cnv_section(targets: pd.DataFrame, genes: pd.DataFrame) -> dict:
    spread = target_spread(targets)
    trends = gc_trends(genes)
    data = {
        str(r.sample): {
            "used_targets": int(r.used_targets),
            "log2_spread": None if pd.isna(r.spread) else round(float(r.spread), 4),
            "gc_residual_slope": trends.get(str(r.sample)),
        }
        for r in spread.itertuples(index=False)
    }
    headers = {
        "used_targets": {
            "title": "Targets used",
            "description": "Targets with weight > 0 in the copy-number fit (cnv_targets.tsv)",
            "format": "{:,.0f}",
        },
        "log2_spread": {
            "title": "Target log2 spread",
            "description": "Robust SD (1.4826 x MAD) of target log2 ratios around their gene's "
            "median: copy-number noise (lower is better)",
            "format": "{:,.3f}",
        },
        "gc_residual_slope": {
            "title": "GC trend left",
            "description": "log2 ratio per 0.1 GC left after GC correction (cnv.tsv "
            "gc_residual_slope): near 0 when the correction worked",
            "format": "{:,.3f}",
        },
    }
    return _section(
        "cnv",
        "Copy-number QC",
        "Noise of the per-target copy-number ratios of each resistant sample vs its parental "
        "(cnv_targets.tsv) and the GC trend left after correction (cnv.tsv; docs/qc.md).",
        headers,
        data,
    )


def fusion_section(fusions: pd.DataFrame) -> dict:
    """Per sample: the strongest fusion row (a detected one with most fragments, else the
    sample's status row) with its call and support."""
    fusions = fusions.copy()
    fusions["fragments_n"] = pd.to_numeric(fusions["fragments"], errors="coerce").fillna(-1)
    fusions["detected"] = fusions["call"] == "detected"
    best = fusions.sort_values(["detected", "fragments_n"], ascending=False, kind="stable")
    data = {}
    for sample, rows in best.groupby("sample", sort=False):
        r = rows.iloc[0]
        partner = f"{r['gene_5p']}::{r['gene_3p']}" if r["detected"] else None
        # not assessable (failed sample, reads too short): 0 supporting reads and a detection
        # limit would read as "looked, found none"; empty = not measurable (docs/qc.md)
        measured = r["call"] != NOT_ASSESSABLE
        data[str(sample)] = {
            "call": r["call"],
            "fusion": partner,
            "variant": _text(r["variant"]),
            "fragments": _number(r["fragments"]) if measured else None,
            "split_reads": _number(r["split_reads"]) if measured else None,
            "discordant_pairs": _number(r["discordant_pairs"]) if measured else None,
            "region_depth": _number(r["region_depth"]),
            "detection_limit_af": _percent(r["detection_limit_af"]) if measured else None,
        }
    count = {"format": "{:,.0f}"}
    headers = {
        "call": {"title": "Call", "description": "detected, below threshold, not detected or "
                 "not assessable (fusions.tsv)"},
        "fusion": {"title": "Fusion", "description": "5' partner :: 3' partner"},
        "variant": {"title": "Variant", "description": "EML4-ALK variant (v1, v2, ...)"},
        "fragments": {"title": "Fragments", "description": "Distinct supporting fragments",
                      **count},
        "split_reads": {"title": "Split reads", "description": "Supporting split reads",
                        **count},
        "discordant_pairs": {"title": "Discordant pairs",
                             "description": "Supporting discordant pairs", **count},
        "region_depth": {"title": "Region depth",
                         "description": "Median depth over the breakpoint region", **count},
        "detection_limit_af": {"title": "Detection limit",
                               "description": "Fusion allele fraction detected with 95% "
                               "power, from the fragments spanning the breakpoint region",
                               **PERCENT},
    }  # fmt: skip
    return _section(
        "fusion",
        "Fusion support",
        "Fusion call and supporting reads per sample (fusions.tsv; docs/fusion.md).",
        headers,
        data,
    )


def _tables(paths: list[Path], required: tuple[str, ...], what: str) -> pd.DataFrame:
    frames = [load_table(p, required, what) for p in paths]
    return pd.concat(frames, ignore_index=True)


#: columns each input table must have (its file contract's, as far as a section reads them)
HOTSPOTS_REQUIRED = ("sample", "verdict", "depth")
CNV_TARGETS_REQUIRED = ("sample", "gene", "log2_ratio", "weight")
CNV_REQUIRED = ("sample", "gc_residual_slope")


def write_content(
    out_dir: str | Path,
    qc: list[Path],
    hotspots: list[Path],
    cnv_targets: list[Path],
    cnv: list[Path],
    fusions: list[Path],
) -> list[Path]:
    """Write one ``resistcall_<topic>_mqc.json`` per topic (all or none); return the paths."""
    out_dir = Path(out_dir)
    sections = {
        "coverage": coverage_section(load_qc(qc) or []),
        "hotspots": hotspot_section(_tables(hotspots, HOTSPOTS_REQUIRED, "hotspots table")),
        "cnv": cnv_section(
            _tables(cnv_targets, CNV_TARGETS_REQUIRED, "copy-number targets"),
            _tables(cnv, CNV_REQUIRED, "copy-number table"),
        ),
        "fusion": fusion_section(_tables(fusions, contracts.FUSION_COLUMNS, "fusion table")),
    }
    if not any(s["data"] for s in sections.values()):
        raise UserError("no samples in any input: nothing for MultiQC")
    pairs = [
        (out_dir / f"resistcall_{name}_mqc.json", json.dumps(section, indent=1) + "\n")
        for name, section in sections.items()
    ]
    write_texts(pairs)
    log.info("%d MultiQC sections in %s", len(pairs), out_dir)
    return [path for path, _ in pairs]


def _cmd_multiqc_content(args: argparse.Namespace) -> None:
    write_content(args.out_dir, args.qc, args.hotspots, args.cnv_targets, args.cnv, args.fusions)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "multiqc-content",
        help="resistcall's sections of the MultiQC report (*_mqc.json custom content)",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--qc", type=Path, nargs="+", required=True, help="qc.json of every sample")
    p.add_argument("--hotspots", type=Path, nargs="+", required=True, help="hotspots.tsv per line")
    p.add_argument(
        "--cnv-targets", type=Path, nargs="+", required=True, help="cnv_targets.tsv per line"
    )
    p.add_argument("--cnv", type=Path, nargs="+", required=True, help="cnv.tsv per line")
    p.add_argument("--fusions", type=Path, nargs="+", required=True, help="fusions.tsv per line")
    p.add_argument("--out-dir", type=Path, required=True, help="folder for the *_mqc.json files")
    p.set_defaults(func=_cmd_multiqc_content)
