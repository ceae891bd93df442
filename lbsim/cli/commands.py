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

from lbsim import algorithms
from lbsim._version import __version__
from lbsim.io import atomic_path
from lbsim.runner.run import RunProgress, load_scenario, replicate
from lbsim.runner.run import run as run_scenario
from lbsim.scenario import ScenarioError, json_schema, parse_override, resolved

app = typer.Typer(
    help="Simulate load-balanced clusters and compare balancing strategies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
if not out.is_terminal:
    out = Console(width=100)  # tables are laid out for 100 columns when piped
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


@app.command()
def sweep(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    replications: Annotated[
        int | None,
        typer.Option(
            "--replications",
            "-r",
            min=1,
            help="Runs per grid point \\[default: the file's sweep.replications or 1].",
        ),
    ] = None,
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            "-g",
            help="Vary a field over values: path=v1,v2,... (repeatable; on top of compare:).",
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Worker processes \\[default: all cores]."),
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask",
            envvar="DASK_SCHEDULER_ADDRESS",
            help="Run on Dask: 'local' (a LocalCluster) or a scheduler, tcp://host:8786.",
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder \\[default: reports/<name>/sweep]."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Override the scenario's seed.")] = None,
    assignments: SetOption = None,
    resume: Annotated[
        bool, typer.Option("--resume/--no-resume", help="Reuse the finished runs in OUT/runs.")
    ] = True,
    keep_requests: Annotated[
        bool, typer.Option("--keep-requests", help="Also keep every run's per-request records.")
    ] = False,
    ci: Annotated[
        str, typer.Option("--ci", help="Intervals: t, or bootstrap (BCa) for percentiles.")
    ] = "t",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Run grid points x variants x replications; write tidy tables with confidence
    intervals, plots and report.html. Exit 1 if a run failed (the others are kept)."""
    import contextlib

    from rich.progress import MofNCompleteColumn

    from lbsim.report.sweep_plots import sweep_table, write_sweep_report
    from lbsim.runner.sweep import dask_executor, parse_grid, plan
    from lbsim.runner.sweep import sweep as run_sweep

    if ci not in ("t", "bootstrap"):
        _fail(f"--ci: {ci!r} is not one of: t, bootstrap")
    try:
        the_plan = plan(
            scenario,
            replications=replications,
            grid=parse_grid(grid or []),
            overrides=_overrides(assignments, seed),
            keep_requests=keep_requests,
        )
    except ScenarioError as error:
        _fail([str(p) for p in error.problems])
    target = out_dir or Path("reports") / the_plan.loaded.base.name / "sweep"
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with contextlib.ExitStack() as stack:
        executor = None
        if dask:
            try:
                executor = stack.enter_context(dask_executor(dask, jobs))
            except ImportError as error:
                _fail(str(error))
            except OSError as error:
                _fail(f"--dask {dask}: cannot reach the scheduler: {error}")
        bar = stack.enter_context(Progress(*columns, console=err, disable=quiet, transient=True))
        task = bar.add_task(f"{the_plan.loaded.base.name} runs", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            result = run_sweep(
                the_plan,
                executor=executor,
                jobs=jobs,
                out=target,
                resume=resume,
                ci="bootstrap" if ci == "bootstrap" else "t",
                progress=progress,
            )
        except KeyboardInterrupt:
            _fail(
                f"interrupted: finished runs are kept in {target / 'runs'}; "
                "run the same command again to resume",
                130,
            )
    meta = result.meta
    out.print(sweep_table(result.summary, meta["grid_params"]))
    for failure in result.failures.to_dict("records"):
        values = ", ".join(f"{p}={failure[p]}" for p in meta["grid_params"])
        where = f"point {failure['point']}" + (f" ({values})" if values else "")
        err.print(
            f"failed: {where}, replication {failure['replication']} (seed "
            f"{failure['run_seed']}), variant {failure['variant']}: {failure['error']}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    paths = write_sweep_report(result, target)
    out.print(
        f"{meta['runs']} runs: {meta['ran']} ran, {meta['reused']} reused from "
        f"{target / 'runs'}, {meta['failed']} failed; wrote {len(paths) + 5} files to "
        f"{target}/ (open {target / 'report.html'})",
        highlight=False,
    )
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by `lbsim run`.")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here; default: RUN_DIR.")
    ] = None,
    formats: Annotated[
        list[str] | None,
        typer.Option("--format", "-f", help="Plot file format: png, svg, pdf (repeatable)."),
    ] = None,
) -> None:
    """Re-render the plots and report.html of a saved run, without re-running it."""
    from lbsim.analysis.result import Result
    from lbsim.report import FORMATS, write_report

    unknown = [f for f in formats or [] if f not in FORMATS]
    if unknown:
        _fail(f"--format: unknown {', '.join(unknown)}; expected some of {', '.join(FORMATS)}")
    try:
        result = Result.load(run_dir)
    except (OSError, ValueError) as error:
        _fail(f"{error}; expected the output folder of `lbsim run`")
    target = out_dir or run_dir
    paths = write_report(result, target, formats or ("png",))
    out.print(f"wrote {len(paths)} files to {target}/ (open {target / 'report.html'})")


def _print_table(table: Any) -> None:
    """A table in full: when stdout is a file or a CI log, not cut to its 80 columns."""
    if out.is_terminal:
        out.print(table)
    else:
        Console(width=240, highlight=False).print(table, crop=False)


MetricOption = Annotated[
    list[str] | None,
    typer.Option("--metric", "-m", help="A summary metric, e.g. latency_p99 (repeatable)."),
]


@app.command()
def diff(
    run_a: Annotated[Path, typer.Argument(help="Run folder A (the reference).")],
    run_b: Annotated[Path, typer.Argument(help="Run folder B (compared with A).")],
    metrics: MetricOption = None,
    all_metrics: Annotated[bool, typer.Option("--all", help="Every shared metric.")] = False,
    plot: Annotated[
        Path | None,
        typer.Option(help="Comparison plot (.png, .svg, .pdf); default: RUN_B/diff.png."),
    ] = None,
    csv: Annotated[Path | None, typer.Option(help="Also write the change table as CSV.")] = None,
) -> None:
    """Print what changed from run A to run B, per variant and metric; plot it."""
    from lbsim.gate import diff as diffs
    from lbsim.gate.check import CheckError, read_run
    from lbsim.report import FORMATS

    target = plot or run_b / "diff.png"
    if target.suffix.lstrip(".").lower() not in FORMATS:
        _fail(f"--plot {target}: expected a .png, .svg or .pdf file")
    try:
        a, b = read_run(run_a), read_run(run_b)
        chosen = None if all_metrics else metrics or diffs.key_metrics(a, b)
        frame = diffs.compare_runs(a, b, chosen)
    except CheckError as error:
        _fail(str(error))
    _print_table(diffs.diff_table(frame, str(run_a), str(run_b)))
    for note in diffs.unmatched(a, b):
        out.print(f"note: {note}", highlight=False, soft_wrap=True)
    written = [diffs.write_plot(diffs.diff_figure(frame, str(run_a), str(run_b)), target)]
    if csv is not None:
        written.append(diffs.write_csv(frame, csv))
    out.print(f"wrote {', '.join(map(str, written))}", highlight=False)


@app.command()
def baseline(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by `lbsim run`.")],
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Baseline file; default: baselines/<scenario>.json."),
    ] = None,
) -> None:
    """Record the metrics of a run (and its replications) as a baseline for `lbsim check`."""
    from lbsim.gate.check import CheckError, read_run, write_baseline

    try:
        recorded = read_run(run_dir)
    except CheckError as error:
        _fail(str(error))
    target = out_file or Path("baselines") / f"{recorded.name}.json"
    write_baseline(recorded, target)
    reps = len(recorded.replication_seeds)
    extra = f", {reps} replications" if reps else ", no replications"
    out.print(
        f"recorded {len(recorded.variants)} variant(s) x {len(recorded.values.columns)} metrics"
        f"{extra} of {recorded.name} (seed {recorded.seed}) to {target}",
        highlight=False,
    )


@app.command()
def check(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by `lbsim run`.")],
    baseline_file: Annotated[
        Path, typer.Option("--baseline", "-b", help="Baseline file from `lbsim baseline`.")
    ],
    more_limits: Annotated[
        list[str] | None,
        typer.Argument(
            hidden=True, metavar="METRIC=LIMIT", help="More limits after --max-regression."
        ),
    ] = None,
    metrics: MetricOption = None,
    limits: Annotated[
        list[str] | None,
        typer.Option(
            "--max-regression",
            help="Allowed worsening: 5% (relative), +0.1pp (rates), +20ms; METRIC=LIMIT for "
            "one metric. Repeatable, or several after one flag. Default: 5%.",
        ),
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Write a JUnit XML report here.")] = None,
    markdown: Annotated[
        Path | None, typer.Option(help="Write a Markdown summary here (CI job summary).")
    ] = None,
) -> None:
    """Fail (exit 1) if RUN_DIR regressed past the limits against a baseline.

    Without --metric, latency_p99 is checked (plus metrics named in limits).
    With replications on both sides the verdict uses the 95% interval of the
    paired change: a build fails only if the whole interval is past the limit.
    """
    from lbsim.gate import check as gate

    stray = [s for s in more_limits or [] if "=" not in s]
    if stray:
        _fail(f"unexpected argument(s) {' '.join(stray)}: one run folder; limits are METRIC=LIMIT")
    try:
        parsed = gate.parse_limits([*(limits or []), *(more_limits or [])], metrics or [])
        reference = gate.read_baseline(baseline_file)
        comparison = gate.compare(gate.read_run(run_dir), reference, parsed)
    except gate.CheckError as error:
        _fail(str(error))
    _print_table(gate.comparison_table(comparison))
    for note in comparison.notes:
        warning = note.startswith("warning")
        (err if warning else out).print(
            note if warning else f"note: {note}", highlight=False, soft_wrap=True
        )
    style = "bold green" if comparison.passed else "bold red"
    out.print(gate.verdict_line(comparison), style=style, highlight=False, soft_wrap=True)
    if junit is not None:
        gate.write_text(junit, gate.junit_xml(comparison, str(baseline_file)))
    if markdown is not None:
        gate.write_text(markdown, gate.markdown(comparison, str(baseline_file)))
    if not comparison.passed:
        raise typer.Exit(1)


def main() -> None:
    """Entry point of the ``lbsim`` console script."""
    app()
