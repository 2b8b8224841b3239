# Panel of normals, built once per run from the unrelated samples of config pon.normals
# (docs/snv.md, "Panel of normals"); the snv rule reads it (PON_TABLE in common.smk).

if ASSAY == "amplicon":

    rule pon_clip:
        # The run's amplicon BAMs have their primers soft-clipped (rule ampliconclip); the
        # normals are clipped the same way, so the panel counts the same bases as the caller
        # (a primer's bases copy the primer, not the sample, and would dilute the site's noise).
        input:
            bam=lambda wildcards: PON_NORMALS[int(wildcards.i)],
            ref=REF,
            primers=config["panel"]["primers"],
        output:
            bam=temp("results/pon/clipped/{i}/{name}.bam"),
            bai=temp("results/pon/clipped/{i}/{name}.bam.bai"),
        wildcard_constraints:
            i=r"\d+",
            name=r"[^/]+",
        log:
            "logs/pon/clip_{i}_{name}.log",
        benchmark:
            "benchmarks/pon/clip_{i}_{name}.tsv"
        threads: res("pon_clip", "threads")
        resources:
            mem_mb=scaled_mem("pon_clip"),
            runtime=scaled_runtime("pon_clip"),
        conda:
            ENV_ALIGN
        shell:
            "(samtools ampliconclip --both-ends --strand --reference {input.ref}"
            " -b {input.primers} -u -o - {input.bam}"
            " | samtools sort -@ {threads} -m 512M -o {output.bam}.part.bam -T {output.bam}.tmp -"
            " && mv {output.bam}.part.bam {output.bam} && samtools index {output.bam}) 2> {log}"


rule pon:
    input:
        bams=PON_COUNTED,
        indexes=PON_COUNTED_INDEXES,
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
        runtime=scaled_runtime("pon"),
    conda:
        ENV_RESISTCALL
    shell:
        "{params.resistcall} pon --reference {input.ref} --regions {input.regions}"
        " --bams {input.bams} --assay {params.assay} {params.extra} --out {output} 2> {log}"
