"""The ``lbsim`` command: parses arguments, calls the API, prints, sets exit codes.

Exit status: 0 success, 1 a failed check (e.g. a p99 regression), 2 bad input
(scenario errors, missing files, bad options). Bad input is reported as
``file:line:col: field.path: message`` lines, never as a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from lbsim import __version__, algorithms
from lbsim.api import RunProgress, load_scenario, replicate
from lbsim.api import run as run_scenario
from lbsim.result import atomic_path
from lbsim.scenario import ScenarioError, json_schema, parse_override, resolved

app = typer.Typer(
    help="Simulate load-balanced clusters and compare balancing strategies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


def _fail(lines: list[str] | str, code: int = 2) -> NoReturn:
    for line in [lines] if isinstance(lines, str) else lines:
        err.print(line, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _overrides(assignments: list[str] | None, seed: int | None) -> dict[str, Any]:
    overrides = dict(parse_override(a) for a in assignments or [])
    if seed is not None:
        overrides["seed"] = seed
    return overrides


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


SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a field: path=value (repeatable), e.g. seed=3."),
]


def _progress_bar(quiet: bool) -> Progress:
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    return Progress(*columns, console=err, disable=quiet, transient=True)


def _tracker(bar: Progress, label: str, total: int) -> RunProgress:
    task = bar.add_task(label, total=total)

    def progress(index: int, count: int, name: str, fraction: float) -> None:
        description = f"{label}: {name} ({index + 1}/{count})"
        bar.update(task, completed=index + fraction, description=description)

    return progress


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder [default: reports/<name>].")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Override the scenario's seed.")] = None,
    assignments: SetOption = None,
    replications: Annotated[
        int,
        typer.Option(
            min=0,
            help="Also run N independent replications (seeds derived from the scenario seed) "
            "and write replications.csv, for `lbsim check` with confidence intervals.",
        ),
    ] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Simulate every variant of SCENARIO; print the summary; write results and report."""
    from lbsim.report import write_report
    from lbsim.report.table import summary_table

    try:
        loaded = load_scenario(scenario, _overrides(assignments, seed))
    except ScenarioError as error:
        _fail([str(p) for p in error.problems])
    target = out_dir or Path("reports") / loaded.base.name
    with _progress_bar(quiet) as bar:
        tracker = _tracker(bar, loaded.base.name, len(loaded.variants))
        result = run_scenario(loaded, progress=tracker)
        table = None
        if replications:
            total = replications * len(loaded.variants)
            table = replicate(loaded, replications, progress=_tracker(bar, "replications", total))
    out.print(summary_table(result.summary))
    paths = result.save(target)
    if table is not None:
        with atomic_path(target / "replications.csv") as tmp:
            table.to_csv(tmp, index=False)
        paths.append(target / "replications.csv")
    paths += write_report(result, target)
    out.print(f"wrote {len(paths)} files to {target}/ (open {target / 'report.html'})")


@app.command()
def validate(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario files to check.")],
    assignments: SetOption = None,
    show_resolved: Annotated[
        bool, typer.Option("--resolved", help="Print each variant with every default filled in.")
    ] = False,
) -> None:
    """Check scenario files; report every problem with file, line and field."""
    problems: list[str] = []
    for path in scenarios:
        try:
            loaded = load_scenario(path, _overrides(assignments, None))
        except ScenarioError as error:
            problems += [str(p) for p in error.problems]
            continue
        out.print(f"{path}: ok ({len(loaded.variants)} variant(s))", highlight=False)
        if show_resolved:
            for variant in loaded.variants:
                data = {"variant": variant.name, **resolved(variant.scenario)}
                out.print_json(json.dumps(data))
    if problems:
        _fail(problems)


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files."""
    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


@app.command(name="algorithms")
def list_algorithms() -> None:
    """List the balancing algorithms: built-ins and plug-ins, a line each."""
    specs = algorithms.available()
    width = max(map(len, specs))
    for name, spec in specs.items():
        origin = "" if spec.origin == "built-in" else f" [{spec.origin}]"
        sys.stdout.write(f"{name:<{width}}  {spec.summary}{origin}\n")


def main() -> None:
    """Entry point of the ``lbsim`` console script."""
    app()
