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

import yaml

from resistcall import __version__
from resistcall.errors import UserError


def run_metadata(config: dict, run_date: str | None = None) -> dict:
    date = run_date or os.environ.get("RESISTCALL_RUN_DATE") or datetime.now(UTC).isoformat(
        timespec="seconds"
    )
    return {
        "run_date": date,
        "reference_build": config.get("reference", {}).get("build", "GRCh38"),
        "assay": config.get("panel", {}).get("assay"),
        "tool_versions": {"resistcall": __version__},
        "config": config,
    }


def _cmd(args: argparse.Namespace) -> None:
    if not args.config.exists():
        raise UserError(f"config file not found: {args.config}")
    config = yaml.safe_load(args.config.read_text()) or {}
    meta = run_metadata(config, args.run_date)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, args.out)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("runinfo", help="run metadata (config, versions, date) as JSON")
    p.add_argument("--config", type=Path, required=True, help="the run's config.yaml")
    p.add_argument("--run-date", help="date to record (default: now, UTC)")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_cmd)
