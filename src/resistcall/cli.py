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

#: Stage modules, in pipeline order; each defines ``register(subparsers)``.
COMMAND_MODULES = (
    "resistcall.panel",
    "resistcall.simulate",
    "resistcall.samplesheet",
    "resistcall.qc",
    "resistcall.snv",
    "resistcall.cnv",
    "resistcall.fusion",
    "resistcall.annotate",
    "resistcall.report",
    "resistcall.runinfo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="resistcall", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"resistcall {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # stage not built yet in this checkout
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
