import pandas as pd
import pysam
import pytest

from resistcall import outputs


def test_all_outputs_appear_together_or_not_at_all(tmp_path):
    a, b = tmp_path / "sub" / "a.txt", tmp_path / "b.json"
    outputs.write_texts([(a, "A"), (b, "B")])
    assert a.read_text() == "A" and b.read_text() == "B"
    with pytest.raises(RuntimeError), outputs.atomic_paths(a, b) as (ta, tb):
        ta.write_text("new A")
        raise RuntimeError("second output failed")
    assert a.read_text() == "A"  # the old, complete output is untouched
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.txt", "b.json"]


def test_failure_before_first_write_leaves_no_file(tmp_path):
    out = tmp_path / "x.tsv"
    with pytest.raises(ValueError), outputs.atomic_paths(out):
        raise ValueError("boom")
    assert list(tmp_path.iterdir()) == []


def test_tsv_and_indexed_vcf(tmp_path):
    tsv = tmp_path / "t.tsv"
    outputs.write_tsv(pd.DataFrame({"x": [1.23456]}), tsv, float_format="%.2f")
    assert tsv.read_text() == "x\n1.23\n"
    vcf = tmp_path / "c.vcf.gz"
    header = pysam.VariantHeader()
    header.contigs.add("chr1", length=1000)
    with outputs.atomic_paths(vcf) as (temp,):
        with pysam.VariantFile(str(temp), "wz", header=header) as handle:
            handle.write(handle.new_record(contig="chr1", start=9, stop=10, alleles=("A", "T")))
        pysam.tabix_index(str(temp), preset="vcf", force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.vcf.gz", "c.vcf.gz.tbi", "t.tsv"]
    assert len(list(pysam.VariantFile(str(vcf)).fetch("chr1"))) == 1
