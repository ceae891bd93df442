"""Reports of a run: plots, a self-contained HTML page, a terminal table.

Reporting only reads a result's DataFrames and meta (see
:class:`~lbsim.report.plots.ResultLike`); it never touches the engine.
:func:`write_report` is what ``lbsim run`` calls; notebooks can take single
figures from :func:`figures` or the ``plots`` module and show them inline.
Every file is written atomically: to a temporary name in the same folder,
then renamed, so an interrupted run never leaves a half-written file that
looks complete.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from lbsim.io import write_atomic
from lbsim.report.html import render_html, summary_html
from lbsim.report.plots import (
    CAPTIONS,
    PLOTS,
    TITLES,
    ResultLike,
    errors_over_time,
    figures,
    latency_cdf,
    latency_over_time,
    queue_depth,
    server_load,
    variant_colors,
    variant_names,
)
from lbsim.report.table import summary_table

__all__ = [
    "CAPTIONS",
    "PLOTS",
    "TITLES",
    "ResultLike",
    "errors_over_time",
    "figure_bytes",
    "figures",
    "latency_cdf",
    "latency_over_time",
    "queue_depth",
    "render_html",
    "server_load",
    "summary_html",
    "summary_table",
    "variant_colors",
    "variant_names",
    "write_report",
]

FORMATS = ("png", "svg", "pdf")
_DPI = 110


def figure_bytes(fig: Figure, fmt: str = "png") -> bytes:
    """The figure encoded as ``png``, ``svg`` or ``pdf``, without a date stamp."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown plot format {fmt!r}: expected one of {', '.join(FORMATS)}")
    buffer = io.BytesIO()
    # No creation date, so the same run gives the same files.
    metadata = {"png": {}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}[fmt]
    fig.savefig(buffer, format=fmt, dpi=_DPI, metadata=metadata)
    return buffer.getvalue()


def write_report(
    result: ResultLike, out_dir: Path, formats: Sequence[str] = ("png",), plots: bool = True
) -> list[Path]:
    """Write every plot (one file per format) and ``report.html`` into ``out_dir``.

    The HTML always embeds PNGs, whatever ``formats`` asks for on disk; with
    ``plots=False`` it has the tables only and no plot is drawn.
    Returns the written paths: plots in report order, then the HTML.
    """
    drawn = figures(result) if plots else {}
    return write_page(drawn, lambda images: render_html(result, images), out_dir, formats)


def write_page(
    plots: Mapping[str, Figure],
    render: Callable[[dict[str, bytes]], str],
    out_dir: Path,
    formats: Sequence[str],
) -> list[Path]:
    """Write ``plots`` (one file per format) and the page ``render`` makes of
    their PNGs as ``report.html``; returns the paths, the HTML last."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown plot format(s) {unknown}: expected some of {FORMATS}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    images: dict[str, bytes] = {}
    for name, fig in plots.items():
        images[name] = figure_bytes(fig, "png")
        for fmt in dict.fromkeys(formats):
            data = images[name] if fmt == "png" else figure_bytes(fig, fmt)
            written.append(write_atomic(out_dir / f"{name}.{fmt}", data))
    written.append(write_atomic(out_dir / "report.html", render(images).encode("utf-8")))
    return written
