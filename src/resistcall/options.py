"""Stage options: one frozen dataclass per stage is the single source of its settings.

A stage declares its tunables as fields made with :func:`option` (default, help text, bounds
or choices). From that one class derive

* the CLI options of its subcommand (:func:`add_options`, :func:`from_args`),
* the JSON schema of its ``config.yaml`` section (:func:`section_schema`, merged into
  ``workflow/schemas/config.schema.yaml`` by :func:`config_schema`; unknown keys refused),
* the options string its rule passes (:func:`cli_args`, used by ``stage_options`` in
  ``workflow/rules/common.smk``).

Fields made without :func:`option` (e.g. ``assay``, which comes from ``panel.assay``) are
runtime inputs set by the command, not options. Cross-field rules go in the dataclass's
``__post_init__`` (raising :class:`~resistcall.errors.UserError`); they are checked at
validation time too. Adding a key = adding one ``option(...)`` field (docs/architecture.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import shlex
import typing
from typing import Any

#: config section -> "module:Class" holding that stage's options (imported only when needed).
SECTIONS = {
    "qc": "resistcall.qc:QcOptions",
    "snv": "resistcall.snv_config:SnvConfig",
    "cnv": "resistcall.cnv:Params",
    "fusion": "resistcall.fusion:Settings",
    "pon": "resistcall.snv_config:PonOptions",
}

_JSON_TYPES = {float: "number", int: "integer", str: "string", bool: "boolean"}
_BOUNDS = {  # metadata key -> (JSON-schema keyword, comparison shown to the user)
    "gt": ("exclusiveMinimum", ">"),
    "ge": ("minimum", ">="),
    "lt": ("exclusiveMaximum", "<"),
    "le": ("maximum", "<="),
}


def option(
    default: Any,
    help: str,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """A dataclass field that is a user option: CLI flag, config key and schema entry."""
    meta = {"help": help, "choices": choices, "gt": gt, "ge": ge, "lt": lt, "le": le}
    return dataclasses.field(default=default, metadata=meta)


def options_class(section: str) -> type:
    """The options dataclass of a config section (``snv``, ``cnv``, ...)."""
    module, name = SECTIONS[section].split(":")
    return getattr(importlib.import_module(module), name)


def option_fields(cls: type) -> list[dataclasses.Field]:
    """Fields of ``cls`` that are user options (made with :func:`option`), in order."""
    return [f for f in dataclasses.fields(cls) if "help" in f.metadata]


def _type(cls: type, f: dataclasses.Field) -> type:
    hint = typing.get_type_hints(cls)[f.name]
    if hint not in _JSON_TYPES:
        raise TypeError(f"{cls.__name__}.{f.name}: option type must be float/int/str/bool")
    return hint


def _rule(f: dataclasses.Field) -> str:
    """The bounds of an option in words ('a number > 0 and < 1')."""
    parts = [
        f"{sign} {f.metadata[key]}"
        for key, (_, sign) in _BOUNDS.items()
        if f.metadata[key] is not None
    ]
    return " and ".join(parts)


def describe(cls: type, f: dataclasses.Field) -> str:
    """What an option accepts, for error messages: 'a whole number >= 1', 'one of a, b'."""
    if f.metadata["choices"]:
        return "one of " + ", ".join(f.metadata["choices"])
    kind = {float: "a number", int: "a whole number", str: "a text value", bool: "true or false"}
    rule = _rule(f)
    return kind[_type(cls, f)] + (f" {rule}" if rule else "")


def _parse(cls: type, f: dataclasses.Field):
    """argparse ``type=`` function: convert and check the bounds (one clear error)."""
    kind = _type(cls, f)

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {describe(cls, f)}, got {text!r}") from None
        if not _within(f, value):
            raise argparse.ArgumentTypeError(f"expected {describe(cls, f)}, got {text!r}")
        return value

    return parse


def _within(f: dataclasses.Field, value: Any) -> bool:
    m = f.metadata
    return not (
        (m["gt"] is not None and not value > m["gt"])
        or (m["ge"] is not None and not value >= m["ge"])
        or (m["lt"] is not None and not value < m["lt"])
        or (m["le"] is not None and not value <= m["le"])
    )


def add_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add ``--name-with-dashes`` for every option of ``cls`` (default from the dataclass)."""
    group = parser.add_argument_group(
        "stage options",
        "each is also a key of the stage's config.yaml section (min_vaf -> --min-vaf)",
    )
    for f in option_fields(cls):
        kind = _type(cls, f)
        flag = f"--{f.name.replace('_', '-')}"
        help_text = f"{f.metadata['help']} (default {f.default})".replace("%", "%%")
        if kind is bool:
            group.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=f.default, help=help_text
            )
            continue
        group.add_argument(
            flag,
            type=_parse(cls, f),
            default=f.default,
            choices=f.metadata["choices"],
            metavar={float: "X", int: "N", str: "NAME"}[kind],
            help=help_text,
        )


def from_args(cls: type, args: argparse.Namespace, **runtime: Any) -> Any:
    """Instance of ``cls`` from parsed arguments (plus the non-option fields in ``runtime``)."""
    return cls(**{f.name: getattr(args, f.name) for f in option_fields(cls)}, **runtime)


def section_schema(section: str) -> dict[str, Any]:
    """JSON schema of a config section, generated from its dataclass (unknown keys refused)."""
    cls = options_class(section)
    properties = {}
    for f in option_fields(cls):
        prop: dict[str, Any] = {
            "type": _JSON_TYPES[_type(cls, f)],
            "description": f.metadata["help"],
        }
        for key, (keyword, _) in _BOUNDS.items():
            if f.metadata[key] is not None:
                prop[keyword] = f.metadata[key]
        if f.metadata["choices"]:
            prop["enum"] = list(f.metadata["choices"])
        prop["errorMessage"] = f"{section}.{f.name} must be {describe(cls, f)}"
        properties[f.name] = prop
    return {
        "type": "object",
        "default": {},
        "additionalProperties": False,
        "description": f"Options of resistcall {section}; see `resistcall {section} --help`.",
        "errorMessage": {"type": f"{section} must be a mapping of option names to values"},
        "properties": properties,
    }


def config_schema(base: dict[str, Any]) -> dict[str, Any]:
    """``base`` (config.schema.yaml) with every stage section generated from its dataclass.

    A section may also declare keys that are not options in ``base`` (``pon``: ``normals``,
    ``file``; with their own rules and messages): they are kept beside the generated ones."""
    schema = {**base, "properties": dict(base["properties"])}
    for section in SECTIONS:
        generated = section_schema(section)
        own = base["properties"].get(section) or {}
        if "properties" in own:
            messages = {**generated["errorMessage"], **own.get("errorMessage", {})}
            generated = {
                **own,
                **generated,
                "description": own.get("description", generated["description"]),
                "properties": {**own["properties"], **generated["properties"]},
                "errorMessage": messages,
            }
        schema["properties"][section] = generated
    return schema


def section_values(section: str, values: dict[str, Any]) -> dict[str, Any]:
    """The option keys of a section's config mapping (without keys such as ``pon.normals``)."""
    names = {f.name for f in option_fields(options_class(section))}
    return {k: v for k, v in values.items() if k in names}


def section_problems(section: str, values: dict[str, Any]) -> list[str]:
    """Cross-field problems of a schema-valid section (the dataclass's ``__post_init__``)."""
    from resistcall.errors import UserError

    try:
        options_class(section)(**section_values(section, values))
    except UserError as exc:
        return [str(exc)]
    return []


def effective(section: str, values: dict[str, Any]) -> dict[str, Any]:
    """Every option of a section with the value a run uses (the user's, else the default)."""
    return {f.name: values.get(f.name, f.default) for f in option_fields(options_class(section))}


def cli_args(section: str, values: dict[str, Any]) -> str:
    """The options string a rule passes: only the keys the user set (defaults live in the
    dataclass). ``values`` has been validated against :func:`section_schema`."""
    cls = options_class(section)
    words = []
    for f in option_fields(cls):
        if f.name not in values:
            continue
        flag, value = f"--{f.name.replace('_', '-')}", values[f.name]
        if _type(cls, f) is bool:
            words.append(flag if value else f"--no-{flag[2:]}")
            continue
        if _type(cls, f) is int:
            value = int(value)  # YAML 6.0 is a valid integer to JSON schema, not to int()
        words += [flag, shlex.quote(str(value))]
    return " ".join(words)
