"""Duplicate policy (config ``panel.mark_duplicates``; docs/qc.md).

``auto`` (default), as nf-core/sarek treats a BAM given at a later step: capture samples aligned
here from FASTQ are marked with ``samtools markdup``; a sample whose units are all aligned
BAM/CRAM is used as it is, with the duplicate flags its own pipeline set (a sample mixing both is
marked). ``true`` marks every capture sample, ``false`` none. Amplicon reads share their ends by
design and are never marked. A sample used as given whose unit headers name no duplicate-marking
program gets a QC warning, never silence; so does a capture normal of the panel of normals
(:func:`normal_duplicates`), when the workflow validates its inputs and when ``resistcall pon``
counts it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

#: @PG lines (ID, PN, CL) of programs that mark or remove duplicates, or collapse UMI families:
#: samtools markdup/rmdup, Picard/GATK MarkDuplicates (and UMI-aware variants), sambamba
#: markdup, biobambam bamsormadup/bammarkduplicates, samblaster, fgbio consensus callers,
#: UMI-tools dedup, Sentieon Dedup, gencore
_MARKER = re.compile(
    r"markdup|rmdup|markduplicates|bamsormadup|bammarkduplicates|samblaster|"
    r"call(?:molecular|duplex)consensusreads|umi[-_]tools.*dedup|\bdedup\b|gencore",
    re.IGNORECASE,
)
#: what the marker programs are, for the messages
_PROGRAMS = (
    "(@PG: samtools markdup, Picard MarkDuplicates, sambamba, biobambam, fgbio/UMI-tools "
    "consensus...)"
)


def marks_here(assay: str, setting: str | bool, unit_kinds: Iterable[str]) -> bool:
    """Whether this run marks the duplicates of a sample with these units (kinds ``fastq`` /
    ``bam``)."""
    if assay != "capture":
        return False
    if setting == "auto":
        return any(kind == "fastq" for kind in unit_kinds)
    return bool(setting)


def marking_programs(header: Mapping) -> list[str]:
    """Names of the duplicate-marking programs in a SAM header's @PG lines (as pysam's
    ``header.to_dict()`` gives them)."""
    found = []
    for pg in header.get("PG", []):
        text = " ".join(str(pg.get(k, "")) for k in ("ID", "PN", "CL"))
        if _MARKER.search(text):
            found.append(str(pg.get("PN") or pg.get("ID")))
    return list(dict.fromkeys(found))


def duplicate_status(mode: str, unit_headers: Mapping[str, Mapping]) -> tuple[str, list[str]]:
    """(how the sample's duplicates were handled, warnings) for qc.json and the report.

    ``mode``: ``marked`` (samtools markdup in this run), ``never`` (amplicon) or ``as-given``
    (``unit_headers``: file name -> header of each unit used as given; empty for FASTQ units
    with ``mark_duplicates: false``)."""
    if mode == "marked":
        return "marked in this run (samtools markdup)", []
    if mode == "never":
        return "never marked (amplicon: reads share their ends by design)", []
    fix = "set panel.mark_duplicates: true to mark them in this run"
    if not unit_headers:
        return "not marked (panel.mark_duplicates: false)", [
            f"duplicates were not marked (panel.mark_duplicates: false): depth and allele counts "
            f"include PCR duplicates; {fix}"
        ]
    upstream = {name: marking_programs(h) for name, h in unit_headers.items()}
    unmarked = [name for name, programs in upstream.items() if not programs]
    programs = sorted({p for ps in upstream.values() for p in ps})
    if not unmarked:
        return f"as given: marked upstream ({', '.join(programs)})", []
    return "as given: not marked upstream", [
        f"duplicates were not marked upstream: the header of {', '.join(unmarked)} names no "
        f"duplicate-marking program {_PROGRAMS} and the BAM was used as given, so depth and "
        f"allele counts may include PCR duplicates; {fix}"
    ]


def normal_duplicates(assay: str, header: Mapping) -> tuple[str, str | None]:
    """(how a panel-of-normals sample's duplicates were handled, warning or None), by the rule
    of the run's samples used as given: its header must name a duplicate-marking program.
    Capture normals are counted with their flags as they are, so an unmarked one puts its PCR
    copies in the panel (a copied error looks recurrent); amplicon counting keeps duplicates."""
    if assay != "capture":
        return "counted (amplicon)", None
    programs = marking_programs(header)
    if programs:
        return f"marked upstream ({'/'.join(programs)})", None
    return "not marked", (
        f"duplicates were not marked: its header names no duplicate-marking program {_PROGRAMS}, "
        "so the panel counts its PCR duplicates (depth inflated, a copied error looks recurrent); "
        "mark them (samtools markdup) before building the panel"
    )
