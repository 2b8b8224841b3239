"""The JSON schemas in ``workflow/schemas/`` (read by Snakemake too) and a validator that
turns each schema error into (field, message) pairs, filling defaults where asked."""

from __future__ import annotations

import difflib
import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml


def schema_dir() -> Path:
    """Folder holding the JSON schemas (the repo's ``workflow/schemas``, or package data)."""
    candidates = (
        Path(__file__).resolve().parents[3] / "workflow" / "schemas",
        Path(__file__).resolve().parents[1] / "schemas",
    )
    for folder in candidates:
        if (folder / "config.schema.yaml").is_file():
            return folder
    raise RuntimeError(f"resistcall schemas not found in {', '.join(map(str, candidates))}")


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """``name`` is ``config``, ``samples`` or ``units``."""
    with open(schema_dir() / f"{name}.schema.yaml") as handle:
        return yaml.safe_load(handle)


def _with_defaults(cls: Any) -> Any:
    """Validator that also fills ``default`` values (as snakemake.utils.validate does)."""
    validate_properties = cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(name, sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(cls, {"properties": set_defaults})


_DefaultingValidator = _with_defaults(jsonschema.Draft202012Validator)


def _custom_message(error: jsonschema.ValidationError) -> str | None:
    custom = error.schema.get("errorMessage") if isinstance(error.schema, dict) else None
    if isinstance(custom, dict):
        custom = custom.get(error.validator)
    return " ".join(custom.split()) if isinstance(custom, str) else None


def _schema_problems(
    error: jsonschema.ValidationError, missing_text: str
) -> list[tuple[str | None, str]]:
    """(field, message) pairs for one jsonschema error; dotted field paths for nested keys."""
    path = ".".join(str(p) for p in error.absolute_path)
    prefix = f"{path}." if path else ""
    instance: Any = error.instance
    value: Any = error.validator_value
    schema: Any = error.schema
    out: list[tuple[str | None, str]] = []
    if error.validator == "required":
        missing = [p for p in value if p not in instance]
        custom = _custom_message(error)
        return [(f"{prefix}{p}", custom or missing_text) for p in missing]
    if error.validator == "dependentRequired":
        for given, needed in value.items():
            for dep in needed:
                if given in instance and dep not in instance:
                    msg = _custom_message(error) or f"{dep} is required when {given} is given"
                    out.append((f"{prefix}{dep}", f"{msg} ({given} is given, {dep} is empty)"))
        return out
    if error.validator == "additionalProperties":
        known = list(schema.get("properties", {}))
        extra = sorted(set(instance) - set(known))
        for k in extra:
            close = difflib.get_close_matches(str(k), known, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            out.append((f"{prefix}{k}", f"unknown key ({hint}known keys: {', '.join(known)})"))
        return out
    message = _custom_message(error) or error.message
    if isinstance(instance, str | int | float | bool):
        message += f" (found {instance!r})"
    return [(path or None, message)]


def validate(
    instance: dict[str, Any],
    schema: dict[str, Any],
    defaults: bool,
    missing_text: str = "required value is missing or empty",
) -> list[tuple[str | None, str]]:
    cls = _DefaultingValidator if defaults else jsonschema.Draft202012Validator
    validator = cls(schema)
    out: list[tuple[str | None, str]] = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        for item in _schema_problems(error, missing_text):
            if item not in out:
                out.append(item)
    return out
