"""What ``lbsim diff`` shows: the change table in the terminal, and small multiples.

Both draw the tidy frame of :func:`lbsim.gate.diff.compare_runs`: worse in
red/orange, better in green.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from rich import box
from rich.table import Table
from rich.text import Text

from lbsim.analysis.metrics import describe
from lbsim.io import atomic_path
from lbsim.report import figure_bytes
from lbsim.report.plots.common import _wrap, key_label, variant_keys
from lbsim.report.table import format_number

_A_COLOR, _B_COLOR = "#BBBBBB", "#0072B2"
_MOVED_COLOR = {"worse": "#D55E00", "better": "#009E73", "changed": "#555555", "same": "#555555"}


def _display(metric: str, value: float, sign: bool = False) -> str:
    spec = describe(metric)
    if math.isnan(value):
        return "-"
    scaled = value * spec.scale
    unit = "pp" if sign and spec.unit == "%" else spec.unit
    text = format_number(scaled)
    if sign and scaled > 0:
        text = "+" + text
    return f"{text}{unit if unit in ('ms', '%', 'pp') else ''}"


def _percent(value: float) -> str:
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "+∞" if value > 0 else "-∞"
    return f"{value * 100:+.1f}%"


def diff_table(frame: pd.DataFrame, label_a: str = "A", label_b: str = "B") -> Table:
    """The terminal table of :func:`compare_runs`: worse in red, better in green."""
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        caption=f"A = {label_a}, B = {label_b}; change = B - A",
        caption_justify="left",
    )
    table.add_column("variant", no_wrap=True)
    table.add_column("metric", no_wrap=True)
    for heading in ("A", "B", "change", "relative"):
        table.add_column(heading, justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    previous = None
    for row in frame.itertuples(index=False):
        style = {"worse": "red", "better": "green"}.get(str(row.moved), "")
        metric = str(row.metric)
        table.add_row(
            "" if row.variant == previous else str(row.variant),
            metric,
            _display(metric, float(row.a)),
            _display(metric, float(row.b)),
            _display(metric, float(row.absolute), sign=True),
            Text(_percent(float(row.relative)), style=style),
            Text("" if row.moved == "same" else str(row.moved), style=style),
        )
        previous = row.variant
    return table


def diff_figure(frame: pd.DataFrame, label_a: str = "A", label_b: str = "B") -> Figure:
    """Small multiples: a panel per metric, bars of A and B for each variant,
    the relative change written above (orange worse, green better)."""
    metrics = list(dict.fromkeys(frame["metric"]))
    variants = [str(v) for v in dict.fromkeys(frame["variant"])]
    keys = variant_keys(variants, digits=True)  # A and B are the runs
    columns = min(3, max(1, len(metrics)))
    rows = math.ceil(len(metrics) / columns) if metrics else 1
    width = max(3.2, 0.9 * len(variants) + 1.6)
    fig = Figure(figsize=(width * columns, 3.1 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    x = np.arange(len(variants))
    for ax, metric in zip(axes, metrics, strict=False):
        spec = describe(metric)
        part = frame[frame["metric"] == metric].set_index("variant").reindex(variants)
        a = part["a"].to_numpy(float) * spec.scale
        b = part["b"].to_numpy(float) * spec.scale
        ax.bar(x - 0.2, a, 0.4, color=_A_COLOR, label=label_a, gid="a")
        ax.bar(x + 0.2, b, 0.4, color=_B_COLOR, label=label_b, gid="b")
        top = np.nanmax(np.r_[a, b, 0.0])
        for i, (moved, relative) in enumerate(zip(part["moved"], part["relative"], strict=True)):
            if moved == "same":
                continue
            ax.annotate(
                _percent(float(relative)),
                (x[i], np.nanmax([a[i], b[i], 0.0])),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=8,
                color=_MOVED_COLOR[str(moved)],
                gid=f"change:{variants[i]}",
            )
        ax.set_ylim(0, top * 1.18 if top > 0 else 1)
        ax.set_title(f"{spec.heading}" + (f" ({spec.unit})" if spec.unit else ""), fontsize=10)
        ticks = [keys[v] for v in variants]
        abbreviated = ticks != variants
        ax.set_xticks(
            x,
            ticks,
            rotation=0 if abbreviated else 25,
            ha="center" if abbreviated else "right",
            fontsize=8,
        )
        ax.tick_params(axis="y", labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=2, frameon=False)
    key = [key_label(v, keys) for v in variants if keys[v] != v]
    fig.supxlabel(
        "\n".join(
            [
                "above the bars: relative change from A to B (orange worse, green better)",
                *(_wrap(line, 40 * columns) for line in key),
            ]
        ),
        fontsize=8,
        color="#555555",
    )
    return fig


def write_plot(fig: Figure, path: Path) -> Path:
    """Save ``fig`` at ``path`` (format from its suffix: png, svg, pdf), atomically."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    data = figure_bytes(fig, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)
    return path
