"""Per-server plots: requests and utilisation per server."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import (
    FuncFormatter,
)

from lbsim.analysis.pools import measured_samples as measured_rows
from lbsim.report.plots.common import (
    ResultLike,
    _by_variant,
    _legend,
    _new_figure,
    _style,
    variant_colors,
    variant_names,
)
from lbsim.report.plots.titles import TITLES


def _server_order(result: ResultLike) -> list[str]:
    names = [str(s["name"]) for s in result.meta.get("servers") or [] if s.get("name")]
    seen = set(names)
    extra: set[str] = set()
    for frame in (result.requests, result.timeseries):
        if "server" in frame.columns and len(frame):
            extra |= {str(s) for s in pd.unique(frame["server"].dropna()) if str(s)}
    extra -= seen

    def natural(name: str) -> tuple[str, int, str]:
        head, _, tail = name.rpartition("-")
        return (head, int(tail), "") if tail.isdigit() else (name, -1, name)

    return names + sorted(extra, key=natural)


def _workers(servers: list[dict[str, object]]) -> dict[str, float]:
    return {
        str(s["name"]): float(s.get("workers") or math.nan)  # type: ignore[arg-type]
        for s in servers
        if s.get("name")
    }


#: fewer level samples per server than this in the measured window draw no
#: utilisation bar: a mean of so few snapshots would contradict the summary's
#: exact figure (a 4 ms window sampled every 100 ms shows one idle snapshot)
MIN_UTILISATION_SAMPLES = 10
#: more servers than this get every k-th name under the bars (tail_at_scale's
#: 100 leaves overprinted each other)
_MAX_SERVER_LABELS = 30


def measured_samples(result: ResultLike) -> pd.DataFrame:
    """Time-series rows in the measured window [warm-up, duration)."""
    return measured_rows(result.timeseries, result.meta)


def server_load(result: ResultLike) -> Figure:
    """Requests sent to each server and its utilisation, grouped by variant.

    Utilisation is the time-average of ``in_service / workers`` over the
    samples of the measured window, warm-up to ``duration`` (the window of the
    summary's ``utilization_mean``; the drain after it would dilute it).
    ``workers`` come from the variant's servers in ``meta["variants"]`` (a
    variant may change them), else ``meta["servers"]``; for a server missing there,
    the most it was ever seen serving at once.
    """
    names = variant_names(result)
    colors = variant_colors(names)
    servers = _server_order(result)
    n_bars = max(len(servers) * max(len(names), 1), 1)
    fig = _new_figure(TITLES["server_load"], min(max(7.0, 3.0 + 0.12 * n_bars), 12.0), 6.2)
    ax_req = fig.add_subplot(2, 1, 1)
    ax_util = fig.add_subplot(2, 1, 2, sharex=ax_req)
    for ax in (ax_req, ax_util):
        _style(ax)
        ax.grid(False, axis="x")
    base_workers = _workers(result.meta.get("servers") or [])
    own_workers = {
        str(v.get("name")): _workers(v.get("servers") or [])
        for v in result.meta.get("variants") or []
    }
    samples = measured_samples(result)
    counted = result.meta.get("requests_per_server") or {}
    req_groups, ts_groups = _by_variant(result.requests), _by_variant(samples)
    x = np.arange(len(servers), dtype=float)
    width = 0.8 / max(len(names), 1)
    drawn: list[float] = []  # every utilisation bar's height, nan where none
    for i, name in enumerate(names):
        offset = (i - (len(names) - 1) / 2) * width
        frame = req_groups.get(name, pd.DataFrame())
        if name in counted:  # every measured request, whatever rows were kept
            counts = pd.Series(counted[name], dtype=float)
        elif "server" in frame.columns and not frame.empty:
            counts = frame["server"].astype(str).value_counts()
        else:
            counts = pd.Series(dtype=float)
        ax_req.bar(
            x + offset, [float(counts.get(s, 0)) for s in servers], width,
            color=colors[name], label=name, gid="requests",
        )  # fmt: skip
        ts = ts_groups.get(name, pd.DataFrame())
        util: list[float] = []
        if {"server", "in_service"} <= set(ts.columns) and not ts.empty:
            grouped = ts.groupby(ts["server"].astype(str))["in_service"]
            per_server = grouped.agg(["mean", "max", "size"])
            for s in servers:
                if s not in per_server.index or per_server.loc[s, "size"] < MIN_UTILISATION_SAMPLES:
                    util.append(math.nan)
                    continue
                slots = own_workers.get(name, base_workers).get(s, math.nan)
                if not slots > 0:
                    slots = max(float(per_server.loc[s, "max"]), 1.0)
                util.append(float(per_server.loc[s, "mean"]) / slots * 100)
        else:
            util = [math.nan] * len(servers)
        ax_util.bar(x + offset, util, width, color=colors[name], label=name, gid="utilization")
        drawn.extend(util)
    ax_req.set_ylabel("requests", fontsize="small")
    ax_req.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax_req.tick_params(labelbottom=False)
    if not np.isfinite(drawn).any():
        ax_util.text(
            0.5, 0.5, f"fewer than {MIN_UTILISATION_SAMPLES} level samples in the measured window",
            transform=ax_util.transAxes, ha="center", va="center", fontsize="small",
        )  # fmt: skip
    ax_util.set_ylabel("utilisation", fontsize="small")
    ax_util.set_ylim(0, 105)
    ax_util.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}%"))
    step = math.ceil(len(servers) / _MAX_SERVER_LABELS) if servers else 1
    labels = [s if i % step == 0 else "" for i, s in enumerate(servers)]  # readable, not all
    ax_util.set_xticks(x, labels, rotation=90 if len(servers) > 10 else 0, fontsize="small")
    ax_util.set_xlabel("server", fontsize="small")
    _legend(fig, names, colors)
    return fig
