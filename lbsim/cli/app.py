"""The ``lbsim`` command: parses arguments, calls the API, prints, sets exit codes.

Exit status: 0 success, 1 a failed check (e.g. a p99 regression), 2 bad input
(scenario errors, missing files, bad options). Bad input is reported as
``file:line:col: field.path: message`` lines, never as a traceback. Each
command group lives in its own module; the heavy libraries (pandas,
matplotlib, the engine) are imported inside the commands, so ``lbsim
--version`` and ``lbsim --help`` stay light.
"""

from __future__ import annotations

from typing import Annotated

import typer

from lbsim import interrupt
from lbsim._version import __version__
from lbsim.cli import gate, info, run, sweep
from lbsim.cli.common import out

app = typer.Typer(
    help="Simulate load-balanced clusters and compare balancing strategies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(run.run)
app.command()(info.validate)
app.command()(info.schema)
app.command(name="algorithms")(info.list_algorithms)
app.command()(sweep.sweep)
app.command()(info.report)
app.command()(gate.diff)
app.command()(gate.baseline)
app.command()(gate.check)


def _version(value: bool) -> None:
    if value:
        out.print(f"lbsim {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """lbsim: discrete-event simulation of load balancers."""


def main() -> None:
    """Entry point of the ``lbsim`` console script: SIGTERM handled like
    Ctrl-C (:mod:`lbsim.interrupt`), exit status 128 + the signal's number."""
    interrupt.install()
    try:
        app()
    except SystemExit as done:
        if interrupt.received is not None and done.code == 1:  # click's "Aborted!"
            raise SystemExit(128 + interrupt.received) from None
        raise
