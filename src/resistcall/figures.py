"""Report figures as inline SVG strings (matplotlib, no pyplot state, deterministic output).

Text stays text (``svg.fonttype = none``) so it is searchable, readable by screen readers and
small; ``svg.hashsalt`` and an empty Date make the same data give byte-identical SVG.
Colours follow the Okabe-Ito palette (distinguishable with colour-vision deficiency) and every
colour is paired with a marker shape or a text label, never used alone.
"""

from __future__ import annotations

import io
import math
import re
from html import escape
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from resistcall.contracts import gene_key

CALL_COLOURS = {
    "amplification": "#D55E00",
    "gain": "#E69F00",
    "neutral": "#555555",
    "loss": "#0072B2",
    "deletion": "#56B4E9",
    "not assessable": "#999999",
}
SAMPLE_TICKS = [0, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0]

_RC: dict[Any, Any] = {  # matplotlib types rc keys as Literals
    "svg.fonttype": "none",
    "svg.hashsalt": "resistcall",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _to_svg(fig: Figure, label: str, fig_id: str) -> str:
    """Serialise to an inline <svg>: no XML prolog, scalable width, accessible name."""
    buf = io.StringIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(
            buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight"
        )
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    # width/height in pt would fix the size; the viewBox keeps the aspect ratio when scaled.
    text = re.sub(
        r'<svg([^>]*?) width="[^"]*" height="[^"]*"',
        lambda m: (
            f'<svg{m[1]} id="{fig_id}" role="img" aria-labelledby="{fig_id}-t" class="figure-svg"'
        ),
        text,
        count=1,
    )
    text = re.sub(
        r"(<svg[^>]*>)",
        lambda m: f'{m[1]}<title id="{fig_id}-t">{escape(label)}</title>',
        text,
        count=1,
    )
    # matplotlib ids are unique within one figure only: prefix them per figure.
    text = re.sub(r'id="(?!' + re.escape(fig_id) + r')([^"]+)"', rf'id="{fig_id}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{fig_id}-\1)", text)
    text = re.sub(r'xlink:href="#([^"]+)"', rf'xlink:href="#{fig_id}-\1"', text)
    return text


def _new_figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(_RC):
        return Figure(figsize=(width, height), layout="constrained")


def copy_number_svg(
    rows: list[dict], targets: pd.DataFrame | None, samples: list[str]
) -> str | None:
    """Gene log2 ratio with CI per resistant sample, per-target ratios as grey points."""
    fig = copy_number_figure(rows, targets, samples)
    if fig is None:
        return None
    return _to_svg(
        fig,
        "Copy number: gene log2 ratio with confidence interval per resistant "
        "sample, per-target ratios as grey points (targets without usable reference reads "
        "are left out; genes without a measurement read 'not assessable')",
        "fig-cnv",
    )


def copy_number_figure(
    rows: list[dict], targets: pd.DataFrame | None, samples: list[str]
) -> Figure | None:
    """The copy-number figure itself: a target without usable reference reads is no value and
    is not drawn; a gene without a measurement is labelled 'not assessable', never a point."""
    if not rows:
        return None
    genes = sorted({r["gene"] for r in rows}, key=gene_key)
    samples = [s for s in samples if any(r["sample"] == s for r in rows)]
    with matplotlib.rc_context(_RC):
        fig = _new_figure(8.5, 1.0 + 2.1 * len(samples))
        axes = fig.subplots(len(samples), 1, sharex=True, squeeze=False)[:, 0]
        for ax, sample in zip(axes, samples, strict=True):
            ax.axhline(0, color="#888888", lw=0.8, zorder=0)
            if targets is not None and len(targets):
                t = targets[targets["sample"] == sample]
                if "flags" in t.columns:  # no usable reference reads: not a value, not drawn
                    t = t[~t["flags"].astype(str).str.contains("low_reference_count")]
                for i, gene in enumerate(genes):
                    y = (
                        pd.to_numeric(t.loc[t["gene"] == gene, "log2_ratio"], errors="coerce")
                        .dropna()
                        .to_numpy()
                    )
                    if len(y):
                        x = i + np.linspace(-0.28, 0.28, len(y)) if len(y) > 1 else np.full(1, i)
                        ax.scatter(
                            x,
                            y,
                            s=9,
                            color="#9a9a9a",
                            alpha=0.8,
                            lw=0,
                            zorder=1,
                            label="per-target ratio" if i == 0 else None,
                        )
            for i, gene in enumerate(genes):
                rec = next((r for r in rows if r["sample"] == sample and r["gene"] == gene), None)
                if rec is None:
                    continue
                call = str(rec.get("call"))
                colour = CALL_COLOURS.get(call, "#555555")
                l2, cn = rec.get("log2_ratio"), rec.get("copy_number")
                if l2 is None:
                    ax.text(
                        i,
                        0.05,
                        "not assessable",
                        ha="center",
                        va="bottom",
                        fontsize=7,
                        color=colour,
                        rotation=90,
                    )
                    continue
                lo, hi = rec.get("ci_low"), rec.get("ci_high")
                err = None
                if (
                    lo is not None
                    and hi is not None
                    and cn is not None
                    and cn > 0
                    and lo > 0
                    and hi > 0
                ):
                    err = [
                        [max(l2 - (l2 + math.log2(lo / cn)), 0)],
                        [max((l2 + math.log2(hi / cn)) - l2, 0)],
                    ]
                ax.errorbar(
                    [i],
                    [l2],
                    yerr=err,
                    fmt="D",
                    ms=6,
                    color=colour,
                    ecolor=colour,
                    elinewidth=1.6,
                    capsize=4,
                    zorder=3,
                )
                if call in ("amplification", "gain", "loss", "deletion"):
                    txt = f"{call}\nCN {cn:.1f}" if cn is not None else call
                    if None not in (lo, hi):
                        txt += f" ({lo:.1f}–{hi:.1f})"
                    ax.annotate(
                        txt,
                        (i, l2),
                        xytext=(12, 0),
                        textcoords="offset points",
                        fontsize=7.5,
                        color=colour,
                        va="center",
                        zorder=4,
                        bbox={
                            "boxstyle": "round,pad=0.2",
                            "fc": "white",
                            "ec": "none",
                            "alpha": 0.85,
                        },
                    )
            ax.set_ylabel("log2 ratio\nvs parental")
            ax.set_title(sample, loc="left", fontsize=10, fontweight="bold")
            lo_lim, hi_lim = ax.get_ylim()
            ax.set_ylim(min(lo_lim, -1.0), max(hi_lim, 1.0))
            ax.grid(axis="y", color="#e5e5e5", lw=0.6)
        axes[-1].set_xticks(range(len(genes)), genes)
        axes[-1].set_xlim(-0.6, len(genes) - 0.1)
        if axes[0].get_legend_handles_labels()[1]:
            axes[0].legend(loc="upper right", frameon=False, fontsize=7.5)
    return fig


def vaf_svg(points: list[dict], parental: str | None, samples: list[str]) -> str | None:
    """Parental VAF (x) vs resistant VAF (y) for every call; one panel per resistant sample."""
    fig = vaf_figure(points, parental, samples)
    if fig is None:
        return None
    return _to_svg(
        fig,
        "Variant allele fraction in the parental versus each resistant sample "
        "(square-root axes); points above the diagonal rose in the resistant sample",
        "fig-vaf",
    )


def vaf_figure(points: list[dict], parental: str | None, samples: list[str]) -> Figure | None:
    """The VAF figure itself; its legend sits outside the axes so it can never hide a point."""
    pts = [p for p in points if p.get("vaf") is not None and p.get("vaf_parental") is not None]
    if not pts:
        return None
    samples = [s for s in samples if any(p["sample"] == s for p in pts)]
    scale = (np.sqrt, np.square)
    ticks = SAMPLE_TICKS
    with matplotlib.rc_context(_RC):
        fig = _new_figure(min(4.2 * len(samples), 9.0) + 1.4, 4.0)
        axes = fig.subplots(1, len(samples), sharey=True, squeeze=False)[0]
        for ax, sample in zip(axes, samples, strict=True):
            ax.plot([0, 1], [0, 1], color="#bbbbbb", lw=0.8, ls="--", zorder=0)
            sp = [p for p in pts if p["sample"] == sample]
            groups = (
                (
                    "known resistance",
                    "o",
                    "#D55E00",
                    lambda p: p["class"] == "findings" and p["filter"] == "PASS",
                ),
                (
                    "unknown significance",
                    "s",
                    "#0072B2",
                    lambda p: p["class"] == "vus" and p["filter"] == "PASS",
                ),
                (
                    "other call",
                    "^",
                    "#666666",
                    lambda p: p["class"] not in ("findings", "vus") and p["filter"] == "PASS",
                ),
                ("filtered", "x", "#999999", lambda p: p["filter"] != "PASS"),
            )
            for name, marker, colour, keep in groups:
                g = [p for p in sp if keep(p)]
                if g:
                    ax.scatter(
                        [p["vaf_parental"] for p in g],
                        [p["vaf"] for p in g],
                        marker=marker,
                        s=30,
                        color=colour,
                        label=name,
                        zorder=2,
                        clip_on=False,
                    )
            for p in sp:
                if (
                    p["label"]
                    and p["class"] in ("findings", "vus")
                    and p["filter"] == "PASS"
                    and (p["vaf"] >= 0.005 or p["vaf_parental"] >= 0.005)
                ):
                    ax.annotate(
                        p["label"].replace("ALK ", ""),
                        (p["vaf_parental"], p["vaf"]),
                        xytext=(5, 3),
                        textcoords="offset points",
                        fontsize=7.5,
                    )
            ax.set_xscale("function", functions=scale)
            ax.set_yscale("function", functions=scale)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_xticks(ticks, [f"{t:.0%}" for t in ticks])
            ax.set_yticks(ticks, [f"{t:.0%}" for t in ticks])
            ax.set_xlabel(f"VAF in parental {parental or ''}".strip())
            ax.set_title(sample, loc="left", fontsize=10, fontweight="bold")
            ax.grid(color="#eeeeee", lw=0.6)
        axes[0].set_ylabel("VAF in resistant sample")
        # One legend for all panels, in its own column right of the axes (constrained layout
        # makes room): inside the axes it covered points near 0% parental / high resistant VAF.
        handles: dict[str, Any] = {}
        for ax in axes:
            for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
                handles.setdefault(name, handle)
        fig.legend(
            list(handles.values()),
            list(handles.keys()),
            loc="outside right upper",
            frameon=False,
            fontsize=7.5,
        )
    return fig


def depth_svg(qc: list[dict], level: int = 100) -> str | None:
    """Per-sample distribution of mean target depth (5/25/50/75/95th percentiles)."""
    rows = [q for q in qc if q.get("depth_quantiles")]
    if not rows:
        return None
    with matplotlib.rc_context(_RC):
        fig = _new_figure(7.0, 0.7 + 0.45 * len(rows))
        ax = fig.subplots()
        for i, q in enumerate(rows):
            d = q["depth_quantiles"]
            y = len(rows) - 1 - i
            p5, p25, p50 = d.get("p5"), d.get("p25"), d.get("p50")
            p75, p95 = d.get("p75"), d.get("p95")
            if None not in (p5, p95):
                ax.plot([max(p5, 1), max(p95, 1)], [y, y], color="#555555", lw=1)
            if None not in (p25, p75):
                ax.barh(
                    y,
                    max(p75, 1) - max(p25, 1),
                    left=max(p25, 1),
                    height=0.5,
                    color="#56B4E9",
                    edgecolor="#0072B2",
                )
            if p50 is not None:
                ax.plot([max(p50, 1)] * 2, [y - 0.25, y + 0.25], color="#000000", lw=2)
        ax.axvline(level, color="#D55E00", ls="--", lw=1)
        ax.text(level, len(rows) - 0.45, f" {level}x", color="#D55E00", fontsize=7.5, va="bottom")
        ax.set_xscale("log")
        ax.set_yticks(range(len(rows)), [q["sample"] for q in reversed(rows)])
        ax.set_ylim(-0.6, len(rows) - 0.2)
        ax.set_xlabel(
            "mean depth per target (box: 25th-75th percentile, line: median, whiskers: 5th-95th)"
        )
        ax.grid(axis="x", color="#eeeeee", lw=0.6)
    return _to_svg(fig, "Distribution of per-target sequencing depth in each sample", "fig-depth")
