"""Regenerate the hand-made report fixtures (demo-like H3122sim line).

The fixtures follow the file contracts in docs/architecture.md and docs/annotate.md; they are
written once and committed so the tests read small, human-checkable files. Run from the repo
root: ``python tests/data/report/make_fixtures.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from resistcall import snv
from resistcall.annotate import Finding, add_not_assessed
from resistcall.contracts import HITS_SCHEMA, caveat
from resistcall.fusion import detection_limit
from resistcall.knowledge import load_knowledge, residue_span
from resistcall.tables import read_table

HERE = Path(__file__).resolve().parent
KNOWN = HERE.parents[2] / "resources" / "known_resistance.tsv"
ALK = "chr2_29196228_29226309"
ALK_START = 29196228
LINE, PAR, CR1, CR2 = "H3122sim", "H3122_P", "H3122_CR1", "H3122_CR2"


def genomic(pos: int) -> str:
    return f"chr2:{ALK_START - 1 + pos}"


def source(token: str) -> dict:
    kind, _, num = token.partition(":")
    if kind == "PMID":
        return {"id": token, "type": "pmid", "url": f"https://pubmed.ncbi.nlm.nih.gov/{num}/"}
    if token.startswith("CIViC:EID"):
        return {
            "id": token,
            "type": "civic_evidence",
            "url": f"https://civicdb.org/links/evidence_items/{num[3:]}",
        }
    if kind == "DOI":
        return {"id": token, "type": "doi", "url": f"https://doi.org/{num}"}
    return {"id": token, "type": "moalmanac", "url": None}


def match(drug, effect, level, sources, verification="db", mtype="exact", line=0):
    return {
        "table_line": line,
        "table_hgvs_p": None,
        "match_type": mtype,
        "drug": drug,
        "drug_class": "alk_tki" if drug in DRUGS[:5] else "fak_inhibitor",
        "effect": effect,
        "evidence_level": level,
        "mechanism_class": "on_target",
        "verification": verification,
        "sources": [source(t) for t in sources],
        "note": "",
    }


DRUGS = [
    "crizotinib",
    "ceritinib",
    "alectinib",
    "brigatinib",
    "lorlatinib",
    "defactinib",
    "BI-853520",
]

# --- variants: (pos, ref, alt, hgvs_c, hgvs_p, consequence, {sample: (alt, depth)},
#                {resistant sample: status or None}, classification)
VARIANTS = {
    "L1196M": (
        24556,
        "G",
        "T",
        "c.3586C>A",
        "p.L1196M",
        "missense_variant",
        {PAR: (1, 1510), CR1: (402, 1602), CR2: (0, 1488)},
        {CR1: "acquired", CR2: None},
        "known",
    ),
    "G1202R": (
        24538,
        "C",
        "T",
        "c.3604G>A",
        "p.G1202R",
        "missense_variant",
        {PAR: (0, 1433), CR1: (2, 1520), CR2: (171, 1397)},
        {CR1: None, CR2: "acquired"},
        "known",
    ),
    "T1151dup": (
        26350,
        "T",
        "TTGT",
        "c.3452_3454dup",
        "p.T1151dup",
        "inframe_insertion",
        {PAR: (0, 1288), CR1: (0, 1301), CR2: (66, 1312)},
        {CR1: None, CR2: "acquired"},
        "known",
    ),
    "R1192Q": (
        24565,
        "C",
        "T",
        "c.3575G>A",
        "p.R1192Q",
        "missense_variant",
        {PAR: (1, 1470), CR1: (0, 1555), CR2: (41, 1380)},
        {CR1: None, CR2: "acquired"},
        "vus",
    ),
    "D1529E": (
        1880,
        "G",
        "C",
        "c.4587C>G",
        "p.D1529E",
        "missense_variant",
        {PAR: (598, 1190), CR1: (611, 1240), CR2: (577, 1169)},
        {CR1: "shared", CR2: "shared"},
        "vus",
    ),
    "I1461=": (
        2975,
        "A",
        "G",
        "c.4383T>C",
        "p.I1461=",
        "synonymous_variant",
        {PAR: (0, 1201), CR1: (14, 1366), CR2: (0, 1290)},
        {CR1: "acquired", CR2: None},
        "other",
    ),
}

MATCHES = {
    "L1196M": [
        match(
            "crizotinib",
            "resistant",
            "case_report",
            ["PMID:20979473", "PMID:22277784", "CIViC:EID237", "CIViC:EID442"],
            line=48,
        ),
        match("ceritinib", "sensitive", "preclinical", ["PMID:24675041", "CIViC:EID1341"], line=49),
        match("alectinib", "sensitive", "preclinical", ["PMID:21575866", "CIViC:EID141"], line=50),
        match(
            "brigatinib",
            "sensitive",
            "case_report",
            ["CGI:2017 (ASCO 2017 abstr 9065)"],
            verification="recall",
            line=51,
        ),
        match(
            "lorlatinib",
            "sensitive",
            "preclinical",
            ["PMID:28057760", "PMID:27432227"],
            verification="page",
            line=52,
        ),
    ],
    "G1202R": [
        match("crizotinib", "resistant", "case_report", ["PMID:22277784", "CIViC:EID441"]),
        match("ceritinib", "resistant", "preclinical", ["PMID:24675041", "CIViC:EID1345"]),
        match("alectinib", "resistant", "preclinical", ["PMID:25727400", "CIViC:EID1350"]),
        match("brigatinib", "resistant", "preclinical", ["PMID:25727400", "CIViC:EID1351"]),
        match("lorlatinib", "sensitive", "clinical", ["PMID:27432227", "PMID:28057760"]),
    ],
    "T1151dup": [
        match("crizotinib", "resistant", "case_report", ["PMID:22277784", "CIViC:EID444"]),
        match("alectinib", "resistant", "preclinical", ["PMID:22277784", "CIViC:EID1347"]),
        match(
            "ceritinib", "reduced_sensitivity", "preclinical", ["PMID:22277784", "CIViC:EID1348"]
        ),
    ],
}


def counts(a: int, d: int) -> dict:
    return {"alt_count": a, "depth": d, "vaf": round(a / d, 4)}


def blank(**kw) -> dict:
    """A hits.json finding with the product's own fields (annotate.Finding), overridden by kw."""
    f = Finding(id="", kind="", gene="", sample="").to_json()
    f.update(filter="PASS", counts_towards_verdict=True)
    f.update(kw)
    return f


def variant_finding(name: str, sample: str) -> dict | None:
    pos, ref, alt, hc, hp, csq, cnt, status, cls = VARIANTS[name]
    if sample == PAR:
        if cnt[PAR][0] / cnt[PAR][1] < 0.01:
            return None
        st = "parental"
    elif status[sample] is None:
        return None
    else:
        st = status[sample]
    matches = MATCHES.get(name, [])
    return blank(
        id=f"var:{ALK}:{pos}:{ref}:{alt}",
        kind="indel" if len(ref) != len(alt) else "snv",
        gene="ALK",
        chrom=ALK,
        pos=pos,
        ref=ref,
        alt=alt,
        genomic=genomic(pos),
        transcript="ENST00000389048",
        refseq="NM_004304.5",
        hgvs_c=hc,
        hgvs_p=hp,
        consequence=csq,
        exon="23",
        kinase_domain=True,
        sample_counts=counts(*cnt[sample]),
        parental_counts=counts(*cnt[PAR]),
        status=st,
        known=bool(matches),
        classification=cls,
        matches=matches,
        verified=all(m["verification"] != "recall" for m in matches) if matches else None,
    )


CNV = {  # sample -> gene -> (log2, cn, lo, hi, call)
    CR1: {
        "ALK": (0.03, 2.04, 1.86, 2.21, "neutral"),
        "EGFR": (0.05, 2.07, 1.95, 2.2, "neutral"),
        "ERBB2": (-0.04, 1.94, 1.71, 2.16, "neutral"),
        "KIT": (0.01, 2.01, 1.8, 2.2, "neutral"),
        "KRAS": (0.06, 2.08, 1.77, 2.4, "neutral"),
        "MET": (2.05, 8.28, 7.35, 9.31, "amplification"),
    },
    CR2: {
        "ALK": (-0.02, 1.97, 1.8, 2.13, "neutral"),
        "EGFR": (1.41, 5.31, 4.92, 5.77, "amplification"),
        "ERBB2": (0.63, 3.1, 2.79, 3.43, "gain"),
        "KIT": (0.02, 2.03, 1.83, 2.22, "neutral"),
        "KRAS": (float("nan"), float("nan"), float("nan"), float("nan"), "not assessable"),
        "MET": (0.04, 2.06, 1.9, 2.24, "neutral"),
    },
}
N_TARGETS = {"ALK": 10, "EGFR": 28, "ERBB2": 5, "KIT": 6, "KRAS": 3, "MET": 9}

CNV_MATCHES = {
    "MET": [
        match("crizotinib", "sensitive", "case_report", ["PMID:21623265", "CIViC:EID735"]),
        match("ceritinib", "resistant", "clinical", ["DOI:10.1158/1078-0432.CCR-19-3906"]),
        match("alectinib", "resistant", "clinical", ["DOI:10.1158/1078-0432.CCR-19-3906"]),
        match("brigatinib", "resistant", "clinical", ["DOI:10.1158/1078-0432.CCR-19-3906"]),
        match("lorlatinib", "resistant", "clinical", ["DOI:10.1158/1078-0432.CCR-19-3906"]),
        match(
            "ALK TKI + MET inhibitor",
            "sensitive",
            "case_report",
            ["DOI:10.1158/1078-0432.CCR-19-3906"],
            verification="recall",
        ),
    ],
    "EGFR": [
        match("crizotinib", "resistant", "preclinical", ["PMID:21791641", "CIViC:EID780"]),
        match("defactinib", "resistant", "preclinical", ["PMID:27638858"]),
        match("BI-853520", "resistant", "preclinical", ["PMID:27638858"]),
    ],
}

FUSION_MATCHES = [
    match(d, "sensitive", "clinical", s, mtype="fusion")
    for d, s in [
        ("crizotinib", ["PMID:20979469", "CIViC:EID1187"]),
        ("ceritinib", ["PMID:24670165", "CIViC:EID1237"]),
        ("alectinib", ["PMID:28586279", "CIViC:EID7284"]),
        ("brigatinib", ["PMID:32780660", "CIViC:EID11121"]),
        ("lorlatinib", ["PMID:29074098"]),
    ]
]
FUSION_ID = "fusion:EML4::ALK"

RANK = {"resistant": 3, "reduced_sensitivity": 2, "sensitive": 1}


def drug_summary(findings: list[dict]) -> dict:
    """Per-drug verdict by the rules of docs/annotate.md (fusion rows are baseline only)."""
    out = {}
    drugs = list(DRUGS[:5])
    for f in findings:
        for m in f["matches"]:
            if m["drug"] not in drugs:
                drugs.append(m["drug"])
    for drug in drugs:
        rows = [
            (f, m)
            for f in findings
            for m in f["matches"]
            if m["drug"] == drug and f["counts_towards_verdict"]
        ]
        baseline = [(f, m) for f, m in rows if f["kind"] == "fusion" and m["effect"] == "sensitive"]
        deciding = [(f, m) for f, m in rows if (f, m) not in baseline]
        verified = [(f, m) for f, m in deciding if m["verification"] != "recall"]
        use = verified or deciding
        if use:
            worst = max(use, key=lambda fm: RANK[fm[1]["effect"]])[1]["effect"]
            prediction = worst.replace("_", " ")
        else:
            prediction = "no data"
        caveats = []  # unverified rows that would change a verified verdict (docs/annotate.md)
        unverified = [(f, m) for f, m in deciding if m["verification"] == "recall"]
        if verified and unverified:
            alt = max(deciding, key=lambda fm: RANK[fm[1]["effect"]])[1]["effect"]
            if alt.replace("_", " ") != prediction:
                caveats = [
                    caveat(
                        "unverified",
                        f"unverified row(s) would give '{alt.replace('_', ' ')}'",
                        gene=f["gene"],
                        residue=residue_span(f["hgvs_p"])[0],
                        hgvs_p=f["hgvs_p"],
                        would_give=alt.replace("_", " "),
                    )
                    for f in sorted(
                        {f["hgvs_p"]: f for f, _ in unverified}.values(), key=lambda f: f["hgvs_p"]
                    )
                ]
        out[drug] = {
            "prediction": prediction,
            "verified": bool(verified) or not deciding,
            "findings": [f["id"] for f, _ in deciding],
            "sources": [s for _, m in deciding for s in m["sources"]],
            "rows": [
                {
                    "finding": f["id"],
                    "hgvs_p": f["hgvs_p"],
                    "effect": m["effect"],
                    "evidence_level": m["evidence_level"],
                    "verification": m["verification"],
                    "table_line": m["table_line"],
                    "class_level": False,
                }
                for f, m in deciding
            ],
            "no_data_findings": [
                f["id"]
                for f in findings
                if f["classification"] in ("known", "vus")
                and not any(m["drug"] == drug for m in f["matches"])
            ],
            "baseline": [
                {
                    "finding": f["id"],
                    "effect": m["effect"],
                    "evidence_level": m["evidence_level"],
                    "verification": m["verification"],
                }
                for f, m in baseline
            ],
            "superseded": [],
            "caveats": caveats,
            "not_assessed": [],  # filled from hotspots.tsv by annotate's own add_not_assessed
        }
    return out


def sample_entry(sample: str) -> dict:
    everything = [f for n in VARIANTS if (f := variant_finding(n, sample))]
    if sample != PAR:
        for gene, (_l2, cn, lo, hi, call) in CNV[sample].items():
            if call in ("amplification", "gain"):
                matches = CNV_MATCHES.get(gene, []) if call == "amplification" else []
                everything.append(
                    blank(
                        id=f"cnv:{gene}",
                        kind="cnv",
                        gene=gene,
                        hgvs_p=call,
                        consequence="copy_number_change",
                        copy_number=cn,
                        ci_low=lo,
                        ci_high=hi,
                        status=call,
                        known=bool(matches),
                        classification="known" if matches else "vus",
                        matches=matches,
                        verified=True if matches else None,
                    )
                )
    everything.append(
        blank(
            id=FUSION_ID,
            kind="fusion",
            gene="EML4::ALK",
            hgvs_p="fusion",
            genomic="chr2:42296855>chr2:29223437",
            consequence="gene_fusion",
            status="detected",
            known=True,
            classification="known",
            matches=FUSION_MATCHES,
            verified=True,
        )
    )
    known = [f for f in everything if f["classification"] == "known"]
    vus = [f for f in everything if f["classification"] == "vus"]
    other = [f for f in everything if f["classification"] == "other"]
    return {
        "sample": sample,
        "condition": "parental" if sample == PAR else "resistant",
        "findings": known,
        "vus": vus,
        "other": other,
        "drugs": {} if sample == PAR else drug_summary(known + vus),
    }


def write_vcf(path: Path) -> None:
    """All calls of the line (plus one filtered record) with pysam, parental first."""
    header = pysam.VariantHeader()
    for line in (
        "##source=resistcall snv 0.1.0",
        "##reference=resources/reference/panel_GRCh38.fa",
        f"##parental={PAR}",
    ):
        header.add_line(line)
    header.contigs.add(ALK, length=30082)
    header.filters.add("strand_bias", None, None, "Alt reads on one strand only")
    header.info.add("STATUS", 1, "String", "acquired, enriched, shared or lost vs the parental")
    header.formats.add("GT", 1, "String", "Genotype")
    header.formats.add("AD", "R", "Integer", "Allele depths (ref, alt)")
    header.formats.add("DP", 1, "Integer", "Depth")
    header.formats.add("AF", "A", "Float", "Alt allele fraction")
    for sample in (PAR, CR1, CR2):
        header.add_sample(sample)
    records = [
        (v[0], v[1], v[2], v[6], "PASS", next(x for x in v[7].values() if x))
        for v in VARIANTS.values()
    ]
    records.append(
        (
            25790,
            "A",
            "G",
            {PAR: (0, 1320), CR1: (14, 1366), CR2: (0, 1290)},
            "strand_bias",
            "acquired",
        )
    )
    with pysam.VariantFile(str(path), "w", header=header) as out:
        for pos, ref, alt, cnt, flt, status in sorted(records):
            rec = out.new_record(contig=ALK, start=pos - 1, alleles=(ref, alt))
            rec.filter.add(flt)
            rec.info["STATUS"] = status
            for sample in (PAR, CR1, CR2):
                a, d = cnt[sample]
                rec.samples[sample]["GT"] = (0, 1) if a / d > 0.005 else (0, 0)
                rec.samples[sample]["AD"] = (d - a, a)
                rec.samples[sample]["DP"] = d
                rec.samples[sample]["AF"] = round(a / d, 4)
            out.write(rec)


def hotspot_rows() -> pd.DataFrame:
    """hotspots.tsv: G1269 not assessable everywhere, KRAS G12/G13 not assessable in CR2 (its
    KRAS targets are the ones with low depth in its QC), the found mutations, the rest wild type."""
    hot = [
        ("ALK", "p.T1151dup", "T1151", 26350),
        ("ALK", "p.C1156Y", "C1156", 26335),
        ("ALK", "p.I1171N", "I1171", 25020),
        ("ALK", "p.F1174L", "F1174", 25011),
        ("ALK", "p.L1196M", "L1196", 24556),
        ("ALK", "p.G1202R", "G1202", 24538),
        ("ALK", "p.S1206Y", "S1206", 24526),
        ("ALK", "p.G1269A", "G1269", 22304),
        ("EGFR", "p.L858R", "L858", 0),
        ("KRAS", "p.G12C", "G12", 0),
        ("KRAS", "p.G13D", "G13", 1003),
    ]
    hrows = []
    for s in (PAR, CR1, CR2):
        for gene, hp, res, pos in hot:
            depth = 1400 + (pos % 97)
            alt, verdict = 0, None
            if res == "G1269":
                depth = {PAR: 12, CR1: 9, CR2: 15}[s]
            elif gene == "KRAS" and s == CR2:
                depth = {"G12": 41, "G13": 37}[res]
            elif hp == "p.L1196M" and s == CR1:
                (alt, depth), verdict = VARIANTS["L1196M"][6][CR1], "mutated"
            elif hp in ("p.G1202R", "p.T1151dup") and s == CR2:
                (alt, depth), verdict = VARIANTS[hp[2:]][6][CR2], "mutated"
            chrom = (
                ALK
                if gene == "ALK"
                else ("chr7_55017807_55211651" if gene == "EGFR" else "chr12_25225577_25245847")
            )
            p = pos or 1000
            # the caller's own limit at a demo-like background (mean 1e-4, kappa 1e6)
            k = snv.critical_alt(depth, 100.0, 1e6 - 100.0, 2e-4, 2, (0, 1400))
            limit = snv.detection_limit(depth, k, 0.95)
            reason = None
            if verdict is None and limit > snv.SnvConfig().max_detection_limit:
                verdict, reason = "not covered", "detection limit above the 10% maximum"
            verdict = verdict or "not detected"
            hrows.append(
                {
                    "sample": s,
                    "gene": gene,
                    "hgvs_p": hp,
                    "residue": res,
                    "chrom": chrom,
                    "positions": f"{p - 2}-{p}",
                    "genomic": f"{chrom.split('_')[0]}:{int(chrom.split('_')[1]) - 1 + p}",
                    "depth": depth,
                    "alt_count": alt,
                    "vaf": round(alt / depth, 4),
                    "verdict": verdict,
                    "detection_limit_vaf": round(limit, 5),
                    "target_vaf": 0.01,
                    "depth_needed": 298,
                    "reason": reason,
                }
            )
    return pd.DataFrame(hrows)


def main() -> None:
    rng = np.random.default_rng(7)
    hotspot_rows().to_csv(HERE / "hotspots.tsv", sep="\t", index=False, na_rep=".")
    samples = [sample_entry(s) for s in (PAR, CR1, CR2)]
    # not_assessed + caveat exactly as `resistcall annotate --hotspots` writes them
    hotspots = read_table(
        HERE / "hotspots.tsv", ("sample", "gene", "hgvs_p", "verdict"), "hotspot table"
    )
    add_not_assessed(
        {e["sample"]: e["drugs"] for e in samples if e["sample"] != PAR},
        hotspots,
        load_knowledge(KNOWN),
    )
    hits = {
        "schema": HITS_SCHEMA,
        "line": LINE,
        "parental": PAR,
        "knowledge": {
            "path": "resources/known_resistance.tsv",
            "md5": "5d41402abc4b2a76b9719d911017c592",
            "rows": 107,
            "rows_unverified": 14,
            "licence": "CIViC CC0 / MOAlmanac GPL-2.0; see resources/README.md",
        },
        "inputs": {
            "vcf": "results/H3122sim/snv.vcf.gz",
            "cnv": "results/H3122sim/cnv.tsv",
            "fusions": "results/H3122sim/fusions.tsv",
        },
        "drug_groups": load_knowledge(KNOWN).groups.as_json(),
        "samples": samples,
    }
    (HERE / "hits.json").write_text(json.dumps(hits, indent=1, allow_nan=False) + "\n")
    write_vcf(HERE / "snv.vcf")

    rows = []
    for s, genes in CNV.items():
        for g, (l2, cn, lo, hi, call) in genes.items():
            other = {"MET": "EGFR", "EGFR": "MET"}.get(g)
            ratio = round(2 ** (l2 - genes[other][0]), 3) if other else float("nan")
            note = "fewer than 3 usable targets" if call == "not assessable" else ""
            rows.append(
                {
                    "sample": s,
                    "gene": g,
                    "n_targets": N_TARGETS[g],
                    "log2_ratio": l2,
                    "copy_number": cn,
                    "ci_low": lo,
                    "ci_high": hi,
                    "call": call,
                    "reason": note,
                    "role": "resistant",
                    "reference": "parental",
                    "chrom_ratio": ratio,
                    "warning": "",
                }
            )
    pd.DataFrame(rows).to_csv(HERE / "cnv.tsv", sep="\t", index=False, na_rep="NA")

    trows = []
    for s, genes in CNV.items():
        start = 1000
        for g, (l2, *_rest) in genes.items():
            for _ in range(N_TARGETS[g]):
                value = (0.0 if np.isnan(l2) else l2) + rng.normal(0, 0.12)
                trows.append(
                    {
                        "sample": s,
                        "chrom": f"{g}_contig",
                        "start": start,
                        "end": start + 150,
                        "gene": g,
                        "log2_ratio": round(float(value), 4),
                        "depth": int(rng.integers(300, 1500)),
                    }
                )
                start += 400
    pd.DataFrame(trows).to_csv(HERE / "cnv_targets.tsv", sep="\t", index=False)

    frows = [
        {
            "sample": s,
            "gene_5p": "EML4",
            "gene_3p": "ALK",
            "breakpoint_5p": "chr2_42175501_42332600:121355",
            "breakpoint_3p": "chr2_29196228_29226309:27210",
            "genomic_5p": "chr2:42296855",
            "genomic_3p": "chr2:29223437",
            "location_5p": "EML4 intron 13",
            "location_3p": "ALK intron 19",
            "exons": "EML4 13;ALK 20",
            "variant": "v1",
            "split_reads": sr,
            "discordant_pairs": dp,
            "fragments": sr + dp,
            "microhomology": "AT",
            "inserted_sequence": ".",
            "junction_sequence": "GATCCTAGCTTGTG",
            "partner_sequence": ".",
            "call": "detected",
            "min_fragments": 5,
            "min_split_reads": 2,
            "breakpoint_region": "ALK intron 19",
            "region_depth": depth,
            # spanning fragments as on the real H3122 capture (0.86 / 0.74 of the read depth)
            "spanning_fragments": round(0.86 * depth),
            "spanning_split_reads": round(0.74 * depth),
            "detection_limit_af": float(
                f"{detection_limit(round(0.86 * depth), round(0.74 * depth), 5, 2):.3g}"
            ),
            "status": f"EML4-ALK v1 detected: {sr + dp} fragments ({sr} split reads, "
            f"{dp} discordant pairs)",
            "reason": ".",
        }
        for s, sr, dp, depth in ((PAR, 88, 61, 1210), (CR1, 92, 70, 1188), (CR2, 79, 58, 1102))
    ]
    pd.DataFrame(frows).to_csv(HERE / "fusions.tsv", sep="\t", index=False)

    qc_dir = HERE / "qc"
    qc_dir.mkdir(exist_ok=True)
    for s, total, warn in (
        (PAR, 402112, []),
        (CR1, 398774, []),
        (
            CR2,
            377020,
            ["3 of 61 targets below 100x mean depth (ALK exon 25: ALK_t08, ALK_t09; KRAS_t03)"],
        ),
    ):
        qc = {
            "sample": s,
            "total_reads": total,
            "mapped_reads": int(total * 0.991),
            "mapped_fraction": 0.991,
            "duplicate_fraction": 0.082,
            "on_target_fraction": 0.874,
            "mean_target_depth": 1432.5,
            "median_target_depth": 1401.0,
            "fraction_targets_100x": 0.951 if warn else 0.984,
            "depth_quantiles": {
                "p5": 88.0 if warn else 210.0,
                "p25": 1102.0,
                "p50": 1401.0,
                "p75": 1690.0,
                "p95": 2104.0,
            },
            "n_targets": 61,
            "warnings": warn,
            "assay": "capture",
        }
        (qc_dir / f"{s}.qc.json").write_text(json.dumps(qc, indent=1) + "\n")

    meta = {
        "run_date": "2026-11-22T02:00:00Z",
        "resistcall_version": "0.1.0",
        "reference_build": "GRCh38",
        "assay": "capture",
        "tool_versions": {"bwa": "0.7.17-r1188", "samtools": "1.16.1", "snakemake": "9.1.0"},
        "config": {"snv": {"min_vaf": 0.01}},
    }
    (HERE / "run_metadata.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    main()
