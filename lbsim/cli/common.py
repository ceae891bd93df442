"""What every command shares: the consoles, failing with an exit code,
``--set`` parsing and the option types used by several commands."""

from __future__ import annotations

import gc
import os
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console


def _console(**options: Any) -> Console:
    """A console printing user strings (file and variant names) as they are:
    no rich markup (``x[/]ok.yaml``), no emoji codes (``c:x:d.yaml``)."""
    return Console(markup=False, emoji=False, **options)


out = _console()  # the terminal's width, or $COLUMNS
if not out.is_terminal and "COLUMNS" not in os.environ:
    out = _console(width=100)  # tables are laid out for 100 columns when piped
err = _console(stderr=True)

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a field: path=value (repeatable), e.g. seed=3."),
]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force", help="Run even what the estimate says is out of reach (time or memory)."
    ),
]
OutsideOption = Annotated[
    bool,
    typer.Option(
        "--allow-outside-files",
        help="Let a scenario read files (empirical `file:`) outside its own folder.",
    ),
]
MetricOption = Annotated[
    list[str] | None,
    typer.Option("--metric", "-m", help="A summary metric, e.g. latency_p99 (repeatable)."),
]


def working() -> None:
    """The command has loaded its modules and starts making garbage: turn the
    collector back on (:func:`lbsim.cli.main` starts with it off), with what
    exists now frozen out of its sight, so that no collection walks the
    libraries (nor a forked worker's pages). Nothing when the collector is
    on (the app called in-process)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def fail(lines: list[str] | str, code: int = 2) -> NoReturn:
    """Print ``lines`` to stderr as they are and exit with ``code``."""
    for line in [lines] if isinstance(lines, str) else lines:
        err.print(line, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def overrides(assignments: list[str] | None, seed: int | None) -> dict[str, Any]:
    """The ``--set`` pairs (and ``--seed``) as dotted path -> value."""
    from lbsim.scenario import parse_override

    found = dict(parse_override(a) for a in assignments or [])
    if seed is not None:
        found["seed"] = seed
    return found


def check_work(scenarios: list[Any], replications: int, force: bool, where: str) -> None:
    """Exit 2 with the figure if simulating ``scenarios`` (each
    ``replications`` times) is out of reach, unless ``force``."""
    from lbsim.runner.work import check_work as check
    from lbsim.runner.work import estimate
    from lbsim.scenario import ScenarioError

    try:
        check(estimate(scenarios, replications), force, where)
    except ScenarioError as error:
        fail([str(p) for p in error.problems])


def print_table(table: Any) -> None:
    """A table in full: when stdout is a file or a CI log, not cut to its 80 columns."""
    if out.is_terminal:
        out.print(table)
    else:
        _console(width=240, highlight=False).print(table, crop=False)
