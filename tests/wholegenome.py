"""Small whole-chromosome references for tests, built from the bundled real panel sequence.

A lab aligns to a whole genome; these builders place the bundled real GRCh38 sequence at its
true coordinates in an N-filled chromosome of real length (chr2: 242,193,529 bp), so BAMs aligned
to hg38 (the DNAfusion set, 455 @SQ lines) are compatible as shipped. The GTF is GENCODE-shaped:
``gene_type``/``transcript_type``, tags on every row, several isoforms per gene (an incomplete-CDS
isoform and a complete decoy sorting before the MANE Select one), a lncRNA over ALK, and the
other panel genes on chromosomes the FASTA lacks (as with a whole-genome GTF and a partial FASTA).
ALK's MANE Select model is the full 29-exon ENST00000389048.7 (:func:`full_alk_model`), as in a
real GENCODE GTF; the FASTA holds real sequence over exons 19-28 only (N elsewhere), while the
real capture BAMs have reads over exons 3-16 too.
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
#: ENST00000389048.7 exon spans (BED, hg38), the ALK rows of
#: ../shared/realdata/annotation/target_genes_exons_hg38.bed copied verbatim (Ensembl exon
#: coordinates; tests/test_wholegenome.py checks the copy against ../shared when present)
ALK_EXONS = REPO / "tests" / "data" / "wholegenome" / "ALK_ENST00000389048.7_exons_hg38.bed"
#: ALK (NP_004295.2) is 1620 amino acids: 4863 coding bases with the stop codon
ALK_AA = 1620
CHR2_GRCH38 = 242_193_529
CHR7_GRCH37 = 159_138_663
CHR10_GRCH38 = 133_797_422
#: KIF5B (ENSG00000170759, minus strand), the commonest ALK partner after EML4: GRCh38 gene span
KIF5B_SPAN = ("chr10", 32_009_010, 32_056_443)
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
    return write_genome(out, [(name, chromosome(length, contigs, shift))], width)


def chromosome(
    length: int, contigs: list[str], shift: int = 0, pieces: dict[int, str] | None = None
) -> np.ndarray:
    """Bases (uint8) of an N-filled chromosome of ``length``: the panel contigs at START-1+shift
    and ``pieces`` (1-based start -> sequence) at their own coordinates."""
    seq = np.full(length, ord("N"), dtype=np.uint8)
    with pysam.FastaFile(str(PANEL_FA)) as fa:
        for contig in contigs:
            _, off = _offset(contig)
            piece = np.frombuffer(fa.fetch(contig).encode(), dtype=np.uint8)
            seq[off + shift : off + shift + piece.size] = piece
    for start, bases in (pieces or {}).items():
        seq[start - 1 : start - 1 + len(bases)] = np.frombuffer(bases.encode(), dtype=np.uint8)
    return seq


def write_genome(out: Path, chromosomes: list[tuple[str, np.ndarray]], width: int = 60) -> Path:
    """FASTA of whole chromosomes (name, bases) in this order, ``width`` bases a line; + .fai."""
    with open(out, "wb") as handle:
        for name, seq in chromosomes:
            full = seq.size // width * width
            lines = np.hstack(
                [seq[:full].reshape(-1, width), np.full((full // width, 1), ord("\n"), np.uint8)]
            )
            handle.write(f">{name}\n".encode())
            handle.write(lines.tobytes())
            if seq.size > full:
                handle.write(seq[full:].tobytes() + b"\n")
    subprocess.run(["samtools", "faidx", str(out)], check=True)
    return out


def gencode_gtf(
    out: Path,
    shifts: dict[str, int] | None = None,
    mane: bool = True,
    extra: list[list[str]] | None = None,
) -> Path:
    """The bundled models lifted to chromosome coordinates, GENCODE-shaped (gzipped).

    ``shifts``: extra offset per chromosome (GRCh37 EGFR); ``mane``: write MANE/canonical tags
    (GENCODE v19 for GRCh37 has none); ``extra``: more GTF rows (e.g. :func:`kif5b_rows`)."""
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
    bundled_alk = [r for r in rows if 'transcript_id "ENST00000389048"' in r[8]]
    rows += _alk_isoforms(bundled_alk)
    rows += _lncrna(rows)
    # the bundled ALK model is partial (exons 19-28): a whole-genome GTF has the full one
    replaced = bundled_alk + [r for r in rows if r[2] == "gene" and 'gene_name "ALK"' in r[8]]
    rows = [r for r in rows if r not in replaced] + full_alk_model(bundled_alk, mane)
    rows += extra or []
    rows.sort(key=lambda r: (r[0], r[8].split('gene_id "')[1][:15], r[2] != "gene"))
    text = "##description: test GTF, GENCODE-shaped\n##provider: GENCODE\n"
    text += "".join("\t".join(r) + "\n" for r in rows)
    with gzip.open(out, "wt") as handle:
        handle.write(text)
    return out


def _bed_exons(path: Path) -> dict[int, tuple[int, int]]:
    """{exon number: (start, end)} 1-based inclusive from ``ALK_exon<N>_...`` BED rows."""
    out = {}
    for line in path.read_text().splitlines():
        chrom, start, end, name = line.split("\t")[:4]
        out[int(re.match(r"ALK_exon(\d+)_", name)[1])] = (int(start) + 1, int(end))
    return out


def full_alk_model(bundled: list[list[str]], mane: bool = True) -> list[list[str]]:
    """The full 29-exon ALK ENST00000389048.7 (MANE Select, NM_004304.5) as GENCODE writes it:
    gene, transcript, exon, CDS (stop codon excluded), start_codon, stop_codon and UTR rows, with
    no ``cds_c_start`` numbering (the product numbers a full model from c.1).

    Exon spans: :data:`ALK_EXONS`. The CDS ends are derived, not looked up, from the bundled
    partial model (``bundled``: its rows lifted to chr2) so that the protein numbering is the
    same: the bundled exon 19 starts at c.3068 and is coding throughout, so exons 1-18 hold
    3067 coding bases; exons 2-18 are wholly coding (2400 bases), which leaves the 3'-most
    3067 - 2400 = 667 bases of exon 1 (minus strand: its lowest positions) coding, the start
    codon their 5'-most three. ALK is 1620 aa, i.e. c.1-4860 plus the stop codon c.4861-4863;
    the bundled exon 28 ends at c.4164, so exon 29 holds 4863 - 4164 = 699 coding bases (its
    5'-most, i.e. highest, positions), the last three being the stop codon. Asserted: the
    derived model gives every bundled CDS row of exons 19-28 its exon span and c. numbers.
    ``mane``: tag it MANE_Select/Ensembl_canonical (as :func:`gencode_gtf`).
    """
    exons = _bed_exons(ALK_EXONS)
    assert sorted(exons) == list(range(1, 30)), sorted(exons)
    length = {n: e - s + 1 for n, (s, e) in exons.items()}
    cds_rows = [r for r in bundled if r[2] == "CDS"]
    c_of = {  # exon number -> (start, end, c_start, c_end) of the bundled CDS row
        int(re.search(r'exon_number "(\d+)"', r[8])[1]): (
            int(r[3]),
            int(r[4]),
            int(re.search(r'cds_c_start "(\d+)"', r[8])[1]),
            int(re.search(r'cds_c_end "(\d+)"', r[8])[1]),
        )
        for r in cds_rows
    }
    assert sorted(c_of) == list(range(19, 29)), sorted(c_of)
    first, last = c_of[19], c_of[28]
    assert (first[0], first[1]) == exons[19]  # exon 19 coding throughout
    coding_in_1 = first[2] - 1 - sum(length[n] for n in range(2, 19))
    coding_in_29 = 3 * (ALK_AA + 1) - last[3]
    assert 0 < coding_in_1 <= length[1] and 3 < coding_in_29 <= length[29]
    cds = {n: exons[n] for n in range(2, 29)}
    cds[1] = (exons[1][0], exons[1][0] + coding_in_1 - 1)
    stop = (exons[29][1] - coding_in_29 + 1, exons[29][1] - coding_in_29 + 3)
    cds[29] = (stop[1] + 1, exons[29][1])
    c, numbered = 1, {}
    for n in range(1, 30):  # transcript order (5' -> 3'): exon 1 first
        s, e = cds[n]
        numbered[n] = (s, e, c, c + e - s)
        c += e - s + 1
    assert c - 1 == 3 * ALK_AA, c - 1  # stop codon excluded
    for n, row in c_of.items():
        assert numbered[n] == row, (n, numbered[n], row)

    tx_row = next(r for r in bundled if r[2] == "transcript")
    chrom = tx_row[0]
    base = re.sub(r' ?tag "[^"]*";', "", tx_row[8]).rstrip() + ' tag "basic"; tag "CCDS";'
    if mane:
        base += ' tag "Ensembl_canonical"; tag "MANE_Select";'
    gene_attr = base.split(' transcript_id "')[0]
    span = (exons[29][0], exons[1][1])
    out = [
        [chrom, "HAVANA", "gene", *map(str, span), ".", "-", ".", gene_attr],
        [chrom, "HAVANA", "transcript", *map(str, span), ".", "-", ".", base],
    ]

    def row(feature: str, s: int, e: int, n: int, frame: str = ".") -> list[str]:
        return [chrom, "HAVANA", feature, str(s), str(e), ".", "-", frame,
                base + f' exon_number "{n}";']  # fmt: skip

    for n in range(1, 30):
        out.append(row("exon", *exons[n], n))
        s, e, c_start, _ = numbered[n]
        out.append(row("CDS", s, e, n, str((3 - (c_start - 1) % 3) % 3)))
    out.append(row("start_codon", cds[1][1] - 2, cds[1][1], 1, "0"))
    out.append(row("stop_codon", *stop, 29, "0"))
    out.append(row("UTR", cds[1][1] + 1, exons[1][1], 1))
    out.append(row("UTR", exons[29][0], stop[0] - 1, 29))
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


def kif5b_rows(exons: dict[int, tuple[int, int]], cds: bool = False) -> list[list[str]]:
    """GENCODE-shaped gene and transcript rows of KIF5B at its GRCh38 span (:data:`KIF5B_SPAN`)
    with the given exons (number -> 1-based span), and with ``cds`` a complete CDS (each exon's
    first 99 bases) so that the annotation cache can model it. The exon spans are the test's own
    (synthetic, chosen around a simulated breakpoint), not Ensembl's."""
    chrom, start, end = KIF5B_SPAN
    gene = 'gene_id "ENSG00000170759.14"; gene_type "protein_coding"; gene_name "KIF5B";'
    tx = gene + ' transcript_id "ENST00000302418.5"; transcript_type "protein_coding";'
    out = [
        [chrom, "HAVANA", "gene", str(start), str(end), ".", "-", ".", gene],
        [chrom, "HAVANA", "transcript", str(start), str(end), ".", "-", ".", tx],
    ]
    for n, (s, e) in sorted(exons.items()):
        out.append([chrom, "HAVANA", "exon", str(s), str(e), ".", "-", ".",
                    tx + f' exon_number "{n}";'])  # fmt: skip
        if cds:
            out.append([chrom, "HAVANA", "CDS", str(s), str(s + 98), ".", "-", "0",
                        tx + f' exon_number "{n}";'])  # fmt: skip
    return out


def lift_bam(src: Path, out: Path, fasta: Path) -> Path:
    """A BAM aligned to panel-style contigs (``chrN_START_END``) moved to the whole chromosomes of
    ``fasta`` (its .fai becomes the @SQ lines): positions, mate positions and SA entries shift by
    START-1, as if the reads had been aligned to the whole genome. Sorted and indexed."""
    lengths = dict(line.split("\t")[:2] for line in Path(f"{fasta}.fai").read_text().splitlines())
    with pysam.AlignmentFile(str(src)) as bam:
        header = bam.header.to_dict()
        header["SQ"] = [{"SN": n, "LN": int(n_len)} for n, n_len in lengths.items()]
        lifted = pysam.AlignmentHeader.from_dict(header)

        def lift(contig: str, pos: str) -> tuple[str, str]:
            if contig == "*":
                return contig, pos
            chrom, off = _offset(contig)
            return chrom, str(int(pos) + off)

        unsorted = out.with_suffix(".unsorted.bam")
        with pysam.AlignmentFile(str(unsorted), "wb", header=lifted) as dest:
            for read in bam:
                d = read.to_dict()
                mate = d["ref_name"] if d["next_ref_name"] == "=" else d["next_ref_name"]
                d["ref_name"], d["ref_pos"] = lift(d["ref_name"], d["ref_pos"])
                d["next_ref_name"], d["next_ref_pos"] = lift(mate, d["next_ref_pos"])
                tags = []
                for tag in d.get("tags", []):
                    if tag.startswith("SA:Z:"):
                        entries = []
                        for entry in tag[5:].rstrip(";").split(";"):
                            f = entry.split(",")
                            f[0], f[1] = lift(f[0], f[1])
                            entries.append(",".join(f))
                        tag = "SA:Z:" + ";".join(entries) + ";"
                    tags.append(tag)
                d["tags"] = tags
                dest.write(pysam.AlignedSegment.from_dict(d, lifted))
    pysam.sort("-o", str(out), str(unsorted))
    pysam.index(str(out))
    unsorted.unlink()
    return out
