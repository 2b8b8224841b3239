# ALK fusion breakpoints in every sample of a line (the resistant lines stay rearranged).


rule fusion:
    input:
        bams=line_bams,
        bais=line_bais,
        qc=line_qc,
        ref=REF,
        gtf=ANNOTATION,
    output:
        tsv=report(
            "results/{line}/fusions.tsv",
            caption="../report/fusions.rst",
            category="Findings",
            labels={"line": "{line}", "table": "ALK fusions"},
        ),
        vcf="results/{line}/fusions.vcf.gz",
        tbi="results/{line}/fusions.vcf.gz.tbi",
    params:
        resistcall=RESISTCALL,
        extra=stage_options("fusion"),
        build=config["reference"]["build"],
    log:
        "logs/fusion/{line}.log",
    benchmark:
        "benchmarks/fusion/{line}.tsv"
    threads: res("fusion", "threads")
    resources:
        mem_mb=scaled_mem("fusion"),
        runtime=scaled_runtime("fusion"),
    conda:
        ENV_RESISTCALL
    shell:
        "{params.resistcall} fusion --reference {input.ref} --build {params.build} --gtf {input.gtf}"
        " --bam {input.bams}"
        " {params.extra} --qc {input.qc} --out {output.tsv} --vcf {output.vcf} 2> {log}"
