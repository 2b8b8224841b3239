# One MultiQC report per run, the last analysis step: samtools stats plus resistcall's
# own sections (custom content from `resistcall multiqc-content`; docs/qc.md).


rule multiqc_content:
    input:
        qc=expand("results/qc/{sample}.qc.json", sample=SHEETS.samples.index),
        hotspots=expand("results/{line}/hotspots.tsv", line=LINES),
        cnv_targets=expand("results/{line}/cnv_targets.tsv", line=LINES),
        cnv=expand("results/{line}/cnv.tsv", line=LINES),
        fusions=expand("results/{line}/fusions.tsv", line=LINES),
    output:
        expand(
            "results/multiqc/content/resistcall_{topic}_mqc.json",
            topic=["coverage", "hotspots", "cnv", "fusion"],
        ),
    params:
        resistcall=RESISTCALL,
        out_dir=lambda wc, output: Path(output[0]).parent,
    log:
        "logs/multiqc_content/content.log",
    benchmark:
        "benchmarks/multiqc_content/content.tsv"
    threads: res("multiqc_content", "threads")
    resources:
        mem_mb=scaled_mem("multiqc_content"),
        runtime=scaled_runtime("multiqc_content"),
    conda:
        ENV_RESISTCALL
    shell:
        "{params.resistcall} multiqc-content --qc {input.qc} --hotspots {input.hotspots}"
        " --cnv-targets {input.cnv_targets} --cnv {input.cnv} --fusions {input.fusions}"
        " --out-dir {params.out_dir} 2> {log}"


rule multiqc:
    input:
        samtools=multiqc_tool_files,
        content=rules.multiqc_content.output,
        identity=identity_mqc_files,
    output:
        html=report(
            "results/multiqc/multiqc_report.html",
            caption="../report/multiqc.rst",
            category="Quality control",
            labels={"report": "MultiQC"},
        ),
        data=directory("results/multiqc/multiqc_data"),
    params:
        multiqc=MULTIQC,
        settings=WORKFLOW_ROOT / "workflow" / "multiqc_config.yaml",
        out_dir=lambda wc, output: Path(output.html).parent,
    log:
        "logs/multiqc/multiqc.log",
    benchmark:
        "benchmarks/multiqc/multiqc.tsv"
    threads: res("multiqc", "threads")
    resources:
        mem_mb=scaled_mem("multiqc"),
        runtime=scaled_runtime("multiqc"),
    conda:
        ENV_MULTIQC
    shell:
        "{params.multiqc} --force --no-ansi --config {params.settings}"
        " --outdir {params.out_dir} {input} 2> {log}"
