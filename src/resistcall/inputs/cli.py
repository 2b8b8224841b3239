"""``resistcall validate`` and ``resistcall check-input``: parse arguments, call the library."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from resistcall.inputs.config import load_config
from resistcall.inputs.deep import InputError, check_input, check_unit
from resistcall.inputs.files import resolve, resolve_bundled, source_checkout
from resistcall.inputs.problems import Problem, SheetError
from resistcall.inputs.sheets import load_sheets
from resistcall.outputs import write_text

log = logging.getLogger(__name__)


def _cmd_validate(args: argparse.Namespace) -> None:
    config = resolve_bundled(load_config(args.config), Path(args.base_dir), source_checkout())
    if args.samples:
        config["samples"] = args.samples
    if args.units:
        config["units"] = args.units
    sheets = load_sheets(config, Path(args.base_dir), config_label=str(args.config))
    if args.deep:
        reference = resolve(Path(args.base_dir), config["reference"]["fasta"])
        failures = []
        for (sample, unit), row in sheets.units.iterrows():
            try:
                summary = check_unit(row["fq1"], row["fq2"], row["bam"], reference)
                log.info("%s: %s", sheets.unit_label(sample, unit), summary)
            except InputError as exc:
                failures.append(
                    Problem(
                        sheets.units_file,
                        int(row["sheet_line"]),
                        "bam" if row["bam"] else "fq1/fq2",
                        str(exc),
                    )
                )
        if failures:
            raise SheetError(failures)
    for message in sheets.warnings:
        log.warning(message)
    annotation = _check_annotation(config, Path(args.base_dir), args.results, Path(args.config))
    n_fq = int((sheets.units["kind"] == "fastq").sum())
    print(
        f"{sheets.samples_file}, {sheets.units_file}: OK: {len(sheets.samples)} samples in "
        f"{len(sheets.lines())} line(s), {len(sheets.units)} units ({n_fq} FASTQ pairs, "
        f"{len(sheets.units) - n_fq} BAMs), assay {config['panel']['assay']}"
        f"{', files read to the end' if args.deep else ''}"
    )
    for line in sheets.lines():
        resistant = ", ".join(sheets.resistant(line)) or "none"
        print(f"  {line}: parental {sheets.parental(line)}; resistant {resistant}")
    print(annotation)


def _check_annotation(config: dict, base_dir: Path, results: str, config_path: Path) -> str:
    """The GTF's full checks against the FASTA, targets and knowledge table (what rule
    ``annotation`` runs first in the workflow), writing or reusing the run's cache."""
    from resistcall.annotation import (
        CACHE_KEY,
        cache_is_current,
        cache_key,
        cache_paths,
        config_genes,
        key_beside_cache,
        write_cache,
    )

    def path(value: str) -> Path:
        return resolve(base_dir, value)

    out = cache_paths(path(results))
    files = {
        "gtf": path(config["reference"]["gtf"]),
        "fasta": path(config["reference"]["fasta"]),
        "targets": path(config["panel"]["targets"]),
        "known": path(config["known_resistance"]),
    }
    shown = str(out["gtf"].parent)
    key, made_for = path(results) / CACHE_KEY, cache_key(config, base_dir)
    recorded = key.read_text() if key.is_file() else None
    if recorded == made_for and cache_is_current(out, [*files.values(), config_path]):
        return f"{files['gtf'].name}: checked against the FASTA (cache in {shown} is current)"
    genes, overrides = config_genes(config)
    choice = write_cache(out, **files, extra_genes=genes, overrides=overrides)
    key_beside_cache(out, key, made_for)  # as the workflow records it
    return (
        f"{files['gtf'].name}: checked against the FASTA, targets and knowledge table; "
        f"{len(choice)} transcript models cached in {shown}"
    )


def _cmd_check_input(args: argparse.Namespace) -> None:
    summary = check_input(args.label, args.fq1, args.fq2, args.bam, args.reference)
    log.info(summary)
    if args.ok_marker:
        write_text(args.ok_marker, summary + "\n")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "validate",
        help="check config and sample sheets; list every problem (file, line, column)",
        description="Validate config.yaml, the samples and units sheets and the files they "
        "name. Exit 0 when clean, 2 with every problem listed otherwise.",
    )
    p.add_argument("--config", default="config/config.yaml", help="config YAML [%(default)s]")
    p.add_argument("--samples", help="samples sheet (overrides the config's `samples`)")
    p.add_argument("--units", help="units sheet (overrides the config's `units`)")
    p.add_argument(
        "--base-dir",
        default=".",
        help="directory relative paths resolve against, i.e. the run's working "
        "directory [%(default)s]",
    )
    p.add_argument(
        "--results",
        default="results",
        help="the run's results folder, relative to --base-dir: the GTF's checks write (or reuse) "
        "the annotation cache in its reference/ folder, as the workflow does [%(default)s]",
    )
    p.add_argument(
        "--deep",
        action="store_true",
        help="also read every FASTQ/BAM to the end (what check-input does per unit)",
    )
    p.set_defaults(func=_cmd_validate)

    p = subparsers.add_parser(
        "check-input",
        help="read one unit's FASTQ pair or BAM to the end (truncation, pairing, format)",
        description="Deep check of one sequencing unit before alignment: decompress FASTQs "
        "fully (truncated gzip, malformed records, R1/R2 count or read-name mismatch) or read a "
        "BAM through (truncation, @SQ vs reference). Exit 2 with one message naming --label.",
    )
    p.add_argument(
        "--label",
        required=True,
        help="how to name the unit in messages, e.g. 'config/units.tsv line 3 "
        "(sample H3122_P, unit lane1)'",
    )
    p.add_argument("--fq1", help="read 1 FASTQ (.gz or plain)")
    p.add_argument("--fq2", help="read 2 FASTQ")
    p.add_argument("--bam", help="aligned BAM (instead of --fq1/--fq2)")
    p.add_argument("--reference", help="reference FASTA (with .fai) the BAM must match")
    p.add_argument("--ok-marker", help="write a one-line OK summary here on success")
    p.set_defaults(func=_cmd_check_input)
