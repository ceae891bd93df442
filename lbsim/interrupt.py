"""SIGTERM handled like SIGINT: both become an exception where the program is.

By default SIGTERM kills Python at once: no ``finally`` runs, so temporary
files stay behind and a process pool's workers run on. :func:`install` (the
CLI calls it) turns SIGINT into :class:`KeyboardInterrupt` and SIGTERM into
:class:`Terminated`, its subclass, so the same cleanup runs for both. A second
signal during that cleanup is ignored, so it cannot cut the cleanup short.
"""

from __future__ import annotations

import signal
from types import FrameType

#: The signal received, once one was.
received: int | None = None


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt."""


def exit_code(error: BaseException) -> int:
    """The shell's status for an interrupt: 128 + the signal's number."""
    signum = signal.SIGTERM if isinstance(error, Terminated) else signal.SIGINT
    return 128 + int(signum)


def _raise(signum: int, frame: FrameType | None) -> None:
    global received
    received = signum
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def install() -> None:
    """Raise :class:`KeyboardInterrupt` on SIGINT, :class:`Terminated` on SIGTERM."""
    signal.signal(signal.SIGINT, _raise)
    signal.signal(signal.SIGTERM, _raise)


def restore_defaults() -> None:
    """Signals back to the OS defaults (in a forked helper, which should just die)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
