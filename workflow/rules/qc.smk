# QC: samtools stats (MultiQC-readable) and resistcall's per-target depth summary.


rule samtools_stats:
    input:
        bam=lambda wc: sample_bam(wc.sample),
        bai=sample_bai,
    output:
        "results/qc/{sample}.stats.txt",
    log:
        "logs/samtools_stats/{sample}.log",
    benchmark:
        "benchmarks/samtools_stats/{sample}.tsv"
    threads: res("samtools_stats", "threads")
    resources:
        mem_mb=scaled_mem("samtools_stats"),
        runtime=scaled_runtime("samtools_stats"),
    conda:
        ENV_ALIGN
    shell:
        "(samtools stats -@ {threads} {input.bam} > {output}.part && mv {output}.part {output})"
        " 2> {log}"


rule qc:
    input:
        bam=lambda wc: sample_bam(wc.sample),
        bai=sample_bai,
        stats="results/qc/{sample}.stats.txt",
        targets=TARGETS,
        as_given=as_given_bams,
    output:
        json="results/qc/{sample}.qc.json",
        targets="results/qc/{sample}.targets.tsv",
    params:
        resistcall=RESISTCALL,
        assay=ASSAY,
        duplicates=lambda wc, input: " ".join(
            [f"--duplicates {duplicate_mode(wc.sample)}"]
            + ([f"--as-given {' '.join(input.as_given)}"] if input.as_given else [])
        ),
        extra=stage_options("qc"),
    log:
        "logs/qc/{sample}.log",
    benchmark:
        "benchmarks/qc/{sample}.tsv"
    threads: res("qc", "threads")
    resources:
        mem_mb=scaled_mem("qc"),
        runtime=scaled_runtime("qc"),
    conda:
        ENV_RESISTCALL
    shell:
        "{params.resistcall} qc --bam {input.bam} --stats {input.stats} --targets {input.targets}"
        " --assay {params.assay} {params.duplicates} {params.extra} --out {output.json}"
        " --targets-out {output.targets} 2> {log}"
