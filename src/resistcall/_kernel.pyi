"""Type stub of the compiled counting kernel (src/resistcall/_kernel.pyx)."""

import numpy as np
import pysam

BUILT_WITH_PYSAM: str

BLOCK_CACHE: int

def set_block_cache(bam: pysam.AlignmentFile, nbytes: int = ...) -> None: ...
def count_region(
    bam: pysam.AlignmentFile,
    contig: str,
    start: int,
    end: int,
    ref_alleles: np.ndarray,
    counts: np.ndarray,
    qual_sum: np.ndarray,
    err_sum: np.ndarray,
    err_table: np.ndarray,
    flag_filter: int,
    min_mapq: int,
    min_bq: int,
    ignore_overlaps: bool,
    ignore_orphans: bool,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], bytes]: ...
def fragment_spans(
    bam: pysam.AlignmentFile,
    contig: str,
    start: int,
    end: int,
    skip: int,
    min_mapq: int,
    max_fragment: int,
) -> tuple[np.ndarray, np.ndarray]: ...
