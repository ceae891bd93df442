"""The ``lbsim`` command line: a typer app, one module per command group."""

from lbsim.cli.commands import app, main

__all__ = ["app", "main"]
