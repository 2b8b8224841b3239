"""config.yaml: YAML with the line of every key, duplicate keys refused, schema checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from resistcall import options
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
    return _check_config(config, source, [(source, key_lines)] if key_lines else [])


def check_workflow_config(config: dict[str, Any], configfiles: list[str]) -> dict[str, Any]:
    """:func:`check_config` for Snakemake's merged ``config``: each problem names the config
    file (the last of ``configfiles`` that sets the key) and its line."""
    sources = []
    for path in configfiles:
        try:
            sources.append((str(path), _yaml_key_lines(Path(path).read_text())))
        except (OSError, yaml.YAMLError, _DuplicateKeys):
            sources.append((str(path), {}))
    return _check_config(config, str(configfiles[-1]) if configfiles else "config", sources)


def _locate(
    key: str | None, default: str, sources: list[tuple[str, dict]]
) -> tuple[str, int | None]:
    """(file, line) of a dotted config key: the last config file that sets it (or its parent)."""
    for source, key_lines in reversed(sources):
        parts = tuple(key.split(".")) if key else ()
        while parts and parts not in key_lines:
            parts = parts[:-1]
        if parts:
            return source, key_lines[parts]
    return default, None


def _check_config(
    config: dict[str, Any], default: str, sources: list[tuple[str, dict]]
) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise SheetError([Problem(default, None, None, "the config must be a YAML mapping")])
    found = validate(config, options.config_schema(load_schema("config")), defaults=True)
    bad_sections = {key.split(".")[0] for key, _ in found if key}
    for section in options.SECTIONS:
        if section not in bad_sections:
            found += [(section, msg) for msg in options.section_problems(section, config[section])]
    problems = [
        Problem(*_locate(key, default, sources), key, msg, kind="key") for key, msg in found
    ]
    problems.sort(key=lambda p: (p.file, p.line or 0))
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
