"""Mismatch rate per specific allele by substitution class x trinucleotide context, real reads.

Would a background per sequence context (C>T at CpG apart from C>T elsewhere, or split by the
5'/3' neighbour) separate the noise enough to matter at 1% VAF? Counted as bq_noise.py counts:
bases at BQ >= 25 (the caller's floor; pysam zeroes the quality of the second of two
overlapping mates, so a fragment counts once), MAPQ >= 20, no duplicates or supplementary
alignments, sites with < 20 such bases or a mismatch fraction above 0.5% left out (as the
background fit leaves them out). Classes are strand-collapsed (reference C or T; a G or A site
counts as the reverse complement: 6 classes x 16 contexts = 96). Per class: a G-test of one
rate for all 16 contexts (df 15), and each context's rate over its class's with a 95% interval
(exact, conditional binomial). Usage (one or more BAMs; each is a table, then their sum):

    .venv/bin/python bench/snv/context_noise.py ../shared/realdata/DNAfusion/H3122_EML4.bam \
        ../shared/realdata/DNAfusion/HCC827_EML4.bam
"""

from __future__ import annotations

import argparse
import collections
import math
from pathlib import Path

import pysam
from scipy import stats

REPO = Path(__file__).resolve().parents[2]
CONTIG = "chr2_29196228_29226309"  # the panel contig of ALK: chr2:29196228-29226309 (1-based)
MIN_BQ = 25  # the caller's floor
MAX_VAF = 0.005  # the background fit's `background_max_vaf`
COMPLEMENT = str.maketrans("ACGT", "TGCA")
CLASSES = ("C>A", "C>G", "C>T", "T>A", "T>C", "T>G")
CONTEXTS = tuple(f"{a}{{}}{b}" for a in "ACGT" for b in "ACGT")

Key = tuple[str, str]  # (class "C>T", context "ACG")
Tally = tuple[collections.Counter[Key], collections.Counter[Key]]  # (bases, mismatches)


def collapse(tri: str, alt: str) -> Key:
    """Strand-collapsed (class, trinucleotide) of a substitution at the middle base of `tri`."""
    if tri[1] in "AG":
        tri, alt = tri.translate(COMPLEMENT)[::-1], alt.translate(COMPLEMENT)
    return f"{tri[1]}>{alt}", tri


def count(bam_path: str, seq: str, start: int) -> Tally:
    """Bases and mismatches per specific allele (class, context) over the ALK contig."""
    bases: collections.Counter[Key] = collections.Counter()
    wrong: collections.Counter[Key] = collections.Counter()
    with pysam.AlignmentFile(bam_path) as bam:
        columns = bam.pileup(
            "chr2", start, start + len(seq), truncate=True, min_base_quality=0,
            min_mapping_quality=20, stepper="nofilter", max_depth=100000,
        )  # fmt: skip
        for col in columns:
            i = col.reference_pos - start
            tri = seq[i - 1 : i + 2] if 0 < i < len(seq) - 1 else ""
            if len(tri) != 3 or any(b not in "ACGT" for b in tri):
                continue
            seen: collections.Counter[str] = collections.Counter()
            for read in col.pileups:
                aln = read.alignment
                if read.query_position is None or aln.is_duplicate or aln.is_supplementary:
                    continue
                if aln.query_qualities[read.query_position] < MIN_BQ:
                    continue
                seen[aln.query_sequence[read.query_position]] += 1
            n = sum(v for b, v in seen.items() if b in "ACGT")
            bad = n - seen[tri[1]]
            if n < 20 or bad > MAX_VAF * n:
                continue
            for alt in "ACGT":
                if alt != tri[1]:
                    key = collapse(tri, alt)
                    bases[key] += n
                    wrong[key] += seen[alt]
    return bases, wrong


def ratio_ci(k: int, n: int, k_all: int, n_all: int) -> tuple[float, float]:
    """95% interval of (context rate / rest-of-class rate): exact on k | k + k_rest."""
    k_rest, n_rest = k_all - k, n_all - n
    if k_rest == 0 or n_rest == 0:
        return math.nan, math.nan
    lo, hi = stats.binomtest(k, k + k_rest).proportion_ci(0.95) if k + k_rest else (0, 1)
    odds = n_rest / n
    return (lo / (1 - lo) * odds, hi / (1 - hi) * odds if hi < 1 else math.inf)


def g_test(rows: list[tuple[int, int]]) -> tuple[float, float]:
    """G statistic and p-value of one Poisson rate for all (mismatches, bases) rows."""
    k_all = sum(k for k, _ in rows)
    n_all = sum(n for _, n in rows)
    g = sum(2 * k * math.log(k / (n * k_all / n_all)) for k, n in rows if k > 0)
    df = sum(1 for _, n in rows if n > 0) - 1
    return g, float(stats.chi2.sf(g, df))


def report(title: str, tally: Tally) -> None:
    """Matrix (context x class: rate per specific allele, mismatches) and per-class summary."""
    bases, wrong = tally
    print(f"\n### {title}\n")
    print("rate per specific allele x 10^-4 (mismatches); `-` = < 10,000 bases\n")
    print("| context | " + " | ".join(CLASSES) + " |")
    print("|---|" + "---:|" * len(CLASSES))
    for ctx in CONTEXTS:
        cells = []
        for cls in CLASSES:
            key = (cls, ctx.format(cls[0]))
            n, k = bases[key], wrong[key]
            cells.append(f"{k / n * 1e4:.2f} ({k})" if n >= 10000 else "-")
        print(f"| {ctx.format('x')} | " + " | ".join(cells) + " |")
    print(
        "\n| class | bases | mismatches | rate | G (df 15) | p | lowest context: ratio to the rest"
        " (95% CI) | highest context: ratio to the rest (95% CI) |"
    )
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for cls in CLASSES:
        keys = [(cls, ctx.format(cls[0])) for ctx in CONTEXTS]
        n_all = sum(bases[k] for k in keys)
        k_all = sum(wrong[k] for k in keys)
        g, p = g_test([(wrong[k], bases[k]) for k in keys])
        ratios = []
        for k in keys:
            if bases[k] < 10000:
                continue
            rest = (k_all - wrong[k]) / (n_all - bases[k])
            rate = wrong[k] / bases[k] / rest if rest else math.nan
            lo, hi = ratio_ci(wrong[k], bases[k], k_all, n_all)
            ratios.append((rate, k[1], lo, hi))
        ratios.sort()
        lo_r, hi_r = ratios[0], ratios[-1]
        print(
            f"| {cls} | {n_all:,} | {k_all:,} | {k_all / n_all:.2e} | {g:.1f} | {p:.2g} | "
            f"{lo_r[1]} {lo_r[0]:.2f} ({lo_r[2]:.2f}-{lo_r[3]:.2f}) | "
            f"{hi_r[1]} {hi_r[0]:.2f} ({hi_r[2]:.2f}-{hi_r[3]:.2f}) |"
        )
    # one neighbour at a time: 6 classes x 4 bases 5' and x 4 bases 3'
    print("\n| class | 5' A / C / G / T (x 10^-4) | 3' A / C / G / T (x 10^-4) | CpG vs not |")
    print("|---|---|---|---|")
    for cls in CLASSES:
        keys = [(cls, ctx.format(cls[0])) for ctx in CONTEXTS]
        cells = []
        for side in (0, 2):
            parts = []
            for b in "ACGT":
                sub = [k for k in keys if k[1][side] == b]
                n = sum(bases[k] for k in sub)
                k_ = sum(wrong[k] for k in sub)
                parts.append(f"{k_ / n * 1e4:.2f} ({k_})" if n else "-")
            cells.append(" / ".join(parts))
        cpg = [k for k in keys if k[1][1:] == "CG"]
        rest = [k for k in keys if k[1][1:] != "CG"]
        if cpg:
            n1, k1 = sum(bases[k] for k in cpg), sum(wrong[k] for k in cpg)
            n0, k0 = sum(bases[k] for k in rest), sum(wrong[k] for k in rest)
            lo, hi = ratio_ci(k1, n1, k1 + k0, n1 + n0)
            cells.append(
                f"{k1 / n1 * 1e4:.2f} ({k1} / {n1:,}) vs {k0 / n0 * 1e4:.2f}: "
                f"{k1 / n1 / (k0 / n0):.2f}x ({lo:.2f}-{hi:.2f})"
            )
        else:
            cells.append("")
        print(f"| {cls} | " + " | ".join(cells) + " |")


def write_ratios(path: Path, tally: Tally, raw: bool = False) -> None:
    """Per (class, context): bases, mismatches and the context's rate over its class's,
    shrunk to 1 (gamma prior, one squared coefficient of variation over all 96 by moments),
    or with ``raw`` unshrunk and floored at 0.25."""
    bases, wrong = tally
    rate = {}
    for cls in CLASSES:
        keys = [(cls, ctx.format(cls[0])) for ctx in CONTEXTS]
        rate[cls] = sum(wrong[k] for k in keys) / sum(bases[k] for k in keys)
    keys = [(cls, ctx.format(cls[0])) for cls in CLASSES for ctx in CONTEXTS]
    e = {k: bases[k] * rate[k[0]] for k in keys}
    cv2 = sum((wrong[k] - e[k]) ** 2 - e[k] for k in keys) / sum(v**2 for v in e.values())
    shape = 1 / cv2 if cv2 > 0 else math.inf
    with path.open("w") as fh:
        fh.write(f"# cv2={cv2:.4f}{' raw' if raw else ''}\n")
        fh.write("class\tcontext\tbases\tmismatches\tratio\n")
        for k in keys:
            mu = rate[k[0]]
            if raw:
                ratio = max(wrong[k] / bases[k] / mu, 0.25)
            else:
                ratio = ((wrong[k] + shape) / (bases[k] + shape / mu) if cv2 > 0 else mu) / mu
            fh.write(f"{k[0]}\t{k[1]}\t{bases[k]}\t{wrong[k]}\t{ratio:.4f}\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bams", nargs="+", help="hg38 BAMs (contig chr2)")
    ap.add_argument(
        "--ratios-dir", type=Path, help="write LINE.context.tsv (LINE: the BAM name before _)"
    )
    ap.add_argument("--raw", action="store_true", help="ratios unshrunk (floored at 0.25)")
    args = ap.parse_args()
    seq = pysam.FastaFile(str(REPO / "resources/reference/panel_GRCh38.fa")).fetch(CONTIG).upper()
    start = int(CONTIG.split("_")[1]) - 1
    total: Tally = (collections.Counter(), collections.Counter())
    for path in args.bams:
        tally = count(path, seq, start)
        report(Path(path).name, tally)
        if args.ratios_dir:
            args.ratios_dir.mkdir(parents=True, exist_ok=True)
            name = f"{Path(path).name.split('_')[0]}.context.tsv"
            write_ratios(args.ratios_dir / name, tally, args.raw)
        total[0].update(tally[0])
        total[1].update(tally[1])
    if len(args.bams) > 1:
        report("all BAMs", total)


if __name__ == "__main__":
    main()
