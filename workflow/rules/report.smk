# Clinician report per line (HTML + JSON for LIMS) and a cohort index.


rule runinfo:
    # Configuration, assay, build and run date: the only wall-clock value in any output.
    input:
        configs=workflow.configfiles,
        transcripts=TRANSCRIPTS,
    output:
        "results/run_metadata.json",
    params:
        resistcall=RESISTCALL,
    log:
        "logs/runinfo/runinfo.log",
    benchmark:
        "benchmarks/runinfo/runinfo.tsv"
    threads: res("runinfo", "threads")
    resources:
        mem_mb=scaled_mem("runinfo"),
        runtime=scaled_runtime("runinfo"),
    conda:
        ENV_RESISTCALL
    shell:
        "{params.resistcall} runinfo --config {input.configs} --transcripts {input.transcripts}"
        " --out {output} 2> {log}"


rule report:
    input:
        hits="results/{line}/hits.json",
        cnv="results/{line}/cnv.tsv",
        cnv_targets="results/{line}/cnv_targets.tsv",
        hotspots="results/{line}/hotspots.tsv",
        fusions="results/{line}/fusions.tsv",
        identity="results/qc/{line}.identity.tsv",
        scope="results/{line}/exon_scope.tsv",
        vcf="results/{line}/snv.vcf.gz",
        qc=line_qc,
        bams=line_bams,
        meta="results/run_metadata.json",
        samples=config["samples"],
    output:
        html=report(
            "results/{line}/report.html",
            caption="../report/line.rst",
            category="Clinician reports",
            labels={"line": "{line}"},
        ),
        json="results/{line}/report.json",
    params:
        resistcall=RESISTCALL,
    log:
        "logs/report/{line}.log",
    benchmark:
        "benchmarks/report/{line}.tsv"
    threads: res("report", "threads")
    resources:
        mem_mb=scaled_mem("report"),
        runtime=scaled_runtime("report"),
    conda:
        ENV_RESISTCALL
    shell:
        "{params.resistcall} report --line {wildcards.line} --hits {input.hits} --cnv {input.cnv}"
        " --cnv-targets {input.cnv_targets} --hotspots {input.hotspots}"
        " --fusions {input.fusions} --identity {input.identity} --scope {input.scope} --vcf {input.vcf} --qc {input.qc}"
        " --samples {input.samples} --bam {input.bams} --run-metadata {input.meta}"
        " --out {output.html} --json {output.json} 2> {log}"


rule report_index:
    input:
        reports=expand("results/{line}/report.json", line=LINES),
        multiqc="results/multiqc/multiqc_report.html",
    output:
        report(
            "results/index.html",
            caption="../report/index.rst",
            category="Clinician reports",
            labels={"line": "cohort index"},
        ),
    params:
        resistcall=RESISTCALL,
    log:
        "logs/report_index/index.log",
    benchmark:
        "benchmarks/report_index/index.tsv"
    threads: res("report_index", "threads")
    resources:
        mem_mb=scaled_mem("report_index"),
        runtime=scaled_runtime("report_index"),
    conda:
        ENV_RESISTCALL
    shell:
        "{params.resistcall} report-index --reports {input.reports} --multiqc {input.multiqc}"
        " --out {output} 2> {log}"
