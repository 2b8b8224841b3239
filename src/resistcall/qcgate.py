"""Per-sample QC verdicts as the calling stages read them (``results/qc/<sample>.qc.json``).

``resistcall qc`` decides pass / warn / fail per sample (docs/qc.md); snv, cnv, fusion and
annotate take the line's qc.json files (``--qc``) and turn every verdict that rests on a failed
sample into "not assessable" with the reason, so bad data never yields a confident answer.
"""

from __future__ import annotations

import json
from pathlib import Path

from resistcall.errors import UserError


def read_qc(paths: list[str | Path] | None) -> dict[str, dict]:
    """Sample -> its qc.json content (empty when no files are given)."""
    out: dict[str, dict] = {}
    for path in paths or []:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"{path}: cannot read the QC summary ({exc})") from None
        if not isinstance(data, dict) or "sample" not in data or "status" not in data:
            raise UserError(f"{path}: not a resistcall qc.json (needs 'sample' and 'status')")
        out[str(data["sample"])] = data
    return out


def not_assessable(qc: dict[str, dict], sample: str, stage: str) -> str | None:
    """Why ``stage`` cannot use ``sample`` (QC failure or a stage-specific limit), or None."""
    entry = qc.get(sample)
    if entry is None:
        return None
    return entry.get("not_assessable", {}).get(stage)
