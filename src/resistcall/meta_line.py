"""Structured meta lines (``##key=<A=..,B=..>``), written and read back by one pair of functions.

Why: the panel of normals' ``##normal`` records and the VCF's ``##resistcall_pon`` line hold
sample and file names, which may contain the line's own delimiters. The VCF 4.3 convention
(section 1.4) keeps such a line unambiguous: a value containing ``,`` ``>`` ``=`` a space or
``"`` is written in double quotes with ``"`` and ``\\`` backslash-escaped. htslib reads the
quoted form; :func:`parse_meta` reads both it and the unquoted values of older panels.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_NEEDS_QUOTES = re.compile(r'[,>= "]')
_KEY = r"[A-Za-z0-9_.]+"
_VALUE = r'"(?:[^"\\]|\\.)*"|[^,>"]*'
_ITEM = re.compile(rf"({_KEY})=({_VALUE})")
_LINE = re.compile(rf"##({_KEY})=<((?:{_KEY})=(?:{_VALUE})(?:,(?:{_KEY})=(?:{_VALUE}))*)>")


def _quote(value: object) -> str:
    text = str(value)
    if not _NEEDS_QUOTES.search(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(value: str) -> str:
    if not value.startswith('"'):
        return value
    return re.sub(r"\\(.)", r"\1", value[1:-1])


def format_meta(key: str, items: Mapping[str, object]) -> str:
    """``##key=<A=a,B=b>`` with each value quoted and escaped where it needs it."""
    return f"##{key}=<" + ",".join(f"{k}={_quote(v)}" for k, v in items.items()) + ">"


def parse_meta(line: str) -> tuple[str, dict[str, str]]:
    """(key, values) of a line :func:`format_meta` wrote (quotes and escapes removed);
    ``ValueError`` when the line is not a structured meta line."""
    match = _LINE.fullmatch(line.rstrip("\n"))
    if match is None:
        raise ValueError(f"not a structured meta line (##key=<A=..,B=..>): {line.rstrip()}")
    items = {k: _unquote(v) for k, v in _ITEM.findall(match.group(2))}
    return match.group(1), items
