"""The ``lbsim`` command line: a typer app, one module per command group.

``lbsim --version`` is answered here, before typer, rich or anything of the
scenario is imported; every other command goes through :mod:`lbsim.cli.commands`
(``app`` is imported on first use). Commands run with pydantic's plugins off
(``PYDANTIC_DISABLE_PLUGINS``, unless set): they observe validation, which a
command line has no use for, and looking for them reads the metadata of every
installed distribution (about 0.1 s a process; typer does the same for its
own models). Set ``PYDANTIC_DISABLE_PLUGINS=`` (empty) to load them.

The garbage collector is off while a command imports its modules (they
make some 10^5 long-lived objects and no garbage: collecting cost 0.1 CPU s
in a tiny run); `run`, `sweep` and `report` turn it back on once loaded
(:func:`lbsim.cli.common.working`), the short ones run without it. When the
command is done the heap is frozen (``gc.freeze``): the interpreter's last
collection at exit would otherwise walk every object of the libraries
(0.1-0.2 CPU s after a run that imported pandas and matplotlib).
"""

from __future__ import annotations

import gc
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lbsim.cli.commands import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``lbsim`` console script (and ``python -m lbsim``)."""
    if sys.argv[1:] == ["--version"]:
        from lbsim._version import __version__

        sys.stdout.write(f"lbsim {__version__}\n")
        return
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    gc.disable()  # until the command has imported its modules: lbsim.cli.common.working
    from lbsim.cli.commands import main as run_app

    try:
        run_app()
    finally:
        gc.freeze()  # the exit's last collection would walk every object of the libraries


def __getattr__(name: str) -> Any:
    if name == "app":
        from lbsim.cli.commands import app

        return app
    raise AttributeError(f"module 'lbsim.cli' has no attribute {name!r}")
