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
import multiprocessing
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from matplotlib.figure import Figure

from lbsim.interrupt import deferred, restore_defaults
from lbsim.io import write_atomic
from lbsim.report.html import render_html, summary_html
from lbsim.report.plots import (
    CAPTIONS,
    PLOTS,
    TITLES,
    ResultLike,
    errors_over_time,
    figures,
    has_data,
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
    _check(formats)
    names = [name for name in PLOTS if has_data(name, result)] if plots else []
    half = names[len(names) // 2 :]
    with _forked(lambda: _encoded(result, half, formats)) as theirs:
        mine = _encoded(result, names[: len(names) // 2], formats)
        images = {**mine, **theirs()}
    drawn = {name: images[name] for name in names}
    return write_encoded(drawn, lambda pngs: render_html(result, pngs), out_dir, formats)


Encoded = dict[str, dict[str, bytes]]  # plot name -> format -> file contents


def _encoded(result: ResultLike, names: Sequence[str], formats: Sequence[str]) -> Encoded:
    """Draw the plots ``names`` and encode each as PNG and every format asked for."""
    encoded: Encoded = {}
    for name in names:
        fig = PLOTS[name](result)
        png = figure_bytes(fig, "png")
        encoded[name] = {fmt: png if fmt == "png" else figure_bytes(fig, fmt) for fmt in formats}
        encoded[name]["png"] = png
    return encoded


@contextmanager
def _forked(work: Callable[[], Encoded]) -> Iterator[Callable[[], Encoded]]:
    """Run ``work`` in a forked child (it shares the parent's memory, so the
    result is not copied) while the caller does its share; yields the getter
    of the child's answer. Without ``fork``, ``work`` runs in the getter."""
    if not hasattr(os, "fork") or multiprocessing.current_process().daemon:
        yield work
        return
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_answer, args=(work, send), daemon=True)
    with deferred():
        child.start()
    send.close()

    def answer() -> Encoded:
        answer = receive.recv()
        if isinstance(answer, BaseException):
            raise answer
        return cast(Encoded, answer)

    try:
        yield answer
    except BaseException:  # interrupted: the child's plots are not wanted
        child.terminate()
        raise
    finally:
        receive.close()
        child.join()


def _answer(work: Callable[[], Encoded], send: Any) -> None:
    restore_defaults()  # a signal ends the child quietly; the parent cleans up
    try:
        answer: Encoded | BaseException = work()
    except Exception as error:  # re-raised in the parent
        answer = error
    send.send(answer)
    send.close()


def write_page(
    plots: Mapping[str, Figure],
    render: Callable[[dict[str, bytes]], str],
    out_dir: Path,
    formats: Sequence[str],
) -> list[Path]:
    """Write ``plots`` (one file per format) and the page ``render`` makes of
    their PNGs as ``report.html``; returns the paths, the HTML last."""
    _check(formats)
    encoded = {
        name: {fmt: figure_bytes(fig, fmt) for fmt in dict.fromkeys(["png", *formats])}
        for name, fig in plots.items()
    }
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
