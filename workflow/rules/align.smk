# Alignment: deep input check -> bwa mem with read groups (or an aligned unit taking the
# FASTA's header) -> per-sample merge -> duplicates marked (capture samples marked here), kept
# as given (capture samples of aligned units, panel.mark_duplicates: auto) or primers clipped
# (amplicon) -> index.


rule bwa_index:
    input:
        fasta=REF,
        # after the GTF checks (a bad GTF stops the run first); ancient: a new GTF never
        # rebuilds the index
        annotation=ancient(ANNOTATION),
    output:
        multiext("results/reference/genome.fa", *BWA_SUFFIXES),
    params:
        prefix=lambda wc, output: output[0].removesuffix(".amb"),
    log:
        "logs/bwa_index/index.log",
    benchmark:
        "benchmarks/bwa_index/index.tsv"
    threads: res("bwa_index", "threads")
    resources:
        mem_mb=genome_mem("bwa_index"),
        runtime=genome_runtime("bwa_index", 20),
    conda:
        ENV_ALIGN
    shell:
        "bwa index -p {params.prefix} {input.fasta} 2> {log}"


rule check_input:
    input:
        unpack(lambda wc: {k: v for k, v in unit_row(wc)[["fq1", "fq2", "bam"]].items() if v}),
    output:
        "results/checks/{sample}.{unit}.ok",
    params:
        resistcall=RESISTCALL,
        label=unit_label,
        args=lambda wc, input: (
            f"--bam {input.bam} --reference {REF}"
            if "bam" in input.keys()
            else f"--fq1 {input.fq1} --fq2 {input.fq2}"
        ),
    log:
        "logs/check_input/{sample}.{unit}.log",
    # bad input fails the same way every time: retrying would only repeat the message
    retries: 0
    benchmark:
        "benchmarks/check_input/{sample}.{unit}.tsv"
    threads: res("check_input", "threads")
    resources:
        mem_mb=scaled_mem("check_input"),
        runtime=scaled_runtime("check_input"),
    conda:
        ENV_RESISTCALL
    shell:
        "{params.resistcall} check-input --label '{params.label}' {params.args} --ok-marker {output}"
        " 2> {log}"


rule bwa_mem:
    input:
        ok="results/checks/{sample}.{unit}.ok",
        fq1=lambda wc: unit_row(wc)["fq1"],
        fq2=lambda wc: unit_row(wc)["fq2"],
        index=multiext(BWA_PREFIX, *BWA_SUFFIXES),
        # after the GTF checks; ancient: a new GTF never realigns
        annotation=ancient(ANNOTATION),
    output:
        temp("results/units/{sample}.{unit}.bam"),
    params:
        rg=lambda wc: rf"@RG\t{read_group(wc)}",
        prefix=lambda wc, input: input.index[0].removesuffix(".amb"),
        sort_mb=SORT_MB,
    log:
        "logs/bwa_mem/{sample}.{unit}.log",
    benchmark:
        "benchmarks/bwa_mem/{sample}.{unit}.tsv"
    threads: res("bwa_mem", "threads")
    resources:
        mem_mb=genome_mem("bwa_mem", per_thread_mb=SORT_MB),
        runtime=scaled_runtime("bwa_mem"),
    conda:
        ENV_ALIGN
    shell:
        "(bwa mem -t {threads} -Y -R '{params.rg}' {params.prefix} {input.fq1} {input.fq2}"
        " | samtools fixmate -m -u - -"
        " | samtools sort -@ {threads} -m {params.sort_mb}M -o {output} -T {output}.tmp -) 2> {log}"


rule bam_unit:
    # A unit given as an aligned BAM or CRAM (CRAM decoded with the FASTA; checked against the
    # reference when the sheet loads, docs/reference.md) keeps its alignments and takes the
    # run's header: @SQ = the FASTA's contigs (reads on other contigs dropped, mates there made
    # "mate unmapped"), the sheet's read group. Samples marked here lose the unit's duplicate
    # flags and get markdup's mate tags; amplicon units lose them (never marked); capture
    # samples used as given keep them (panel.mark_duplicates, docs/qc.md).
    input:
        ok="results/checks/{sample}.{unit}.ok",
        bam=lambda wc: unit_row(wc)["bam"],
        ref=REF,
        # after the GTF checks; ancient: a new GTF never redoes the unit
        annotation=ancient(ANNOTATION),
    output:
        temp("results/units/{sample}.{unit}.from_bam.bam"),
    params:
        resistcall=RESISTCALL,
        rg=read_group,
        duplicates=lambda wc: {
            "marked": "--clear-duplicates --mate-tags",
            "never": "--clear-duplicates",
            "as-given": "",
        }[duplicate_mode(wc.sample)],
    log:
        "logs/bam_unit/{sample}.{unit}.log",
    benchmark:
        "benchmarks/bam_unit/{sample}.{unit}.tsv"
    threads: res("bam_unit", "threads")
    resources:
        mem_mb=scaled_mem("bam_unit"),
        runtime=scaled_runtime("bam_unit"),
    conda:
        ENV_RESISTCALL
    shell:
        "{params.resistcall} bam-unit --bam {input.bam} --reference {input.ref}"
        " --read-group '{params.rg}' {params.duplicates} --threads {threads} --out {output}"
        " 2> {log}"


rule merge_units:
    input:
        unit_bams,
    output:
        temp("results/merged/{sample}.bam"),
    log:
        "logs/merge_units/{sample}.log",
    benchmark:
        "benchmarks/merge_units/{sample}.tsv"
    threads: res("merge_units", "threads")
    resources:
        mem_mb=scaled_mem("merge_units"),
        runtime=scaled_runtime("merge_units"),
    conda:
        ENV_ALIGN
    shell:
        "samtools merge -f -@ {threads} -o {output} {input} 2> {log}"


if MARKED:

    rule markdup:
        input:
            "results/merged/{sample}.bam",
        output:
            bam="results/{line}/{sample}.bam",
            stats="results/qc/{line}/{sample}.markdup.txt",
        log:
            "logs/markdup/{line}/{sample}.log",
        benchmark:
            "benchmarks/markdup/{line}/{sample}.tsv"
        wildcard_constraints:
            sample=one_of(MARKED),
        threads: res("markdup", "threads")
        resources:
            mem_mb=scaled_mem("markdup"),
            runtime=scaled_runtime("markdup"),
        conda:
            ENV_ALIGN
        shell:
            # written under a .part name and renamed: a killed job never leaves a truncated
            # BAM under its final name
            "(samtools markdup -@ {threads} -s -f {output.stats} -T {output.bam}.tmp"
            " {input} {output.bam}.part.bam && mv {output.bam}.part.bam {output.bam}) 2> {log}"


if AS_GIVEN:

    rule keep_duplicates:
        # capture samples used as given (all units aligned BAM/CRAM with
        # panel.mark_duplicates: auto, or mark_duplicates: false): the units' own duplicate
        # flags are kept; qc warns when no unit header names a duplicate-marking program
        input:
            "results/merged/{sample}.bam",
        output:
            bam="results/{line}/{sample}.bam",
        log:
            "logs/keep_duplicates/{line}/{sample}.log",
        benchmark:
            "benchmarks/keep_duplicates/{line}/{sample}.tsv"
        wildcard_constraints:
            sample=one_of(AS_GIVEN),
        threads: res("markdup", "threads")
        resources:
            mem_mb=scaled_mem("markdup"),
            runtime=scaled_runtime("markdup"),
        conda:
            ENV_ALIGN
        shell:
            "(samtools view -b -o {output.bam}.part.bam {input}"
            " && mv {output.bam}.part.bam {output.bam}) 2> {log}"


if ASSAY == "amplicon":

    rule ampliconclip:
        # Amplicon reads share start/end by design, so duplicates are never marked;
        # primer bases are soft-clipped so they cannot mask variants or inflate depth.
        input:
            bam="results/merged/{sample}.bam",
            primers=config["panel"]["primers"],
        output:
            bam="results/{line}/{sample}.bam",
            stats="results/qc/{line}/{sample}.ampliconclip.txt",
        log:
            "logs/ampliconclip/{line}/{sample}.log",
        benchmark:
            "benchmarks/ampliconclip/{line}/{sample}.tsv"
        threads: res("ampliconclip", "threads")
        resources:
            mem_mb=scaled_mem("ampliconclip"),
            runtime=scaled_runtime("ampliconclip"),
        conda:
            ENV_ALIGN
        shell:
            "(samtools ampliconclip --both-ends --strand -f {output.stats}"
            " -b {input.primers} -u -o - {input.bam}"
            " | samtools sort -@ {threads} -m 512M -o {output.bam}.part.bam -T {output.bam}.tmp -"
            " && mv {output.bam}.part.bam {output.bam}) 2> {log}"


rule index_bam:
    input:
        "results/{line}/{sample}.bam",
    output:
        "results/{line}/{sample}.bam.bai",
    log:
        "logs/index_bam/{line}/{sample}.log",
    benchmark:
        "benchmarks/index_bam/{line}/{sample}.tsv"
    threads: res("index_bam", "threads")
    resources:
        mem_mb=scaled_mem("index_bam"),
        runtime=scaled_runtime("index_bam"),
    conda:
        ENV_ALIGN
    shell:
        "samtools index {input} 2> {log}"
