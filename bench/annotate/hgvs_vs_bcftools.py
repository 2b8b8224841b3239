"""Benchmark: resistcall HGVS p. vs bcftools csq on every possible SNV of the modelled coding
exons plus systematic small indels, and annotation speed.

    .venv/bin/python bench/annotate/hgvs_vs_bcftools.py [--genes ALK EGFR KRAS] [--indel-step 7]

Prints one row per gene: variants, coding variants compared, agreement, disagreements, time.
A variant is compared when both tools give a protein change; the comparison edits the reference
peptide with each description and requires the same result (frameshifts: same first changed
residue and the same new-stop distance when bcftools reports a stop). Needs bcftools on PATH.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pysam

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from test_hgvs import _apply_hgvs_p, _gtf_to_gff3  # noqa: E402

from resistcall.hgvs import ContigCache, annotate_variant, translate  # noqa: E402
from resistcall.transcripts import load_transcripts  # noqa: E402

FASTA = REPO / "resources" / "reference" / "panel_GRCh38.fa"
GTF = REPO / "resources" / "reference" / "panel_GRCh38.gtf"
COMP = str.maketrans("ACGT", "TGCA")


def variants_for(tx, seq: str, indel_step: int) -> list[tuple[str, int, str, str]]:
    out = []
    for s, e, _, _ in tx.cds:
        for p in range(s, e + 1):
            ref = seq[p - 1]
            if ref == "N":
                continue
            out += [(tx.chrom, p, ref, b) for b in "ACGT" if b != ref]
        for p in range(s, e + 1, indel_step):  # 1-3 bp deletions and insertions
            for n in (1, 2, 3):
                if p + n <= e and "N" not in seq[p - 1 : p + n]:
                    out.append((tx.chrom, p, seq[p - 1 : p + n], seq[p - 1]))
                    out.append((tx.chrom, p, seq[p - 1], seq[p - 1] + seq[p : p + n]))
    return sorted(set(out), key=lambda v: v[1])


def pep_of(tx, seq):
    pep = {}
    for res in range(tx.first_full_codon, tx.c_last // 3 + 1):
        cp = tx.codon_positions(res)
        if cp:
            codon = "".join(seq[q - 1] for q in cp)
            pep[res] = translate(codon if tx.strand == "+" else codon.translate(COMP))
    return pep


def residue_map(tx):
    """bcftools numbers residues along the concatenated modelled CDS from its first complete
    codon; map that number to ours (models that skip exons, e.g. MET and KIT, have c. gaps)."""
    cs = [c for c in range(tx.c_first, tx.c_last + 1) if tx.coding_positions[c - tx.c_first] != 0]
    start = (3 - (tx.c_first - 1) % 3) % 3

    def b2o(k: int) -> int:
        idx = start + 3 * (k - 1)
        return (cs[idx] + 2) // 3 if 0 <= idx < len(cs) else -1

    return b2o


def agree(ours: str, bcsq: list[str], pep: dict, b2o) -> bool | None:
    if not ours or ours == "p.?" or len(bcsq) < 6 or not bcsq[5]:
        return None
    m = re.fullmatch(r"(\d+)([A-Z*]+)(?:>(\d+)([A-Z*]*))?", bcsq[5])
    if m is None:
        return None
    b_num = int(m.group(1))
    b_first = b2o(b_num)
    if m.group(3) is None:
        return ours.endswith("=") and int(re.search(r"\d+", ours).group()) == b_first
    b_ref, b_alt = m.group(2), m.group(4)
    if "fs" in ours or "ext" in ours:
        j = next(
            (i for i in range(len(b_alt)) if i >= len(b_ref) or b_ref[i] != b_alt[i]), len(b_alt)
        )
        first = int(re.search(r"\d+", ours).group())
        ok = first == b2o(b_num + j)
        tail = re.search(r"(?:fs|ext)\*(\d+|\?)$", ours)
        # "*?": our model ends (or skips exons) before a stop; bcftools reads on regardless
        if ok and "fs" in ours and tail and tail.group(1) != "?" and b_alt.endswith("*"):
            ok = tail.group(1) == str(len(b_alt) - j)
        return ok
    start = b_first - 10
    ref_win = "".join(pep.get(i, "X") for i in range(start, b_first + len(b_ref) + 20))

    def edit(first, n_del, ins):
        i = first - start
        return ref_win[:i] + ins + ref_win[i + n_del :]

    theirs = edit(b_first, len(b_ref), b_alt)
    mo = re.fullmatch(r"p\.([A-Z*])(\d+)(?:_([A-Z*])(\d+))?(.*)", ours)
    first = int(mo.group(2))
    last = int(mo.group(4)) if mo.group(4) else first
    rest = mo.group(5)
    o_first, o_ins = _apply_hgvs_p({**pep, last + 1: pep.get(last + 1, "")}, ours)
    if rest == "dup":
        mine = edit(last + 1, 0, "".join(pep[i] for i in range(first, last + 1)))
    elif rest.startswith("ins"):
        mine = edit(last, 0, rest[3:])
    else:
        mine = edit(first, last - first + 1, o_ins)
    # a stop ends the protein: compare up to the first stop
    return mine.split("*")[0] == theirs.split("*")[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--genes", nargs="+", default=["ALK", "EGFR", "KRAS"])
    ap.add_argument("--indel-step", type=int, default=7)
    args = ap.parse_args()
    ts = load_transcripts(GTF)
    print("gene\tvariants\tcompared\tagree\tdisagree\tours_s\tbcftools_s")
    with pysam.FastaFile(str(FASTA)) as fa, tempfile.TemporaryDirectory() as tmp:
        contigs = ContigCache(fa)
        gff = Path(tmp) / "panel.gff3"
        _gtf_to_gff3(GTF, gff)
        header = ["##fileformat=VCFv4.2"] + [
            f"##contig=<ID={n},length={ln}>"
            for n, ln in zip(fa.references, fa.lengths, strict=True)
        ]
        header.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
        for gene in args.genes:
            tx = ts.by_gene[gene]
            seq = contigs.seq(tx.chrom)
            vs = variants_for(tx, seq, args.indel_step)
            vcf = Path(tmp) / f"{gene}.vcf"
            vcf.write_text(
                "\n".join(
                    header
                    + [f"{c}\t{p}\tv{i}\t{r}\t{a}\t.\t.\t." for i, (c, p, r, a) in enumerate(vs)]
                )
                + "\n"
            )
            t0 = time.perf_counter()
            norm = subprocess.run(
                ["bcftools", "norm", "-f", str(FASTA), str(vcf)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            (Path(tmp) / "n.vcf").write_text(norm)
            out = subprocess.run(
                [
                    "bcftools",
                    "csq",
                    "-l",
                    "--force",
                    "-f",
                    str(FASTA),
                    "-g",
                    str(gff),
                    str(Path(tmp) / "n.vcf"),
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            t_bcf = time.perf_counter() - t0
            recs = {}
            for line in out.splitlines():
                if not line.startswith("#"):
                    f = line.split("\t")
                    m = re.search(r"BCSQ=([^;\t]+)", f[7])
                    recs[f[2]] = (
                        (f[0], int(f[1]), f[3], f[4]),
                        (m.group(1) if m else "").split(",")[0].split("|"),
                    )
            pep = pep_of(tx, seq)
            b2o = residue_map(tx)
            t0 = time.perf_counter()
            anns = {vid: annotate_variant(ts, contigs, *key) for vid, (key, _) in recs.items()}
            t_ours = time.perf_counter() - t0
            compared = ok = 0
            bad = []
            for vid, (key, bcsq) in recs.items():
                res = agree(anns[vid].hgvs_p, bcsq, pep, b2o)
                if res is None:
                    continue
                compared += 1
                ok += bool(res)
                if not res:
                    bad.append((key, anns[vid].hgvs_c, anns[vid].hgvs_p, bcsq[5]))
            print(
                f"{gene}\t{len(vs)}\t{compared}\t{ok}\t{compared - ok}\t{t_ours:.2f}\t{t_bcf:.2f}"
            )
            for b in bad[:10]:
                print("  disagree:", *b, sep="\t")


if __name__ == "__main__":
    main()
