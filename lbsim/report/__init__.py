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

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lbsim.io import write_atomic
from lbsim.report.drawing import FORMATS, drawing, encode_all, figure_bytes, in_turn, plot_names
from lbsim.report.html import render_html, summary_html
from lbsim.report.plots import CAPTIONS, TITLES, ResultLike, has_data
from lbsim.report.table import summary_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from lbsim.report.plots import (
        PLOTS,
        errors_over_time,
        figures,
        latency_cdf,
        latency_over_time,
        queue_depth,
        server_load,
        variant_colors,
        variant_names,
    )

__all__ = [
    "CAPTIONS",
    "PLOTS",
    "TITLES",
    "ResultLike",
    "errors_over_time",
    "figure_bytes",
    "figures",
    "has_data",
    "latency_cdf",
    "latency_over_time",
    "queue_depth",
    "render_html",
    "report_writer",
    "server_load",
    "summary_html",
    "summary_table",
    "variant_colors",
    "variant_names",
    "write_report",
]

# the plots' names, imported from lbsim.report.plots (and matplotlib) on first use
_PLOTTING = frozenset(
    {
        "PLOTS",
        "errors_over_time",
        "figures",
        "latency_cdf",
        "latency_over_time",
        "queue_depth",
        "server_load",
        "variant_colors",
        "variant_names",
    }
)


def write_report(
    result: ResultLike, out_dir: Path, formats: Sequence[str] = ("png",), plots: bool = True
) -> list[Path]:
    """Write every plot (one file per format) and ``report.html`` into ``out_dir``.

    The HTML always embeds PNGs, whatever ``formats`` asks for on disk; with
    ``plots=False`` it has the tables only and no plot is drawn.
    Returns the written paths: plots in report order, then the HTML.
    """
    with report_writer(result, formats, plots) as write:
        return write(out_dir)


@contextmanager
def report_writer(
    result: ResultLike, formats: Sequence[str] = ("png",), plots: bool = True
) -> Iterator[Callable[[Path], list[Path]]]:
    """:func:`write_report` in two steps: the plots start drawing in a forked
    child now, while the caller does other work in the block (``lbsim run``
    prints the summary); the ``write(out_dir)`` it yields draws the rest here
    and writes as :func:`write_report` does."""
    _check(formats)
    names = plot_names(result) if plots else []
    with drawing(result, names, formats) as drawn:

        def write(out_dir: Path) -> list[Path]:
            return write_encoded(drawn(), lambda pngs: render_html(result, pngs), out_dir, formats)

        yield write


def write_page(
    plots: Mapping[str, Figure],
    render: Callable[[dict[str, bytes]], str],
    out_dir: Path,
    formats: Sequence[str],
) -> list[Path]:
    """Write ``plots`` (one file per format) and the page ``render`` makes of
    their PNGs as ``report.html``; returns the paths, the HTML last."""
    _check(formats)
    # a figure's formats in one process, PNG first: a draw can move an SVG's
    # coordinates in the last digit, so the same order gives the same bytes
    jobs = [partial(encode_all, fig, formats) for fig in plots.values()]
    with in_turn(jobs) as done:
        encoded = dict(zip(plots, done(), strict=True))  # half here, half in a forked child
    return write_encoded(encoded, render, out_dir, formats)


def _check(formats: Sequence[str]) -> None:
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown plot format(s) {unknown}: expected some of {FORMATS}")


def write_encoded(
    plots: Mapping[str, Mapping[str, bytes]],
    render: Callable[[dict[str, bytes]], str],
    out_dir: Path,
    formats: Sequence[str],
) -> list[Path]:
    """Write encoded plots (name -> format -> bytes, PNG always there), the
    ``formats`` asked for, and ``report.html``; returns the paths, the HTML last."""
    _check(formats)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, files in plots.items():
        for fmt in dict.fromkeys(formats):
            written.append(write_atomic(out_dir / f"{name}.{fmt}", files[fmt]))
    images = {name: files["png"] for name, files in plots.items()}
    written.append(write_atomic(out_dir / "report.html", render(images).encode("utf-8")))
    return written


def __getattr__(name: str) -> Any:
    if name not in _PLOTTING:
        raise AttributeError(f"module 'lbsim.report' has no attribute {name!r}")
    value = getattr(import_module("lbsim.report.plots"), name)
    globals()[name] = value
    return value
