"""Shared fixtures: repository paths and the optional ../shared folder."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFERENCE = REPO / "resources" / "reference" / "panel_GRCh38.fa"
GTF = REPO / "resources" / "reference" / "panel_GRCh38.gtf"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the repo; tests that need it skip cleanly on a fresh machine."""
    if not (SHARED / "realdata").is_dir():
        pytest.skip(f"real data folder {SHARED} is absent (only present in development/CI)")
    return SHARED
