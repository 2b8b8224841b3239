"""The workflow as others deploy it: lint on a fresh clone, pinned environments that match."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import BIN, REPO, copy_workflow, run

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
UNPINNED = {"pip", "setuptools>=68"}


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
