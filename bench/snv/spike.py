"""Real-read truth sets: split a cell line's read pairs into two halves, spike variants into one.

Input: a BAM of real reads aligned to the panel reference (see run_bench.sh, which realigns the
DNAfusion H3122/HCC827 reads). Fragments go to half A or B by a seeded hash of the read name.
Spikes (SNVs and indels at 1-50% VAF) are written into half B: every fragment covering a spiked
position carries the alt with probability VAF (both mates together). Both halves are written as
FASTQ and realigned by run_bench.sh, so parental and resistant go through the same processing.

Usage: spike.py BYNAME.bam COORD.bam REF.fa CDS.bed OUTPREFIX SEED [--no-spike]
                [--sites SITES.tsv --vafs 0.01,0.02]
(--sites: spike SNVs only at these 1-based contig positions, column ``pos``, e.g. the codon
bases of the known-resistance hotspots, at the --vafs given; with a column ``alt``, the site's
allele is that one (e.g. the alleles that make a named protein change) instead of a random one)
(the same reads sorted by name, and by coordinate with an index for depth)
Writes OUTPREFIX.{A,B}_{1,2}.fq and OUTPREFIX.truth.tsv (contig pos ref alt vaf kind).
"""

from __future__ import annotations

import sys
import zlib

import numpy as np
import pandas as pd
import pysam

from resistcall.snv import normalise

VAFS = (0.01, 0.02, 0.05, 0.10, 0.20, 0.50)
COMP = str.maketrans("ACGTN", "TGCAN")


def frac(*parts) -> float:
    return zlib.crc32(":".join(map(str, parts)).encode()) / 2**32


def choose_sites(
    fa: pysam.FastaFile,
    contig: str,
    sites: list[int],
    vafs: list[float],
    seed: int,
    alts: list[str] | None = None,
) -> pd.DataFrame:
    """SNVs at given positions (0-based), >= 25 bp apart, cycling over ``vafs``; the allele is
    random, or ``alts[i]`` for ``sites[i]`` (one of a position's alleles, chosen at random)."""
    rng = np.random.default_rng(seed)
    given: dict[int, list[str]] = {}
    for i, p in enumerate(sites):
        given.setdefault(p, []).append(alts[i] if alts else "")
    order = sorted(given, key=lambda x: frac(seed, "site", x))
    chosen: list[int] = []
    for p in order:
        if all(abs(p - q) >= 25 for q in chosen):
            chosen.append(p)
    rows = []
    for i, p in enumerate(sorted(chosen)):
        ref = fa.fetch(contig, p, p + 1).upper()
        choices = sorted(a for a in given[p] if a) or [b for b in "ACGT" if b != ref]
        alt = str(rng.choice(choices))
        rows.append((contig, p, ref, alt, vafs[i % len(vafs)], "snv"))
    return pd.DataFrame(rows, columns=["contig", "pos", "ref", "alt", "vaf", "kind"])


def choose_spikes(
    bam: pysam.AlignmentFile, fa: pysam.FastaFile, cds: pd.DataFrame, seed: int, n_per_vaf: int = 8
) -> pd.DataFrame:
    """Random CDS positions (>= 25 bp apart, depth >= 150 in the full BAM), cycled over VAFs;
    one in four is an indel (1-3 bp insertion or deletion)."""
    rng = np.random.default_rng(seed)
    pos = np.concatenate([np.arange(r.start, r.end) for r in cds.itertuples()])
    contig = cds.chrom.iloc[0]
    depth = np.array(
        bam.count_coverage(
            contig, int(pos.min()), int(pos.max()) + 1, quality_threshold=0, read_callback="all"
        )
    ).sum(axis=0)
    ok = pos[depth[pos - pos.min()] >= 150]
    rng.shuffle(ok)
    chosen: list[int] = []
    for p in ok:
        if all(abs(p - q) >= 25 for q in chosen):
            chosen.append(int(p))
        if len(chosen) == n_per_vaf * len(VAFS):
            break
    rows = []
    for i, p in enumerate(sorted(chosen, key=lambda x: frac(seed, x))):
        vaf = VAFS[i % len(VAFS)]
        ref = fa.fetch(contig, p, p + 1).upper()
        if i % 4 == 3:
            n = 1 + (i // 4) % 3
            if (i // 8) % 2:
                ins = "".join(rng.choice(list("ACGT"), n))
                rows.append((contig, p, ref, ref + ins, vaf, "ins"))
            else:
                rows.append((contig, p, fa.fetch(contig, p, p + 1 + n).upper(), ref, vaf, "del"))
        else:
            alt = rng.choice([b for b in "ACGT" if b != ref])
            rows.append((contig, p, ref, str(alt), vaf, "snv"))
    return pd.DataFrame(rows, columns=["contig", "pos", "ref", "alt", "vaf", "kind"])


def apply(read: pysam.AlignedSegment, spikes: pd.DataFrame, seed: int) -> tuple[str, list[int]]:
    seq = list(read.query_sequence)
    qual = list(read.query_qualities)
    pairs = {r: q for q, r in read.get_aligned_pairs(matches_only=True)}
    edits = []
    for s in spikes.itertuples():
        if frac(seed, read.query_name, s.pos) >= s.vaf:
            continue
        q = pairs.get(s.pos)
        if q is None:
            continue
        if s.kind == "snv":
            edits.append((q, "snv", s.alt))
        elif s.kind == "ins":
            edits.append((q, "ins", s.alt[1:]))
        else:
            n = len(s.ref) - 1
            qs = [pairs.get(s.pos + j) for j in range(1, n + 1)]
            if all(x is not None for x in qs) and qs == list(range(q + 1, q + 1 + n)):
                edits.append((q, "del", n))
    for q, kind, val in sorted(edits, reverse=True):
        if kind == "snv":
            seq[q] = val
        elif kind == "ins":
            seq[q + 1 : q + 1] = list(val)
            qual[q + 1 : q + 1] = [qual[q]] * len(val)
        else:
            del seq[q + 1 : q + 1 + val]
            del qual[q + 1 : q + 1 + val]
    return "".join(seq), qual


def main() -> None:
    bam_path, coord_path, ref_path, cds_path, prefix, seed = sys.argv[1:7]
    seed = int(seed)
    spike = "--no-spike" not in sys.argv
    bam = pysam.AlignmentFile(bam_path)
    fa = pysam.FastaFile(ref_path)
    cds = pd.read_csv(cds_path, sep="\t", header=None, names=["chrom", "start", "end", "gene"])
    if "--sites" in sys.argv:
        sites = pd.read_csv(sys.argv[sys.argv.index("--sites") + 1], sep="\t")
        vafs = [float(v) for v in sys.argv[sys.argv.index("--vafs") + 1].split(",")]
        alts = list(sites["alt"]) if "alt" in sites else None
        spikes = choose_sites(fa, cds.chrom.iloc[0], list(sites["pos"] - 1), vafs, seed, alts)
    elif spike:
        spikes = choose_spikes(pysam.AlignmentFile(coord_path), fa, cds, seed)
    else:
        spikes = pd.DataFrame(columns=["contig", "pos", "ref", "alt", "vaf", "kind"])
    out = {(h, m): open(f"{prefix}.{h}_{m}.fq", "w") for h in "AB" for m in (1, 2)}
    for read in bam.fetch(until_eof=True):
        if read.is_secondary or read.is_supplementary or not read.is_paired:
            continue
        half = "A" if frac(seed, "half", read.query_name) < 0.5 else "B"
        seq, qual = read.query_sequence, list(read.query_qualities)
        if half == "B" and spike and not read.is_unmapped:
            seq, qual = apply(read, spikes, seed)
        if read.is_reverse:
            seq = seq.translate(COMP)[::-1]
            qual = qual[::-1]
        mate = 1 if read.is_read1 else 2
        q = "".join(chr(x + 33) for x in qual)
        out[(half, mate)].write(f"@{read.query_name}\n{seq}\n+\n{q}\n")
    for f in out.values():
        f.close()
    norm = [normalise(fa, r.contig, int(r.pos), r.ref, r.alt) for r in spikes.itertuples()]
    if norm:
        spikes[["pos", "ref", "alt"]] = pd.DataFrame(norm, index=spikes.index)
    spikes["pos"] = spikes["pos"].astype(int) + 1  # VCF 1-based
    spikes.to_csv(f"{prefix}.truth.tsv", sep="\t", index=False)


if __name__ == "__main__":
    main()
