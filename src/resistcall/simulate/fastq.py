"""Deterministic gzip FASTQ writing (mtime 0; unchanged files are not rewritten)."""

from __future__ import annotations

import filecmp
import gzip
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from resistcall.simulate.genome import DECODE
from resistcall.simulate.model import Library
from resistcall.simulate.reads import CHUNK


def _fastq_bytes(reads, quals, length, prefix: str, first: int = 0, width: int = 0) -> bytes:
    """Vectorised FASTQ text: fixed-width record matrix, padding bytes (0) dropped at the end.

    Records are numbered from ``first``, zero-padded to ``width`` digits."""
    n, rl = reads.shape
    width = width or max(1, len(str(max(first + n - 1, 0))))
    head = f"@{prefix}:".encode()
    idx = np.arange(first, first + n, dtype=np.int64)
    digits = (idx[:, None] // 10 ** np.arange(width - 1, -1, -1)) % 10
    cols = len(head) + width + 1 + rl + 3 + rl + 1
    m = np.zeros((n, cols), dtype=np.uint8)
    c = 0
    m[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    c += len(head)
    m[:, c : c + width] = (digits + 48).astype(np.uint8)
    c += width
    m[:, c] = 10
    c += 1
    valid = np.arange(rl)[None, :] < length[:, None]
    m[:, c : c + rl] = np.where(valid, DECODE[reads], 0)
    c += rl
    m[:, c : c + 3] = np.frombuffer(b"\n+\n", dtype=np.uint8)
    c += 3
    m[:, c : c + rl] = np.where(valid, quals + 33, 0)
    c += rl
    m[:, c] = 10
    return m[m != 0].tobytes()


def replace_if_changed(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` over ``path`` unless the bytes are identical: an unchanged output keeps its
    mtime, so a re-simulation after a code change does not make Snakemake rerun everything."""
    if path.exists() and filecmp.cmp(tmp, path, shallow=False):
        tmp.unlink()
    else:
        tmp.replace(path)


def _write_fastq_gz(reads, quals, length, prefix: str, path: Path, level: int) -> None:
    n = len(length)
    width = max(1, len(str(max(n - 1, 0))))
    tmp = path.with_name(path.name + ".tmp")
    with (
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=level) as gz,
    ):
        for c0 in range(0, n, CHUNK):
            sl = slice(c0, min(c0 + CHUNK, n))
            gz.write(_fastq_bytes(reads[sl], quals[sl], length[sl], prefix, c0, width))
    replace_if_changed(tmp, path)


def write_fastq_pair(lib: Library, out_r1, out_r2, prefix: str = "sim", level: int = 1) -> None:
    """Write R1/R2 gzipped FASTQ (mtime 0, no file name in the header: byte-reproducible)."""
    paths = [Path(out_r1), Path(out_r2)]
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=2) as pool:  # zlib releases the GIL
        jobs = [
            pool.submit(_write_fastq_gz, r, q, lib.length, prefix, p, level)
            for r, q, p in ((lib.r1, lib.q1, paths[0]), (lib.r2, lib.q2, paths[1]))
        ]
        for job in jobs:
            job.result()
