"""config.yaml: YAML with the line of every key, duplicate keys refused, schema checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from resistcall.inputs.problems import Problem, SheetError
from resistcall.inputs.schemas import load_schema, validate


def _yaml_key_lines(text: str) -> dict[tuple[str, ...], int]:
    """1-based line of every mapping key in a YAML document, by key path."""
    lines: dict[tuple[str, ...], int] = {}

    duplicates: list[tuple[tuple[str, ...], int]] = []

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, str(key.value))
                if sub in lines:
                    duplicates.append((sub, key.start_mark.line + 1))
                    continue
                lines[sub] = key.start_mark.line + 1
                walk(value, sub)

    root = yaml.compose(text)
    if root is not None:
        walk(root, ())
    if duplicates:
        # YAML keeps the last value silently; a pasted second `panel:` block must not win
        # unnoticed.
        raise _DuplicateKeys([(".".join(k), line, lines[k]) for k, line in duplicates])
    return lines


class _DuplicateKeys(Exception):
    def __init__(self, keys: list[tuple[str, int, int]]):
        self.keys = keys


def check_config(
    config: dict[str, Any], source: str = "config", key_lines: dict | None = None
) -> dict[str, Any]:
    """Validate a config mapping against the schema in place (filling defaults) and return it.

    For use when the config is already loaded (Snakemake's ``config``, possibly overridden
    on the command line). Raises :class:`SheetError` listing every problem.
    """
    if not isinstance(config, dict):
        raise SheetError([Problem(source, None, None, "the config must be a YAML mapping")])
    problems = []
    for key, message in validate(config, load_schema("config"), defaults=True):
        line = None
        if key_lines and key:
            parts = tuple(key.split("."))
            while parts and parts not in key_lines:
                parts = parts[:-1]
            line = key_lines.get(parts)
        problems.append(Problem(source, line, key, message, kind="key"))
    problems.sort(key=lambda p: p.line or 0)
    if problems:
        raise SheetError(problems)
    panel = config["panel"]
    panel.setdefault("snv_regions", panel["targets"])
    return config


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config, validate it against ``config.schema.yaml`` and fill defaults."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SheetError([Problem(str(path), None, None, "config file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SheetError([Problem(str(path), None, None, f"cannot read: {exc}")]) from None
    try:
        config = yaml.safe_load(text)
        key_lines = _yaml_key_lines(text)
    except _DuplicateKeys as exc:
        raise SheetError(
            [
                Problem(
                    str(path),
                    line,
                    key,
                    f"key appears twice (first on line {first}); YAML "
                    "would silently keep only the last one",
                    kind="key",
                )
                for key, line, first in exc.keys
            ]
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        detail = getattr(exc, "problem", None) or str(exc)
        raise SheetError([Problem(str(path), line, None, f"not valid YAML: {detail}")]) from None
    if config is None:
        raise SheetError([Problem(str(path), None, None, "config file is empty")])
    return check_config(config, str(path), key_lines)
