"""An animated view for the classroom: each server's queue as moving bars.

:func:`animate` turns one variant's sampled levels (``result.timeseries``)
into a :class:`matplotlib.animation.FuncAnimation`: one bar per server, in
service (dark) with the queue stacked on top (light), a crashed server's bar
grey and a server the balancer has marked down outlined in red; underneath,
requests per second and failed requests per second over time with a cursor
at the current frame. In Jupyter the returned :class:`QueueAnimation`
renders itself as a JavaScript player (``to_jshtml``); :meth:`QueueAnimation.save`
writes a GIF (Pillow), an MP4 (ffmpeg, if installed) or that HTML player.
Built on :class:`~matplotlib.figure.Figure` directly, never pyplot.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.animation import FFMpegWriter, FuncAnimation, PillowWriter
from matplotlib.artist import Artist
from matplotlib.figure import Figure

from lbsim.io import write_atomic
from lbsim.report.plots import ResultLike, variant_colors, variant_names

FORMATS = (".gif", ".mp4", ".html")


class QueueAnimation:
    """A queue animation: shows itself in Jupyter, saves as GIF, MP4 or HTML."""

    def __init__(self, animation: FuncAnimation, figure: Figure, frames: int) -> None:
        self.animation = animation
        self.figure = figure
        self.frames = frames

    def to_jshtml(self) -> str:
        return str(self.animation.to_jshtml())

    def _repr_html_(self) -> str:
        return self.to_jshtml()

    def save(self, path: str | Path, fps: int = 10) -> Path:
        """Write the animation to ``path``: ``.gif``, ``.mp4`` or ``.html``."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in FORMATS:
            raise ValueError(f"{path}: animation format must be one of {', '.join(FORMATS)}")
        if suffix == ".html":
            return write_atomic(path, self.to_jshtml().encode("utf-8"))
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = PillowWriter(fps=fps) if suffix == ".gif" else FFMpegWriter(fps=fps)
        self.animation.save(str(path), writer=writer)
        return path


def _per_second(times: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts, _ = np.histogram(times, bins=edges)
    return counts / np.diff(edges)


def animate(
    result: ResultLike,
    variant: str | None = None,
    start: float | None = None,
    end: float | None = None,
    *,
    frames: int = 100,
    interval: int = 100,
) -> QueueAnimation:
    """Animate ``variant`` (the first by default) between ``start`` and ``end``
    seconds of simulated time (the whole run by default), in at most
    ``frames`` frames of the sampled levels, ``interval`` ms apart."""
    names = variant_names(result)
    variant = names[0] if variant is None else variant
    if variant not in names:
        raise ValueError(f"no variant {variant!r}: the run has {', '.join(names)}")
    series = result.timeseries
    series = series[series["variant"] == variant]
    times = np.unique(series["time"].to_numpy(float))
    lo = times[0] if start is None else float(start)
    hi = times[-1] if end is None else float(end)
    chosen = times[(times >= lo) & (times <= hi)]
    if chosen.size == 0:
        raise ValueError(f"no samples between {lo:g} s and {hi:g} s")
    chosen = chosen[np.linspace(0, chosen.size - 1, min(frames, chosen.size)).astype(int)]
    frame = series[series["time"].isin(chosen)]
    servers = [str(s) for s in pd.unique(series["server"].astype(str))]
    levels = {
        level: frame.pivot_table(index="time", columns="server", values=level, observed=True)
        .reindex(index=chosen, columns=servers)
        .fillna(0)
        .to_numpy(float)
        for level in ("queue", "in_service", "healthy", "up")
    }

    requests = result.requests
    requests = requests[requests["variant"] == variant]
    edges = np.linspace(lo, max(hi, lo + 1e-9), 61)
    arrivals = _per_second(requests["arrival"].to_numpy(float), edges)
    failed = requests[requests["status"].astype(str) != "ok"]
    failures = _per_second(failed["end"].to_numpy(float), edges)

    color = variant_colors(names)[variant]
    # A fixed layout at screen resolution: every frame is a full redraw.
    fig = Figure(figsize=(7.5, 4.5), dpi=72)
    bars_ax, rate_ax = fig.subplots(2, 1, height_ratios=(3, 1))
    fig.subplots_adjust(left=0.08, right=0.98, top=0.93, bottom=0.11, hspace=0.45)
    x = np.arange(len(servers))
    top = max(1.0, float((levels["queue"] + levels["in_service"]).max()) * 1.1)
    serving = bars_ax.bar(x, np.zeros(len(servers)), color=color, label="in service")
    waiting = bars_ax.bar(
        x, np.zeros(len(servers)), color=color, alpha=0.35, label="queued", edgecolor="none"
    )
    bars_ax.set_xticks(x, servers, rotation=45 if len(servers) > 8 else 0, fontsize="small")
    bars_ax.set_ylim(0, top)
    bars_ax.set_ylabel("requests at the server")
    bars_ax.legend(loc="upper right", fontsize="small", frameon=False)
    title = bars_ax.set_title("")
    centres = (edges[:-1] + edges[1:]) / 2
    rate_ax.plot(centres, arrivals, color="0.3", linewidth=1.2, label="requests/s")
    rate_ax.plot(centres, failures, color="#D55E00", linewidth=1.2, label="failures/s")
    rate_ax.set_xlim(lo, edges[-1])
    rate_ax.set_ylim(bottom=0)
    rate_ax.set_xlabel("simulated time (s)")
    rate_ax.legend(loc="upper left", fontsize="small", frameon=False, ncols=2)
    cursor = rate_ax.axvline(lo, color="0.5", linestyle="--", linewidth=1)

    def draw(i: int) -> list[Artist]:
        queue, busy = levels["queue"][i], levels["in_service"][i]
        up, healthy = levels["up"][i] > 0, levels["healthy"][i] > 0
        for k in range(len(servers)):
            serving[k].set_height(busy[k])
            waiting[k].set_y(busy[k])
            waiting[k].set_height(queue[k])
            serving[k].set_facecolor(color if up[k] else "0.75")
            serving[k].set_edgecolor("#D55E00" if not healthy[k] else "none")
            serving[k].set_linewidth(2.0 if not healthy[k] else 0.0)
        down = [s for s, ok in zip(servers, up, strict=True) if not ok]
        note = f"; down: {', '.join(down)}" if down else ""
        title.set_text(f"{variant} at t = {chosen[i]:.1f} s{note}")
        cursor.set_xdata([chosen[i], chosen[i]])
        return [*serving, *waiting, title, cursor]

    animation = FuncAnimation(fig, draw, frames=len(chosen), interval=interval, blit=False)
    return QueueAnimation(animation, fig, len(chosen))
