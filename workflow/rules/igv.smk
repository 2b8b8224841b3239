# IGV desktop session per line: the reads behind every finding, one click away
# (File > Open Session; paths relative to the session, README "Looking at the reads in IGV").


rule igv_session:
    input:
        ref=REF,
        bams=line_bams,
        bais=line_bais,
        hits="results/{line}/hits.tsv",
        fusions="results/{line}/fusions.tsv",
        vcf="results/{line}/snv.vcf.gz",
        fusions_vcf="results/{line}/fusions.vcf.gz",
        # IGV reads the BAMs and VCFs through their indexes: they must sit beside them
        tbis=["results/{line}/snv.vcf.gz.tbi", "results/{line}/fusions.vcf.gz.tbi"],
        targets=TARGETS,
        annotation=ANNOTATION,
    output:
        "results/{line}/igv_session.xml",
    params:
        resistcall=RESISTCALL,
    log:
        "logs/igv_session/{line}.log",
    benchmark:
        "benchmarks/igv_session/{line}.tsv"
    threads: res("igv_session", "threads")
    resources:
        mem_mb=scaled_mem("igv_session"),
        runtime=scaled_runtime("igv_session"),
    conda:
        ENV_RESISTCALL
    shell:
        "{params.resistcall} igv-session --reference {input.ref} --bam {input.bams}"
        " --hits {input.hits} --fusions {input.fusions} --vcf {input.vcf}"
        " --fusions-vcf {input.fusions_vcf} --targets {input.targets}"
        " --annotation {input.annotation} --out {output} 2> {log}"
