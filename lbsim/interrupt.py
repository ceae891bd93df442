"""SIGTERM handled like SIGINT: both become an exception where the program is.

By default SIGTERM kills Python at once: no ``finally`` runs, so temporary
files stay behind and a process pool's workers run on. :func:`install` (the
CLI calls it) turns SIGINT into :class:`KeyboardInterrupt` and SIGTERM into
:class:`Terminated`, its subclass, so the same cleanup runs for both. A second
signal during that cleanup is ignored, so it cannot cut the cleanup short.

Python drops an exception raised where it cannot propagate (an at-fork hook,
a ``__del__``), so a signal can arrive and be lost; :func:`check`, called at
safe points (progress callbacks, between writing steps), raises it again
until :func:`exit_code` says it was handled.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_SIGNALS = {signal.SIGINT, signal.SIGTERM}

#: The signal received, once one was.
received: int | None = None
_pending = False


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt."""


def _exception() -> KeyboardInterrupt:
    return Terminated() if received == signal.SIGTERM else KeyboardInterrupt()


def check() -> None:
    """Raise the interrupt again if one arrived and was lost on the way."""
    if _pending:
        raise _exception()


def exit_code(error: BaseException) -> int:
    """The shell's status for an interrupt: 128 + the signal's number (and
    the interrupt counts as handled)."""
    global _pending
    _pending = False
    signum = signal.SIGTERM if isinstance(error, Terminated) else signal.SIGINT
    return 128 + int(signum)


_holding = 0


def _raise(signum: int, frame: FrameType | None) -> None:
    global received, _pending
    received, _pending = signum, True
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if not _holding:
        raise _exception()


@contextmanager
def held() -> Iterator[None]:
    """An interrupt during the block is noted, not raised, and raised right
    after it. (A signal mask on this thread is not enough where other threads
    run: the kernel gives the signal to one of them, and Python still runs the
    handler in the main thread at once.)"""
    global _holding
    _holding += 1
    try:
        yield
    finally:
        _holding -= 1
        if not _holding:
            check()


def install() -> None:
    """Raise :class:`KeyboardInterrupt` on SIGINT, :class:`Terminated` on SIGTERM."""
    signal.signal(signal.SIGINT, _raise)
    signal.signal(signal.SIGTERM, _raise)


@contextmanager
def deferred() -> Iterator[None]:
    """SIGINT and SIGTERM held back during the block and delivered right after
    it: around a fork, whose hooks would print and drop the exception."""
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)


def restore_defaults() -> None:
    """Signals back to the OS defaults and unblocked (in a forked helper,
    which should just die)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
