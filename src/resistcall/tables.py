"""Reading a tab-separated input table whose columns a contract names (one check, one message).

Cells are read as text with no NA conversion: the caller decides what an empty cell means.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from resistcall.errors import UserError


def read_table(path: str | Path, required: tuple[str, ...], what: str) -> pd.DataFrame:
    """``path`` as text cells; a missing file or a missing column is one error naming ``what``."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{what} not found: {path}")
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment=None)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise UserError(f"{path}: {what} lacks column(s) {', '.join(missing)}")
    return df
