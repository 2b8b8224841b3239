"""Known activating driver mutations of bypass genes (``resources/activating_drivers.tsv``).

An activating EGFR, KRAS, MET or ERBB2 mutation in an ALK-inhibitor-resistant sample is a
finding of its own kind: a candidate ALK-independent (bypass) driver. It is not evidence that
any ALK inhibitor fails (that needs its own row in the known-resistance table), and it is not a
variant of unknown significance either. Rows and sources: resources/README.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from resistcall.errors import UserError
from resistcall.tables import read_table

DEFAULT = Path(__file__).resolve().parents[2] / "resources" / "activating_drivers.tsv"
COLUMNS = ("gene", "alteration", "match", "exon", "description", "sources", "note")
MATCHES = ("exact", "residue", "exon_deletion", "exon_insertion", "exon_skipping")
_INFRAME_DEL = ("inframe_deletion", "disruptive_inframe_deletion")
_INFRAME_INS = ("inframe_insertion", "disruptive_inframe_insertion")


def load_drivers(path: str | Path = DEFAULT) -> pd.DataFrame:
    """The driver table, checked: every column present, a known ``match`` rule per row."""
    df = read_table(path, COLUMNS, "activating-driver table")
    for i, rule in enumerate(df["match"], start=2):
        if rule not in MATCHES:
            raise UserError(f"{path}: row {i}: match is {rule!r}; expected one of {MATCHES}")
    return df


def _exon_number(exon: str | None) -> str:
    m = re.match(r"^(?:intron )?(\d+)", str(exon or ""))
    return m[1] if m else ""


def match_driver(
    table: pd.DataFrame, gene: str, hgvs_p: str | None, consequence: str | None, exon: str | None
) -> dict | None:
    """The table row a variant is (first match), as ``{description, sources, match}``, or None.

    exact: the protein change; residue: any substitution of the residue (``p.G12C`` for G12);
    exon_deletion / exon_insertion: an in-frame deletion / insertion in the exon; exon_skipping:
    a splice-site change or deletion at the exon or its flanking introns.
    """
    cons = set(str(consequence or "").split("&"))
    hp = str(hgvs_p or "")
    ex = _exon_number(exon)
    for row in table[table["gene"] == gene].to_dict("records"):
        rule, alt = row["match"], row["alteration"]
        hit = (
            (rule == "exact" and hp == alt)
            or (rule == "residue" and re.fullmatch(rf"p\.{alt}[A-Z]", hp) is not None)
            or (rule == "exon_deletion" and ex == row["exon"] and bool(cons & set(_INFRAME_DEL)))
            or (rule == "exon_insertion" and ex == row["exon"] and bool(cons & set(_INFRAME_INS)))
            or (
                rule == "exon_skipping"
                and ex in (row["exon"], str(int(row["exon"]) - 1))
                and any(c.startswith("splice") for c in cons)
            )
        )
        if hit:
            return {
                "description": row["description"],
                "sources": [s for s in row["sources"].split(";") if s],
                "match": rule,
            }
    return None
