# SNV/indel calling per line: parental + every resistant derivative in one VCF,
# with coverage verdicts at every known-resistance hotspot.


rule snv:
    input:
        parental=parental_bam,
        resistant=resistant_bams,
        bais=line_bais,
        qc=line_qc,
        ref=REF,
        regions=config["panel"]["snv_regions"],
        known=config["known_resistance"],
        gtf=ANNOTATION,
        pon=PON_TABLE or [],
    output:
        vcf="results/{line}/snv.vcf.gz",
        tbi="results/{line}/snv.vcf.gz.tbi",
        hotspots="results/{line}/hotspots.tsv",
    params:
        resistcall=RESISTCALL,
        assay=ASSAY,
        build=config["reference"]["build"],
        extra=stage_options("snv"),
        purity=line_purity,
        pon=f"--pon {PON_TABLE}" if PON_TABLE else "",
    log:
        "logs/snv/{line}.log",
    benchmark:
        "benchmarks/snv/{line}.tsv"
    threads: res("snv", "threads")
    resources:
        mem_mb=scaled_mem("snv"),
        runtime=scaled_runtime("snv"),
    conda:
        ENV_RESISTCALL
    shell:
        "{params.resistcall} snv --reference {input.ref} --regions {input.regions}"
        " --parental {input.parental} --resistant {input.resistant}"
        " --assay {params.assay} --build {params.build} {params.extra} {params.purity} {params.pon}"
        " --out {output.vcf}"
        " --hotspots {input.known} --gtf {input.gtf} --hotspots-out {output.hotspots}"
        " --qc {input.qc} --threads {threads} 2> {log}"


rule somatic_vcf:
    # One tumour/normal VCF per resistant sample (parental = NORMAL) in chromosome coordinates,
    # left-aligned, one ALT per record: what VEP, PCGR and bcftools take as it is.
    input:
        vcf="results/{line}/snv.vcf.gz",
        tbi="results/{line}/snv.vcf.gz.tbi",
        ref=REF,
        sizes=CHROM_SIZES,
    output:
        vcf=report(
            "results/{line}/{sample}.somatic.vcf.gz",
            caption="../report/somatic_vcf.rst",
            category="Variant calls",
            labels={"line": "{line}", "sample": "{sample}"},
        ),
        tbi="results/{line}/{sample}.somatic.vcf.gz.tbi",
    params:
        resistcall=RESISTCALL,
        normal=lambda wc: SHEETS.parental(wc.line),
    log:
        "logs/somatic_vcf/{line}/{sample}.log",
    benchmark:
        "benchmarks/somatic_vcf/{line}/{sample}.tsv"
    threads: res("somatic_vcf", "threads")
    resources:
        mem_mb=scaled_mem("somatic_vcf"),
        runtime=scaled_runtime("somatic_vcf"),
    conda:
        ENV_RESISTCALL
    shell:
        "{params.resistcall} somatic-vcf --vcf {input.vcf} --reference {input.ref}"
        " --normal {params.normal} --tumor {wildcards.sample} --chrom-sizes {input.sizes}"
        " --out {output.vcf} 2> {log}"
