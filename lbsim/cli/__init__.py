"""The ``lbsim`` command line: a typer app, one module per command group."""

from lbsim.cli.app import app, main

__all__ = ["app", "main"]
