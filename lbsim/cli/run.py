"""``lbsim run``: simulate every variant, print the summary, write results and report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from lbsim.cli.common import SetOption, err, fail, out, overrides
from lbsim.scenario import ScenarioError

if TYPE_CHECKING:
    from lbsim.runner.run import RunProgress


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
) -> None:
    """Simulate every variant of SCENARIO; print the summary; write results and report."""
    from lbsim.io import atomic_path
    from lbsim.report import write_report
    from lbsim.report.table import summary_table
    from lbsim.runner.run import load_scenario, replicate
    from lbsim.runner.run import run as run_scenario

    try:
        loaded = load_scenario(scenario, overrides(assignments, seed))
    except ScenarioError as error:
        fail([str(p) for p in error.problems])
    if animate is not None and animate.suffix.lower() not in (".gif", ".html", ".mp4"):
        fail(f"--animate {animate}: the file must end in .gif, .html or .mp4")
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
    if animate is not None:
        from lbsim.report.animate import animate as animate_queues

        paths.append(animate_queues(result).save(animate))
    out.print(f"wrote {len(paths)} files to {target}/ (open {target / 'report.html'})")
