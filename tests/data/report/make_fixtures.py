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

HERE = Path(__file__).resolve().parent
ALK = "chr2_29196228_29226309"
ALK_START = 29196228
LINE, PAR, CR1, CR2 = "H3122sim", "H3122_P", "H3122_CR1", "H3122_CR2"


def genomic(pos: int) -> str:
    return f"chr2:{ALK_START - 1 + pos}"


def match(drug, effect, level, sources, verified=True, note=""):
    return {
        "drug": drug,
        "effect": effect,
        "evidence_level": level,
        "sources": sources,
        "verified": verified,
        "note": note,
    }


# --- variants: (name, pos, ref, alt, hgvs_c, hgvs_p, consequence, {sample: (alt, depth)}, status)
VARIANTS = {
    "L1196M": (24556, "G", "T", "c.3586C>A", "p.L1196M", "missense_variant",
               {PAR: (1, 1510), CR1: (402, 1602), CR2: (0, 1488)}, {CR1: "acquired", CR2: None}),
    "G1202R": (24538, "C", "T", "c.3604G>A", "p.G1202R", "missense_variant",
               {PAR: (0, 1433), CR1: (2, 1520), CR2: (171, 1397)}, {CR1: None, CR2: "acquired"}),
    "T1151dup": (26350, "T", "TTGT", "c.3452_3454dup", "p.T1151dup", "inframe_insertion",
                 {PAR: (0, 1288), CR1: (0, 1301), CR2: (66, 1312)}, {CR1: None, CR2: "acquired"}),
    "R1192Q": (24565, "C", "T", "c.3575G>A", "p.R1192Q", "missense_variant",
               {PAR: (1, 1470), CR1: (0, 1555), CR2: (41, 1380)}, {CR1: None, CR2: "acquired"}),
    "D1529E": (1880, "G", "C", "c.4587C>G", "p.D1529E", "missense_variant",
               {PAR: (598, 1190), CR1: (611, 1240), CR2: (577, 1169)},
               {CR1: "shared", CR2: "shared"}),
}

MATCHES = {
    "L1196M": [
        match("crizotinib", "resistant", "case_report",
              ["PMID:20979473", "PMID:22277784", "CIViC:EID237", "CIViC:EID442"]),
        match("ceritinib", "sensitive", "preclinical", ["PMID:24675041", "CIViC:EID1341"]),
        match("alectinib", "sensitive", "preclinical", ["PMID:21575866", "CIViC:EID141"]),
        match("brigatinib", "sensitive", "case_report", ["CGI:2017 (ASCO 2017 abstr 9065)"]),
        match("lorlatinib", "sensitive", "preclinical", ["PMID:28057760", "PMID:27432227"],
              verified=False, note="verif=page; exact IC50 not read"),
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
        match("ceritinib", "reduced_sensitivity", "preclinical",
              ["PMID:22277784", "CIViC:EID1348"]),
    ],
}


def variant_finding(name: str, sample: str) -> dict | None:
    pos, ref, alt, hc, hp, csq, counts, status = VARIANTS[name]
    if status[sample] is None:
        return None
    a, d = counts[sample]
    pa, pd_ = counts[PAR]
    return {
        "sample": sample,
        "type": "indel" if len(ref) != len(alt) else "SNV",
        "gene": "ALK",
        "chrom": ALK,
        "pos": pos,
        "genomic": genomic(pos),
        "ref": ref,
        "alt": alt,
        "transcript": "NM_004304.5",
        "hgvs_c": hc,
        "hgvs_p": hp,
        "consequence": csq,
        "vaf": round(a / d, 4),
        "alt_count": a,
        "depth": d,
        "vaf_parental": round(pa / pd_, 4),
        "alt_count_parental": pa,
        "depth_parental": pd_,
        "status": status[sample],
        "known": name in MATCHES,
        "matches": MATCHES.get(name, []),
    }


CNV = {  # sample -> gene -> (log2, cn, lo, hi, call)
    CR1: {"ALK": (0.03, 2.04, 1.86, 2.21, "neutral"), "EGFR": (0.05, 2.07, 1.95, 2.2, "neutral"),
          "ERBB2": (-0.04, 1.94, 1.71, 2.16, "neutral"), "KIT": (0.01, 2.01, 1.8, 2.2, "neutral"),
          "KRAS": (0.06, 2.08, 1.77, 2.4, "neutral"),
          "MET": (2.05, 8.28, 7.35, 9.31, "amplification")},
    CR2: {"ALK": (-0.02, 1.97, 1.8, 2.13, "neutral"), "EGFR": (0.76, 3.39, 3.21, 3.58, "gain"),
          "ERBB2": (0.63, 3.1, 2.79, 3.43, "gain"), "KIT": (0.02, 2.03, 1.83, 2.22, "neutral"),
          "KRAS": (float("nan"), float("nan"), float("nan"), float("nan"), "insufficient data"),
          "MET": (0.04, 2.06, 1.9, 2.24, "neutral")},
}
N_TARGETS = {"ALK": 10, "EGFR": 28, "ERBB2": 5, "KIT": 6, "KRAS": 3, "MET": 9}

CNV_MATCHES = {
    "MET": [
        match("crizotinib", "sensitive", "case_report", ["PMID:21623265", "CIViC:EID735"]),
        match("ceritinib", "resistant", "clinical", ["DOI:10.1158/1078-0432.CCR-19-3906"]),
        match("alectinib", "resistant", "clinical", ["DOI:10.1158/1078-0432.CCR-19-3906"]),
        match("brigatinib", "resistant", "clinical", ["DOI:10.1158/1078-0432.CCR-19-3906"]),
        match("lorlatinib", "resistant", "clinical", ["DOI:10.1158/1078-0432.CCR-19-3906"]),
    ],
    "EGFR": [
        match("crizotinib", "resistant", "preclinical", ["PMID:21791641", "CIViC:EID780"]),
        match("defactinib", "resistant", "preclinical", ["PMID:27638858"]),
        match("BI-853520", "resistant", "preclinical", ["PMID:27638858"]),
    ],
    "ERBB2": [
        match("crizotinib", "resistant", "preclinical", ["PMID:22843788"]),
        match("defactinib", "resistant", "preclinical", ["PMID:27638858"]),
        match("BI-853520", "resistant", "preclinical", ["PMID:27638858"]),
    ],
}

FUSION_MATCHES = [
    match(d, "sensitive", "clinical", s) for d, s in [
        ("crizotinib", ["PMID:20979469", "CIViC:EID1187"]),
        ("ceritinib", ["PMID:24670165", "CIViC:EID1237"]),
        ("alectinib", ["PMID:28586279", "CIViC:EID7284"]),
        ("brigatinib", ["PMID:32780660", "CIViC:EID11121"]),
        ("lorlatinib", ["PMID:29074098"]),
    ]
]

RANK = {"resistant": 3, "reduced_sensitivity": 2, "sensitive": 1}
DRUGS = ["crizotinib", "ceritinib", "alectinib", "brigatinib", "lorlatinib",
         "defactinib", "BI-853520"]


def drug_summary(findings: list[dict]) -> dict:
    out = {}
    for drug in DRUGS:
        rows = [(f, m) for f in findings for m in f.get("matches", []) if m["drug"] == drug]
        if not rows and drug not in DRUGS[:5]:
            continue
        if not rows:
            out[drug] = {"prediction": "no data", "findings": [], "sources": []}
            continue
        # acquired resistance outranks the baseline sensitivity of the fusion
        worst = max(rows, key=lambda fm: RANK[fm[1]["effect"]])
        label = worst[1]["effect"].replace("_", " ")
        out[drug] = {
            "prediction": label,
            "findings": [
                {"finding": f"{f['gene']} {f.get('hgvs_p') or f['type']}",
                 "effect": m["effect"].replace("_", " "),
                 "evidence_level": m["evidence_level"], "verified": m["verified"]}
                for f, m in rows
            ],
            "sources": sorted({s for _, m in rows for s in m["sources"]}),
        }
    return out


def main() -> None:
    rng = np.random.default_rng(7)
    samples = []
    for sample in (CR1, CR2):
        findings = [f for n in ("L1196M", "G1202R", "T1151dup")
                    if (f := variant_finding(n, sample))]
        for gene, (l2, cn, lo, hi, call) in CNV[sample].items():
            if call in ("amplification", "gain"):
                findings.append({
                    "sample": sample, "type": "amplification", "gene": gene,
                    "hgvs_p": None, "copy_number": cn, "ci_low": lo, "ci_high": hi,
                    "log2_ratio": l2, "call": call, "status": "acquired", "known": True,
                    "matches": CNV_MATCHES.get(gene, []),
                })
        findings.append({
            "sample": sample, "type": "fusion", "gene": "ALK", "partner": "EML4",
            "hgvs_p": None, "variant": "EML4-ALK v1 (E13;A20)", "status": "shared",
            "known": True, "matches": FUSION_MATCHES,
        })
        vus = [f for n in ("R1192Q", "D1529E") if (f := variant_finding(n, sample))]
        samples.append({"sample": sample, "condition": "resistant", "findings": findings,
                        "vus": vus, "drugs": drug_summary(findings)})
    hits = {
        "line": LINE, "parental": PAR,
        "knowledge": {"path": "resources/known_resistance.tsv", "version": "2026-11-21",
                      "sha256": "3f1c0e9a" * 8, "rows": 97, "unverified_rows": 12},
        "samples": samples,
    }
    (HERE / "hits.json").write_text(json.dumps(hits, indent=1, allow_nan=False,
                                               default=str).replace("NaN", "null") + "\n")

    rows = []
    for s, genes in CNV.items():
        for g, (l2, cn, lo, hi, call) in genes.items():
            rows.append({"sample": s, "gene": g, "n_targets": N_TARGETS[g], "log2_ratio": l2,
                         "copy_number": cn, "ci_low": lo, "ci_high": hi, "call": call})
    pd.DataFrame(rows).to_csv(HERE / "cnv.tsv", sep="\t", index=False, na_rep="NA")

    trows = []
    for s, genes in CNV.items():
        start = 1000
        for g, (l2, *_rest) in genes.items():
            for _ in range(N_TARGETS[g]):
                value = (0.0 if np.isnan(l2) else l2) + rng.normal(0, 0.12)
                trows.append({"sample": s, "chrom": f"{g}_contig", "start": start,
                              "end": start + 150, "gene": g,
                              "log2_ratio": round(float(value), 4),
                              "depth": int(rng.integers(300, 1500))})
                start += 400
    pd.DataFrame(trows).to_csv(HERE / "cnv_targets.tsv", sep="\t", index=False)

    hot = [("ALK", "p.T1151dup", "T1151", 26350), ("ALK", "p.C1156Y", "C1156", 26335),
           ("ALK", "p.I1171N", "I1171", 25020), ("ALK", "p.F1174L", "F1174", 25011),
           ("ALK", "p.L1196M", "L1196", 24556), ("ALK", "p.G1202R", "G1202", 24538),
           ("ALK", "p.S1206Y", "S1206", 24526), ("ALK", "p.G1269A", "G1269", 22304),
           ("EGFR", "p.L858R", "L858", 0), ("KRAS", "p.G12C", "G12", 0)]
    hrows = []
    for s in (PAR, CR1, CR2):
        for gene, hp, res, pos in hot:
            depth = 1400 + (pos % 97)
            alt, verdict = 0, "wild type"
            if res == "G1269":
                depth, verdict = {PAR: 12, CR1: 9, CR2: 15}[s], "insufficient depth"
            elif hp == "p.L1196M" and s == CR1:
                alt, verdict = 402, "mutated"
            elif hp in ("p.G1202R", "p.T1151dup") and s == CR2:
                alt, verdict = {"p.G1202R": 171, "p.T1151dup": 66}[hp], "mutated"
            chrom = ALK if gene == "ALK" else ("chr7_55017807_55211651" if gene == "EGFR"
                                              else "chr12_25225577_25245847")
            p = pos or 1000
            hrows.append({"sample": s, "gene": gene, "hgvs_p": hp, "residue": res,
                          "chrom": chrom, "positions": f"{p - 2}-{p}",
                          "genomic": f"{chrom.split('_')[0]}:{int(chrom.split('_')[1]) - 1 + p}",
                          "depth": depth, "alt_count": alt,
                          "vaf": round(alt / depth, 4), "verdict": verdict,
                          "depth_needed": 298})
    pd.DataFrame(hrows).to_csv(HERE / "hotspots.tsv", sep="\t", index=False)

    frows = [{"sample": s, "gene_5p": "EML4", "gene_3p": "ALK",
              "breakpoint_5p": "chr2_42175501_42332600:121355 (chr2:42296855)",
              "breakpoint_3p": "chr2_29196228_29226309:27210 (chr2:29223437)",
              "region_5p": "EML4 intron 13", "region_3p": "ALK intron 19",
              "variant": "EML4-ALK v1 (E13;A20)", "split_reads": sr, "discordant_pairs": dp,
              "fragments": sr + dp, "microhomology": "AT", "call": "fusion"}
             for s, sr, dp in ((PAR, 88, 61), (CR1, 92, 70), (CR2, 79, 58))]
    pd.DataFrame(frows).to_csv(HERE / "fusions.tsv", sep="\t", index=False)

    qc_dir = HERE / "qc"
    qc_dir.mkdir(exist_ok=True)
    for s, total, warn in ((PAR, 402112, []), (CR1, 398774, []),
                           (CR2, 377020, ["3 of 61 targets below 100x mean depth "
                                          "(ALK exon 25: ALK_t08, ALK_t09; KRAS_t03)"])):
        qc = {"sample": s, "total_reads": total, "mapped_reads": int(total * 0.991),
              "mapped_fraction": 0.991, "duplicate_fraction": 0.082,
              "on_target_fraction": 0.874, "mean_target_depth": 1432.5,
              "median_target_depth": 1401.0, "fraction_targets_100x": 0.951 if warn else 0.984,
              "depth_quantiles": {"p5": 88.0 if warn else 210.0, "p25": 1102.0, "p50": 1401.0,
                                  "p75": 1690.0, "p95": 2104.0},
              "warnings": warn}
        (qc_dir / f"{s}.qc.json").write_text(json.dumps(qc, indent=1) + "\n")

    meta = {"run_date": "2026-11-22T02:00:00Z", "resistcall_version": "0.1.0",
            "reference_build": "GRCh38", "assay": "capture",
            "tool_versions": {"bwa": "0.7.17-r1188", "samtools": "1.16.1", "snakemake": "9.1.0"},
            "config": {"snv": {"min_vaf": 0.01}}}
    (HERE / "run_metadata.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    main()
