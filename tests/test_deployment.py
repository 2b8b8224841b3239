"""The workflow as others deploy it: lint on a fresh clone, pinned environments that match."""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from resistcall.inputs.files import resolve_bundled

from conftest import BIN, REPO, copy_workflow, env_without_venv, run

ENVS = sorted((REPO / "workflow" / "envs").glob("*.yaml"))
#: conda package -> PyPI distribution, where the names differ
PYPI_NAME = {"matplotlib-base": "matplotlib"}
#: command-line tools in the environments: how the tests' own copy reports its version
TOOL_VERSION = {
    "bwa": (["bwa"], r"Version: (\S+?)(?:-r\d+)?\n"),
    "samtools": (["samtools", "--version"], r"^samtools (\S+)"),
    "htslib": (["samtools", "--version"], r"Using htslib (\S+)"),
}
#: build-time helpers of the resistcall environment (not what the tests run with)
UNPINNED = {"pip", "setuptools>=77", "c-compiler"}  # build tools of the compiled kernel


def test_lint_passes_on_a_fresh_clone_and_a_run_still_checks_listed_files(tmp_path):
    work = copy_workflow(tmp_path)  # no demo data yet
    lint = run([str(BIN / "snakemake"), "--lint"], work, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "Lints for" not in lint.stdout + lint.stderr
    # ...while a real invocation still stops at start-up on the FASTQs the sheet lists
    dry = run([str(BIN / "snakemake"), "--cores", "1", "--dry-run"], work, check=False)
    out = dry.stdout + dry.stderr
    assert dry.returncode != 0
    assert "config/units.tsv, line 2, column fq1: file not found: demo_data/H3122_P_R1" in out
    assert not (work / "results").exists()


def _installed_version(name: str) -> str:
    if name == "python":
        return ".".join(map(str, sys.version_info[:3]))
    if name in TOOL_VERSION:
        args, pattern = TOOL_VERSION[name]
        proc = subprocess.run(args, capture_output=True, text=True, errors="replace")
        found = re.search(pattern, proc.stdout + proc.stderr, re.MULTILINE)
        assert found, f"no version of {name} in the output of {' '.join(args)}"
        return found[1]
    return importlib.metadata.version(PYPI_NAME.get(name, name))


def _pins(env: Path) -> list[str]:
    return [d for d in yaml.safe_load(env.read_text())["dependencies"] if isinstance(d, str)]


@pytest.mark.parametrize("env", ENVS, ids=[e.stem for e in ENVS])
def test_environment_pins_are_the_versions_the_tests_run_with(env):
    """conda `name=version` matches that version and its sub-versions (3.11 -> 3.11.x)."""
    for dep in _pins(env):
        if dep in UNPINNED:
            continue
        assert re.fullmatch(r"[\w.-]+=[\w.]+", dep), f"{env.name}: {dep!r} is not pinned"
        name, pinned = dep.split("=")
        installed = _installed_version(name)
        assert installed == pinned or installed.startswith(f"{pinned}."), (
            f"{env.name}: {name} pinned {pinned}, the tests run with {installed}"
        )


MODULE_SNAKEFILE = """\
configfile: "config/config.yaml"


module resistcall:
    snakefile:
        "{snakefile}"
    config:
        config


use rule * from resistcall
"""


def _written_since(root: Path, start: float) -> list[Path]:
    skip = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache"}
    found = []
    for path in root.rglob("*"):
        if skip.isdisjoint(path.relative_to(root).parts) and path.is_file():
            if path.stat().st_mtime > start:
                found.append(path)
    return found


@pytest.mark.slow
def test_workflow_runs_as_a_module_from_a_local_clone(tmp_path):
    """Deployed into an empty folder as the catalog's module usage does: the user's config and
    sheets there, the shipped reference and tables from the clone (a decoy known-resistance
    table in the user's resources/ is never read), nothing written into the clone."""
    start = time.time()
    user = tmp_path / "project"
    shutil.copytree(REPO / "config", user / "config")
    (user / "resources").mkdir()
    (user / "resources" / "known_resistance.tsv").write_text("not the shipped table\n")
    (user / "workflow").mkdir()
    snakefile = MODULE_SNAKEFILE.format(snakefile=REPO / "workflow" / "Snakefile")
    (user / "workflow" / "Snakefile").write_text(snakefile)
    simulate = [str(BIN / "resistcall"), "simulate", "--config", "config/config.yaml"]
    run([*simulate, "--fragments", "3000", "--seed", "7"], user)
    run([str(BIN / "snakemake"), "--cores", "2"], user, env=env_without_venv())
    line = user / "results" / "H3122sim"
    for name in ("report.html", "hits.tsv", "H3122_CR1.somatic.vcf.gz", "H3122_CR2.somatic.vcf.gz"):
        assert (line / name).is_file(), name
    assert (user / "results" / "multiqc" / "multiqc_report.html").is_file()
    hits = json.loads((line / "hits.json").read_text())
    shipped = REPO / "resources"
    assert hits["knowledge"]["path"] == str(shipped / "known_resistance.tsv")
    assert hits["knowledge"]["rows"] > 100  # the shipped table, not the user's decoy
    assert hits["inputs"]["reference"] == str(shipped / "reference" / "panel_GRCh38.fa")
    assert _written_since(REPO, start) == []


def test_shipped_resources_resolve_in_the_workflow_checkout_and_user_files_in_theirs(tmp_path):
    config = {
        "samples": "config/samples.tsv",
        "reference": {"fasta": "resources/reference/panel_GRCh38.fa", "gtf": "/abs/own.gtf"},
        "panel": {"targets": "resources/panel/demo_capture_targets.bed", "primers": "x.bed"},
        "known_resistance": "resources/my_own_table.tsv",  # not shipped: the user's file
    }
    in_place = resolve_bundled(json.loads(json.dumps(config)), REPO, REPO)
    assert in_place == config  # a clone run in place keeps its paths as written
    moved = resolve_bundled(json.loads(json.dumps(config)), tmp_path, REPO)
    assert moved["reference"]["fasta"] == str(REPO / "resources/reference/panel_GRCh38.fa")
    assert moved["panel"]["targets"] == str(REPO / "resources/panel/demo_capture_targets.bed")
    assert moved["known_resistance"] == "resources/my_own_table.tsv"
    assert moved["samples"] == "config/samples.tsv" and moved["panel"]["primers"] == "x.bed"
    assert moved["reference"]["gtf"] == "/abs/own.gtf"
