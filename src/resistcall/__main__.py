"""``python -m resistcall``: how the workflow's rules run the command line (no PATH needed)."""

import sys

from resistcall.cli import main

sys.exit(main())
