"""What is simulated: variants, fusion, GC bias, sequencing errors, the library and the run plan."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Variant:
    """A small variant in VCF convention (1-based ``pos``, anchor base for indels)."""

    chrom: str
    pos: int
    ref: str
    alt: str
    vaf: float = 0.0
    gene: str = ""
    hgvs_c: str = ""
    hgvs_p: str = ""
    span_end: int = 0  # set by normalize_variant: end of an indel's repeat (ambiguity) region

    @property
    def kind(self) -> str:
        r, a = len(self.ref), len(self.alt)
        if r == a:
            return "snv" if r == 1 else "mnv"
        if r == 1 and a > 1 and self.alt[0] == self.ref[0]:
            return "insertion"
        if a == 1 and r > 1 and self.alt[0] == self.ref[0]:
            return "deletion"
        return "delins"

    @property
    def span(self) -> tuple[int, int]:
        """0-based [start, end) of the reference bases a read must hold to show the allele.

        For a (left-aligned) indel this runs to the base after its right-most equivalent
        placement: only a read through the whole repeat tells the allele apart."""
        start = self.pos - 1
        end = start + len(self.ref)
        if self.kind == "insertion":
            end += 1  # the base after the insertion point must be read too
        return start, max(end, self.span_end)


@dataclass(frozen=True)
class Fusion:
    """A genomic junction: side A's kept part, then side B's kept part (derivative, A sense).

    ``keep`` is ``left`` (bases <= pos are kept) or ``right`` (bases >= pos). EML4-ALK v1 in
    H3122 (PROVENANCE_EML4.md s6): A = EML4 contig 124249 left, B = ALK contig 27514 left.
    ``fraction`` = share of fragments covering a breakpoint that come from the fused allele.
    """

    chrom_a: str
    pos_a: int
    keep_a: str
    chrom_b: str
    pos_b: int
    keep_b: str
    fraction: float = 0.0
    name: str = "fusion"

    def with_fraction(self, fraction: float) -> Fusion:
        return replace(self, fraction=fraction)

    def sides(self) -> list[tuple[str, int, str, str, int, str]]:
        return [
            (self.chrom_a, self.pos_a, self.keep_a, self.chrom_b, self.pos_b, self.keep_b),
            (self.chrom_b, self.pos_b, self.keep_b, self.chrom_a, self.pos_a, self.keep_a),
        ]


#: EML4-ALK variant 1 as in NCI-H3122 (EML4 intron 13 -> ALK intron 19, inversion).
EML4_ALK_V1 = Fusion(
    "chr2_42175501_42332600",
    124249,
    "left",
    "chr2_29196228_29226309",
    27514,
    "left",
    name="EML4::ALK",
)


@dataclass(frozen=True)
class GCBias:
    """Relative fragment yield ``exp(slope*(gc-0.5) - curvature*(gc-0.5)**2)``."""

    slope: float = 0.0
    curvature: float = 0.0

    def weight(self, gc: np.ndarray) -> np.ndarray:
        x = np.asarray(gc, dtype=np.float64) - 0.5
        return np.exp(self.slope * x - self.curvature * x * x)

    def max_weight(self) -> float:
        return float(self.weight(np.linspace(0.0, 1.0, 1001)).max())


@dataclass(frozen=True)
class ErrorModel:
    """Illumina-like qualities: mean falls quadratically from ``q_start`` to ``q_end`` along the
    read (R2 ``r2_drop`` lower at the end), read-level offset (sd ``read_sd``), per-base noise
    (sd ``base_sd``), occasional low-quality bases (``dip_rate``, Q 2-12). A base is substituted
    with probability 10^(-Q/10), so qualities are calibrated by construction."""

    q_start: float = 37.0
    q_end: float = 31.0
    r2_drop: float = 4.0
    read_sd: float = 1.5
    base_sd: float = 2.5
    dip_rate: float = 0.003
    q_max: int = 41


@dataclass
class Library:
    """Simulated read pairs (codes, padded with 4 beyond each read's length) and fragment truth."""

    r1: np.ndarray
    r2: np.ndarray
    q1: np.ndarray
    q2: np.ndarray
    length: np.ndarray  # read length of each pair (both mates)
    chrom: np.ndarray  # contig id of the fragment's (first) reference part
    start: np.ndarray  # 0-based reference start of the fragment
    end: np.ndarray  # 0-based reference end
    duplicate: np.ndarray  # bool: PCR copy of an earlier molecule
    on_target: np.ndarray  # bool: drawn from a target/amplicon (not off-target)
    fusion: np.ndarray  # bool: fragment from the fused allele
    carrier: np.ndarray  # (n, n_variants) bool: fragment carries variant i
    covers: np.ndarray  # (n, n_variants) bool: fragment covers variant i
    r1_reverse: np.ndarray | None = None  # bool: R1 reads the fragment's reverse strand

    @property
    def n(self) -> int:
        return len(self.length)


# --------------------------------------------------------------------------------------------
# run plans: the demo from config/config.yaml, or one library from explicit arguments


@dataclass
class SamplePlan:
    """One sample to simulate: where its FASTQs go and its truth."""

    sample: str
    line: str = ""
    condition: str = ""
    units: list[tuple[str, Path, Path]] = field(default_factory=list)  # (unit, fq1, fq2)
    copy_numbers: dict[str, float] = field(default_factory=dict)
    vafs: dict[int, float] = field(default_factory=dict)  # variant index -> VAF
    fusion_fraction: float = 0.0
    gc_bias: GCBias = GCBias()
    params: dict = field(default_factory=dict)  # per-sample simulate_library overrides


@dataclass
class RunPlan:
    reference: Path
    known_bed: Path | None
    targets: Path | None  # capture targets, or amplicon inserts (None: genes from primer names)
    primers: Path | None
    assay: str
    out_dir: Path
    seed: int
    samples: list[SamplePlan]
    variants: list[Variant]
    fusion: Fusion | None
    params: dict  # simulate_library keyword arguments shared by all samples
