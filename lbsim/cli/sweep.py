"""``lbsim sweep``: grid points × variants × replications, with intervals and a report."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Annotated

import typer

from lbsim.cli.common import (
    ForceOption,
    OutsideOption,
    SetOption,
    err,
    fail,
    out,
    overrides,
    working,
)

# 'local', or a scheduler address as Dask writes one: tcp://host:8786, host:8786
_DASK_ADDRESS = re.compile(
    r"^(local|((tcp|tls|ws|wss|ucx|inproc)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):\d{1,5})$"
)


def _check_dask(address: str | None) -> None:
    if address is not None and not _DASK_ADDRESS.match(address):
        shown = address if len(address) <= 60 else address[:60] + "..."
        fail(f"--dask {shown!r}: expected 'local' or a scheduler address such as tcp://host:8786")


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
            help="Vary a field over values: path=\\[v1, v2, ...], a YAML flow sequence "
            "(brackets optional; repeatable; on top of compare:).",
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
    force: ForceOption = False,
    allow_outside_files: OutsideOption = False,
) -> None:
    """Run grid points x variants x replications; write tidy tables with confidence
    intervals, plots and report.html. Exit 1 if a run failed (the others are kept)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from lbsim.interrupt import check, exit_code
    from lbsim.io import OutputError
    from lbsim.outputs import claim_folder
    from lbsim.report.sweep_plots import sweep_table, write_sweep_report
    from lbsim.runner.sweep import dask_executor, parse_grid, plan
    from lbsim.runner.sweep import sweep as run_sweep
    from lbsim.scenario import ScenarioError

    working()
    if ci not in ("t", "bootstrap"):
        fail(f"--ci: {ci!r} is not one of: t, bootstrap")
    _check_dask(dask)
    try:
        the_plan = plan(
            scenario,
            replications=replications,
            grid=parse_grid(grid or []),
            overrides=overrides(assignments, seed),
            keep_requests=keep_requests,
            force=force,
            allow_outside_files=allow_outside_files,
        )
    except ScenarioError as error:
        fail([str(p) for p in error.problems])
    target = out_dir or Path("reports") / the_plan.loaded.base.name / "sweep"
    columns = [
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(claim_folder(target, "sweep"))
        except OutputError as error:
            fail(str(error))
        executor = None
        if dask:
            try:
                executor = stack.enter_context(dask_executor(dask, jobs))
            except ImportError as error:
                fail(str(error))
            except OSError as error:
                fail(f"--dask {dask}: cannot reach the scheduler: {error}")
        bar = stack.enter_context(Progress(*columns, console=err, disable=quiet, transient=True))
        task = bar.add_task(f"{the_plan.loaded.base.name} runs", total=None)

        def progress(done: int, total: int) -> None:
            check()
            bar.update(task, completed=done, total=total)

        def warn(message: str) -> None:
            err.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)

        try:
            result = run_sweep(
                the_plan,
                executor=executor,
                jobs=jobs,
                out=target,
                resume=resume,
                ci="bootstrap" if ci == "bootstrap" else "t",
                progress=progress,
                warn=warn,
            )
            paths = write_sweep_report(result, target)
            check()
        except OutputError as error:
            fail(str(error))
        except OSError as error:  # disk full, permissions changed mid-sweep...
            fail(f"{target}: cannot write: {error}")
        except KeyboardInterrupt as error:
            fail(
                f"interrupted: finished runs are kept in {target / 'runs'}; "
                "run the same command again to resume",
                exit_code(error),
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
    out.print(
        f"{meta['runs']} runs: {meta['ran']} ran, {meta['reused']} reused from "
        f"{target / 'runs'}, {meta['failed']} failed; wrote {len(paths) + 5} files to "
        f"{target}/ (open {target / 'report.html'})",
        highlight=False,
    )
    if not result.ok:
        raise typer.Exit(1)
