"""GTF loading benchmark: `resistcall annotation` on GENCODE-size GTFs (10k to 3.4M rows).

Generates a GENCODE-shaped GTF (GRCh38 chromosome names and lengths, ~62,000 genes, 4
transcripts per gene, GENCODE attribute strings; ALK on chr2 with an incomplete-CDS isoform, a
decoy and the MANE Select transcript) and times `resistcall annotation` on its first N rows
(wall time and peak resident memory from /usr/bin/time). The FASTA is a stub holding the
chromosome names and lengths in its .fai (annotation only reads the .fai).

    python bench/gtf/run_bench.py --out /tmp/gtfbench     # prints the table for README.md
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

#: GRCh38 primary chromosome lengths (UCSC hg38)
CHROMS = {
    "chr1": 248956422, "chr2": 242193529, "chr3": 198295559, "chr4": 190214555,
    "chr5": 181538259, "chr6": 170805979, "chr7": 159345973, "chr8": 145138636,
    "chr9": 138394717, "chr10": 133797422, "chr11": 135086622, "chr12": 133275309,
    "chr13": 114364328, "chr14": 107043718, "chr15": 101991189, "chr16": 90338345,
    "chr17": 83257441, "chr18": 80373285, "chr19": 58617616, "chr20": 64444167,
    "chr21": 46709983, "chr22": 50818468, "chrX": 156040895, "chrY": 57227415,
}  # fmt: skip
GENES = 62_000
TX_PER_GENE = 4
EXONS = 5
ROWS = (10_000, 100_000, 300_000, 1_000_000, 3_500_000)
ALK = ("chr2", 29192774, 29921586)  # GRCh38 gene span (minus strand)


def _attr(gid: str, gname: str, tid: str | None, extra: str = "") -> str:
    a = f'gene_id "{gid}.5"; gene_type "protein_coding"; gene_name "{gname}"; level 2; '
    a += f'hgnc_id "HGNC:{gid[-5:]}"; havana_gene "OTTHUMG{gid[-11:]}.2";'
    if tid:
        a += (
            f' transcript_id "{tid}.2"; transcript_type "protein_coding"; '
            f'transcript_name "{gname}-201"; transcript_support_level "1"; '
            f'havana_transcript "OTTHUMT{tid[-11:]}.1"; tag "basic"; tag "CCDS";'
        )
    return a + extra


def make_gtf(path: Path, seed: int = 1) -> int:
    """Write the GENCODE-shaped GTF; returns its number of rows."""
    rng = np.random.default_rng(seed)
    total = sum(CHROMS.values())
    n = 0
    with open(path, "w") as out:
        out.write("##description: synthetic GENCODE-shaped GTF (resistcall bench/gtf)\n")
        g = 0
        for chrom, length in CHROMS.items():
            k = int(GENES * length / total)
            starts = np.sort(rng.integers(10_000, length - 200_000, k))
            for start in starts:
                g += 1
                gid, gname = f"ENSG{g:011d}", f"GENE{g}"
                strand = "+-"[g % 2]
                span = int(rng.integers(5_000, 100_000))
                if chrom == ALK[0] and ALK[1] <= start <= ALK[2] + 100_000:
                    continue
                n += _gene(out, chrom, int(start), span, strand, gid, gname, rng)
            if chrom == "chr2":
                n += _gene(out, *ALK[:2], ALK[2] - ALK[1], "-", "ENSG00000171094", "ALK", rng)
    return n


def _gene(out, chrom, start, span, strand, gid, gname, rng) -> int:
    rows = [(chrom, "HAVANA", "gene", start, start + span, strand, ".", _attr(gid, gname, None))]
    for t in range(TX_PER_GENE):
        tid = f"ENST{int(gid[4:]) * 10 + t:011d}"
        tag = ""
        if t == TX_PER_GENE - 1:
            tag = ' tag "Ensembl_canonical"; tag "MANE_Select";'
        elif t == 0:
            tag = ' tag "cds_start_NF"; tag "mRNA_start_NF";'
        a = _attr(gid, gname, tid, tag)
        cuts = np.sort(rng.choice(np.arange(1, span // 100), 2 * EXONS - 2, replace=False)) * 100
        bounds = np.concatenate([[0], cuts, [span]]) + start
        exons = [(int(bounds[2 * i]), int(bounds[2 * i + 1])) for i in range(EXONS)]
        rows.append((chrom, "HAVANA", "transcript", start, start + span, strand, ".", a))
        for i, (s, e) in enumerate(exons):
            ea = a + f' exon_number {i + 1}; exon_id "ENSE{int(tid[4:]):011d}{i}.1";'
            rows.append((chrom, "HAVANA", "exon", s, e, strand, ".", ea))
            if 0 < i < EXONS - 1 or (i == EXONS - 1):
                ce = e if i < EXONS - 1 else s + 3 * ((e - s) // 3) - 1
                rows.append((chrom, "HAVANA", "CDS", s, ce, strand, "0", ea))
        rows.append((chrom, "HAVANA", "UTR", exons[0][0], exons[0][1], strand, ".", a))
        rows.append((chrom, "HAVANA", "start_codon", exons[1][0], exons[1][0] + 2, strand, "0", a))
        last = exons[-1]
        rows.append((chrom, "HAVANA", "stop_codon", last[1] - 2, last[1], strand, "0", a))
        rows.append((chrom, "HAVANA", "UTR", last[1] - 1, last[1], strand, ".", a))
    out.write("".join("\t".join(map(str, r[:5])) + f"\t.\t{r[5]}\t{r[6]}\t{r[7]}\n" for r in rows))
    return len(rows)


def stub_fasta(d: Path) -> Path:
    fa = d / "genome.fa"
    fa.write_text("".join(f">{c}\nN\n" for c in CHROMS))
    offset, lines = 0, []
    for c, length in CHROMS.items():
        offset += len(c) + 2
        lines.append(f"{c}\t{length}\t{offset}\t1\t2\n")
        offset += 2
    Path(f"{fa}.fai").write_text("".join(lines))
    return fa


def measure(gtf: Path, fasta: Path, bed: Path, d: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of `resistcall annotation` on gtf."""
    exe = Path(sys.executable).parent / "resistcall"
    cmd = [
        "/usr/bin/time", "-v", str(exe), "annotation", "--gtf", str(gtf),
        "--reference", str(fasta), "--targets", str(bed), "--gene", "ALK",
        "--out", str(d / "a.gtf"), "--choice-out", str(d / "t.tsv"),
        "--targets-out", str(d / "t.bed"),
    ]  # fmt: skip
    err = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
    wall = re.search(r"Elapsed \(wall clock\) time .*: (?:(\d+):)?(\d+)\.(\d+)", err)
    seconds = int(wall[1] or 0) * 60 + int(wall[2]) + int(wall[3]) / 100
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)[1]) / 1024
    return seconds, rss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    full = args.out / "gencode_like.gtf"
    if not full.exists():
        print(f"generated {make_gtf(full):,} rows", file=sys.stderr)
    lines = full.read_text().splitlines(keepends=True)
    fasta = stub_fasta(args.out)
    bed = args.out / "targets.bed"
    bed.write_text("chr2\t29400000\t29400120\tALK_probe_1\nchr2\t90000000\t90000120\tBB_1\n")
    print("| rows | file MB | wall s | peak RSS MB |\n|---:|---:|---:|---:|")
    for n in ROWS:
        # the first n rows, plus ALK's rows so the run has its gene (as any real run would)
        part = args.out / f"rows_{n}.gtf"
        alk = [x for x in lines if 'gene_name "ALK"' in x]
        head = [x for x in lines[1 : n + 1 - len(alk)] if 'gene_name "ALK"' not in x]
        part.write_text("".join(head + alk))
        wall, rss = measure(part, fasta, bed, args.out)
        size = part.stat().st_size / 1e6
        rows = min(n, len(lines) - 1)
        print(f"| {rows:,} | {size:,.0f} | {wall:.1f} | {rss:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
