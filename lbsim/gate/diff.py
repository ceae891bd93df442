"""Comparing two saved runs: what moved, by how much, for better or worse.

``lbsim diff A B`` reads the summaries of two run folders (the output of
``lbsim run``) and, for every variant they share and every metric, gives the
change from A to B, absolute and relative, with its direction (a higher
latency is worse, a higher throughput better; see :mod:`lbsim.analysis.metrics`).
The tidy table is :func:`compare_runs`; :func:`diff_figure` draws it as small
multiples, one panel per metric, A and B side by side for each variant.

Unlike ``lbsim check`` nothing passes or fails here: a diff is for people.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from rich import box
from rich.table import Table
from rich.text import Text

from lbsim.analysis.metrics import CHECKABLE, DIFF_METRICS, describe
from lbsim.gate.check import CheckError, RunSummary, read_run
from lbsim.io import atomic_path
from lbsim.report import figure_bytes
from lbsim.report.table import format_number

#: What ``lbsim diff`` shows unless asked for other metrics.
KEY_METRICS = DIFF_METRICS

COLUMNS = ["variant", "metric", "a", "b", "absolute", "relative", "moved"]
_A_COLOR, _B_COLOR = "#BBBBBB", "#0072B2"
_MOVED_COLOR = {"worse": "#D55E00", "better": "#009E73", "changed": "#555555", "same": "#555555"}


def _moved(metric: str, a: float, b: float) -> str:
    """``same``, ``better``, ``worse`` or ``changed`` (no direction known)."""
    if a == b or (math.isnan(a) and math.isnan(b)):
        return "same"
    info = CHECKABLE.get(metric)
    if info is None or math.isnan(a) or math.isnan(b):
        return "changed"
    higher = b > a
    return "worse" if higher == (info.better == "lower") else "better"


def _relative(a: float, b: float) -> float:
    if a == b:
        return 0.0
    if a == 0:
        return math.copysign(math.inf, b)
    return (b - a) / abs(a)


def compare_runs(
    a: RunSummary | Path, b: RunSummary | Path, metrics: Sequence[str] | None = None
) -> pd.DataFrame:
    """Change from run ``a`` to run ``b``, a row per shared variant and metric.

    Columns: ``variant``, ``metric``, ``a``, ``b``, ``absolute`` (b - a, in
    the metric's unit), ``relative`` ((b - a) / |a|; +-inf from zero),
    ``moved`` (``same``, ``better``, ``worse``, or ``changed`` for metrics
    without a direction). ``metrics`` defaults to every metric both have.
    Raises :class:`~lbsim.gate.check.CheckError` when nothing can be compared.
    """
    run_a = a if isinstance(a, RunSummary) else read_run(a)
    run_b = b if isinstance(b, RunSummary) else read_run(b)
    variants = [v for v in run_a.variants if v in set(run_b.variants)]
    if not variants:
        raise CheckError(
            f"no variant in common: {', '.join(run_a.variants)} vs {', '.join(run_b.variants)}"
        )
    shared = [m for m in run_a.values.columns if m in set(run_b.values.columns)]
    if metrics is None:
        chosen = shared
    else:
        absent = [m for m in metrics if m not in shared]
        if absent:
            raise CheckError(
                f"metric {', '.join(absent)} not in both runs; they share {', '.join(shared)}"
            )
        chosen = list(dict.fromkeys(metrics))
    rows = []
    for variant in variants:
        for metric in chosen:
            va = float(run_a.values.at[variant, metric])
            vb = float(run_b.values.at[variant, metric])
            rows.append(
                {
                    "variant": variant,
                    "metric": metric,
                    "a": va,
                    "b": vb,
                    "absolute": vb - va,
                    "relative": _relative(va, vb),
                    "moved": _moved(metric, va, vb),
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def key_metrics(a: RunSummary, b: RunSummary) -> list[str]:
    """The :data:`KEY_METRICS` both runs have: what ``lbsim diff`` shows by default."""
    return [m for m in KEY_METRICS if m in a.values.columns and m in b.values.columns]


def unmatched(a: RunSummary, b: RunSummary) -> list[str]:
    """Notes on what :func:`compare_runs` leaves out or should warn about."""
    notes = []
    if a.name != b.name:
        notes.append(f"different scenarios: {a.name!r} vs {b.name!r}")
    only_a = [v for v in a.variants if v not in set(b.variants)]
    only_b = [v for v in b.variants if v not in set(a.variants)]
    if only_a:
        notes.append(f"only in A: {', '.join(only_a)}")
    if only_b:
        notes.append(f"only in B: {', '.join(only_b)}")
    if a.scenario_hash == b.scenario_hash and a.seed != b.seed:
        notes.append(f"same model, seeds {a.seed} vs {b.seed}: the changes are seed noise")
    return notes


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
    variants = list(dict.fromkeys(frame["variant"]))
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
        ax.set_xticks(x, variants, rotation=25, ha="right", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=2, frameon=False)
    fig.supxlabel(
        "above the bars: relative change from A to B (orange worse, green better)",
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


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Save the change table as CSV, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path
