"""Run `resistcall snv` alone, so an unfinished peer stage in the CLI cannot break the bench."""

import argparse
import logging
import sys

from resistcall import snv

logging.basicConfig(level=logging.INFO, format="%(levelname)s snv: %(message)s")
parser = argparse.ArgumentParser()
snv.register(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
args.func(args)
