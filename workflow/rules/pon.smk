# Panel of normals, built once per run from the unrelated samples of config pon.normals
# (docs/snv.md, "Panel of normals"); the snv rule reads it (PON_TABLE in common.smk).


rule pon:
    input:
        bams=PON_NORMALS,
        ref=REF,
        regions=config["panel"]["snv_regions"],
    output:
        "results/pon/pon.tsv.gz",
    params:
        resistcall=RESISTCALL,
        assay=ASSAY,
        extra=stage_options("pon"),
    log:
        "logs/pon/pon.log",
    benchmark:
        "benchmarks/pon/pon.tsv"
    threads: res("pon", "threads")
    resources:
        mem_mb=scaled_mem("pon"),
        runtime=res("pon", "runtime"),
    conda:
        ENV_RESISTCALL
    shell:
        "{params.resistcall} pon --reference {input.ref} --regions {input.regions}"
        " --bams {input.bams} --assay {params.assay} {params.extra} --out {output} 2> {log}"
