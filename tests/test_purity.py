"""purity: parsing --purity, tumour copy number (CNVkit's rescaling) and cancer-cell fraction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from resistcall.errors import UserError
from resistcall.purity import cancer_cell_fraction, parse_purity, tumour_copies, vaf_scale

from conftest import BIN, copy_workflow, run, stub_demo_fastqs


def test_parse_purity_defaults_and_errors():
    assert parse_purity(["R1=0.3"], ["P", "R1"]) == {"P": 1.0, "R1": 0.3}
    for bad, message in (
        (["R1"], "SAMPLE=FRACTION"),
        (["X=0.3"], "not among the BAMs' samples"),
        (["R1=0"], "above 0 and at most 1"),
        (["R1=1.2"], "above 0 and at most 1"),
        (["R1=30%"], "above 0 and at most 1"),
    ):
        with pytest.raises(UserError, match=message):
            parse_purity(bad, ["P", "R1"])


def test_tumour_copies_inverts_normal_admixture():
    purity = 0.3
    for copies in (0.0, 1.0, 2.0, 5.0, 12.0):
        bulk = purity * copies + (1 - purity) * 2.0
        assert tumour_copies(bulk, purity) == pytest.approx(copies)
    assert tumour_copies(1.0, 0.3) == 0.0  # below the normal cells' share: clipped
    assert tumour_copies(7.0, 1.0) == 7.0  # a pure sample is unchanged


def test_clonal_variant_in_60_and_20_percent_biopsies_has_the_same_ccf():
    vaf_60, vaf_20 = 0.3, 0.1  # heterozygous clonal variant, diploid locus
    assert cancer_cell_fraction(np.array([vaf_60]), 0.6)[0] == pytest.approx(1.0)
    assert cancer_cell_fraction(np.array([vaf_20]), 0.2)[0] == pytest.approx(1.0)
    assert vaf_60 * vaf_scale(0.2, 0.6) == pytest.approx(vaf_20)
    # a subclone in half the cancer cells of a 40% biopsy
    assert cancer_cell_fraction(np.array([0.1]), 0.4)[0] == pytest.approx(0.5)


def test_workflow_passes_the_sheets_purity_to_cnv_and_snv(tmp_path):
    """samples.tsv `purity` (parental included; empty = 1.0) reaches `cnv` and `snv` as
    `--purity SAMPLE=FRACTION` for the impure samples only (a dry run's printed commands)."""
    work = copy_workflow(tmp_path)
    sheet = work / "config" / "samples.tsv"
    samples = pd.read_csv(sheet, sep="\t", dtype=str, keep_default_na=False)
    samples["purity"] = ["0.6", "0.3", ""]  # H3122_P, H3122_CR1, H3122_CR2 (pure)
    samples.to_csv(sheet, sep="\t", index=False)
    stub_demo_fastqs(work)
    stdout = run([str(BIN / "snakemake"), "-n", "-p", "--cores", "1"], work).stdout
    for rule in ("cnv", "snv"):
        printed = stdout.split(f"rule {rule}:")[1].split("\nrule ")[0]
        command = next(ln for ln in printed.splitlines() if f" -m resistcall {rule} " in ln)
        assert " --purity H3122_P=0.6 H3122_CR1=0.3 " in f"{command} ", command
        assert "H3122_CR2=" not in command
