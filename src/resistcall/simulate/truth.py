"""The truth table and truth VCF of a run (docs/simulate.md)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pysam

from resistcall import __version__
from resistcall.simulate.genome import Reference, load_targets
from resistcall.simulate.model import RunPlan, SamplePlan, Variant

TRUTH_COLUMNS = [
    "sample",
    "line",
    "condition",
    "kind",
    "gene",
    "hgvs_c",
    "hgvs_p",
    "chrom",
    "pos",
    "genomic",
    "ref",
    "alt",
    "vaf",
    "copy_number",
    "expected",
]


def _status(vaf_p: float, vaf_r: float) -> str:
    """Expected change from parental to resistant (the snv STATUS vocabulary)."""
    if vaf_r > 0 and vaf_p == 0:
        return "acquired"
    if vaf_r == 0 and vaf_p > 0:
        return "lost"
    if vaf_r == 0 and vaf_p == 0:
        return "absent"
    return "enriched" if vaf_r >= 3 * vaf_p else "shared"


def truth_table(plan: RunPlan, variants: list[Variant]) -> pd.DataFrame:
    """Long table: every variant in every sample (VAF 0 = absent), every gene's copy number,
    the fusion. ``expected`` holds the comparison a resistant sample should show."""
    from resistcall.reference import genomic_label

    parental: dict[str, SamplePlan] = {}
    for sp in plan.samples:
        if sp.condition == "parental":
            parental.setdefault(sp.line, sp)
    genes = sorted(set(load_targets(plan)["gene"]))
    ploidy = float(plan.params.get("ploidy", 2.0))
    rows = []
    for sp in plan.samples:
        par = parental.get(sp.line)
        for k, v in enumerate(variants):
            vaf = sp.vafs.get(k, 0.0)
            if sp.condition == "resistant" and par is not None:
                expected = _status(par.vafs.get(k, 0.0), vaf)
            else:
                expected = "present" if vaf > 0 else "absent"
            rows.append(
                [
                    sp.sample,
                    sp.line,
                    sp.condition,
                    v.kind,
                    v.gene,
                    v.hgvs_c,
                    v.hgvs_p,
                    v.chrom,
                    v.pos,
                    genomic_label(v.chrom, v.pos),
                    v.ref,
                    v.alt,
                    f"{vaf:g}",
                    "",
                    expected,
                ]
            )
        for g in genes:
            c = sp.copy_numbers.get(g, ploidy)
            expected = "gain" if c > ploidy else "loss" if c < ploidy else "neutral"
            rows.append(
                [
                    sp.sample,
                    sp.line,
                    sp.condition,
                    "cnv",
                    g,
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    f"{c:g}",
                    expected,
                ]
            )
        if plan.fusion is not None:
            f = plan.fusion
            rows.append(
                [
                    sp.sample,
                    sp.line,
                    sp.condition,
                    "fusion",
                    f.name,
                    "",
                    "",
                    f.chrom_b,
                    f.pos_b,
                    genomic_label(f.chrom_b, f.pos_b),
                    "",
                    f"{f.chrom_a}:{f.pos_a}:{f.keep_a}|{f.chrom_b}:{f.pos_b}:{f.keep_b}",
                    f"{sp.fusion_fraction:g}",
                    "",
                    "present" if sp.fusion_fraction > 0 else "absent",
                ]
            )
    return pd.DataFrame(rows, columns=TRUTH_COLUMNS)


def write_truth_vcf(plan: RunPlan, variants: list[Variant], ref: Reference, path: Path) -> None:
    """Small variants with the simulated VAF per sample (FORMAT/AF), bgzipped + tabix."""
    header = pysam.VariantHeader()
    for name, length in zip(ref.names, ref.lengths, strict=True):
        header.contigs.add(name, length=int(length))
    header.add_meta("source", f"resistcall simulate {__version__}")
    header.add_line('##INFO=<ID=GENE,Number=1,Type=String,Description="Gene">')
    header.add_line('##INFO=<ID=HGVSC,Number=1,Type=String,Description="HGVS c. (truth)">')
    header.add_line('##INFO=<ID=HGVSP,Number=1,Type=String,Description="HGVS p. (truth)">')
    header.add_line('##FORMAT=<ID=AF,Number=A,Type=Float,Description="Simulated VAF">')
    for sp in plan.samples:
        header.add_sample(sp.sample)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.vcf.gz")
    order = sorted(
        range(len(variants)), key=lambda k: (ref.cid(variants[k].chrom), variants[k].pos)
    )
    with pysam.VariantFile(str(tmp), "wz", header=header) as out:
        for k in order:
            v = variants[k]
            rec = out.new_record(contig=v.chrom, start=v.pos - 1, alleles=(v.ref, v.alt))
            rec.info["GENE"] = v.gene or "."
            if v.hgvs_c:
                rec.info["HGVSC"] = v.hgvs_c
            if v.hgvs_p:
                rec.info["HGVSP"] = v.hgvs_p
            for sp in plan.samples:
                vaf = sp.vafs.get(k, 0.0)
                rec.samples[sp.sample]["AF"] = (vaf,)
            out.write(rec)
    tmp.replace(path)
    pysam.tabix_index(str(path), preset="vcf", force=True)
