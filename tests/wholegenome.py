"""Small whole-chromosome references for tests, built from the bundled real panel sequence.

A lab aligns to a whole genome; these builders place the bundled real GRCh38 sequence at its
true coordinates in an N-filled chromosome of real length (chr2: 242,193,529 bp), so BAMs aligned
to hg38 (the DNAfusion set, 455 @SQ lines) are compatible as shipped. The GTF is GENCODE-shaped:
``gene_type``/``transcript_type``, tags on every row, several isoforms per gene (an incomplete-CDS
isoform and a complete decoy sorting before the MANE Select one), a lncRNA over ALK, and the
other panel genes on chromosomes the FASTA lacks (as with a whole-genome GTF and a partial FASTA).
"""

from __future__ import annotations

import gzip
import re
import subprocess
from pathlib import Path

import numpy as np
import pysam

REPO = Path(__file__).resolve().parents[1]
PANEL_FA = REPO / "resources" / "reference" / "panel_GRCh38.fa"
PANEL_GTF = REPO / "resources" / "reference" / "panel_GRCh38.gtf"
PANEL_TARGETS = REPO / "resources" / "panel" / "demo_capture_targets.bed"
CHR2_GRCH38 = 242_193_529
CHR7_GRCH37 = 159_138_663
#: EGFR lies 67,693 bp further along chr7 in GRCh37 than in GRCh38 (no indel between the builds
#: over the gene: L858R 55,259,515 vs 55,191,822; T790M 55,249,071 vs 55,181,378)
EGFR_GRCH37_SHIFT = 67_693
_CONTIG = re.compile(r"^(chr[0-9XYM]+)_(\d+)_(\d+)$")


def _offset(contig: str) -> tuple[str, int]:
    m = _CONTIG.match(contig)
    assert m, contig
    return m[1], int(m[2]) - 1


def write_chromosome(
    out: Path, name: str, length: int, contigs: list[str], shift: int = 0, width: int = 60
) -> Path:
    """N-filled chromosome of ``length`` with the panel contigs placed at START-1+shift; + .fai."""
    seq = np.full(length, ord("N"), dtype=np.uint8)
    with pysam.FastaFile(str(PANEL_FA)) as fa:
        for contig in contigs:
            _, off = _offset(contig)
            piece = np.frombuffer(fa.fetch(contig).encode(), dtype=np.uint8)
            seq[off + shift : off + shift + piece.size] = piece
    full = length // width * width
    lines = np.hstack(
        [seq[:full].reshape(-1, width), np.full((full // width, 1), ord("\n"), np.uint8)]
    )
    with open(out, "wb") as handle:
        handle.write(f">{name}\n".encode())
        handle.write(lines.tobytes())
        if length > full:
            handle.write(seq[full:].tobytes() + b"\n")
    subprocess.run(["samtools", "faidx", str(out)], check=True)
    return out


def gencode_gtf(out: Path, shifts: dict[str, int] | None = None, mane: bool = True) -> Path:
    """The bundled models lifted to chromosome coordinates, GENCODE-shaped (gzipped).

    ``shifts``: extra offset per chromosome (GRCh37 EGFR); ``mane``: write MANE/canonical tags
    (GENCODE v19 for GRCh37 has none)."""
    shifts = shifts or {}
    rows = []
    for line in PANEL_GTF.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        f = line.split("\t")
        chrom, off = _offset(f[0])
        off += shifts.get(chrom, 0)
        f[0], f[3], f[4] = chrom, str(int(f[3]) + off), str(int(f[4]) + off)
        attr = re.sub(r' ?refseq_equivalent "[^"]*";', "", f[8])
        attr = attr.replace("gene_biotype", "gene_type").replace(
            "transcript_biotype", "transcript_type"
        )
        attr = re.sub(r' ?tag "(MANE_Select|Ensembl_canonical)";', "", attr)
        if mane and 'transcript_id "' in attr:
            attr = attr.rstrip() + ' tag "Ensembl_canonical"; tag "MANE_Select";'
        f[8] = attr
        rows.append(f)
    rows += _alk_isoforms([r for r in rows if 'transcript_id "ENST00000389048"' in r[8]])
    rows += _lncrna(rows)
    rows.sort(key=lambda r: (r[0], r[8].split('gene_id "')[1][:15], r[2] != "gene"))
    text = "##description: test GTF, GENCODE-shaped\n##provider: GENCODE\n"
    text += "".join("\t".join(r) + "\n" for r in rows)
    with gzip.open(out, "wt") as handle:
        handle.write(text)
    return out


def _alk_isoforms(mane: list[list[str]]) -> list[list[str]]:
    """Two ALK isoforms whose ids sort before the MANE one: an incomplete CDS (cds_start_NF, CDS
    length not a multiple of 3) and a complete decoy numbered from c.1 (one codon shorter)."""
    out = []
    body = [r for r in mane if r[2] != "gene"]
    cds = [r for r in body if r[2] == "CDS"]
    last_cds = min(cds, key=lambda r: int(r[3]))  # minus strand: the 3'-most CDS row
    for tid, tag in (("ENST00000100001", "cds_start_NF"), ("ENST00000100002", "basic")):
        for r in body:
            r = list(r)
            attr = r[8].replace("ENST00000389048", tid)
            attr = re.sub(r' ?(tag|cds_c_start|cds_c_end) "[^"]*";', "", attr)
            r[8] = attr.rstrip() + f' tag "{tag}";'
            if tid == "ENST00000100002" and r[2] == "CDS" and r[3] == last_cds[3]:
                r[3] = str(int(r[3]) + 2)  # 1097 -> 1095 coding bases: complete, wrong frame
            out.append(r)
    return out


def _lncrna(rows: list[list[str]]) -> list[list[str]]:
    """A non-coding gene over ALK intron 19 (targets must still go to ALK)."""
    alk = next(r for r in rows if r[2] == "gene" and 'gene_name "ALK"' in r[8])
    s, e = int(alk[3]) + 20000, int(alk[3]) + 26000
    base = 'gene_id "ENSG00000999999"; gene_type "lncRNA"; gene_name "ALK-AS9";'
    tx = base + ' transcript_id "ENST00000999999"; transcript_type "lncRNA";'
    return [
        [alk[0], "HAVANA", "gene", str(s), str(e), ".", "+", ".", base],
        [alk[0], "HAVANA", "transcript", str(s), str(e), ".", "+", ".", tx],
        [alk[0], "HAVANA", "exon", str(s), str(s + 500), ".", "+", ".", tx + ' exon_number "1";'],
        [alk[0], "HAVANA", "exon", str(e - 400), str(e), ".", "+", ".", tx + ' exon_number "2";'],
    ]


def probe_bed(
    out: Path,
    genes: set[str],
    shift: dict[str, int] | None = None,
    backbone: list[tuple[str, int]] = (),
) -> Path:
    """Vendor-style BED: the demo targets of ``genes`` in chromosome coordinates, named by probe
    (AVN_P00001 ...), plus backbone probes at (chrom, start) on no gene."""
    shift = shift or {}
    rows = []
    for line in PANEL_TARGETS.read_text().splitlines():
        contig, s, e, gene = line.split("\t")[:4]
        if gene not in genes:
            continue
        chrom, off = _offset(contig)
        off += shift.get(chrom, 0)
        rows.append((chrom, int(s) + off, int(e) + off))
    rows += [(c, s, s + 120) for c, s in backbone]
    rows.sort()
    out.write_text(
        "".join(f"{c}\t{s}\t{e}\tAVN_P{i + 1:05d}\n" for i, (c, s, e) in enumerate(rows))
    )
    return out
