"""Panel of normals (resistcall pon) and its use by the SNV caller (snv --pon); indel classes."""

from __future__ import annotations

import logging
import shutil
import subprocess

import numpy as np
import pandas as pd
import pysam
import pytest
from cyvcf2 import VCF
from test_pileup import ALK, REF, _ref, make_bam

from resistcall import pon as ponlib
from resistcall import snv
from resistcall.cli import main
from resistcall.contracts import PON_COLUMNS
from resistcall.errors import UserError
from resistcall.meta_line import parse_meta

from conftest import BIN, copy_workflow, run, stub_demo_fastqs

ART, GERM, SNV = 24600, 24640, 24700  # recurrent artefact, variant in one normal, real SNV


def _alt(pos: int) -> str:
    return "A" if _ref(pos) != "A" else "C"


def _v(pos: int, vaf: float) -> tuple[int, str, str, float]:
    return (pos, _ref(pos), _alt(pos), vaf)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Two normals that share a 2% artefact at ART, one with a 40% variant at GERM; a parental
    without the artefact and a resistant with the artefact (3%), a real 5% SNV and the
    normal's variant at 3% (as contamination from that normal would look)."""
    d = tmp_path_factory.mktemp("pon")
    n1 = make_bam(d / "n1.bam", "N1", 1200, [_v(ART, 0.02), _v(GERM, 0.4)], seed=1)
    n2 = make_bam(d / "n2.bam", "N2", 1200, [_v(ART, 0.02)], seed=2)
    par = make_bam(d / "par.bam", "PAR", 1500, [], seed=3, error_rate=0.001)
    variants = [_v(ART, 0.03), _v(SNV, 0.05), _v(GERM, 0.03)]
    res = make_bam(d / "res.bam", "RES", 1500, variants, seed=4)
    bed = d / "regions.bed"
    bed.write_text(f"{ALK}\t24400\t24800\tALK_test\n")
    out = d / "pon.tsv.gz"
    rc = main(
        ["pon", "--reference", str(REF), "--regions", str(bed), "--bams", str(n1), str(n2)]
        + ["--out", str(out)]
    )
    assert rc in (0, None)
    return {"dir": d, "par": par, "res": res, "bed": bed, "pon": out, "normals": [n1, n2]}


def test_pon_table_contract_and_variant_exclusion(data):
    pon = snv.read_pon(data["pon"])
    assert tuple(pon.columns) == PON_COLUMNS
    # every covered position: 3 substitutions + 1 indel row
    assert len(pon) == 400 * 4
    art = pon[(pon.pos == ART + 1) & (pon.alt == _alt(ART))].iloc[0]
    assert art.samples == 2 and art.excluded == 0
    assert 0.01 < art.alt_reads / art.depth < 0.04  # the artefact is counted as noise
    germ = pon[(pon.pos == GERM + 1) & (pon.alt == _alt(GERM))].iloc[0]
    # the normal carrying a real variant is left out at that allele only
    assert germ.samples == 1 and germ.excluded == 1 and germ.alt_reads < 5
    other = pon[(pon.pos == GERM + 1) & (pon.alt != _alt(GERM)) & (pon.alt != "indel")]
    assert (other.samples == 2).all()


def test_pon_records_its_normals_and_warns_about_an_unmarked_capture_normal(
    data, amplicon, tmp_path, caplog
):
    """Each normal is on record in the panel's preamble; a capture normal whose header names
    no duplicate-marking program (the rule of the run's samples used as given) is warned
    about, naming the file, and recorded as not marked. Readers skip the preamble, and the
    same panel is written as the same bytes."""
    marked, unmarked = amplicon["normals"][0], str(data["normals"][0])  # samtools markdup; none
    out = tmp_path / "mixed.tsv.gz"
    argv = ["pon", "--reference", str(REF), "--regions", str(data["bed"])]
    with caplog.at_level(logging.WARNING):
        assert main([*argv, "--bams", marked, unmarked, "--out", str(out)]) in (0, None)
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warned) == 1 and warned[0].startswith(f"{unmarked}: duplicates were not marked")
    assert snv.pon_preamble(out) == [
        '##normal=<Sample=AN1,File=an1.bam,Duplicates="marked upstream (samtools)">',
        '##normal=<Sample=N1,File=n1.bam,Duplicates="not marked">',
    ]
    assert snv.pon_preamble(data["pon"]) == [
        f'##normal=<Sample=N{i},File=n{i}.bam,Duplicates="not marked">' for i in (1, 2)
    ]
    # amplicon counting keeps duplicates by design: nothing to mark, nothing to warn about
    assert snv.pon_preamble(amplicon["pon"]["amplicon"]) == [
        f'##normal=<Sample=AN{i},File=an{i}.bam,Duplicates="counted (amplicon)">' for i in (1, 2)
    ]
    table = snv.read_pon(out)
    assert tuple(table.columns) == PON_COLUMNS and len(table) == 400 * 4
    # under capture rules the marked amplicon normal keeps one fragment: only N1 counts
    assert table["samples"].max() == 1
    again = tmp_path / "again.tsv.gz"
    ponlib.write_pon(table, snv.pon_preamble(out), again)
    assert again.read_bytes() == out.read_bytes()


def test_pon_records_quote_names_with_delimiters_and_read_back(data, tmp_path):
    """A sample or file name holding the record's delimiters (, > = space ") is quoted and
    escaped (VCF 4.3), in the panel's preamble and in the calls' ##resistcall_pon line; both
    read back to the names (ours and htslib's reader; vcf-validator passes the VCF)."""
    name = 'H3122,clone "A">1'
    normal = make_bam(tmp_path / "n=1 x.bam", name, 300, [], seed=5)
    pon = tmp_path / 'pon, "v2".tsv.gz'
    argv = ["pon", "--reference", str(REF), "--regions", str(data["bed"]), "--bams", str(normal)]
    assert main([*argv, "--out", str(pon)]) in (0, None)
    assert snv.pon_preamble(pon) == [
        '##normal=<Sample="H3122,clone \\"A\\">1",File="n=1 x.bam",Duplicates="not marked">'
    ]
    assert snv.pon_normals(pon) == [
        {"Sample": name, "File": "n=1 x.bam", "Duplicates": "not marked"}
    ]
    calls, header = _calls(data, tmp_path, "--pon", str(pon))
    assert calls
    line = next(x for x in header.splitlines() if x.startswith("##resistcall_pon="))
    assert parse_meta(line) == ("resistcall_pon", {"File": 'pon, "v2".tsv.gz', "Normals": "1"})
    with pysam.VariantFile(str(tmp_path / "calls2.vcf.gz")) as vcf:
        (record,) = [r for r in vcf.header.records if r.key == "resistcall_pon"]
        assert record["File"] == '"pon, \\"v2\\".tsv.gz"' and record["Normals"] == "1"
        assert str(record).rstrip("\n") == line  # what somatic-vcf copies


def test_pon_from_crams_equals_the_pon_from_their_bams(data, tmp_path):
    """Normals may be CRAM (the panel's own counting decodes them with --reference)."""
    crams = []
    for bam in data["normals"]:
        cram = tmp_path / bam.with_suffix(".cram").name
        pysam.view("-C", "-T", str(REF), "-o", str(cram), str(bam), catch_stdout=False)
        pysam.index(str(cram))
        crams.append(str(cram))
    out = tmp_path / "pon_cram.tsv.gz"
    argv = ["pon", "--reference", str(REF), "--regions", str(data["bed"]), "--bams", *crams]
    assert main([*argv, "--out", str(out)]) in (0, None)
    from_bams = snv.read_pon(data["pon"])
    assert len(from_bams) and from_bams["alt_reads"].sum() > 0
    pd.testing.assert_frame_equal(snv.read_pon(out), from_bams)


def _calls(data, tmp_path, *extra: str) -> tuple[dict, str]:
    """(records by (0-based pos, alt), raw header) of an snv run on the pair."""
    out = tmp_path / f"calls{len(extra)}.vcf.gz"
    args = ["snv", "--reference", str(REF), "--regions", str(data["bed"])]
    args += ["--parental", str(data["par"]), "--resistant", str(data["res"]), "--out", str(out)]
    assert main(args + list(extra)) in (0, None)
    if shutil.which("vcf-validator"):
        proc = subprocess.run(["vcf-validator", str(out)], capture_output=True, text=True)
        assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr
    vcf = VCF(str(out))
    return {(v.POS - 1, v.ALT[0]): v for v in vcf}, vcf.raw_header


def test_caller_takes_recurrent_artefact_noise_from_the_pon(data, tmp_path):
    without, plain_header = _calls(data, tmp_path)
    with_pon, pon_header = _calls(data, tmp_path, "--pon", str(data["pon"]))
    # the header names the panel the calls used (file name, never its folder) and its normals
    assert "##resistcall_pon=<File=pon.tsv.gz,Normals=2>\n" in pon_header
    assert str(data["dir"]) not in pon_header
    assert "resistcall_pon" not in plain_header
    # without the panel the artefact reads as a new 3% variant
    assert without[(ART, _alt(ART))].INFO["STATUS"] == "acquired"
    assert (ART, _alt(ART)) not in with_pon
    # the real SNV is still acquired, with its record otherwise unchanged
    a, b = without[(SNV, _alt(SNV))], with_pon[(SNV, _alt(SNV))]
    assert b.INFO["STATUS"] == "acquired" and b.FILTER is None
    assert a.INFO["PDET"] == b.INFO["PDET"] and a.format("AD").tolist() == b.format("AD").tolist()
    # a panel sample's own variant at a low fraction reads as contamination, not as acquired
    assert without[(GERM, _alt(GERM))].FILTER is None
    assert with_pon[(GERM, _alt(GERM))].FILTER == "pon_variant"


def test_pon_keeps_class_noise_at_clean_sites():
    """A clean panel never makes a site look cleaner than its class (docs/snv.md)."""
    cand = pd.DataFrame({"cls": ["C>T", "C>T"], "kind": ["snv", "snv"]})
    st = pd.DataFrame({"err": [0.0, 0.0]})
    model = {"C>T": (1e-4, 1e6)}
    a0, b0 = snv.null_params(cand, st, model)
    k, n = np.array([0.0, 30.0]), np.array([2000.0, 2000.0])
    a1, b1 = snv.null_params(cand, st, model, (k, n))
    assert a1[0] == a0[0] and b1[0] == b0[0]
    assert a1[1] / (a1[1] + b1[1]) > 0.005  # 30/2000 at a 1e-4 class: a noisy site


def test_read_pon_errors_name_file_and_row(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("chrom\tpos\tref\talt\tdepth\n")
    with pytest.raises(UserError, match="bad.tsv.*alt_reads"):
        snv.read_pon(bad)
    neg = tmp_path / "neg.tsv"
    row = f"{ALK}\t10\tA\tC\t-1\t0\t1\t0\n"
    neg.write_text("\t".join(PON_COLUMNS) + "\n" + row)
    with pytest.raises(UserError, match="neg.tsv: row 2: depth"):
        snv.read_pon(neg)
    # rows are lines of the file: the preamble counts
    neg.write_text("##normal=<Sample=N1,File=n1.bam,Duplicates=not marked>\n" + neg.read_text())
    with pytest.raises(UserError, match="neg.tsv: row 3: depth"):
        snv.read_pon(neg)
    # a broken record of a normal names its line (read for the calls' ##resistcall_pon)
    neg.write_text('##normal=<Sample="N1,File=n1.bam>\n' + neg.read_text())
    with pytest.raises(UserError, match="neg.tsv: line 1: not a structured meta line"):
        snv.pon_header(neg)
    with pytest.raises(UserError, match="at least one BAM"):
        ponlib.build_pon([], str(REF), str(neg))


def test_indel_classes_follow_length_and_homopolymer_context():
    class S:
        ref = np.frombuffer(b"ACAAAAGTTTTTC", dtype=np.uint8)
        contig = np.array([ALK] * 13, dtype=object)
        pos = np.arange(13)

    rep = snv.repeat_context(S())  # type: ignore[arg-type]
    # anchor before a run of >= 4: C before AAAA, G before TTTTT, first T before TTTT
    assert rep.nonzero()[0].tolist() == [1, 6, 7]
    cand = pd.DataFrame(
        {"ref": ["C", "GTTT", "A"], "alt": ["CA", "G", "T"], "kind": ["indel", "indel", "snv"]}
    ).assign(row=[1, 6, 3])
    assert snv.candidate_classes(cand, rep).tolist() == ["indel1:repeat", "indel2+:repeat", "A>T"]
    assert snv.indel_class(3, False) == "indel2+:plain"


def _dry_run(data, tmp_path, pon: str, amplicon: bool = False) -> subprocess.CompletedProcess:
    """`snakemake -n -p` of a copy of the workflow with ``pon`` appended to its config
    (``amplicon``: the demo amplicon panel instead of the capture one)."""
    work = copy_workflow(tmp_path)
    if amplicon:
        config = work / "config" / "config.yaml"
        text = config.read_text().replace("  assay: capture ", "  assay: amplicon ")
        config.write_text(text.replace("demo_capture_targets.bed", "demo_amplicons.bed"))
    stub_demo_fastqs(work)
    shutil.copy(data["pon"], work / "pon.tsv.gz")
    with open(work / "config" / "config.yaml", "a") as f:
        f.write(pon)
    return run([str(BIN / "snakemake"), "-n", "-p", "--cores", "1"], work)


def _rule(stdout: str, name: str) -> str:
    return stdout.split(f"rule {name}:")[1].split("\nrule ")[0]


def test_workflow_passes_a_built_pon_file_to_snv(data, tmp_path):
    """config `pon: {file: ...}` is an input of the snv rule and reaches `snv --pon`."""
    stdout = _dry_run(data, tmp_path, "pon: {file: pon.tsv.gz}\n").stdout
    snv_rule = _rule(stdout, "snv")
    assert "pon.tsv.gz" in snv_rule.split("output:")[0]
    assert " --pon pon.tsv.gz " in snv_rule
    assert "rule pon:" not in stdout


def test_workflow_builds_the_pon_from_normals_once_and_snv_reads_it(data, tmp_path):
    """config `pon: {normals: [...]}`: one `pon` job builds results/pon/pon.tsv.gz from the
    normals (with the section's options), the snv rule reads it; the rule's own command,
    run as printed, writes a panel of both normals."""
    n1, n2 = (data["dir"] / n for n in ("n1.bam", "n2.bam"))
    proc = _dry_run(data, tmp_path, f"pon: {{normals: [{n1}, {n2}], min_depth: 30}}\n")
    stdout = proc.stdout
    # the normals carry no duplicate-marking @PG: the run says so before anything runs
    for i, bam in enumerate((n1, n2)):
        warning = f"pon.normals[{i}]: {bam}: duplicates were not marked"
        assert warning in proc.stdout + proc.stderr
    assert stdout.count("rule pon:") == 1
    pon_rule = _rule(stdout, "pon")
    assert "output: results/pon/pon.tsv.gz" in pon_rule
    assert f"--bams {n1} {n2} --assay capture --min-depth 30 " in pon_rule
    snv_rule = _rule(stdout, "snv")
    assert "results/pon/pon.tsv.gz" in snv_rule.split("output:")[0]
    assert " --pon results/pon/pon.tsv.gz " in snv_rule
    command = next(ln for ln in pon_rule.splitlines() if " -m resistcall pon " in ln)
    command = command.strip().removeprefix("Shell command:").strip()
    (tmp_path / "logs" / "pon").mkdir(parents=True)
    run(["bash", "-c", command], tmp_path)
    table = snv.read_pon(tmp_path / "results" / "pon" / "pon.tsv.gz")
    art = table[(table.pos == ART + 1) & (table.alt == _alt(ART))].iloc[0]
    assert art.samples == 2 and art.depth > 2 * 30


def test_workflow_clips_amplicon_normals_before_the_panel(data, tmp_path):
    """Amplicon run with a CRAM normal: one `pon_clip` job soft-clips its primers (the run's
    BAMs are clipped by rule ampliconclip) and `pon` counts the clipped BAM with the amplicon
    rules. The two commands, run as printed, leave no count on the primer bases that the snv
    regions reach (ALK_006's RIGHT primer, 24614-24638 1-based) and count the insert."""
    bam = make_bam(tmp_path / "n.bam", "N1", 400, [], 24448, 24638, insert=189, seed=5)
    cram = tmp_path / "n.cram"
    pysam.view("-C", "-T", str(REF), "-o", str(cram), str(bam), catch_stdout=False)
    pysam.index(str(cram))
    proc = _dry_run(data, tmp_path / "work", f"pon: {{normals: [{cram}]}}\n", amplicon=True)
    stdout = proc.stdout
    assert "duplicates were not marked" not in proc.stdout + proc.stderr  # amplicon: kept
    assert stdout.count("rule pon_clip:") == 1 and stdout.count("rule pon:") == 1
    clip, pon = _rule(stdout, "pon_clip"), _rule(stdout, "pon")
    fasta, primers = "resources/reference/panel_GRCh38.fa", "resources/panel/demo_primers.bed"
    assert f"--reference {fasta} -b {primers} -u -o - {cram} " in clip
    assert "--bams results/pon/clipped/0/n.bam --assay amplicon " in pon
    for d in ("logs/pon", "results/pon/clipped/0"):
        (tmp_path / "work" / d).mkdir(parents=True, exist_ok=True)
    for printed in (clip, pon):
        command = next(ln for ln in printed.splitlines() if " 2> logs/pon/" in ln)
        command = command.strip().removeprefix("Shell command:").strip()
        run(["bash", "-c", command], tmp_path / "work")
    table = snv.read_pon(tmp_path / "work" / "results" / "pon" / "pon.tsv.gz")
    assert table.loc[table.pos.between(24614, 24618), "samples"].sum() == 0
    insert = table[table.pos.between(24474, 24613) & (table.alt == "indel")]
    assert len(insert) == 140 and (insert.depth == 400).all()


def test_hotspot_limit_uses_the_callers_panel_null(data, tmp_path):
    """A codon the panel marks noisy gets the caller's panel-updated null, so its detection
    limit rises (the caller needs more reads there); a clean codon's limit is unchanged."""
    sites = pd.DataFrame(
        {
            "gene": ["ALK", "ALK"],
            "hgvs_p": ["p.X1A", "p.X2A"],
            "residue": ["X1", "X2"],
            "chrom": [ALK, ALK],
            "positions": [[ART + 1, ART + 2, ART + 3], [24751, 24752, 24753]],
            "verified": [True, True],
        }
    )

    def limits(pon) -> pd.Series:
        hot = tmp_path / f"hot{bool(pon)}.tsv"
        out = tmp_path / f"hot{bool(pon)}.vcf.gz"
        snv.run(
            str(REF),
            str(data["bed"]),
            [str(data["res"])],
            str(out),
            str(data["par"]),
            snv.SnvConfig(),
            sites,
            str(hot),
            pon=pon,
        )
        t = pd.read_csv(hot, sep="\t", na_values=".").set_index(["sample", "hgvs_p"])
        return t["detection_limit_vaf"]

    without, with_pon = limits(None), limits(str(data["pon"]))
    for sample in ("PAR", "RES"):
        assert with_pon[(sample, "p.X1A")] > without[(sample, "p.X1A")] + 0.01
        assert with_pon[(sample, "p.X2A")] == without[(sample, "p.X2A")]


# --------------------------------------------------------------------------- amplicon assay

AMP = (24550, 24750)  # one amplicon: every fragment spans exactly these bases
AMP_ART, AMP_SNV = 24600, 24700  # recurrent artefact (read 1), real SNV (read 2)
AMP_FRAGS = 1500


def _amplicon_bam(path, sample: str, variants, seed: int, marked: bool) -> str:
    """Amplicon-shaped reads (make_bam with the insert = the amplicon: all fragments share
    both ends); ``marked``: then duplicate-marked by samtools as an upstream pipeline would
    (fixmate -m, sort, markdup), which flags every fragment but one."""
    start, end = AMP
    make_bam(path, sample, AMP_FRAGS, variants, start, end, insert=end - start - 1, seed=seed)
    if marked:
        raw = path.with_suffix(".raw.bam")
        path.rename(raw)
        pysam.sort("-n", "-o", str(raw) + ".n.bam", str(raw))
        pysam.fixmate("-m", str(raw) + ".n.bam", str(raw) + ".fm.bam")
        pysam.sort("-o", str(raw) + ".s.bam", str(raw) + ".fm.bam")
        pysam.markdup(str(raw) + ".s.bam", str(path))
        pysam.index(str(path))
    return str(path)


@pytest.fixture(scope="module")
def amplicon(tmp_path_factory):
    """Two amplicon normals sharing a 2% artefact at AMP_ART, duplicate-marked upstream; an
    amplicon parental without it and a resistant with it at 3% plus a real 5% SNV."""
    d = tmp_path_factory.mktemp("pon_amplicon")
    normals = [
        _amplicon_bam(d / f"an{i}.bam", f"AN{i}", [_v(AMP_ART, 0.02)], seed=10 + i, marked=True)
        for i in (1, 2)
    ]
    par = _amplicon_bam(d / "apar.bam", "APAR", [], seed=13, marked=False)
    res_variants = [_v(AMP_ART, 0.03), _v(AMP_SNV, 0.05)]
    res = _amplicon_bam(d / "ares.bam", "ARES", res_variants, seed=14, marked=False)
    bed = d / "amplicon.bed"
    bed.write_text(f"{ALK}\t{AMP[0]}\t{AMP[1] - 1}\tALK_amplicon\n")
    pons = {}
    for assay in ("amplicon", "capture"):
        pons[assay] = d / f"pon_{assay}.tsv.gz"
        argv = ["pon", "--reference", str(REF), "--regions", str(bed), "--bams", *normals]
        assert main([*argv, "--assay", assay, "--out", str(pons[assay])]) in (0, None)
    return {"par": par, "res": res, "bed": bed, "pon": pons, "normals": normals}


def test_amplicon_pon_counts_the_duplicate_marked_reads_of_its_normals(amplicon):
    """Amplicon reads share both ends, so an upstream markdup flags all fragments but one:
    the amplicon panel counts them all (as snv --assay amplicon does), the capture panel of
    the same BAMs sees one fragment per normal, below --min-depth."""
    for bam in amplicon["normals"]:
        flagged = int(pysam.view("-c", "-f", "1024", bam).strip())
        assert flagged == 2 * (AMP_FRAGS - 1)  # both reads of every fragment but one
    pon = snv.read_pon(amplicon["pon"]["amplicon"])
    site = pon[(pon.pos == AMP_ART + 1) & (pon.alt == _alt(AMP_ART))].iloc[0]
    assert site.samples == 2 and site.depth == 2 * AMP_FRAGS
    assert 0.01 < site.alt_reads / site.depth < 0.04  # the artefact, counted as noise
    assert len(snv.read_pon(amplicon["pon"]["capture"])) == 0


def _amplicon_calls(amplicon, tmp_path, pon: str | None) -> dict:
    out = tmp_path / f"amp_{pon is not None}.vcf.gz"
    args = ["snv", "--reference", str(REF), "--regions", str(amplicon["bed"]), "--assay"]
    args += ["amplicon", "--parental", amplicon["par"], "--resistant", amplicon["res"]]
    args += ["--out", str(out)] + (["--pon", pon] if pon else [])
    assert main(args) in (0, None)
    vcf = VCF(str(out))
    assert "##resistcall_snv=<assay=amplicon," in vcf.raw_header
    return {(v.POS - 1, v.ALT[0]): v for v in vcf}


def test_amplicon_pon_raises_the_null_at_a_recurrent_artefact(amplicon, tmp_path):
    """In an amplicon run the panel's artefact site is no longer called, the clean site's real
    SNV keeps its record; a panel counted with the capture rules (duplicates skipped) would
    not have seen the artefact."""
    art, real = (AMP_ART, _alt(AMP_ART)), (AMP_SNV, _alt(AMP_SNV))
    without = _amplicon_calls(amplicon, tmp_path, None)
    assert without[art].INFO["STATUS"] == "acquired"
    with_pon = _amplicon_calls(amplicon, tmp_path, str(amplicon["pon"]["amplicon"]))
    assert art not in with_pon
    a, b = without[real], with_pon[real]
    assert b.INFO["STATUS"] == "acquired" and b.FILTER is None
    assert a.INFO["PDET"] == b.INFO["PDET"] and a.format("AD").tolist() == b.format("AD").tolist()
    wrong_rules = _amplicon_calls(amplicon, tmp_path, str(amplicon["pon"]["capture"]))
    assert wrong_rules[art].INFO["STATUS"] == "acquired"
