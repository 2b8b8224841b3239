"""A sequencing unit given as an aligned BAM/CRAM, made a unit of this run (rule ``bam_unit``).

The unit keeps its alignments (docs/reference.md) but takes this run's header: @SQ = the FASTA's
contigs (names, lengths, M5 from its .dict), so every BAM the workflow writes has exactly the
FASTA's .fai contigs; one @RG from the sheet (the unit's own read groups are replaced). A unit
aligned to a larger genome (alt/decoy contigs, other chromosomes) loses the reads on contigs the
FASTA lacks (counted and logged); a read whose mate lies on such a contig becomes "mate
unmapped" (flag, RNEXT/PNEXT = its own position, TLEN 0, mate tags MC/MQ/ms dropped) and
supplementary/alternative hits (SA, XA) on absent contigs are removed. Reference ids are remapped
with pysam; samtools sorts only when the unit is not coordinate-sorted or the FASTA orders its
contigs differently, and collates + ``fixmate -m`` when this run marks duplicates.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from subprocess import PIPE

import numpy as np
import pysam

from resistcall import __version__
from resistcall.errors import UserError
from resistcall.inputs.files import open_alignments
from resistcall.outputs import atomic_paths
from resistcall.reference import fasta_sq

log = logging.getLogger(__name__)

#: tags describing the mate: wrong once the mate is gone
MATE_TAGS = ("MC", "MQ", "ms")
#: tags listing other alignments of the read as `contig,pos,...;` entries
HIT_TAGS = ("SA", "XA")


@dataclass(frozen=True)
class UnitCounts:
    """What the rewrite did (logged; tests read it)."""

    reads: int
    dropped: int
    mates_unmapped: int
    sort: str  # "none" | "coordinate" | "collate+fixmate+coordinate"


def parse_read_group(text: str) -> dict[str, str]:
    """``ID:x\\tSM:y`` (as samtools addreplacerg -r takes it; a literal backslash-t works too)."""
    fields = [f for f in text.replace("\\t", "\t").split("\t") if f]
    rg = dict(f.split(":", 1) for f in fields if ":" in f)
    if "ID" not in rg or len(rg) != len(fields):
        raise UserError(f"--read-group {text!r}: expected TAG:VALUE fields with an ID")
    return rg


def _tid_map(names: list[str], sq: list[dict]) -> np.ndarray:
    """Unit reference id -> FASTA reference id (-1: absent from the FASTA)."""
    index = {s["SN"]: i for i, s in enumerate(sq)}
    return np.array([index.get(n, -1) for n in names], dtype=np.int64)


def _header(unit: dict, sq: list[dict], rg: dict[str, str], sorted_out: bool) -> dict:
    programs = list(unit.get("PG", []))
    ids = {p.get("ID") for p in programs}
    pid = "resistcall.bam-unit"
    while pid in ids:
        pid += "+"
    programs.append({"ID": pid, "PN": "resistcall bam-unit", "VN": __version__})
    header = {
        "HD": {"VN": "1.6", "SO": "coordinate" if sorted_out else "unsorted"},
        "SQ": sq,
        "RG": [rg],
        "PG": programs,
    }
    if unit.get("CO"):
        header["CO"] = unit["CO"]
    return header


def _keep_hits(value: str, present: set[str]) -> str:
    return "".join(f"{e};" for e in value.split(";") if e and e.split(",", 1)[0] in present)


def _rewrite_reads(
    unit: pysam.AlignmentFile,
    out: pysam.AlignmentFile,
    tids: np.ndarray,
    present: set[str],
    rg_id: str,
    clear_duplicates: bool,
) -> UnitCounts:
    reads = dropped = orphaned = 0
    lookup = tids.tolist()
    for read in unit.fetch(until_eof=True):
        tid = read.reference_id
        new = lookup[tid] if tid >= 0 else -1
        if tid >= 0 and new < 0:
            dropped += 1
            continue
        read.reference_id = new
        mtid = read.next_reference_id
        if mtid >= 0:
            mate = lookup[mtid]
            if mate < 0:
                orphaned += 1
                read.mate_is_unmapped = True
                read.mate_is_reverse = False
                read.is_proper_pair = False
                read.next_reference_id = new
                read.next_reference_start = read.reference_start
                read.template_length = 0
                for tag in MATE_TAGS:
                    read.set_tag(tag, None)
            else:
                read.next_reference_id = mate
        for tag in HIT_TAGS:
            if read.has_tag(tag):
                kept = _keep_hits(str(read.get_tag(tag)), present)
                read.set_tag(tag, kept or None, "Z" if kept else None)
        if clear_duplicates:
            read.is_duplicate = False
        read.set_tag("RG", rg_id, "Z")
        out.write(read)
        reads += 1
    return UnitCounts(reads, dropped, orphaned, "none")


def rewrite_unit(
    bam: str | Path,
    fasta: str | Path,
    out: str | Path,
    read_group: dict[str, str],
    clear_duplicates: bool,
    mate_tags: bool,
    threads: int = 1,
) -> UnitCounts:
    """Write ``bam`` as a unit of this run (module docstring): the FASTA's @SQ, one @RG, reads
    and mates on absent contigs handled, coordinate-sorted. ``clear_duplicates``: drop the
    unit's duplicate flags (this run marks them, or never for amplicons); ``mate_tags``: add the
    mate tags samtools markdup needs (collate + fixmate -m)."""
    sq = fasta_sq(fasta)
    with open_alignments(bam, fasta) as unit:
        tids = _tid_map(list(unit.references), sq)
        kept = tids[tids >= 0]
        in_order = bool(np.all(np.diff(kept) > 0))
        is_sorted = unit.header.to_dict().get("HD", {}).get("SO") == "coordinate"
        sort = (
            "collate+fixmate+coordinate"
            if mate_tags
            else "none"
            if in_order and is_sorted
            else "coordinate"
        )
        header = _header(unit.header.to_dict(), sq, read_group, sort == "none")
        present = {s["SN"] for s in sq}
        with atomic_paths(out) as (temp,):
            if sort == "none":
                with pysam.AlignmentFile(str(temp), "wb", header=header, threads=threads) as w:
                    counts = _rewrite_reads(
                        unit, w, tids, present, read_group["ID"], clear_duplicates
                    )
            else:
                counts = _through_samtools(
                    unit, temp, header, tids, present, read_group["ID"], clear_duplicates,
                    mate_tags, threads,
                )  # fmt: skip
    counts = UnitCounts(counts.reads, counts.dropped, counts.mates_unmapped, sort)
    if counts.dropped or counts.mates_unmapped:
        log.info(
            "%s: %d read(s) on contigs absent from %s dropped; %d read(s) whose mate was on "
            "such a contig kept as 'mate unmapped'",
            bam,
            counts.dropped,
            Path(fasta).name,
            counts.mates_unmapped,
        )
    log.info("%s: %d reads written (sorting: %s)", bam, counts.reads, sort)
    return counts


def _through_samtools(
    unit: pysam.AlignmentFile,
    temp: Path,
    header: dict,
    tids: np.ndarray,
    present: set[str],
    rg_id: str,
    clear_duplicates: bool,
    mate_tags: bool,
    threads: int,
) -> UnitCounts:
    """Rewrite reads into a samtools pipe (collate | fixmate -m | sort, or sort)."""
    t, tmp = str(max(threads, 1)), shlex.quote(f"{temp}.tmp")
    sort = f"samtools sort -@ {t} -m 512M -T {tmp} -O bam -o {shlex.quote(str(temp))} -"
    steps = [sort]
    if mate_tags:
        steps = [f"samtools collate -O -u - {tmp}.collate", "samtools fixmate -m -u - -", sort]
    # samtools' messages go to this command's stderr (the rule's log)
    proc = subprocess.Popen(["bash", "-o", "pipefail", "-c", " | ".join(steps)], stdin=PIPE)
    assert proc.stdin is not None
    try:
        with pysam.AlignmentFile(proc.stdin, "wbu", header=header) as w:
            counts = _rewrite_reads(unit, w, tids, present, rg_id, clear_duplicates)
    finally:
        proc.stdin.close()
        code = proc.wait()
    if code != 0:
        raise RuntimeError(f"samtools ({' | '.join(steps)}) failed with exit code {code}")
    return counts


def _cmd_bam_unit(args: argparse.Namespace) -> None:
    rewrite_unit(
        args.bam,
        args.reference,
        args.out,
        parse_read_group(args.read_group),
        args.clear_duplicates,
        args.mate_tags,
        args.threads,
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bam-unit",
        help="an aligned BAM/CRAM unit with the FASTA's @SQ, the sheet's read group",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--bam", required=True, help="the unit's BAM or CRAM")
    p.add_argument("--reference", required=True, help="reference FASTA (with .fai; .dict: M5)")
    p.add_argument("--read-group", required=True, help=r"the unit's @RG, e.g. 'ID:s.u\tSM:s'")
    p.add_argument(
        "--clear-duplicates",
        action="store_true",
        help="drop the unit's duplicate flags (this run marks duplicates, or never: amplicon)",
    )
    p.add_argument(
        "--mate-tags",
        action="store_true",
        help="collate and add the mate tags samtools markdup needs (fixmate -m)",
    )
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", required=True, help="coordinate-sorted BAM")
    p.set_defaults(func=_cmd_bam_unit)
