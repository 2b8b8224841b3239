"""Command line: one subcommand per stage, each a thin wrapper over a library function.

Every stage module exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a callable taking the parsed namespace. Keeping the parser next to the
function it calls means a rule -> subcommand -> function path is one hop to follow.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from resistcall import __version__
from resistcall.errors import UserError

#: Subcommand -> module defining it (its ``register`` adds the parser). Only the module of the
#: command being run is imported, so a rule does not pay for every stage's imports.
COMMANDS = {
    "panel": "resistcall.panel",
    "simulate": "resistcall.simulate",
    "annotation": "resistcall.annotation",
    "validate": "resistcall.inputs.cli",
    "check-input": "resistcall.inputs.cli",
    "bam-unit": "resistcall.bam_unit",
    "qc": "resistcall.qc",
    "identity": "resistcall.identity",
    "scope": "resistcall.scope",
    "pon": "resistcall.pon",
    "snv": "resistcall.snv",
    "cnv": "resistcall.cnv",
    "fusion": "resistcall.fusion",
    "annotate": "resistcall.annotate",
    "report": "resistcall.report",
    "report-index": "resistcall.report",
    "runinfo": "resistcall.runinfo",
    "somatic-vcf": "resistcall.somatic_vcf",
    "multiqc-content": "resistcall.multiqc_content",
    "igv-session": "resistcall.igv",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or (when ``command`` is known) one holding just that command's module."""
    parser = argparse.ArgumentParser(prog="resistcall", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"resistcall {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = [COMMANDS[command]] if command in COMMANDS else COMMANDS.values()
    for name in dict.fromkeys(modules):
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s resistcall %(command)s: %(message)s".replace(
            "%(command)s", args.command
        ),
        stream=sys.stderr,
    )
    try:
        args.func(args)
    except UserError as exc:
        print(f"resistcall {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
