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


#: Recurrent 5' partners of the kinase fusions the caller supports (its 3' gene), besides the
#: named variants' own: modelled when the GTF has them so that a partner is named with its exon
#: on a whole genome. ALK: KIF5B (Takeuchi et al. 2009 Clin Cancer Res 15:3143), TFG (Rikova
#: et al. 2007 Cell 131:1190), KLC1 (Togashi et al. 2012 PLoS One 7:e31323), HIP1 (Hong et al.
#: 2014 J Thorac Oncol 9:419), STRN (Majewski et al. 2013 J Pathol 230:270), TPR, DCTN1,
#: SQSTM1 (Ou et al. 2020 JTO Clin Res Rep 1:100015). ROS1: CD74, SLC34A2, EZR, SDC4, TPM3
#: (Takeuchi et al. 2012 Nat Med 18:378; Bergethon et al. 2012 J Clin Oncol 30:863). RET:
#: KIF5B, CCDC6, NCOA4, TRIM33 (Lipson et al. 2012 Nat Med 18:382; Takeuchi et al. 2012).
RECURRENT_PARTNERS: dict[str, tuple[str, ...]] = {
    "ALK": ("KIF5B", "TFG", "KLC1", "HIP1", "STRN", "TPR", "DCTN1", "SQSTM1"),
    "ROS1": ("CD74", "SLC34A2", "EZR", "SDC4", "TPM3"),
    "RET": ("KIF5B", "CCDC6", "NCOA4", "TRIM33"),
}


def known_partners(genes: set[str]) -> set[str]:
    """5' partner genes of the known fusions of the 3' genes ``genes``: the named variants'
    and the recurrent ones."""
    named = {key[0] for key in KNOWN_VARIANTS if key[2] in genes}
    return named | {p for g in genes for p in RECURRENT_PARTNERS.get(g, ())}
