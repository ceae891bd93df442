"""The ``lbsim`` command line: a typer app, one module per command group.

:func:`main` answers ``lbsim --version`` before importing typer at all; the
command modules import their heavy libraries inside the commands.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lbsim.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``lbsim`` console script."""
    if sys.argv[1:] == ["--version"]:
        from lbsim._version import __version__

        sys.stdout.write(f"lbsim {__version__}\n")
        return
    from lbsim.cli.app import app

    app()


def __getattr__(name: str) -> Any:
    if name == "app":
        from lbsim.cli.app import app

        return app
    raise AttributeError(f"module 'lbsim.cli' has no attribute {name!r}")
