"""Report figures measured from their drawn geometry (matplotlib Agg), not from the SVG text."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.legend import Legend

from resistcall import figures

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_report  # noqa: E402 - the report fixtures' CLI helpers


@pytest.fixture(scope="module")
def vaf_points(tmp_path_factory) -> tuple[list[dict], dict]:
    """The demo-like fixture's points plus changes that rose from a small parental subclone to
    high VAF: the upper-left corner, where an in-axes legend used to sit."""
    model = test_report.run_cli(test_report.full_args(tmp_path_factory.mktemp("fig")))
    extra = [
        {
            "sample": sample,
            "chrom": "chr2",
            "pos": 1000 + i,
            "ref": "C",
            "alt": "T",
            "filter": "PASS",
            "status": "enriched",
            "vaf_parental": vaf_parental,
            "vaf": vaf,
            "label": f"ALK p.X{i}Y",
            "class": cls,
        }
        for i, (sample, vaf_parental, vaf, cls) in enumerate(
            [
                (model["resistant_samples"][0], 0.01, 0.48, "findings"),
                (model["resistant_samples"][0], 0.02, 0.92, "vus"),
                (model["resistant_samples"][-1], 0.015, 0.61, "other"),
            ]
        )
    ]
    return model["vaf_points"] + extra, model


def drawn_points_under(fig: Figure, legend: Legend) -> list[tuple[str, float, float]]:
    """Every scatter marker (centre +- its radius, in pixels) that meets the legend's box."""
    FigureCanvasAgg(fig).draw()
    box = legend.get_window_extent()
    hits = []
    for ax in fig.axes:
        for coll in ax.collections:
            if not isinstance(coll, PathCollection):
                continue
            radius = np.sqrt(coll.get_sizes().max()) / 2 * fig.dpi / 72
            for x, y in coll.get_offsets():
                px, py = ax.transData.transform((x, y))
                if (
                    box.x0 - radius <= px <= box.x1 + radius
                    and box.y0 - radius <= py <= box.y1 + radius
                ):
                    hits.append((ax.get_title(loc="left"), float(x), float(y)))
    return hits


def test_vaf_legend_never_hides_a_point(vaf_points):
    points, model = vaf_points
    fig = figures.vaf_figure(points, model["parental"], model["resistant_samples"])
    assert fig is not None
    legends = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    assert len(legends) == 1, "one legend for all panels"
    labels = [t.get_text() for t in legends[0].get_texts()]
    assert labels[:3] == ["known resistance", "unknown significance", "other call"]
    n_drawn = sum(len(c.get_offsets()) for ax in fig.axes for c in ax.collections)
    assert n_drawn == len(points)  # every point is drawn, none dropped to make room
    assert drawn_points_under(fig, legends[0]) == []
    # Negative control: the old in-axes legend (upper left) covers the risen subclones.
    old = fig.axes[0].legend(loc="upper left", frameon=False, fontsize=7.5)
    assert drawn_points_under(fig, old), "the geometry check must see a covered point"


def test_vaf_svg_keeps_the_legend_text(vaf_points):
    points, model = vaf_points
    svg = figures.vaf_svg(points, model["parental"], model["resistant_samples"])
    assert svg is not None and svg.startswith("<svg")
    assert "known resistance" in svg and "unknown significance" in svg


def test_copy_number_figure_never_draws_targets_without_reference_reads():
    """Issue 12 item 4: targets with zero reference reads read as gains (+0.5 to +6.7 log2 on
    real ALK-only data). They are no value: not drawn; a gene without a measurement is labelled
    'not assessable', never a marker. Negative control: the same targets unflagged are drawn."""
    import pandas as pd

    rows = [
        {"sample": "R", "gene": "ALK", "call": "not assessable", "log2_ratio": None,
         "copy_number": None, "ci_low": None, "ci_high": None},
        {"sample": "R", "gene": "EML4", "call": "not assessable", "log2_ratio": None,
         "copy_number": None, "ci_low": None, "ci_high": None},
    ]  # fmt: skip
    targets = pd.DataFrame(
        {
            "sample": "R",
            "gene": ["ALK"] * 3 + ["EML4"] * 2,
            "log2_ratio": [0.02, -0.05, 0.04, 3.0, 6.7],
            "flags": ["", "", "", "low_reference_count", "low_reference_count"],
        }
    )

    def drawn(fig: Figure) -> tuple[list[float], list[str]]:
        FigureCanvasAgg(fig).draw()
        ax = fig.axes[0]
        ys = [float(y) for c in ax.collections if isinstance(c, PathCollection)
              for _, y in c.get_offsets()]  # fmt: skip
        return sorted(ys), [t.get_text() for t in ax.texts]

    ys, texts = drawn(figures.copy_number_figure(rows, targets, ["R"]))
    assert ys == sorted([0.02, -0.05, 0.04])  # ALK's own targets only
    assert texts == ["not assessable", "not assessable"]
    unflagged = targets.assign(flags="")
    ys_all, _ = drawn(figures.copy_number_figure(rows, unflagged, ["R"]))
    assert max(ys_all) == pytest.approx(6.7)
