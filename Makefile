# Two commands do everything on a fresh Debian 12 + Python 3.11 machine: `make demo`, `make test`.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2
APT_TOOLS := bwa samtools bcftools tabix
TEST_APT_TOOLS := freebayes chromium vcftools
# a C compiler, Python headers and htslib's (found by pkg-config): pip builds the compiled counting
# kernel (src/resistcall/_kernel.pyx), linked with the system htslib
BUILD_APT_TOOLS := build-essential python3-dev pkg-config libhts-dev

.PHONY: setup setup-test demo test lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)

$(VENV)/.installed: pyproject.toml setup.py src/resistcall/_kernel.pyx src/resistcall/_overlap.h | $(BIN)/python
	@PY=$(BIN)/python bash scripts/ensure_tools.sh $(BUILD_APT_TOOLS)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

setup: $(VENV)/.installed
	@bash scripts/ensure_tools.sh $(APT_TOOLS)

setup-test: setup
	@bash scripts/ensure_tools.sh $(TEST_APT_TOOLS)

demo: setup
	$(BIN)/resistcall simulate --config config/config.yaml
	$(BIN)/snakemake --cores $(CORES) --workflow-profile profiles/default
	@echo "Reports: results/*/report.html (index: results/index.html; QC: results/multiqc/multiqc_report.html)"

test: setup-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/pytest -q tests

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/snakemake --lint

clean:
	rm -rf results logs benchmarks .snakemake demo_data build
