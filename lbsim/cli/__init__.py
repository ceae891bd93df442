"""The ``lbsim`` command line: a typer app, one module per command group.

``lbsim --version`` is answered here, before typer, rich or anything of the
scenario is imported; every other command goes through :mod:`lbsim.cli.commands`
(``app`` is imported on first use).
"""

from __future__ import annotations

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
    from lbsim.cli.commands import main as run_app

    run_app()


def __getattr__(name: str) -> Any:
    if name == "app":
        from lbsim.cli.commands import app

        return app
    raise AttributeError(f"module 'lbsim.cli' has no attribute {name!r}")
