"""The ``lbsim`` command: parses arguments, calls the API, prints, sets exit codes.

Exit status: 0 success, 1 a failed check (e.g. a p99 regression), 2 bad input
(scenario errors, missing files, bad options). Bad input is reported as
``file:line:col: field.path: message`` lines, never as a traceback. Each
command group lives in its own module; the heavy libraries (pandas,
matplotlib, the engine) are imported inside the commands, so ``lbsim
--version`` and ``lbsim --help`` stay light.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperOption

from lbsim import interrupt
from lbsim._version import __version__
from lbsim.cli import gate, info, run, sweep
from lbsim.cli.common import out

_typed = TyperOption.display_type_rich


def _option_type(self: TyperOption, ctx: Any) -> str | None:
    """Help shows no type for on/off flags (typer would print ``<bool>``) and
    ``<str>...`` rather than ``<list[str]>`` for repeatable options."""
    if self.is_flag:
        return None
    shown = _typed(self, ctx)
    if shown and shown.startswith("<list[") and shown.endswith("]>"):
        return f"<{shown[6:-2]}>..."
    return shown


def _argument_type(self: TyperArgument, ctx: Any) -> str | None:
    shown = TyperArgument.display_type(self, ctx)
    if shown.startswith("<list[") and shown.endswith("]>"):
        return f"<{shown[6:-2]}>..."
    return shown


TyperOption.display_type_rich = _option_type  # type: ignore[method-assign]
TyperArgument.display_type_rich = _argument_type  # type: ignore[method-assign,assignment]

#: ``--help`` examples, one command a line.
EXAMPLES = {
    "run": [
        "lbsim run scenarios/algorithms.yaml",
        "lbsim run scenarios/black_friday.yaml --set duration=4m30s --seed 3 -o reports/bf",
        "lbsim run scenarios/algorithms.yaml --set balancer.algorithm=random  (that variant only)",
        "lbsim run scenarios/retry_storm.yaml --replications 8 --records sample",
    ],
    "validate": ["lbsim validate scenarios/*.yaml", "lbsim validate my.yaml --resolved"],
    "schema": ["lbsim schema > schema/scenario.schema.json"],
    "algorithms": ["lbsim algorithms"],
    "sweep": [
        "lbsim sweep scenarios/load_curve.yaml  (about 3 minutes on 2 idle cores)",
        "lbsim sweep scenarios/algorithms.yaml -r 10 --grid clients.arrivals.rate=50,60,70",
        "lbsim sweep scenarios/load_curve.yaml --jobs 1 --out reports/curve",
    ],
    "report": ["lbsim report reports/black_friday"],
    "diff": ["lbsim diff reports/before reports/after"],
    "baseline": ["lbsim baseline reports/black_friday -o baselines/black_friday.json"],
    "check": [
        "lbsim check reports/black_friday -b baselines/black_friday.json",
        "lbsim check reports/bf -b base.json -m latency_p99 --max-regression 10%",
    ],
}


def _epilog(command: str) -> str:
    lines = EXAMPLES.get(command, [])
    return "Examples:\n\n" + "\n\n".join(f"  {line}" for line in lines) if lines else ""


app = typer.Typer(
    help="Simulate load-balanced clusters and compare balancing strategies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command(epilog=_epilog("run"))(run.run)
app.command(epilog=_epilog("validate"))(info.validate)
app.command(epilog=_epilog("schema"))(info.schema)
app.command(name="algorithms", epilog=_epilog("algorithms"))(info.list_algorithms)
app.command(epilog=_epilog("sweep"))(sweep.sweep)
app.command(epilog=_epilog("report"))(info.report)
app.command(epilog=_epilog("diff"))(gate.diff)
app.command(epilog=_epilog("baseline"))(gate.baseline)
app.command(epilog=_epilog("check"))(gate.check)


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
        if interrupt.received is not None and done.code in (0, 1, None):
            # click's "Aborted!" (1), or the work ended although a signal came
            raise SystemExit(128 + interrupt.received) from None
        raise
