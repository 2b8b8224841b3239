# QC per line. Sample identity: germline genotype concordance of each resistant sample with its
# parental (docs/qc.md, "Sample identity"); a MultiQC-readable table beside it.


rule identity:
    input:
        parental=parental_bam,
        resistant=resistant_bams,
        bais=line_bais,
        ref=REF,
        regions=config["panel"]["targets"],
        hotspots="results/{line}/hotspots.tsv",
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
        runtime=scaled_runtime("identity"),
    conda:
        ENV_RESISTCALL
    shell:
        "{params.resistcall} identity --reference {input.ref} --regions {input.regions}"
        " --parental {input.parental} --resistant {input.resistant} --line {wildcards.line}"
        " --hotspots {input.hotspots} --out {output.tsv} --sites-out {output.sites}"
        " --mqc-out {output.mqc} 2> {log}"


rule scope:
    # Which exons of each gene's transcript model the reads cover (docs/qc.md).
    input:
        bams=line_bams,
        bais=line_bais,
        gtf=ANNOTATION,
    output:
        "results/{line}/exon_scope.tsv",
    params:
        resistcall=RESISTCALL,
        # below the SNV caller's own minimum depth nothing can be called: "not covered"
        call_depth=options.effective("snv", config["snv"])["min_depth"],
    log:
        "logs/scope/{line}.log",
    benchmark:
        "benchmarks/scope/{line}.tsv"
    threads: res("scope", "threads")
    resources:
        mem_mb=scaled_mem("scope"),
        runtime=scaled_runtime("scope"),
    conda:
        ENV_RESISTCALL
    shell:
        "{params.resistcall} scope --gtf {input.gtf} --bam {input.bams}"
        " --call-depth {params.call_depth} --out {output} 2> {log}"
