# resistcall: parental vs resistant panel sequencing -> resistance report.
# Thin entry: load and validate config and sheets, then include one rule file per stage.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/align.smk"
include: "workflow/rules/qc.smk"
include: "workflow/rules/snv.smk"
include: "workflow/rules/cnv.smk"
include: "workflow/rules/fusion.smk"
include: "workflow/rules/annotate.smk"
include: "workflow/rules/report.smk"


report: "workflow/report/workflow.rst"


rule all:
    input:
        final_outputs(),
    default_target: True
