# Gene copy number of every resistant sample relative to its parental.


rule cnv:
    input:
        parental=parental_bam,
        resistant=resistant_bams,
        bais=line_bais,
        qc=line_qc,
        targets=TARGETS,
        ref=REF,
    output:
        cnv=report(
            "results/{line}/cnv.tsv",
            caption="../report/cnv.rst",
            category="Findings",
            labels={"line": "{line}", "table": "copy number"},
        ),
        targets="results/{line}/cnv_targets.tsv",
    params:
        resistcall=RESISTCALL,
        assay=ASSAY,
        extra=stage_options("cnv"),
        purity=line_purity,
    log:
        "logs/cnv/{line}.log",
    benchmark:
        "benchmarks/cnv/{line}.tsv"
    threads: res("cnv", "threads")
    resources:
        mem_mb=scaled_mem("cnv"),
        runtime=scaled_runtime("cnv"),
    conda:
        ENV_RESISTCALL
    shell:
        "{params.resistcall} cnv --targets {input.targets} --reference {input.ref}"
        " --parental {input.parental} --resistant {input.resistant}"
        " --assay {params.assay} {params.extra} {params.purity} --qc {input.qc}"
        " --out {output.cnv} --targets-out {output.targets} --threads {threads} 2> {log}"
