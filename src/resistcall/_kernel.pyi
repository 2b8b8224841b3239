"""Type stub of the compiled counting kernel (src/resistcall/_kernel.pyx)."""

from os import PathLike
from types import TracebackType

import numpy as np

BLOCK_CACHE: int

class Reader:
    path: str
    references: tuple[str, ...]
    is_cram: bool
    def __init__(
        self,
        path: str | PathLike[str],
        reference: str | PathLike[str] | None = None,
        block_cache: int = ...,
    ) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> Reader: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

def count_regions(
    reads: Reader,
    contig: str,
    starts: np.ndarray,
    ends: np.ndarray,
    ref_alleles: list[np.ndarray],
    counts: list[np.ndarray],
    qual_sum: list[np.ndarray],
    err_sum: list[np.ndarray],
    err_table: np.ndarray,
    flag_filter: int,
    min_mapq: int,
    min_bq: int,
    ignore_overlaps: bool,
    ignore_orphans: bool,
) -> list[tuple[dict[str, np.ndarray], dict[str, np.ndarray], bytes]]: ...
def fragment_spans(
    reads: Reader,
    contig: str,
    win_start: np.ndarray,
    win_end: np.ndarray,
    skip: int,
    min_mapq: int,
    max_fragment: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
def base_depth(
    reads: Reader, contig: str, start: int, end: int, skip: int
) -> tuple[np.ndarray, int]: ...
