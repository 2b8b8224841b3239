"""HGVS c./p. on the panel models, cross-checked against bcftools csq.

The fixture VCF is generated from the knowledge table and the reference: for every protein
change the table names (split compounds) the smallest codon change that produces it, plus
synonymous, nonsense, frameshift, multi-codon, intronic, UTR, start/stop and splice cases.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pysam
import pytest

from resistcall.hgvs import CODON_TABLE, ContigCache, annotate_variant, translate, trim
from resistcall.knowledge import MUTATION_TYPES, compound_parts, load_known
from resistcall.reference import revcomp
from resistcall.transcripts import load_transcripts

REPO = Path(__file__).resolve().parents[1]
GTF = REPO / "resources" / "reference" / "panel_GRCh38.gtf"
FASTA = REPO / "resources" / "reference" / "panel_GRCh38.fa"
KNOWN = REPO / "resources" / "known_resistance.tsv"
ALK = "chr2_29196228_29226309"
EGFR = "chr7_55017807_55211651"
COMP = str.maketrans("ACGT", "TGCA")


@pytest.fixture(scope="module")
def tx():
    return load_transcripts(GTF)


@pytest.fixture(scope="module")
def contigs():
    with pysam.FastaFile(str(FASTA)) as fa:
        cache = ContigCache(fa)
        for name in fa.references:
            cache.seq(name)
        yield cache


def _ann(tx, contigs, chrom, pos, ref, alt):
    seq = contigs.seq(chrom)
    assert seq[pos - 1 : pos - 1 + len(ref)] == ref, "fixture REF must match the reference"
    return annotate_variant(tx, contigs, chrom, pos, ref, alt)


# ---- hand-checked cases ------------------------------------------------------------------------
def test_alk_minus_strand_substitutions(tx, contigs):
    a = _ann(tx, contigs, ALK, 24538, "G", "T")  # PROVENANCE: L1196M is c.3586C>A
    assert (a.hgvs_c, a.hgvs_p, a.consequence) == ("c.3586C>A", "p.L1196M", "missense_variant")
    assert a.transcript == "ENST00000389048" and a.refseq == "NM_004304.5" and a.exon == "23"
    assert a.kinase_domain
    a = _ann(tx, contigs, ALK, 24520, "C", "T")
    assert (a.hgvs_c, a.hgvs_p) == ("c.3604G>A", "p.G1202R")
    a = _ann(tx, contigs, ALK, 24536, "C", "T")  # CTG -> CTA at L1196 (codon base 3)
    assert (a.hgvs_c, a.hgvs_p, a.consequence) == ("c.3588G>A", "p.L1196=", "synonymous_variant")


def test_mnv_within_codon(tx, contigs):
    # G1202 codon GGA at contig 24520,24519,24518 (coding strand); GGA -> CGC = R via 2 bases
    seq = contigs.seq(ALK)
    ref = seq[24517:24520]
    alt = revcomp("CGC")
    a = _ann(tx, contigs, ALK, 24518, ref, alt)
    assert a.hgvs_c == "c.3604_3606delinsCGC"
    assert a.hgvs_p == "p.G1202R"


def test_inframe_deletion_three_prime_rule(tx, contigs):
    seq = contigs.seq(ALK)
    # delete codon G1202 (contig 24518-24520), VCF-style anchored at 24517
    a = _ann(tx, contigs, ALK, 24517, seq[24516:24520], seq[24516])
    assert a.hgvs_p == "p.G1202del"
    assert a.consequence == "inframe_deletion"
    # c.3604-3609 is GGA GAC: deleting GGA equals deleting GAG one base 3' (DNA 3' rule)
    assert a.hgvs_c == "c.3605_3607del"
    # MAG[G]D: A1200 G1201 G1202 D1203: deleting codon G1201 is, in protein, the 3'-most G1202del
    b = _ann(tx, contigs, ALK, 24520, seq[24519:24523], seq[24519])  # codon G1201 = 24521-24523
    assert b.hgvs_p == "p.G1202del"


def test_t1151_insertion_is_a_duplication(tx, contigs):
    seq = contigs.seq(ALK)
    codon = seq[26178:26181]  # contig 26179-26181 = T1151 (minus strand)
    # the same event written at either end of the codon gives one description
    for pos in (26178, 26181):
        a = _ann(tx, contigs, ALK, pos, seq[pos - 1], seq[pos - 1] + codon)
        assert a.hgvs_p == "p.T1151dup", pos
        assert a.hgvs_c == "c.3451_3453dup"
        assert a.consequence.startswith("inframe_insertion")


def test_frameshift_and_nonsense(tx, contigs):
    seq = contigs.seq(ALK)
    a = _ann(tx, contigs, ALK, 24530, seq[24529], seq[24529] + "A")
    assert a.consequence == "frameshift_variant"
    assert re.fullmatch(r"p\.[A-Z]\d+[A-Z]fs\*(\d+|\?)", a.hgvs_p)
    # L1196 CTG -> TAG (stop): codon bases 1-2 (contig 24538, 24537) CT -> TA
    ref = contigs.seq(ALK)[24536:24538]
    assert revcomp(ref) == "CT"
    a = _ann(tx, contigs, ALK, 24537, ref, revcomp("TA"))
    assert (a.hgvs_p, a.consequence) == ("p.L1196*", "stop_gained")


def test_intronic_splice_and_partial_flank(tx, contigs):
    seq = contigs.seq(ALK)
    # exon 23 3' end is contig 24479 (c.3645); +5 is contig 24474
    alt = "A" if seq[24473] != "A" else "C"
    a = _ann(tx, contigs, ALK, 24474, seq[24473], alt)
    assert a.hgvs_c == f"c.3645+5{revcomp(seq[24473])}>{revcomp(alt)}"
    assert a.hgvs_p == "" and "splice_region_variant" in a.consequence
    alt = "A" if seq[24477] != "A" else "C"
    a = _ann(tx, contigs, ALK, 24478, seq[24477], alt)  # +1: donor
    assert a.hgvs_c.startswith("c.3645+1") and a.consequence == "splice_donor_variant"
    assert a.hgvs_p == "p.?"
    alt = "A" if seq[15000] != "A" else "C"
    a = _ann(tx, contigs, ALK, 15001, seq[15000], alt)
    assert a.consequence == "intron_variant" and a.exon == "intron 24"
    # beyond the partial model (intron 18): numbered from exon 19, never "upstream"
    alt = "A" if seq[29399] != "A" else "C"
    a = _ann(tx, contigs, ALK, 29400, seq[29399], alt)
    assert a.hgvs_c.startswith("c.3068-62") and a.consequence == "intron_variant"


def test_utr_start_stop_on_complete_model(tx, contigs):
    seq = contigs.seq(EGFR)
    alt = "A" if seq[1399] != "A" else "G"
    a = _ann(tx, contigs, EGFR, 1400, seq[1399], alt)
    assert (a.hgvs_c, a.consequence) == (f"c.-72{seq[1399]}>{alt}", "5_prime_UTR_variant")
    a = _ann(tx, contigs, EGFR, 187815, seq[187814], "A" if seq[187814] != "A" else "G")
    assert a.hgvs_c.startswith("c.*4") and a.consequence == "3_prime_UTR_variant"
    a = _ann(tx, contigs, EGFR, 1473, seq[1472], "C")  # ATG -> ACG
    assert (a.hgvs_p, a.consequence) == ("p.M1?", "start_lost")
    a = _ann(tx, contigs, EGFR, 1471, seq[1470:1474], seq[1470])  # ATG deleted
    assert (a.hgvs_p, a.consequence) == ("p.M1?", "start_lost")
    a = _ann(tx, contigs, EGFR, 187809, "T", "A")  # TGA -> AGA
    assert a.consequence == "stop_lost"
    assert re.fullmatch(r"p\.\*1211Rext\*(\d+|\?)", a.hgvs_p)
    a = _ann(tx, contigs, EGFR, 163572, seq[163571], "T")
    assert (a.hgvs_c, a.hgvs_p) == ("c.2369C>T", "p.T790M")
    # the real L861Q allele of ../shared/realdata/VarDictJava (contig 174025, T>A)
    a = _ann(tx, contigs, EGFR, 174025, "T", "A")
    assert (a.hgvs_c, a.hgvs_p, a.exon) == ("c.2582T>A", "p.L861Q", "21")
    # EGFR exon 19 deletion E746_A750del, c.2235_2249del (the classic 15-bp deletion)
    lo = 156916 + (2235 - 2185)  # exon 19 starts at contig 156916 = c.2185
    a = _ann(tx, contigs, EGFR, lo - 1, seq[lo - 2 : lo + 14], seq[lo - 2])
    assert (a.hgvs_c, a.hgvs_p) == ("c.2235_2249del", "p.E746_A750del")


def test_trim_vcf_padding():
    assert trim(100, "ACGT", "ACT") == (102, "G", "")
    assert trim(100, "A", "AT") == (101, "", "T")
    assert translate("ATGTAA", to_stop=True) == "M*"


# ---- bcftools csq cross-check ------------------------------------------------------------------
def _gtf_to_gff3(gtf: Path, out: Path) -> None:
    """Test-only GTF -> GFF3 conversion in the layout bcftools csq expects (Ensembl-style)."""
    lines = ["##gff-version 3"]
    stops: dict[str, tuple[int, int]] = {}  # GFF3 CDS includes the stop codon, GTF CDS does not
    for line in gtf.read_text().splitlines():
        f = line.split("\t")
        if not line.startswith("#") and f[2] == "stop_codon":
            stops[re.search(r'transcript_id "([^"]+)"', f[8]).group(1)] = (int(f[3]), int(f[4]))
    for line in gtf.read_text().splitlines():
        if line.startswith("#"):
            continue
        f = line.split("\t")
        attrs = dict(re.findall(r'(\S+) "([^"]*)"', f[8]))
        gid, tid = attrs["gene_id"], attrs.get("transcript_id")
        if f[2] == "gene":
            lines.append(
                "\t".join(
                    [
                        *f[:8],
                        f"ID=gene:{gid};Name={attrs.get('gene_name', gid)};biotype=protein_coding",
                    ]
                )
            )
        elif f[2] == "transcript":
            lines.append(
                "\t".join(
                    [
                        *f[:2],
                        "mRNA",
                        *f[3:8],
                        f"ID=transcript:{tid};Parent=gene:{gid};biotype=protein_coding",
                    ]
                )
            )
        elif f[2] in ("exon", "CDS", "five_prime_utr", "three_prime_utr"):
            stop = stops.get(tid)
            if f[2] == "CDS" and stop:
                if int(f[4]) + 1 == stop[0]:
                    f[4] = str(stop[1])
                elif int(f[3]) - 1 == stop[1]:
                    f[3] = str(stop[0])
            kind = {"five_prime_utr": "five_prime_UTR", "three_prime_utr": "three_prime_UTR"}
            lines.append(
                "\t".join([*f[:2], kind.get(f[2], f[2]), *f[3:8], f"Parent=transcript:{tid}"])
            )
    out.write_text("\n".join(lines) + "\n")


def _codon_change(ref_codon: str, target: str) -> str | None:
    """Alternative codon for amino acid ``target`` with the fewest base changes."""
    best = None
    for codon, aa in CODON_TABLE.items():
        if aa != target:
            continue
        diff = sum(a != b for a, b in zip(codon, ref_codon, strict=True))
        if diff and (best is None or diff < best[0]):
            best = (diff, codon)
    return best[1] if best else None


def _variant_for(tx, contigs, gene, change):
    """(chrom, pos, ref, alt) producing a table protein change, or None if not generated."""
    t = tx.by_gene[gene]
    seq = contigs.seq(t.chrom)
    m = re.fullmatch(r"p\.([A-Z])(\d+)([A-Z]|del|dup)", change)
    if m is None:
        return None
    codon_pos = t.codon_positions(int(m.group(2)))
    lo, hi = min(codon_pos), max(codon_pos)
    if m.group(3) == "del":
        return t.chrom, lo - 1, seq[lo - 2 : hi], seq[lo - 2]
    if m.group(3) == "dup":
        return t.chrom, lo - 1, seq[lo - 2], seq[lo - 2] + seq[lo - 1 : hi]
    ref_codon = "".join(seq[p - 1] for p in codon_pos)
    if t.strand == "-":
        ref_codon = ref_codon.translate(COMP)
    alt_codon = _codon_change(ref_codon, m.group(3))
    alt_plus = alt_codon if t.strand == "+" else revcomp(alt_codon)
    ref_plus = seq[lo - 1 : hi]
    # keep only the changed span (SNV or MNV within the codon)
    idx = [i for i in range(3) if ref_plus[i] != alt_plus[i]]
    a, b = idx[0], idx[-1] + 1
    return t.chrom, lo + a, ref_plus[a:b], alt_plus[a:b]


def fixture_variants(tx, contigs) -> list[tuple[str, int, str, str]]:
    known = load_known(KNOWN)
    changes = set()
    for gene, kind, hgvs_p in zip(
        known["gene"], known["alteration_type"], known["hgvs_p"], strict=True
    ):
        if kind in MUTATION_TYPES and kind != "residue":
            changes.update((gene, p) for p in compound_parts(hgvs_p))
    out = []
    for gene, change in sorted(changes):
        v = _variant_for(tx, contigs, gene, change)
        assert v is not None, f"no fixture variant generated for {gene} {change}"
        out.append(v)
    seq = contigs.seq(ALK)
    extra = [
        (ALK, 24536, "C", "T"),  # synonymous L1196=
        (ALK, 24530, seq[24529], seq[24529] + "A"),  # frameshift insertion
        (ALK, 26150, seq[26149:26151], seq[26149]),  # frameshift deletion
        (ALK, 24496, seq[24495:24502], seq[24495]),  # two-codon in-frame deletion
        (ALK, 13583, seq[13582], seq[13582] + "GCAGCA"),  # in-frame insertion
        (ALK, 17800, seq[17799:17801], revcomp(seq[17799:17801])),  # MNV across codons
        (EGFR, 163572, seq_e(contigs)[163571], "T"),  # T790M
        (EGFR, 1473, "T", "C"),  # start lost
        (EGFR, 187809, "T", "A"),  # stop lost
    ]
    return sorted(out + extra, key=lambda v: (v[0], v[1]))


def seq_e(contigs):
    return contigs.seq(EGFR)


def _apply_hgvs_p(pep: dict[int, str], hgvs_p: str) -> tuple[int, str]:
    """(first changed residue, inserted residues) of our one-letter HGVS p. as an edit."""
    m = re.fullmatch(r"p\.([A-Z*])(\d+)(?:_([A-Z*])(\d+))?(.*)", hgvs_p)
    assert m, hgvs_p
    first = int(m.group(2))
    last = int(m.group(4)) if m.group(4) else first
    rest = m.group(5)
    if rest == "=":
        return first, pep[first]
    if rest == "del":
        return first, ""
    if rest == "dup":
        return last + 1, "".join(pep[i] for i in range(first, last + 1)) + pep[last + 1]
    if rest.startswith("ins"):
        return last, rest[3:] + pep[last]
    if rest.startswith("delins"):
        return first, rest[6:]
    if "fs" in rest or "ext" in rest:
        return first, rest[0]
    return first, rest  # substitution (incl. *)


def test_protein_change_agrees_with_bcftools_csq(tx, contigs, tmp_path):
    if shutil.which("bcftools") is None:
        pytest.skip("bcftools not installed")
    variants = fixture_variants(tx, contigs)
    gff = tmp_path / "panel.gff3"
    _gtf_to_gff3(GTF, gff)
    vcf = tmp_path / "fixture.vcf"
    header = ["##fileformat=VCFv4.2"]
    with pysam.FastaFile(str(FASTA)) as fa:
        header += [
            f"##contig=<ID={n},length={n_len}>"
            for n, n_len in zip(fa.references, fa.lengths, strict=True)
        ]
    header.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    rows = [f"{c}\t{p}\tv{i}\t{r}\t{a}\t.\tPASS\t." for i, (c, p, r, a) in enumerate(variants)]
    vcf.write_text("\n".join(header + rows) + "\n")
    # bcftools csq expects left-aligned, normalised records (its documented input)
    norm = tmp_path / "fixture.norm.vcf"
    subprocess.run(
        ["bcftools", "norm", "-f", str(FASTA), "-o", str(norm), str(vcf)],
        capture_output=True,
        text=True,
        check=True,
    )
    run = subprocess.run(
        ["bcftools", "csq", "-l", "--force", "-f", str(FASTA), "-g", str(gff), str(norm)],
        capture_output=True,
        text=True,
        check=True,
    )
    csq: dict[int, tuple[tuple[str, int, str, str], str]] = {}
    for line in run.stdout.splitlines():
        if line.startswith("#"):
            continue
        f = line.split("\t")
        m = re.search(r"BCSQ=([^;\t]+)", f[7])
        csq[int(f[2][1:])] = ((f[0], int(f[1]), f[3], f[4]), m.group(1) if m else "")
    assert len(csq) == len(variants)
    checked = 0
    for i, (_, raw_pos, raw_ref, raw_alt) in enumerate(variants):
        (chrom, pos, ref, alt), bcsq = csq[i]
        ours = annotate_variant(tx, contigs, chrom, pos, ref, alt)
        # the un-normalised form of the same event gets the same description
        raw = annotate_variant(tx, contigs, chrom, raw_pos, raw_ref, raw_alt)
        assert (raw.hgvs_c, raw.hgvs_p) == (ours.hgvs_c, ours.hgvs_p)
        theirs = bcsq.split(",")[0].split("|")
        if not ours.hgvs_p or ours.hgvs_p == "p.?":
            continue
        if ours.hgvs_p == "p.M1?":  # bcftools gives no protein change for a lost start
            assert theirs[0] == "start_lost"
            checked += 1
            continue
        assert len(theirs) >= 6, (chrom, pos, ref, alt, theirs, ours)
        t = tx.by_gene[ours.gene]
        offset = t.first_full_codon - 1  # bcftools numbers a partial model from its first codon
        # reference peptide, our numbering
        pep = {}
        for res in range(t.first_full_codon, t.c_last // 3 + 1):
            cp = t.codon_positions(res)
            if cp is None:
                continue
            codon = "".join(contigs.seq(t.chrom)[q - 1] for q in cp)
            pep[res] = translate(codon if t.strand == "+" else codon.translate(COMP))
        pchange = theirs[5]
        mb = re.fullmatch(r"(\d+)([A-Z*]+)(?:>(\d+)([A-Z*]*))?", pchange)
        assert mb, pchange
        b_first = int(mb.group(1)) + offset
        o_first, o_ins = _apply_hgvs_p(pep, ours.hgvs_p)
        if mb.group(3) is None:  # synonymous: bcftools gives only the residue
            assert ours.hgvs_p.endswith("=") and o_first == b_first, (ours, pchange)
        elif "fs" in ours.hgvs_p or "ext" in ours.hgvs_p:
            b_ref, b_alt = mb.group(2), mb.group(4)
            j = next(i for i in range(len(b_alt)) if i >= len(b_ref) or b_ref[i] != b_alt[i])
            assert o_first == b_first + j, (ours.hgvs_p, pchange)
            assert ours.hgvs_p[-len(f"{b_alt[j]}fs") :] != "" and b_alt[j] in ours.hgvs_p
            tail = re.search(r"(?:fs|ext)\*(\d+|\?)$", ours.hgvs_p).group(1)
            if b_alt.endswith("*") and "fs" in ours.hgvs_p:
                assert tail == str(len(b_alt) - j), (ours.hgvs_p, pchange)
        else:
            # compare the edited peptides around the change
            b_ref = mb.group(2)
            b_alt = mb.group(4)
            start = min(b_first, o_first) - 5
            end = max(b_first + len(b_ref), o_first + 5) + 5
            ref_win = "".join(pep.get(i, "") for i in range(start, end))

            def edit(first, n_del, ins, start=start, ref_win=ref_win):
                i = first - start
                return ref_win[:i] + ins + ref_win[i + n_del :]

            theirs_alt = edit(b_first, len(b_ref), b_alt)
            m = re.fullmatch(r"p\.([A-Z*])(\d+)(?:_([A-Z*])(\d+))?(.*)", ours.hgvs_p)
            first = int(m.group(2))
            last = int(m.group(4)) if m.group(4) else first
            rest = m.group(5)
            if rest == "del" or rest.startswith("delins") or re.fullmatch(r"[A-Z*]", rest):
                ours_alt = edit(first, last - first + 1, o_ins)
            elif rest == "dup":
                ours_alt = edit(last + 1, 0, "".join(pep[i] for i in range(first, last + 1)))
            else:  # ins
                ours_alt = edit(last, 0, rest[3:])
            assert ours_alt == theirs_alt, (chrom, pos, ref, alt, ours.hgvs_p, pchange)
        checked += 1
    assert checked >= 30, checked


def test_demo_spikes_annotated_exactly(tx, contigs):
    """Every spike of the demo config carries its expected HGVS; annotate must reproduce it."""
    import yaml

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    spikes = config["simulate"]["variants"]
    assert spikes
    for v in spikes:
        a = _ann(tx, contigs, v["chrom"], int(v["pos"]), v["ref"], v["alt"])
        assert (a.gene, a.hgvs_c, a.hgvs_p) == (v["gene"], v["hgvs_c"], v["hgvs_p"]), v


def test_insertion_at_exon_end_and_partial_model_end(tx, contigs):
    seq = contigs.seq(EGFR)
    # EGFR exon 1 CDS ends at contig 1559 (c.88); AAG inserted after 1556 shifts 3' to the
    # exon end: a duplication of c.86_88 whose protein effect bcftools also gives as 29K>29KE
    a = _ann(tx, contigs, EGFR, 1556, seq[1555], seq[1555] + "AAG")
    assert a.hgvs_c == "c.86_88dup"
    assert a.hgvs_p == "p.K29_V30insE"
    # a frameshift in the last modelled ALK codon cannot be translated: p.?, never synonymous
    alk = contigs.seq(ALK)
    b = _ann(tx, contigs, ALK, 543, alk[542], alk[542] + "T")
    assert b.consequence == "frameshift_variant" and b.hgvs_p == "p.?"


def test_gtf_without_c_attributes_numbers_full_models_from_c1(tmp_path, tx):
    import re as _re

    text = "\n".join(
        _re.sub(r' cds_c_(start|end) "\d+";', "", line)
        for line in GTF.read_text().splitlines()
        if "ENST00000275493" in line or line.startswith("#")
    )
    gtf = tmp_path / "egfr.gtf"
    gtf.write_text(text + "\n")
    plain = load_transcripts(gtf).by_gene["EGFR"]
    full = tx.by_gene["EGFR"]
    assert plain.cds == full.cds
    for pos in (1472, 163572, 174016, 187811, 187812, 1471, 163480):
        assert str(plain.locate(pos).c) == str(full.locate(pos).c)


def test_every_alk_and_kras_coding_snv_and_small_indel_agrees_with_bcftools():
    """bench/annotate/hgvs_vs_bcftools.py on ALK and KRAS: every possible coding SNV plus 1-3 bp
    deletions/insertions every 7 bases; no disagreement allowed."""
    if shutil.which("bcftools") is None:
        pytest.skip("bcftools not installed")
    import sys

    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "annotate" / "hgvs_vs_bcftools.py"),
            "--genes",
            "ALK",
            "KRAS",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [line.split("\t") for line in run.stdout.splitlines()[1:] if not line.startswith(" ")]
    assert [r[0] for r in rows] == ["ALK", "KRAS"], run.stdout
    for gene, n, compared, agree, disagree, *_ in rows:
        assert int(compared) > 0.9 * int(n) and disagree == "0", (gene, run.stdout)
        assert agree == compared


CIVIC_SHIFT_GRCH37 = {  # PROVENANCE.md sections 3 and 5: GRCh38 = GRCh37 + shift, per gene
    "ALK": -222866,
    "EGFR": -67693,
    "KRAS": -152934,
    "MET": 359946,
    "ERBB2": 1843747,
    "KIT": -866166,
}
CANONICAL_NP = {
    "ALK": "NP_004295",
    "EGFR": "NP_005219",
    "KRAS": "NP_004976",
    "MET": "NP_000236",
    "ERBB2": "NP_004439",
    "KIT": "NP_000213",
}


def _legacy_c(c: str) -> str:
    """CIViC c. strings sometimes carry the deleted/duplicated bases (c.1675_1677delGTT)."""
    c = re.sub(r"del[ACGT]+ins", "delins", c)
    return re.sub(r"(del|dup)([ACGT]+|\d+)$", r"\1", c)


def test_civic_variants_get_civic_nomenclature(tx, contigs):
    """Independent truth: CIViC variant records (GRCh37 coordinates + NM_ c. + NP_ p.) for the
    panel genes. Every record inside the modelled, known-sequence exons must get CIViC's c.
    (legacy base suffixes aside) and, for substitutions and deletions, CIViC's p."""
    from resistcall.knowledge import canonical_protein
    from resistcall.reference import contig_offset

    path = (
        Path(__file__).resolve().parents[1].parent
        / "shared"
        / "knowledge"
        / "extracted_civic_variants.tsv"
    )
    if not path.exists():
        pytest.skip("../shared/knowledge not present")
    import pandas as pd

    civic = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    checked = 0
    for r in civic.itertuples():
        if r.gene not in CIVIC_SHIFT_GRCH37 or r.reference_build != "GRCh37" or not r.start:
            continue
        t = tx.by_gene[r.gene]
        fam = t.refseq.split(".")[0]
        descs = r.hgvs_descriptions.split(",")
        c = next((h.split(":", 1)[1] for h in descs if h.startswith(fam + ".")), None)
        p = next((h.split(":", 1)[1] for h in descs if h.startswith(CANONICAL_NP[r.gene])), None)
        if c is None:
            continue
        seq = contigs.seq(t.chrom)
        start = int(r.start) + CIVIC_SHIFT_GRCH37[r.gene] - contig_offset(t.chrom)[1]
        ref, alt = r.reference_bases, r.variant_bases
        if not 2 <= start <= len(seq):
            continue
        if ref and alt and len(ref) == len(alt):
            pos = start
        elif alt and not ref:
            pos, ref, alt = start, seq[start - 1], seq[start - 1] + alt
        elif ref and not alt:
            pos, ref, alt = start - 1, seq[start - 2] + ref, seq[start - 2]
        else:
            continue
        if "N" in seq[pos - 1 : pos - 1 + len(ref)]:
            continue  # no real bases there in the panel reference
        assert seq[pos - 1 : pos - 1 + len(ref)] == ref, (r.gene, r.variant)
        a = annotate_variant(tx, contigs, t.chrom, pos, ref, alt)
        if a.hgvs_c != _legacy_c(c):
            # CIViC is not always 3'-shifted (KIT V560del as c.1675_1677delGTT): accept an
            # equivalent deletion, and require ours to be the more 3' one
            ours_m = re.fullmatch(r"c\.(\d+)_(\d+)del", a.hgvs_c)
            theirs_m = re.fullmatch(r"c\.(\d+)_(\d+)del", _legacy_c(c))
            assert ours_m and theirs_m, (r.gene, r.variant, a.hgvs_c, c)

            def deleted(m, t=t, seq=seq):
                span = sorted(t.contig_pos(int(x)) for x in m.groups())
                return seq[: span[0] - 1] + seq[span[1] :]

            assert deleted(ours_m) == deleted(theirs_m), (r.gene, r.variant, a.hgvs_c, c)
            assert int(ours_m.group(1)) > int(theirs_m.group(1))
        if p and (len(r.reference_bases) == len(r.variant_bases) or not r.variant_bases):
            assert a.hgvs_p == canonical_protein(p), (r.gene, r.variant, a.hgvs_p, p)
        checked += 1
    assert checked >= 80, checked


def test_unknown_or_partial_codons_are_p_unknown(tx, contigs):
    # ERBB2 exon 11: c.1294 sits in a codon whose third base is N in the panel reference
    a = _ann(tx, contigs, "chr17_39715216_39726728", 302, "C", "A")
    assert (a.hgvs_c, a.hgvs_p) == ("c.1294C>A", "p.?")
    # MET model ends at c.3935, inside codon 1312 (c.3934-c.3936)
    seq = contigs.seq("chr7_116698938_116795854")
    alt = "A" if seq[96852] != "A" else "C"
    a = _ann(tx, contigs, "chr7_116698938_116795854", 96853, seq[96852], alt)
    assert a.hgvs_c.startswith("c.3934") and a.hgvs_p == "p.?"
    # ALK c.3069 is in codon 1023, of which the model holds only c.3068-c.3069
    alk = contigs.seq(ALK)
    alt = "A" if alk[29336] != "A" else "C"
    a = _ann(tx, contigs, ALK, 29337, alk[29336], alt)
    assert a.hgvs_c.startswith("c.3069") and a.hgvs_p == "p.?"
