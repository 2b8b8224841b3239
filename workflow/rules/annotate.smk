# HGVS + known-resistance matching + per-drug verdicts for every sample of a line.


rule annotate:
    input:
        vcf="results/{line}/snv.vcf.gz",
        cnv="results/{line}/cnv.tsv",
        fusions="results/{line}/fusions.tsv",
        hotspots="results/{line}/hotspots.tsv",
        bams=line_bams,
        qc=line_qc,
        ref=REF,
        gtf=ANNOTATION,
        known=config["known_resistance"],
        drivers=str(WORKFLOW_ROOT / "resources/activating_drivers.tsv"),
    output:
        tsv=report(
            "results/{line}/hits.tsv",
            caption="../report/hits.rst",
            category="Findings",
            labels={"line": "{line}", "table": "annotated findings"},
        ),
        json="results/{line}/hits.json",
    params:
        resistcall=RESISTCALL,
    log:
        "logs/annotate/{line}.log",
    benchmark:
        "benchmarks/annotate/{line}.tsv"
    threads: res("annotate", "threads")
    resources:
        mem_mb=scaled_mem("annotate"),
        runtime=scaled_runtime("annotate"),
    conda:
        ENV_RESISTCALL
    shell:
        "{params.resistcall} annotate --vcf {input.vcf} --reference {input.ref} --gtf {input.gtf}"
        " --known {input.known} --cnv {input.cnv} --fusions {input.fusions} --bam {input.bams}"
        " --hotspots {input.hotspots} --drivers {input.drivers} --qc {input.qc}"
        " --line {wildcards.line}"
        " --out {output.tsv} --json {output.json} 2> {log}"
