"""``lbsim run``: simulate every variant, print the summary, write results and report."""

from __future__ import annotations

import contextlib
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lbsim.cli.common import (
    ForceOption,
    OutsideOption,
    SetOption,
    check_work,
    err,
    fail,
    out,
    overrides,
    working,
)

if TYPE_CHECKING:
    from rich.progress import Progress

    from lbsim.runner.run import RunProgress


class Records(StrEnum):
    """The choices of ``--records`` (the scenario's ``records``)."""

    all = "all"
    sample = "sample"
    none = "none"


def _progress_bar(quiet: bool) -> Progress:
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    return Progress(*columns, console=err, disable=quiet, transient=True)


def _tracker(bar: Progress, label: str, total: int) -> RunProgress:
    from rich.markup import escape

    from lbsim.interrupt import check

    task = bar.add_task(label, total=total)

    def progress(index: int, count: int, name: str, fraction: float) -> None:
        check()
        description = escape(f"{label}: {name} ({index + 1}/{count})")  # [..] is no markup
        bar.update(task, completed=index + fraction, description=description)

    return progress


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
    animate: Annotated[
        Path | None,
        typer.Option(
            help="Also write an animation of the first variant's server queues: "
            "PATH ending in .gif, .html or .mp4 (needs ffmpeg).",
        ),
    ] = None,
    records: Annotated[
        Records | None,
        typer.Option(
            case_sensitive=False,
            help="Per-request rows to keep: all, a sample (every 100th) or none "
            "(summaries, latency histograms, time series; memory that does not grow with "
            "an open-loop run's length) [default: the scenario's].",
        ),
    ] = None,
    no_plots: Annotated[
        bool, typer.Option("--no-plots", help="Write report.html without figures.")
    ] = False,
    force: ForceOption = False,
    allow_outside_files: OutsideOption = False,
) -> None:
    """Simulate every variant of SCENARIO; print the summary; write results and report.

    OUT must be new, empty, or a run folder lbsim wrote: its files are replaced
    as a set, run.json last (until then the folder counts as incomplete)."""
    from lbsim.analysis.result import retire_run
    from lbsim.interrupt import check, exit_code
    from lbsim.io import OutputError
    from lbsim.outputs import check_file, claim_folder
    from lbsim.report import report_writer
    from lbsim.report.table import pools_table, summary_table
    from lbsim.runner.run import load_scenario, replicate
    from lbsim.runner.run import run as run_scenario
    from lbsim.scenario import ScenarioError

    working()
    try:
        changes = overrides(assignments, seed)
        if records is not None:
            changes["records"] = records.value
        loaded = load_scenario(scenario, changes, allow_outside_files=allow_outside_files)
    except ScenarioError as error:
        fail([str(p) for p in error.problems])
    check_work([v.scenario for v in loaded.variants], 1 + replications, force, str(scenario))
    if animate is not None and animate.suffix.lower() not in (".gif", ".html", ".mp4"):
        fail(f"--animate {animate}: the file must end in .gif, .html or .mp4")
    target = out_dir or Path("reports") / loaded.base.name
    writing = False
    with contextlib.ExitStack() as stack:
        try:
            if animate is not None:
                check_file(animate, "--animate")
            stack.enter_context(claim_folder(target, "run"))
        except OutputError as error:
            fail(str(error))
        try:
            with _progress_bar(quiet) as bar:
                tracker = _tracker(bar, loaded.base.name, len(loaded.variants))
                result = run_scenario(loaded, progress=tracker)
                table = None
                if replications:
                    total = replications * len(loaded.variants)
                    progress = _tracker(bar, "replications", total)
                    table = replicate(loaded, replications, progress=progress)
            # The plots start drawing in a forked child while the summary prints
            # (forked before saving starts pyarrow's threads); the report is
            # written first, run.json last.
            with report_writer(result, plots=not no_plots) as write_report:
                out.print(summary_table(result.summary, out.width, result.meta.get("scenario")))
                pools = pools_table(result, out.width)
                if pools is not None:
                    out.print(pools)
                writing = True
                retire_run(target)  # the old run.json must not outlive the old run's files
                report = write_report(target)
            check()  # a signal during the report's fork is lost there
            paths = result.save(target, replications=table, already=report)
            check()
        except OSError as error:  # disk full, permissions changed while simulating...
            if not writing:
                raise
            fail(f"{target}: cannot write: {error}; the folder is incomplete (no run.json)")
        except KeyboardInterrupt as error:
            state = (
                f"{target} is incomplete (no run.json); run again"
                if writing
                else f"nothing written; {target} is as it was"
            )
            fail(f"interrupted: {state}", exit_code(error))
    if animate is not None:
        from lbsim.report.animate import animate as animate_queues

        paths.append(animate_queues(result).save(animate))
    out.print(
        f"wrote {len(paths)} files to {target}/ (open {target / 'report.html'})",
        highlight=False,
        soft_wrap=True,
    )
