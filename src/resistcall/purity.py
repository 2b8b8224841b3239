"""Tumour purity: the fraction of a sample's DNA that comes from cancer cells (docs/purity.md).

Cell lines are pure (1.0); biopsies, the pre-treatment one included, are often 20-60% tumour.
Used by ``cnv`` (absolute copy number of the tumour cells), and by ``snv`` (comparing VAFs of
samples of different purity, cancer-cell fraction). Each stage takes ``--purity NAME=FRACTION``
for the samples (by ``@RG SM``) that are not pure; the workflow passes the samples sheet's
``purity`` column.
"""

from __future__ import annotations

import argparse

import numpy as np

from resistcall.errors import UserError


def add_purity_option(parser: argparse.ArgumentParser) -> None:
    """The one definition of ``--purity`` shared by the stages that use it."""
    parser.add_argument(
        "--purity",
        nargs="+",
        default=[],
        metavar="SAMPLE=FRACTION",
        help="tumour fraction (0 < f <= 1) of samples that are not pure cell lines, by @RG SM "
        "name; unnamed samples are 1.0",
    )


def parse_purity(items: list[str], samples: list[str]) -> dict[str, float]:
    """``["P=0.6", "R1=0.2"]`` -> purity of every sample in ``samples`` (1.0 when not given)."""
    out = dict.fromkeys(samples, 1.0)
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--purity {item!r}: expected SAMPLE=FRACTION, e.g. R1=0.3")
        if name not in out:
            raise UserError(
                f"--purity {item!r}: sample {name!r} is not among the BAMs' samples "
                f"({', '.join(samples)})"
            )
        try:
            fraction = float(value)
        except ValueError:
            fraction = float("nan")
        if not 0 < fraction <= 1:
            raise UserError(f"--purity {item!r}: purity must be above 0 and at most 1")
        out[name] = fraction
    return out


def tumour_copies(observed: np.ndarray | float, purity: float, ploidy: float = 2.0) -> np.ndarray:
    """Copy number in the tumour cells from the observed (bulk) copy number of a sample.

    ``observed`` is ``ploidy * ratio``, ratio = sample / reference coverage normalised to the
    baseline genes. The sample is ``purity`` tumour cells with C copies and ``1 - purity``
    normal cells with ``ploidy`` copies, so ``observed = purity C + (1 - purity) ploidy``
    (CNVkit's ``call --purity`` rescaling). The reference may be a tumour too (an impure
    parental, purity q): its bulk copy number is ``q C_P + (1 - q) ploidy``, which is
    ``ploidy`` whatever q under the relative model's assumption that the parental's tumour
    cells carry ``ploidy`` copies of the gene, so the reference's purity cancels. Negative
    solutions (bulk below the normal cells' contribution) are 0.
    """
    bulk = np.asarray(observed, dtype=float)
    return np.maximum((bulk - (1.0 - purity) * ploidy) / purity, 0.0)


def cancer_cell_fraction(
    vaf: np.ndarray, purity: float, copies: float = 2.0, multiplicity: float = 1.0
) -> np.ndarray:
    """Fraction of cancer cells carrying a variant, from its VAF.

    ``VAF = purity * CCF * multiplicity / (purity * copies + (1 - purity) * 2)`` (normal cells
    diploid and without the variant); by default the locus has 2 copies in the tumour and the
    variant is on one of them (multiplicity 1). Capped at 1: a larger value means that the
    assumption does not hold (more than one mutant copy, loss of the other allele, gain).
    """
    denominator = purity * copies + (1.0 - purity) * 2.0
    ccf = np.asarray(vaf, dtype=float) * denominator / (purity * multiplicity)
    return np.minimum(ccf, 1.0)


def vaf_scale(purity_sample: float, purity_reference: float) -> float:
    """Factor that turns the reference sample's VAF into the VAF the sample would show for the
    same cancer-cell fraction (clonal or not), both loci diploid: ``purity_sample /
    purity_reference``. A clonal variant at VAF 0.3 in a 60% biopsy reads 0.1 in a 20% one."""
    return purity_sample / purity_reference
