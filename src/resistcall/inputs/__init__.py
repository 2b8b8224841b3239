"""Input checks (config, files, sheets, deep check): JSON-schema plus cross-row validation.

A sequencing core's sheet is the first thing that can go wrong, and the cheapest place to
stop. Everything here collects *all* problems (file, 1-based line, column) and raises them
together as one :class:`SheetError`, so a user fixes a sheet in one pass and nothing runs
until it is clean. Cheap checks (schema, names, pairing, files exist, first FASTQ record,
BAM header and EOF block) run at load; the deep per-unit check (:func:`check_input`: full
decompression, record shape, R1/R2 pairing, BAM read-through) runs as a workflow rule before
alignment because it reads every byte.

The schemas live in ``workflow/schemas/`` (JSON Schema written in YAML) so Snakemake's
``validate`` and this module read the same rules; each property carries an ``errorMessage``
(the text a user sees), in the style of nf-core/sarek.
"""

from resistcall.inputs.config import check_config, check_workflow_config, load_config
from resistcall.inputs.deep import check_input
from resistcall.inputs.problems import Problem, SheetError
from resistcall.inputs.schemas import schema_dir
from resistcall.inputs.sheets import Sheets, load_sheets

__all__ = [
    "Problem",
    "SheetError",
    "Sheets",
    "check_config",
    "check_input",
    "check_workflow_config",
    "load_config",
    "load_sheets",
    "schema_dir",
]
