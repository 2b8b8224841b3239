"""Run metadata for the report: configuration, assay, build and run date.

This is the only place wall-clock time enters an output; every other file is a pure function
of its inputs. Versions of bwa and samtools come from the BAMs' @PG lines (what actually ran),
read by the report itself.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import yaml

from resistcall import __version__, options
from resistcall.errors import UserError
from resistcall.outputs import write_text


def run_metadata(
    config: dict, run_date: str | None = None, transcripts: list[dict] | None = None
) -> dict:
    date = (
        run_date
        or os.environ.get("RESISTCALL_RUN_DATE")
        or datetime.now(UTC).isoformat(timespec="seconds")
    )
    # config.yaml carries only changed options; the record holds every value the stages used,
    # beside a section's keys that are not options (pon.normals, pon.file: which panel it was).
    stages = {
        s: {**(config.get(s) or {}), **options.effective(s, config.get(s) or {})}
        for s in options.SECTIONS
    }
    return {
        "run_date": date,
        "reference_build": config.get("reference", {}).get("build", "GRCh38"),
        "assay": config.get("panel", {}).get("assay"),
        "tool_versions": {"resistcall": __version__},
        "config": {**config, **stages},
        # transcript per gene and why (rule annotation, docs/reference.md): report methods
        "transcripts": transcripts or [],
    }


def merge_configs(configs: list[dict]) -> dict:
    """Later config files override earlier ones key by key, as Snakemake's --configfile does."""
    merged: dict = {}
    for config in configs:
        for key, value in config.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = merge_configs([merged[key], value])
            else:
                merged[key] = value
    return merged


def _cmd_runinfo(args: argparse.Namespace) -> None:
    configs = []
    for path in args.config:
        if not path.exists():
            raise UserError(f"config file not found: {path}")
        configs.append(yaml.safe_load(path.read_text()) or {})
    config = merge_configs(configs)
    transcripts = None
    if args.transcripts:
        table = pd.read_csv(args.transcripts, sep="\t", dtype=str, keep_default_na=False)
        transcripts = table.to_dict(orient="records")
    meta = run_metadata(config, args.run_date, transcripts)
    write_text(args.out, json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("runinfo", help="run metadata (config, versions, date) as JSON")
    p.add_argument(
        "--config",
        type=Path,
        nargs="+",
        required=True,
        help="the run's config file(s); later ones override earlier ones",
    )
    p.add_argument("--run-date", help="date to record (default: now, UTC)")
    p.add_argument("--transcripts", type=Path, help="transcript choice (rule annotation)")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_cmd_runinfo)
