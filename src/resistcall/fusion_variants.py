"""Named fusion variants: the fusion caller names what it finds, and the annotation step models
their 5' partner genes, which capture kits seldom tile."""

from __future__ import annotations

#: EML4-ALK variants by (last EML4 exon, first ALK exon) in the fusion transcript
#: (Choi et al. 2008 Cancer Res 68:4971; Sasaki et al. 2010 Eur J Cancer 46:1773).
#: At DNA level v3a and v3b share the intron-6 breakpoint (6a/6b is a splicing choice).
KNOWN_VARIANTS: dict[tuple, str] = {
    ("EML4", 13, "ALK", 20): "v1",
    ("EML4", 20, "ALK", 20): "v2",
    ("EML4", 6, "ALK", 20): "v3a/b",
    ("EML4", 14, "ALK", 20): "v7",
    ("EML4", 2, "ALK", 20): "v5a",
    ("EML4", 18, "ALK", 20): "v5'",
    ("EML4", 17, "ALK", 20): "v8a/b",
    ("EML4", 15, "ALK", 20): "v4'",
}


def known_partners(genes: set[str]) -> set[str]:
    """5' partner genes of the known fusions of the 3' genes ``genes``."""
    return {key[0] for key in KNOWN_VARIANTS if key[2] in genes}
