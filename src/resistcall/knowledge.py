"""The known-resistance table: loading with schema validation, protein-change synonyms, matching.

The table (``resources/known_resistance.tsv``, provenance in ``resources/README.md``) has one row
per alteration x drug. Rows are validated against ``known_resistance.schema.yaml`` (JSON Schema)
so a malformed table fails with one message naming its line and column, before any call is
annotated. Protein changes are compared in one canonical form (one-letter, ``p.`` prefix, HGVS
3' rule as written by :mod:`resistcall.hgvs`), so legacy names listed in ``synonyms`` (e.g.
``1151Tins`` for ``p.T1151dup``) match too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import pandas as pd
import yaml

from resistcall.errors import UserError
from resistcall.tables import read_table

COLUMNS = (
    "gene",
    "alteration_type",
    "hgvs_p",
    "synonyms",
    "transcript",
    "drug",
    "drug_class",
    "effect",
    "evidence_level",
    "mechanism_class",
    "sources",
    "verification",
    "note",
)
GROUP_COLUMNS = ("drug_class", "group", "applies_to", "show")
#: drug_groups.tsv ``show``: always a drug-grid group, one only for a line with a sample
#: selected on one of its drugs (the sheet's ``drug``), or the evidence table only
SHOW = ("grid", "selected", "list")
MUTATION_TYPES = ("substitution", "indel", "residue", "compound")

_THREE = {
    "Ala": "A",
    "Arg": "R",
    "Asn": "N",
    "Asp": "D",
    "Cys": "C",
    "Gln": "Q",
    "Glu": "E",
    "Gly": "G",
    "His": "H",
    "Ile": "I",
    "Leu": "L",
    "Lys": "K",
    "Met": "M",
    "Phe": "F",
    "Pro": "P",
    "Ser": "S",
    "Thr": "T",
    "Trp": "W",
    "Tyr": "Y",
    "Val": "V",
    "Ter": "*",
    "Sec": "U",
}
_THREE_RE = re.compile("|".join(_THREE))
_INS_AS_DUP = re.compile(r"^p\.([A-Z])(\d+)_([A-Z])(\d+)ins([A-Z]+)$")
_LEGACY_INS = re.compile(r"^p\.(\d+)([A-Z]+)ins$")  # 1151Tins
_RESIDUES = re.compile(r"^p\.([A-Z*])(\d+)(?:_([A-Z*])(\d+))?")


RESOURCES = Path(__file__).resolve().parents[2] / "resources"


def _beside_or_default(known_path: str | Path, name: str) -> Path:
    """``name`` beside the table, else the repository's resources/ copy."""
    beside = Path(known_path).with_name(name)
    return beside if beside.exists() else RESOURCES / name


def default_schema_path(known_path: str | Path) -> Path:
    return _beside_or_default(known_path, "known_resistance.schema.yaml")


def default_groups_path(known_path: str | Path) -> Path:
    return _beside_or_default(known_path, "drug_groups.tsv")


def canonical_protein(text: str) -> str:
    """One canonical spelling of a protein change (for matching, not for display).

    Strips whitespace and predicted-change parentheses, adds ``p.``, turns three-letter
    amino acids into one-letter, and rewrites an insertion that repeats the residue before
    it (``T1151_L1152insT``) as the HGVS duplication (``T1151dup``). The legacy ``1151Tins``
    form (residue number, inserted residue) has the same meaning.
    """
    s = text.strip().replace(" ", "")
    if not s:
        return s
    if s.startswith("p."):
        s = s[2:]
    if s.startswith("(") and s.endswith(")"):
        s = s[1:-1]
    s = _THREE_RE.sub(lambda m: _THREE[m.group(0)], s)
    s = "p." + s
    m = _INS_AS_DUP.match(s)
    if m and int(m.group(4)) == int(m.group(2)) + 1 and m.group(5) == m.group(1):
        return f"p.{m.group(1)}{m.group(2)}dup"
    m = _LEGACY_INS.match(s)
    if m and len(m.group(2)) == 1:
        return f"p.{m.group(2)}{m.group(1)}dup"
    return s


def compound_parts(hgvs_p: str) -> list[str]:
    """``p.[L1196M;G1202R]`` -> ``['p.L1196M', 'p.G1202R']``; a simple change -> itself."""
    if hgvs_p.startswith("p.[") and hgvs_p.endswith("]"):
        return [canonical_protein(x) for x in hgvs_p[3:-1].split(";")]
    return [canonical_protein(hgvs_p)]


def residue_span(hgvs_p: str) -> tuple[str, int, int] | None:
    """(label, first, last residue) of a simple protein change: ('G1202', 1202, 1202)."""
    m = _RESIDUES.match(canonical_protein(hgvs_p))
    if m is None:
        return None
    first = int(m.group(2))
    last = int(m.group(4)) if m.group(4) else first
    label = f"{m.group(1)}{first}" + (f"_{m.group(3)}{last}" if m.group(4) else "")
    return label, first, last


def load_known(path: str | Path, schema_path: str | Path | None = None) -> pd.DataFrame:
    """Read and validate the known-resistance table; every failure names its line and column."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"known-resistance table not found: {path}")
    schema_file = Path(schema_path) if schema_path else default_schema_path(path)
    if not schema_file.exists():
        raise UserError(f"schema for {path} not found (looked for {schema_file})")
    schema = yaml.safe_load(schema_file.read_text())
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=3)
    except pd.errors.ParserError as exc:
        raise UserError(f"{path}: not a tab-separated table ({exc})") from exc
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise UserError(f"{path}: header lacks column(s) {', '.join(missing)}")
    extra = [c for c in df.columns if c not in COLUMNS]
    if extra:
        raise UserError(f"{path}: unknown column(s) {', '.join(extra)}")
    validator = jsonschema.Draft202012Validator(schema)
    seen: dict[tuple[str, str, str], int] = {}
    for i, row in enumerate(df.to_dict(orient="records")):
        line = i + 2  # header is line 1
        errors = sorted(validator.iter_errors(row), key=lambda e: list(e.path))
        if errors:
            err = errors[0]
            column = err.path[0] if err.path else "?"
            value = row.get(column, "") if isinstance(column, str) else ""
            raise UserError(
                f"{path}: line {line} ({row.get('gene', '')} {row.get('hgvs_p', '')} "
                f"{row.get('drug', '')}): column {column}: {err.message}"
                + (f" (value {value!r})" if value and len(value) < 80 else "")
            )
        key = (row["gene"], canonical_protein(row["hgvs_p"]), row["drug"])
        if key in seen:
            raise UserError(
                f"{path}: line {line}: duplicate of line {seen[key]} "
                f"({row['gene']} {row['hgvs_p']} {row['drug']})"
            )
        seen[key] = line
    df["line"] = range(2, len(df) + 2)
    df["canonical"] = [
        canonical_protein(p) if t in ("substitution", "indel", "residue") else p
        for p, t in zip(df["hgvs_p"], df["alteration_type"], strict=True)
    ]
    return df


@dataclass(frozen=True)
class DrugGroups:
    """How the table's drugs are grouped for display, from ``drug_groups.tsv`` (data, so a new
    drug such as ensartinib needs only its table rows).

    ``groups``: group -> drugs in table order (groups in file order). The first group holds the
    inhibitors of the driver: each gets a hits.tsv column and is always listed in the report.
    ``applies``: a class-level ``drug_class`` (``alk_tki_class``) -> the drugs its rows apply to.
    ``grid``: the groups always shown as columns of the report's drug grid (``show`` =
    ``grid``); ``selected``: the groups shown there only for a line with a sample selected on
    one of their drugs (``show`` = ``selected``, the sheet's ``drug``); the others are listed in
    the evidence table only.
    """

    groups: dict[str, tuple[str, ...]]
    applies: dict[str, tuple[str, ...]]
    grid: tuple[str, ...] = ()
    selected: tuple[str, ...] = ()

    @property
    def driver_drugs(self) -> tuple[str, ...]:
        return next(iter(self.groups.values()), ())

    def drugs_of(self, drug: str, drug_class: str) -> list[str]:
        """The drugs one table row speaks about: every drug of its class for a class row."""
        return list(self.applies.get(drug_class) or (drug,))

    def _show(self, group: str) -> str:
        return "grid" if group in self.grid else "selected" if group in self.selected else "list"

    def as_json(self) -> list[dict]:
        return [
            {"name": g, "drugs": list(d), "show": self._show(g)} for g, d in self.groups.items()
        ]


def load_drug_groups(path: str | Path, known: pd.DataFrame, known_path: str | Path) -> DrugGroups:
    """Read ``drug_groups.tsv`` (``drug_class group applies_to show``); every drug_class of the
    table must be listed, else one error naming the table line."""
    df = read_table(path, GROUP_COLUMNS, f"drug groups (needed beside {known_path})")
    group_of = dict(zip(df["drug_class"], df["group"], strict=True))
    unknown = ~known["drug_class"].isin(list(group_of))
    if unknown.any():
        row = known[unknown].iloc[0]
        raise UserError(
            f"{known_path}: line {row['line']}: drug_class {row['drug_class']!r} is not "
            f"listed in {path}"
        )
    groups: dict[str, list[str]] = {g: [] for g in dict.fromkeys(df["group"])}
    for drug, drug_class in zip(known["drug"], known["drug_class"], strict=True):
        if drug_class not in set(df.loc[df["applies_to"] != "", "drug_class"]):
            if drug not in groups[group_of[drug_class]]:
                groups[group_of[drug_class]].append(drug)
    by_class = {
        c: tuple(dict.fromkeys(known.loc[known["drug_class"] == c, "drug"])) for c in group_of
    }
    applies = {
        r.drug_class: by_class.get(r.applies_to, ())
        for r in df.itertuples(index=False)
        if r.applies_to
    }
    bad = df[~df["show"].isin(SHOW)]
    if len(bad):
        raise UserError(
            f"{path}: line {bad.index[0] + 2}: column show must be one of {', '.join(SHOW)}"
        )
    grid = tuple(dict.fromkeys(df.loc[df["show"] == "grid", "group"]))
    selected = tuple(dict.fromkeys(df.loc[df["show"] == "selected", "group"]))
    return DrugGroups({g: tuple(d) for g, d in groups.items() if d}, applies, grid, selected)


@dataclass
class KnowledgeBase:
    """Indexes of the validated table for matching findings."""

    table: pd.DataFrame
    groups: DrugGroups
    by_change: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    by_residue: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    compounds: list[tuple[int, str, list[str]]] = field(default_factory=list)
    by_cnv: dict[str, list[int]] = field(default_factory=dict)
    by_fusion: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def from_table(cls, table: pd.DataFrame, groups: DrugGroups | None = None) -> KnowledgeBase:
        """Indexes of ``table``; ``groups`` default to the repository's drug_groups.tsv."""
        if groups is None:
            groups = load_drug_groups(RESOURCES / "drug_groups.tsv", table, "knowledge table")
        kb = cls(table=table.reset_index(drop=True), groups=groups)
        for i, row in kb.table.iterrows():
            kind, gene = row["alteration_type"], row["gene"]
            if kind in ("substitution", "indel"):
                names = {row["canonical"]} | {
                    canonical_protein(s) for s in row["synonyms"].split(";") if s
                }
                for name in names:
                    kb.by_change.setdefault((gene, name), []).append(int(i))
            elif kind == "residue":
                kb.by_residue.setdefault((gene, row["canonical"]), []).append(int(i))
            elif kind == "compound":
                kb.compounds.append((int(i), gene, compound_parts(row["hgvs_p"])))
            elif kind == "amplification":
                kb.by_cnv.setdefault(gene, []).append(int(i))
            elif kind == "fusion":
                kb.by_fusion.setdefault(gene, []).append(int(i))
        return kb

    def match_change(self, gene: str, hgvs_p: str) -> list[int]:
        """Row indexes for a simple protein change (exact/synonym, then residue-class rows)."""
        if not hgvs_p or hgvs_p in ("p.?", "p.="):
            return []
        canon = canonical_protein(hgvs_p)
        rows = list(self.by_change.get((gene, canon), []))
        m = re.match(r"^p\.([A-Z])(\d+)([A-Z])$", canon)  # missense only for residue rows
        if m and m.group(1) != m.group(3):
            rows += self.by_residue.get((gene, f"p.{m.group(1)}{m.group(2)}"), [])
        return rows

    def match_compounds(self, gene_changes: set[tuple[str, str]]) -> list[tuple[int, list[str]]]:
        """Compound rows whose every part is among the sample's (gene, canonical change) set."""
        out = []
        for i, gene, parts in self.compounds:
            if all((gene, p) in gene_changes for p in parts):
                out.append((i, parts))
        return out

    def known_changes(self, gene: str) -> set[str]:
        return {name for (g, name) in self.by_change if g == gene}


def load_knowledge(path: str | Path, schema_path: str | Path | None = None) -> KnowledgeBase:
    """The validated table with its drug groups (drug_groups.tsv beside it, else resources/)."""
    table = load_known(path, schema_path)
    return KnowledgeBase.from_table(table, load_drug_groups(default_groups_path(path), table, path))
