"""Drawing a report's plots on two cores, and encoding figures.

:func:`in_turn` forks a child that starts on a list of jobs at once, while
the caller goes on (``lbsim run`` prints the summary); when the caller asks
for the answers it works too. Each process takes the next job not yet taken
from a shared counter, so neither waits while a job is left, whichever
finished its other work first and however unequal the jobs' costs. A plot's
bytes do not depend on the process that drew it. matplotlib is imported
before the fork, once for both, and only when there is something to draw
(``--no-plots`` never imports it): importing it in each process after the
fork would gain nothing on two idle cores and cost its CPU twice.
"""

from __future__ import annotations

import gc
import io
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from lbsim.interrupt import deferred, restore_defaults
from lbsim.report.plots.resultlike import ResultLike, has_data
from lbsim.report.plots.titles import TITLES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = ("png", "svg", "pdf")
_DPI = 110

Encoded = dict[str, dict[str, bytes]]  # plot name -> format -> file contents
T = TypeVar("T")


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
    in ``formats``) with :func:`in_turn`; yields the getter of every plot by
    name, in ``names`` order."""
    if names:  # matplotlib imported once, here: the child inherits it
        import lbsim.report.plots.catalogue  # noqa: F401
    jobs = [partial(_plot_files, result, name, formats) for name in names]
    with in_turn(jobs) as done:
        yield lambda: dict(zip(names, done(), strict=True))


def _plot_files(result: ResultLike, name: str, formats: Sequence[str]) -> dict[str, bytes]:
    from lbsim.report.plots.catalogue import PLOTS

    return encode_all(PLOTS[name](result), formats)


def encode_all(fig: Figure, formats: Sequence[str]) -> dict[str, bytes]:
    """``fig`` as PNG, then in every other format of ``formats``, by format."""
    files = {"png": figure_bytes(fig, "png")}
    for fmt in formats:
        if fmt not in files:
            files[fmt] = figure_bytes(fig, fmt)
    return files


@contextmanager
def in_turn(jobs: Sequence[Callable[[], T]]) -> Iterator[Callable[[], list[T]]]:
    """Start ``jobs`` in a forked child (it shares this process's memory: the
    jobs' data is not copied, only their answers come back); yields the getter
    of every job's answer, in ``jobs`` order, which runs jobs here too until
    none is left. Without ``fork`` (or in a daemon process) the getter runs
    them all. The objects that exist when it starts are kept out of garbage
    collection until it ends (``gc.freeze``): drawing makes matplotlib objects
    by the hundred thousand, and each full collection they set off would walk
    the whole heap (libraries, run, frames) in both processes: 0.1 CPU s.
    Not when something is frozen already (the CLI froze its libraries): an
    unfreeze would thaw that too."""
    thaw = gc.get_freeze_count() == 0
    if thaw:
        gc.freeze()
    try:
        with _in_turn(jobs) as answers:
            yield answers
    finally:
        if thaw:
            gc.unfreeze()


@contextmanager
def _in_turn(jobs: Sequence[Callable[[], T]]) -> Iterator[Callable[[], list[T]]]:
    if len(jobs) < 2 or not hasattr(os, "fork") or multiprocessing.current_process().daemon:
        yield lambda: [job() for job in jobs]
        return
    context = multiprocessing.get_context("fork")
    taken = context.Value("i", 0)  # how many jobs a process has taken so far
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(jobs, taken, send), daemon=True)
    with deferred():
        child.start()
    send.close()

    def answers() -> list[T]:
        mine = _share(jobs, taken)
        theirs = receive.recv()
        if isinstance(theirs, BaseException):
            raise theirs
        both = {**mine, **theirs}
        return [both[i] for i in range(len(jobs))]

    try:
        yield answers
    except BaseException:  # interrupted: the child's answers are not wanted
        child.terminate()
        raise
    finally:
        receive.close()
        child.join()


def _share(jobs: Sequence[Callable[[], T]], taken: Any) -> dict[int, T]:
    """Run jobs in turn, each the next one not taken, until none is left."""
    answers: dict[int, T] = {}
    while True:
        with taken.get_lock():
            index = taken.value
            taken.value += 1
        if index >= len(jobs):
            return answers
        answers[index] = jobs[index]()


def _child(jobs: Sequence[Callable[[], T]], taken: Any, send: Any) -> None:
    restore_defaults()  # a signal ends the child quietly; the parent cleans up
    try:
        answer: dict[int, T] | BaseException = _share(jobs, taken)
    except Exception as error:  # re-raised in the parent
        answer = error
    send.send(answer)
    send.close()
