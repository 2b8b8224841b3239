#!/usr/bin/env bash
# Snakemake runs this inside the freshly created workflow/envs/resistcall.yaml environment, from the
# workflow's working directory. It installs the resistcall package from the checkout without
# touching the pinned dependencies. Set RESISTCALL_SRC when the working directory is not the
# repository root (e.g. `snakemake --directory /scratch/run1`).
set -euo pipefail
src="${RESISTCALL_SRC:-$PWD}"
if [ ! -f "$src/pyproject.toml" ]; then
  echo "resistcall post-deploy: no pyproject.toml in $src; set RESISTCALL_SRC to the repository" >&2
  exit 1
fi
python -m pip install --no-deps --no-build-isolation --quiet "$src"
resistcall --help >/dev/null
