"""Drawing a report's plots on two cores, and encoding figures.

:func:`drawing` forks a child that starts drawing at once, while the caller
goes on (printing the summary, say); when the caller asks for the plots it
draws too. Each process takes the next plot not yet taken from a shared
counter, so neither waits while a plot is left, whichever finished its other
work first and however unequal the plots' costs. A plot's bytes do not depend
on the process that drew it. matplotlib is imported only here, by the
processes that draw (``--no-plots`` never imports it).
"""

from __future__ import annotations

import io
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from lbsim.interrupt import deferred, restore_defaults
from lbsim.report.plots.resultlike import ResultLike, has_data
from lbsim.report.plots.titles import TITLES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = ("png", "svg", "pdf")
_DPI = 110

Encoded = dict[str, dict[str, bytes]]  # plot name -> format -> file contents


def figure_bytes(fig: Figure, fmt: str = "png") -> bytes:
    """The figure encoded as ``png``, ``svg`` or ``pdf``, without a date stamp."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown plot format {fmt!r}: expected one of {', '.join(FORMATS)}")
    buffer = io.BytesIO()
    # No creation date, so the same run gives the same files.
    metadata = {"png": {}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}[fmt]
    fig.savefig(buffer, format=fmt, dpi=_DPI, metadata=metadata)
    return buffer.getvalue()


def plot_names(result: ResultLike) -> list[str]:
    """The report's plots that have something to show, in report order (that of
    ``TITLES``, the same as ``PLOTS``'s, known without importing matplotlib)."""
    return [name for name in TITLES if has_data(name, result)]


@contextmanager
def drawing(
    result: ResultLike, names: Sequence[str], formats: Sequence[str]
) -> Iterator[Callable[[], Encoded]]:
    """Start drawing the plots ``names`` (each encoded as PNG and every format
    in ``formats``) in a forked child; yields the getter of every plot by
    name, in ``names`` order, which draws in this process too until none is
    left. Without ``fork`` (or in a daemon process) the getter draws them all."""
    if not names or not hasattr(os, "fork") or multiprocessing.current_process().daemon:
        yield lambda: _share(result, names, formats, None)
        return
    context = multiprocessing.get_context("fork")
    taken = context.Value("i", 0)  # how many plots a process has taken so far
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(result, names, formats, taken, send), daemon=True)
    with deferred():
        child.start()
    send.close()

    def plots() -> Encoded:
        mine = _share(result, names, formats, taken)
        theirs = receive.recv()
        if isinstance(theirs, BaseException):
            raise theirs
        both = {**mine, **theirs}
        return {name: both[name] for name in names}

    try:
        yield plots
    except BaseException:  # interrupted: the child's plots are not wanted
        child.terminate()
        raise
    finally:
        receive.close()
        child.join()


def _share(result: ResultLike, names: Sequence[str], formats: Sequence[str], taken: Any) -> Encoded:
    """Draw plots in turn, each the next one not taken (all of them without a
    shared counter ``taken``), until none is left."""
    if not names:
        return {}
    from lbsim.report.plots.catalogue import PLOTS

    encoded: Encoded = {}
    while True:
        if taken is None:
            index = len(encoded)
        else:
            with taken.get_lock():
                index = taken.value
                taken.value += 1
        if index >= len(names):
            return encoded
        name = names[index]
        fig = PLOTS[name](result)
        png = figure_bytes(fig, "png")
        encoded[name] = {fmt: png if fmt == "png" else figure_bytes(fig, fmt) for fmt in formats}
        encoded[name]["png"] = png


def _child(
    result: ResultLike, names: Sequence[str], formats: Sequence[str], taken: Any, send: Any
) -> None:
    restore_defaults()  # a signal ends the child quietly; the parent cleans up
    try:
        answer: Encoded | BaseException = _share(result, names, formats, taken)
    except Exception as error:  # re-raised in the parent
        answer = error
    send.send(answer)
    send.close()
