"""Writing outputs so that a failure never leaves a complete-looking file behind.

Every stage writes to temporary names beside its outputs and renames them into place only
when all of them were written (with their tabix/CSI index, when the writer made one).
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

INDEX_SUFFIXES = (".tbi", ".csi")


def _temp_name(path: Path) -> Path:
    # the real name stays at the end so suffix-sniffing writers (pysam, pandas) behave the same
    return path.with_name(f".tmp{os.getpid()}.{path.name}")


@contextmanager
def atomic_paths(*paths: str | Path) -> Iterator[list[Path]]:
    """Yield a temporary path per output; rename all of them into place if the block succeeds."""
    finals = [Path(p) for p in paths]
    temps = [_temp_name(p) for p in finals]
    for final in finals:
        final.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield temps
        for temp, final in zip(temps, finals, strict=True):
            os.replace(temp, final)
            for suffix in INDEX_SUFFIXES:
                index = temp.with_name(temp.name + suffix)
                if index.exists():
                    os.replace(index, final.with_name(final.name + suffix))
    finally:
        for temp in temps:
            for leftover in (temp, *(temp.with_name(temp.name + s) for s in INDEX_SUFFIXES)):
                leftover.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> None:
    with atomic_paths(path) as (temp,):
        temp.write_text(text, encoding="utf-8")


def write_texts(pairs: Sequence[tuple[str | Path, str]]) -> None:
    """Several outputs that belong together (e.g. report.html + report.json): all or none."""
    with atomic_paths(*(path for path, _ in pairs)) as temps:
        for temp, (_, text) in zip(temps, pairs, strict=True):
            temp.write_text(text, encoding="utf-8")


def write_tsv(
    df: pd.DataFrame, path: str | Path, preamble: Sequence[str] = (), **to_csv: object
) -> None:
    """``preamble``: ``##key=value`` lines written before the table, records about it (what it
    was made from) that readers skip."""
    write_tsvs([(path, df)], preamble, **to_csv)


def write_tsvs(
    pairs: Sequence[tuple[str | Path, pd.DataFrame]],
    preamble: Sequence[str] = (),
    **to_csv: object,
) -> None:
    """Several tables that belong together: all or none."""
    with atomic_paths(*(path for path, _ in pairs)) as temps:
        for temp, (_, df) in zip(temps, pairs, strict=True):
            with _text_out(temp) as handle:
                handle.writelines(f"{line}\n" for line in preamble)
                df.to_csv(handle, sep="\t", index=False, **to_csv)


@contextmanager
def _text_out(path: Path) -> Iterator[io.TextIOWrapper]:
    """A text handle on ``path``, gzip-compressed when the name ends in .gz (no time stamp and
    no file name in the gzip header, so the same table gives the same bytes)."""
    with open(path, "wb") as raw:
        if path.name.endswith(".gz"):
            with gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) as gz:
                with io.TextIOWrapper(gz, encoding="utf-8", newline="") as handle:
                    yield handle
        else:
            with io.TextIOWrapper(raw, encoding="utf-8", newline="") as handle:
                yield handle
