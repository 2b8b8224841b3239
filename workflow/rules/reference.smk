# Reference and annotation, prepared once per run (docs/reference.md): the GTF is read in one
# pass into a small cache (gene spans, the chosen transcript of every needed gene, the gene of
# every target), so no stage re-reads a whole-genome GTF.


rule annotation:
    input:
        gtf=GTF,
        fasta=REF,
        targets=config["panel"]["targets"],
        known=config["known_resistance"],
        key=ANNOTATION_KEY,
    output:
        gtf=ANNOTATION,
        choice=TRANSCRIPTS,
        targets=TARGETS,
    params:
        resistcall=RESISTCALL,
        extra=" ".join(
            [f"--gene {g}" for g in ANNOTATION_GENES]
            + [f"--transcript {g}={t}" for g, t in ANNOTATION_OVERRIDES.items()]
        ),
    log:
        "logs/annotation/annotation.log",
    # a GTF that does not fit the FASTA fails the same way every time
    retries: 0
    benchmark:
        "benchmarks/annotation/annotation.tsv"
    threads: res("annotation", "threads")
    resources:
        mem_mb=scaled_mem("annotation"),
        runtime=scaled_runtime("annotation"),
    conda:
        ENV_RESISTCALL
    shell:
        "{params.resistcall} annotation --gtf {input.gtf} --reference {input.fasta}"
        " --targets {input.targets} --known {input.known} {params.extra}"
        " --out {output.gtf} --choice-out {output.choice} --targets-out {output.targets}"
        " 2> {log}"
