# Shared helpers: config/sheet validation (at parse time, before anything runs),
# per-rule resources from config/resources.yaml, and input functions.
import re
import shlex
import sys
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate
from snakemake_interface_executor_plugins.settings import DeploymentMethod

from resistcall import options
from resistcall.annotation import cache_paths as annotation_cache_paths
from resistcall.annotation import config_genes as annotation_config_genes
from resistcall.annotation import record_cache_key as annotation_cache_key
from resistcall.duplicates import marks_here
from resistcall.errors import UserError
from resistcall.inputs import check_workflow_config, load_sheets
from resistcall.inputs.files import resolve_bundled
from resistcall.reference import BWA_SUFFIXES, bwa_prefix, genome_size

# This workflow's own checkout (workflow/rules/ is two levels down): bundled resources and
# defaults are found here, wherever Snakemake runs (a clone, or a module of another workflow).
WORKFLOW_ROOT = Path(str(workflow.current_basedir)).parents[1]
CHROM_SIZES = str(WORKFLOW_ROOT / "resources/reference/GRCh38.chrom_sizes.tsv")
# The user's config and sheets resolve in the working folder; the shipped reference, panel and
# tables (config paths under resources/) in this checkout, also when used as a module.
resolve_bundled(config, Path("."), WORKFLOW_ROOT)

# `snakemake --lint` is the only parse that skips the environment-variable check: it checks the
# sheets' content but not the data files they name, so a fresh clone lints before the demo data
# exist. Every other invocation (run, dry-run, cluster) checks every listed file before starting.
LINTING = not workflow.check_envvars
# resistcall's own validator (what `resistcall validate` runs): every problem, one line each,
# naming the config file, line and key; stage sections come from the stages' option classes.
try:
    check_workflow_config(config, workflow.configfiles)
    SHEETS = load_sheets(config, base_dir=Path("."), check_files=not LINTING)
except UserError as exc:
    raise WorkflowError(f"resistcall: invalid input\n{exc}") from None
for message in SHEETS.warnings:
    logger.warning(f"resistcall: warning: {message}")

with open(config.get("resources_config") or WORKFLOW_ROOT / "config/resources.yaml") as handle:
    RESOURCES = yaml.safe_load(handle)
validate(RESOURCES, schema="../schemas/resources.schema.yaml")

REF = config["reference"]["fasta"]
GTF = config["reference"]["gtf"]
ASSAY = config["panel"]["assay"]
# panel.mark_duplicates (auto | true | false; resistcall.duplicates, docs/qc.md): the samples
# this run marks with samtools markdup; other capture samples are used as given
MARKED = [
    s
    for s in SHEETS.samples.index
    if marks_here(ASSAY, config["panel"]["mark_duplicates"], SHEETS.units_of(s)["kind"])
]
AS_GIVEN = [s for s in SHEETS.samples.index if ASSAY == "capture" and s not in MARKED]
# written by the annotation step (reference.smk, also by `resistcall validate`): the GTF read
# once and checked against the FASTA; targets with their gene. Alignment waits for it, so a bad
# GTF stops the run before bwa starts.
ANNOTATION, TRANSCRIPTS, TARGETS = (str(p) for p in annotation_cache_paths().values())
ANNOTATION_GENES, ANNOTATION_OVERRIDES = annotation_config_genes(config)
# what the cache is made for; rewritten (and so newer than the cache) only when the config's
# files, genes or transcript overrides change: the annotation is then rebuilt
ANNOTATION_KEY = str(annotation_cache_key(config, write=not LINTING))

# reference.bwa_index, else an index next to the FASTA, else one built once under results/
BWA_PREFIX = bwa_prefix(REF, config["reference"].get("bwa_index"), "results/reference/genome.fa")
# genome size (from the .fai) sets the memory and time of bwa index / bwa mem
GENOME_BP = genome_size(REF)
# Panel of normals (config pon, docs/snv.md): built once per run from pon.normals (rule pon),
# or a table built earlier (pon.file), or none.
PON_NORMALS = list(SHEETS.normals)
# The normals as the pon step counts them. Amplicon: primer-clipped like the run's BAMs (step
# pon_clip), temporary BAMs whose indexes the pon step also takes to keep them until it runs.
# the clipped copy keeps the normal's file name (the panel records it), in a folder per row
PON_CLIPPED = [
    f"results/pon/clipped/{i}/{Path(b).name.rsplit('.', 1)[0]}.bam"
    for i, b in enumerate(PON_NORMALS)
]
PON_COUNTED = PON_CLIPPED if ASSAY == "amplicon" else PON_NORMALS
PON_COUNTED_INDEXES = [f"{b}.bai" for b in PON_CLIPPED] if ASSAY == "amplicon" else []
PON_TABLE = "results/pon/pon.tsv.gz" if PON_NORMALS else config["pon"].get("file")
ENV_ALIGN = "../envs/align.yaml"
ENV_RESISTCALL = "../envs/resistcall.yaml"
ENV_MULTIQC = "../envs/multiqc.yaml"


def python_tool(name):
    """How a step runs a Python tool (given to it as a param). With `--sdm conda`: the `name`
    command of the step's pinned environment. Otherwise: the package of the interpreter running
    Snakemake, so `.venv/bin/snakemake ...` works without an activated venv (no PATH lookup)."""
    if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
        return name
    return f"{shlex.quote(sys.executable)} -m {name}"


RESISTCALL = python_tool("resistcall")
MULTIQC = python_tool("multiqc")
# Lines with at least one resistant sample get a comparison; others have nothing to compare.
LINES = [line for line in SHEETS.lines() if len(SHEETS.resistant(line)) > 0]

def one_of(names):
    """Wildcard pattern matching exactly these names ('.' is allowed in names, so escape)."""
    return "|".join(re.escape(str(name)) for name in names)


wildcard_constraints:
    sample=one_of(SHEETS.samples.index),
    line=one_of(SHEETS.lines()),
    unit=one_of(sorted(set(SHEETS.units.index.get_level_values("unit")))),


def res(rule_name, key):
    """Threads/mem_mb/runtime for a rule: its entry in config/resources.yaml, else the default."""
    return RESOURCES.get("rules", {}).get(rule_name, {}).get(key, RESOURCES["default"][key])


def scaled_mem(rule_name):
    """Memory request that grows with the attempt: a job killed for memory gets more on retry."""
    return lambda wildcards, attempt: res(rule_name, "mem_mb") * attempt


def scaled_runtime(rule_name):
    """Time limit that grows with the attempt: a job killed for its time limit (SLURM TIMEOUT)
    gets more on retry instead of being resubmitted with the limit it just hit."""
    return lambda wildcards, attempt: res(rule_name, "runtime") * attempt


#: memory per thread of `samtools sort` after bwa mem (its -m), MB
SORT_MB = 512


def genome_mem(rule_name, per_thread_mb=0):
    """bwa needs ~1.8 bytes per genome base (whole GRCh38: ~5.5 GB) to build or align, plus
    ``per_thread_mb`` for every thread (bwa mem's samtools sort holds -m per thread)."""
    need = int(1.8 * GENOME_BP / 1e6) + 500

    def mem_mb(wildcards, threads, attempt):
        return max(res(rule_name, "mem_mb"), need + per_thread_mb * threads) * attempt

    return mem_mb


def genome_runtime(rule_name, minutes_per_gb):
    """Runtime that grows with the genome (bwa index: ~1 h for a whole human genome) and, like
    :func:`scaled_runtime`, with the attempt."""
    need = max(res(rule_name, "runtime"), int(minutes_per_gb * GENOME_BP / 1e9) + 10)
    return lambda wildcards, attempt: need * attempt


def unit_row(wildcards):
    return SHEETS.units.loc[(wildcards.sample, wildcards.unit)]


def unit_label(wildcards):
    return SHEETS.unit_label(wildcards.sample, wildcards.unit)


def sample_bam(sample):
    return f"results/{SHEETS.line_of(sample)}/{sample}.bam"


def parental_bam(wildcards):
    return sample_bam(SHEETS.parental(wildcards.line))


def resistant_bams(wildcards):
    return [sample_bam(s) for s in SHEETS.resistant(wildcards.line)]


def line_bams(wildcards):
    return [sample_bam(s) for s in SHEETS.samples_of(wildcards.line)]


def unit_bams(wildcards):
    bams = []
    for unit, row in SHEETS.units_of(wildcards.sample).iterrows():
        suffix = ".from_bam.bam" if row["bam"] else ".bam"
        bams.append(f"results/units/{wildcards.sample}.{unit}{suffix}")
    return bams


def read_group(wildcards):
    """The @RG of a unit (sample from the sheet, ID <sample>.<unit>), for bwa mem and bam-unit."""
    s, u = wildcards.sample, wildcards.unit
    return rf"ID:{s}.{u}\tSM:{s}\tLB:{s}\tPL:ILLUMINA\tPU:{u}"


def duplicate_mode(sample):
    """How the sample's duplicates are handled: marked here, as given, or never (amplicon)."""
    return "marked" if sample in MARKED else "as-given" if sample in AS_GIVEN else "never"


def as_given_bams(wildcards):
    """The sample's aligned units used as given (their headers show upstream marking)."""
    if duplicate_mode(wildcards.sample) != "as-given":
        return []
    return [b for b in SHEETS.units_of(wildcards.sample)["bam"] if b]


def line_bais(wildcards):
    return [f"{bam}.bai" for bam in line_bams(wildcards)]


def line_qc(wildcards):
    return [f"results/qc/{s}.qc.json" for s in SHEETS.samples_of(wildcards.line)]


def line_purity(wildcards):
    """`--purity SAMPLE=FRACTION` for the line's samples whose sheet purity is not 1.0."""
    impure = [
        f"{s}={SHEETS.samples.loc[s, 'purity']:g}"
        for s in SHEETS.samples_of(wildcards.line)
        if SHEETS.samples.loc[s, "purity"] != 1.0
    ]
    return f"--purity {' '.join(impure)}" if impure else ""


def sample_bai(wildcards):
    return f"{sample_bam(wildcards.sample)}.bai"


def multiqc_tool_files(wildcards):
    """Tool outputs MultiQC reads: samtools stats of each final BAM, and the statistics of
    samtools markdup (samples marked here) or ampliconclip (amplicon) for every sample of a
    compared line (workflow/multiqc_config.yaml makes MultiQC recognise markdup's text stats)."""
    files = [f"results/qc/{s}.stats.txt" for s in SHEETS.samples.index]
    for line in LINES:
        for s in SHEETS.samples_of(line):
            if s in MARKED:
                files.append(f"results/qc/{line}/{s}.markdup.txt")
            elif ASSAY == "amplicon":
                files.append(f"results/qc/{line}/{s}.ampliconclip.txt")
    return files


def identity_mqc_files(wildcards):
    """Sample-identity tables (MultiQC custom content) when the workflow has an identity step."""
    if "identity" not in {r.name for r in workflow.rules}:
        return []
    return [f"results/qc/{line}.identity_mqc.tsv" for line in LINES]


def final_outputs():
    per_line = [
        "report.html",
        "report.json",
        "hits.tsv",
        "snv.vcf.gz",
        "cnv.tsv",
        "fusions.tsv",
        "igv_session.xml",
    ]
    outputs = [f"results/{line}/{name}" for line in LINES for name in per_line]
    outputs += [
        f"results/{line}/{s}.somatic.vcf.gz" for line in LINES for s in SHEETS.resistant(line)
    ]
    outputs += [f"results/qc/{s}.stats.txt" for s in SHEETS.samples.index]
    outputs.append("results/index.html")
    outputs.append("results/multiqc/multiqc_report.html")
    return outputs


def stage_options(section):
    """The keys set in a stage's config section as CLI options of the same name
    (`min_vaf: 0.02` -> `--min-vaf 0.02`); defaults live in the stage's options dataclass."""
    return options.cli_args(section, config[section])
