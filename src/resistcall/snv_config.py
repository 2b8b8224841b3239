"""Every tunable of ``resistcall snv`` and of its panel of normals, ``resistcall pon`` (the
``snv:`` and ``pon:`` config sections), apart from the caller.

Why a module of its own: the stages that only read the caller's defaults (``scope``, the report,
the config schema, which every workflow start and every cluster job builds) must not import the
caller, whose scipy.stats import alone costs ~1.3 s per command. Method and defaults in
docs/snv.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from resistcall.options import option
from resistcall.pileup import PileupParams


@dataclass(frozen=True)
class SnvConfig:
    """Every tunable of the caller: the ``snv:`` config keys and ``resistcall snv`` options
    (:mod:`resistcall.options`; method and defaults in docs/snv.md)."""

    min_vaf: float = option(
        0.01,
        "smallest VAF the report should rely on: the low_vaf filter (95% upper VAF bound below "
        "it) and the target shown beside each hotspot's detection limit (not a gate)",
        gt=0,
        lt=1,
    )
    alpha: float = option(
        0.05, "family-wise error rate over all tested (position, allele) hypotheses", gt=0, lt=1
    )
    hotspot_alpha_share: float = option(
        0.5, "share of alpha spent on known-resistance hotspot hypotheses", gt=0, lt=1
    )
    named_allele_weight: float = option(
        10.0,
        "weight, within the hotspot share of alpha, of a named allele (a substitution that "
        "makes a table row's protein change) against the other hypotheses at hotspot codons "
        "(1: all alike)",
        ge=1,
    )
    min_alt_reads: int = option(
        2, "alt reads a candidate needs in some sample before it is tested", ge=1
    )
    variant_prior: float = option(
        1e-3, "prior probability of a real variant at a site in the parental", gt=0, lt=1
    )
    enrich_fold: float = option(
        1.5, "enriched: resistant VAF at least this many times the parental VAF", gt=1
    )
    min_depth: int = option(20, "low_depth filter: depth of the evidence sample below this", ge=1)
    strand_bias_p: float = option(1e-3, "strand_bias filter: Fisher p below this", gt=0, lt=1)
    strand_min_frac: float = option(
        0.1, "strand_bias filter: alt strand fraction outside [this, 1 - this]", ge=0, lt=0.5
    )
    read_end_distance: int = option(
        5, "read_end filter: median alt distance to the aligned read end below this", ge=0
    )
    min_alt_base_quality: float = option(
        25.0, "low_base_quality filter: mean alt base quality below this", ge=0
    )
    homopolymer_length: int = option(6, "homopolymer filter: run length at least this", ge=2)
    homopolymer_max_vaf: float = option(
        0.1, "homopolymer filter: applies below this VAF", gt=0, le=1
    )
    #: bcftools' SnpGap/IndelGap idea: reads carrying an indel are often aligned with the
    #: indel shifted, split or replaced by mismatches; weaker events this close are artefacts.
    near_indel_window: int = option(10, "near_indel filter: bp from a detected indel", ge=0)
    near_indel_ratio: float = option(
        4.0, "near_indel filter: the indel has at least this many times more alt reads", gt=0
    )
    power: float = option(
        0.95, "power wanted for hotspot detection limits (and depth_needed)", gt=0, lt=1
    )
    max_detection_limit: float = option(
        0.10, "a hotspot whose detection limit is above this VAF is 'not covered'", gt=0, le=1
    )
    background_max_vaf: float = option(
        0.005, "sites above this VAF are left out of the background fit (variants)", gt=0, lt=1
    )
    pon_noisy_p: float = option(
        1e-3,
        "with --pon: a site is noisy when its panel-of-normals alt count is this improbable "
        "under the class background; only noisy sites take their own noise from the panel",
        gt=0,
        lt=1,
    )
    pon_weight: float = option(
        1e3,
        "with --pon: weight (in fragments) of the class background against the panel's "
        "counts at a noisy site",
        gt=0,
    )
    contamination_max_vaf: float = option(
        0.05,
        "pon_variant filter: an allele some panel-of-normals sample carries as a variant is "
        "filtered below this VAF (cross-sample contamination)",
        gt=0,
        le=1,
    )
    #: runtime inputs (not options): the assay comes from ``panel.assay``, the build (VCF
    #: header ##assembly) from ``reference.build``.
    assay: str = "capture"
    build: str = "GRCh38"
    pileup: PileupParams = PileupParams()


@dataclass(frozen=True)
class PonOptions:
    """Options of ``resistcall pon`` (docs/snv.md, "Panel of normals")."""

    max_vaf: float = option(
        0.05,
        "a sample's counts of an allele at a position are left out when its allele fraction "
        "there is above this (a real variant in that sample, not noise)",
        gt=0,
        lt=1,
    )
    min_depth: int = option(20, "a sample counts at a position only from this depth on", ge=1)
