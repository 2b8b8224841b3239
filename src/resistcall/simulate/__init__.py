"""Deterministic paired-end panel library simulation from the real-base reference blocks.

Model (docs/simulate.md has the full description and the demo truth):

* **fragments** - capture: a target is drawn with weight (target length + mean fragment length)
  x probe efficiency x copy number / ploidy, then a fragment length (log-normal) and a start
  uniform over the positions where the fragment overlaps the target and stays on real bases;
  a fraction ``off_target`` is drawn uniformly from all real-base blocks. Amplicon: the fragment
  *is* the amplicon (primer to primer), drawn with weight efficiency x copy number / ploidy x GC.
* **GC bias** per sample: fragment acceptance ``exp(slope*(gc-0.5) - curvature*(gc-0.5)**2)``.
* **variants** (SNV, MNV, insertion, deletion, delins): among fragments that cover the variant
  (amplicon: whose *insert* covers it; primers are synthetic and always reference), a
  Bernoulli(VAF) subset carries the alternate allele.
* **fusion**: among fragments covering either breakpoint, a fraction is replaced by the same
  stretch of the fused allele (kept side + partner side, orientation from the junction spec).
* **duplicates** (capture): a fraction of read pairs are PCR copies of earlier molecules (same
  ends, same alleles, fresh sequencing errors), family sizes uneven (gamma weights).
* **reads**: R1/R2 from the two fragment ends, random strand, trimmed to the fragment when it is
  shorter than the read; Illumina-like position-dependent qualities and substitution errors drawn
  with exactly the probability the quality states.

Everything is vectorised with numpy; a fixed seed gives byte-identical gzip files (mtime 0).

Package layout, one job per module: ``genome`` (reference arrays, targets), ``model`` (what is
simulated: variants, fusion, GC bias, errors, library, run plan), ``library`` (fragments,
alleles, duplicates), ``reads`` (qualities and errors), ``fastq`` (gzip writing), ``plan``
(config -> plan, running it), ``truth`` (truth table and VCF), ``cli`` (``resistcall simulate``).
"""

from resistcall.simulate.cli import register
from resistcall.simulate.genome import Reference, decode, encode, load_reference, revcomp
from resistcall.simulate.library import normalize_variant, sample_seed, simulate_library
from resistcall.simulate.model import (
    EML4_ALK_V1,
    ErrorModel,
    Fusion,
    GCBias,
    Library,
    RunPlan,
    SamplePlan,
    Variant,
)
from resistcall.simulate.plan import plan_from_config, run_plan
from resistcall.simulate.truth import TRUTH_COLUMNS, truth_table

__all__ = [
    "EML4_ALK_V1",
    "TRUTH_COLUMNS",
    "ErrorModel",
    "Fusion",
    "GCBias",
    "Library",
    "Reference",
    "RunPlan",
    "SamplePlan",
    "Variant",
    "decode",
    "encode",
    "load_reference",
    "normalize_variant",
    "plan_from_config",
    "register",
    "revcomp",
    "run_plan",
    "sample_seed",
    "simulate_library",
    "truth_table",
]
