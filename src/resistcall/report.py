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
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from resistcall.contracts import REPORT_READS, REPORT_SCHEMA, check_schema, filter_words
from resistcall.errors import UserError
from resistcall.outputs import write_text, write_texts
from resistcall.report_inputs import (
    bam_program_versions,
    input_record,
    load_cnv,
    load_fusions,
    load_hits,
    load_hotspots,
    load_identity,
    load_qc,
    load_samples_sheet,
    load_scope,
    load_table,
    load_vcf,
    read_json,
)
from resistcall.report_model import (
    RUO_STATEMENT,
    build_report,
    depth_words,
    exon_words,
    fmt_num,
    json_safe,
    signal_words,
    still_expected,
)

log = logging.getLogger(__name__)

#: Short words for the compact grid (the long words are in the evidence table and a tooltip).
SHORT_WORDS = {
    "resistant": "Resistant",
    "reduced sensitivity": "Reduced",
    "sensitive": "Sensitive",
    "no data": "No data",
    "not assessable": "Not assessable",
}
#: A symbol next to each word so the prediction never rests on colour alone.
ICONS = {
    "resistant": "✗ ",
    "reduced sensitivity": "◐ ",
    "sensitive": "✓ ",
    "no data": "? ",
    "not assessable": "⚠ ",
}


def _fmt_pct(v: Any) -> str:
    v = json_safe(v)
    if v is None:
        return "–"
    return f"{100 * float(v):.1f}%"


def _caveat_text(v: Any) -> str:
    """The annotator's caveat sentence in a clinician's words (the JSON keeps it verbatim)."""
    text = (
        str(v)
        .rstrip(".")
        .replace(
            "not assessable (not covered)", "not covered (no reads or detection limit too high)"
        )
    )
    return text[:1].upper() + text[1:]


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("resistcall", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = _fmt_pct
    env.filters["num"] = fmt_num
    env.filters["exons"] = exon_words
    # numbers and fixed words only (each count goes through float()): kept as text, so "the
    # call's base" reads the same in the HTML source as on the page
    env.filters["depth_words"] = lambda depth, reads=None: Markup(depth_words(depth, reads))
    env.filters["signal_words"] = lambda depth, reads: Markup(signal_words(depth, reads))
    env.filters["words"] = lambda v: "–" if v is None else str(v).replace("_", " ")
    env.filters["caveat_text"] = _caveat_text
    env.filters["filter_words"] = filter_words
    env.filters["slug"] = lambda v: re.sub(r"[^a-z0-9]+", "-", str(v).lower()).strip("-")
    return env


def render_html(model: dict, figures: dict[str, str | None]) -> str:
    return (
        _env()
        .get_template("report.html.j2")
        .render(r=model, fig=figures, icons=ICONS, short=SHORT_WORDS)
    )


def render_index(entries: list[dict], date: str, multiqc: str | None = None) -> str:
    """The cohort index; ``multiqc``: link (relative to the index) to the run's MultiQC report."""
    return (
        _env()
        .get_template("index.html.j2")
        .render(entries=entries, date=date, ruo=RUO_STATEMENT, multiqc=multiqc)
    )


def make_figures(model: dict, cnv_targets: pd.DataFrame | None) -> dict[str, str | None]:
    from resistcall import figures  # matplotlib import is slow: only when rendering

    out: dict[str, str | None] = {"cnv": None, "vaf": None, "depth": None}
    if model["copy_number"] is not None:
        out["cnv"] = figures.copy_number_svg(
            model["copy_number"], cnv_targets, model["resistant_samples"]
        )
    if model["vaf_points"]:
        out["vaf"] = figures.vaf_svg(
            model["vaf_points"], model["parental"], model["resistant_samples"]
        )
    if model["qc"]:
        out["depth"] = figures.depth_svg(model["qc"])
    return out


@dataclass(frozen=True)
class ReportInputs:
    """The stage outputs a report reads; only ``hits`` is required (others show as 'not run')."""

    hits: Path
    vcf: Path | None = None
    cnv: Path | None = None
    cnv_targets: Path | None = None
    hotspots: Path | None = None
    fusions: Path | None = None
    identity: Path | None = None
    scope: Path | None = None
    samples: Path | None = None
    run_metadata: Path | None = None
    qc: list[Path] = field(default_factory=list)
    bams: list[Path] = field(default_factory=list)

    def records(self) -> dict[str, dict]:
        """Provenance of every input for report.json (BAMs: header only, not hashed)."""
        named = ("hits", "vcf", "cnv", "cnv_targets", "hotspots", "fusions", "identity")
        out = {name: input_record(getattr(self, name)) for name in (*named, "scope", "samples")}
        out.update({f"qc[{i}]": input_record(q) for i, q in enumerate(self.qc)})
        for i, bam in enumerate(self.bams):
            out[f"bam[{i}]"] = {"path": str(bam), "status": "header read"}
        return out


def write_report(
    inputs: ReportInputs,
    out: Path,
    json_out: Path | None = None,
    line: str | None = None,
    run_date: str | None = None,
) -> dict:
    """Build the report model from the stage outputs; write report.html (+ report.json)."""
    hits = load_hits(inputs.hits)
    meta = (
        {} if inputs.run_metadata is None else read_json(inputs.run_metadata, "run metadata file")
    )
    if line and hits["line"] != line:
        raise UserError(f"{inputs.hits}: line is {hits['line']!r}, but --line {line} was asked")
    cnv_targets = load_table(
        inputs.cnv_targets, REPORT_READS["cnv_targets"], "per-target copy number"
    )
    model = build_report(
        hits,
        cnv=load_cnv(inputs.cnv),
        cnv_targets=cnv_targets,
        hotspots=load_hotspots(inputs.hotspots),
        fusions=load_fusions(inputs.fusions),
        identity=load_identity(inputs.identity),
        scope=load_scope(inputs.scope),
        qc=load_qc(inputs.qc or None),
        vcf=load_vcf(inputs.vcf),
        sheet=load_samples_sheet(inputs.samples),
        meta=meta,
        inputs=inputs.records(),
        date=run_date,
        programs=bam_program_versions(inputs.bams or None),
    )
    if cnv_targets is not None:
        cnv_targets = cnv_targets[cnv_targets["sample"].isin(model["resistant_samples"])]
    figs = make_figures(model, cnv_targets)
    model["html"] = out.name
    text = render_html(model, figs)
    pairs = [(out, text)]
    if json_out is not None:
        pairs.append((json_out, json.dumps(model, indent=1, allow_nan=False) + "\n"))
    write_texts(pairs)
    log.info("wrote %s%s", out, f" and {json_out}" if json_out else "")
    return model


def _cmd_report(args: argparse.Namespace) -> dict:
    inputs = ReportInputs(
        hits=args.hits,
        vcf=args.vcf,
        cnv=args.cnv,
        cnv_targets=args.cnv_targets,
        hotspots=args.hotspots,
        fusions=args.fusions,
        identity=args.identity,
        scope=args.scope,
        samples=args.samples,
        run_metadata=args.run_metadata,
        qc=list(args.qc or []),
        bams=list(args.bam or []),
    )
    return write_report(inputs, args.out, args.json, args.line, args.run_date)


def index_entry(report_json: Path, out_dir: Path) -> dict:
    r = read_json(report_json, "report JSON")
    check_schema(r, REPORT_SCHEMA, report_json)
    html_path = report_json.parent / r.get("html", "report.html")
    href = Path(os.path.relpath(html_path.resolve(), out_dir.resolve())).as_posix()
    return {
        "line": r["line"],
        "parental": r["parental"],
        "href": href,
        "run_date": r["run"]["date"],
        "samples": [
            {
                "sample": c["sample"],
                "selected_with": c.get("selected_with"),
                "changes": [m["label"] for m in c["mutations"]]
                + [f"{x['gene']} {x['call']}" for x in (c.get("copy_number") or [])],
                # a drug the card calls "uncertain" (a filtered signal at one of its
                # resistance codons) is not listed as still expected to work
                "expected_to_work": still_expected(
                    c["expected_to_work"], c.get("uncertain_drugs") or []
                ),
                "uncertain": c.get("uncertain_drugs") or [],
                "caveat_drugs": c.get("caveat_drugs") or [],
                "n_uncovered": (
                    None if c.get("uncovered_hotspots") is None else len(c["uncovered_hotspots"])
                ),
                # of those, the codons whose reads carry a change below the filters: not
                # "not covered" (an older report.json has no ``reads``: none counted)
                "n_signal": sum(1 for u in c.get("uncovered_hotspots") or [] if u.get("reads")),
                "n_warnings": len(c.get("qc_warnings") or []),
                # a sample that failed QC: nothing was looked for, so "none found" and "none of
                # the five ALK inhibitors" would be read as findings
                "failed_qc": any(q.get("role") == "this sample" for q in c.get("qc_failed") or []),
            }
            for c in r["summary"]
        ],
    }


def write_index(reports: list[Path], out: Path, multiqc: Path | None = None) -> list[dict]:
    """The cohort index page linking every line's report (and the run's MultiQC report)."""
    entries = [index_entry(p, out.parent) for p in reports]
    entries.sort(key=lambda e: e["line"])
    dates = sorted({e["run_date"] for e in entries})
    link = None
    if multiqc is not None:
        if not multiqc.is_file():
            raise UserError(f"MultiQC report not found: {multiqc}")
        link = Path(os.path.relpath(multiqc.resolve(), out.parent.resolve())).as_posix()
    write_text(out, render_index(entries, ", ".join(dates), link))
    return entries


def _cmd_report_index(args: argparse.Namespace) -> list[dict]:
    return write_index(args.reports, args.out, args.multiqc)


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
    p.add_argument("--identity", type=Path, help="identity.tsv (sample identity vs parental)")
    p.add_argument("--scope", type=Path, help="exon_scope.tsv (exons covered per gene)")
    p.add_argument(
        "--qc",
        type=Path,
        nargs="+",
        help="results/qc/<sample>.qc.json (any number; samples of other lines are ignored)",
    )
    p.add_argument("--samples", type=Path, help="sample sheet (selection drug and notes)")
    p.add_argument(
        "--bam",
        type=Path,
        nargs="+",
        help="the line's BAMs: only their header is "
        "read, for the versions of the programs that wrote them (@PG)",
    )
    p.add_argument(
        "--run-metadata",
        "--config-json",
        dest="run_metadata",
        type=Path,
        help="JSON with run_date, tool_versions, reference_build, assay, config",
    )
    p.add_argument(
        "--run-date",
        help="run date shown in the report (default: run metadata, "
        "then SOURCE_DATE_EPOCH, then now in UTC)",
    )
    p.add_argument("--out", type=Path, required=True, help="report.html")
    p.add_argument("--json", type=Path, help="report.json (same content, for LIMS import)")
    p.set_defaults(func=_cmd_report)

    q = subparsers.add_parser(
        "report-index",
        help="cohort index page linking each line's report",
        description="Write an index page linking every line's report.html, from report.json "
        "files (each next to its report.html).",
    )
    q.add_argument("--reports", type=Path, nargs="+", required=True, help="report.json files")
    q.add_argument("--multiqc", type=Path, help="the run's MultiQC report, linked from the index")
    q.add_argument("--out", type=Path, required=True, help="index.html")
    q.set_defaults(func=_cmd_report_index)
