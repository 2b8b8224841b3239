# Sample identity per line: germline genotype concordance of each resistant sample with its
# parental (docs/qc.md, "Sample identity"); a MultiQC-readable table beside it.


rule identity:
    input:
        parental=parental_bam,
        resistant=resistant_bams,
        bais=line_bais,
        ref=REF,
        regions=config["panel"]["targets"],
    output:
        tsv="results/qc/{line}.identity.tsv",
        sites="results/qc/{line}.identity_sites.tsv",
        mqc="results/qc/{line}.identity_mqc.tsv",
    params:
        resistcall=RESISTCALL,
    log:
        "logs/identity/{line}.log",
    benchmark:
        "benchmarks/identity/{line}.tsv"
    threads: res("identity", "threads")
    resources:
        mem_mb=scaled_mem("identity"),
        runtime=res("identity", "runtime"),
    conda:
        ENV_RESISTCALL
    shell:
        "{params.resistcall} identity --reference {input.ref} --regions {input.regions}"
        " --parental {input.parental} --resistant {input.resistant} --line {wildcards.line}"
        " --out {output.tsv} --sites-out {output.sites} --mqc-out {output.mqc} 2> {log}"
