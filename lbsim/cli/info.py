"""Commands that inspect rather than simulate: ``validate``, ``schema``,
``algorithms`` and ``report`` (re-render a saved run)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from lbsim.cli.common import (
    ForceOption,
    OutsideOption,
    SetOption,
    fail,
    out,
    overrides,
    working,
)


def validate(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario files to check.")],
    assignments: SetOption = None,
    show_resolved: Annotated[
        bool, typer.Option("--resolved", help="Print each variant with every default filled in.")
    ] = False,
    force: ForceOption = False,
    allow_outside_files: OutsideOption = False,
) -> None:
    """Check scenario files; report every problem with file, line and field,
    and runs out of reach (time or memory) unless --force."""
    from lbsim.runner.work import check_work as refuse_work
    from lbsim.runner.work import estimate
    from lbsim.scenario import ScenarioError, load, resolved

    problems: list[str] = []
    for path in scenarios:
        try:
            loaded = load(
                path,
                overrides=overrides(assignments, None),
                allow_outside_files=allow_outside_files,
            )
            refuse_work(estimate([v.scenario for v in loaded.variants]), force, str(path))
        except ScenarioError as error:
            problems += [str(p) for p in error.problems]
            continue
        out.print(f"{path}: ok ({len(loaded.variants)} variant(s))", highlight=False)
        if show_resolved:
            for variant in loaded.variants:
                data = {"variant": variant.name, **resolved(variant.scenario)}
                out.print_json(json.dumps(data))
    if problems:
        fail(problems)


def schema() -> None:
    """Print the JSON Schema of scenario files."""
    from lbsim.scenario import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


def list_algorithms() -> None:
    """List the balancing algorithms: built-ins and plug-ins, a line each."""
    from lbsim import algorithms

    specs = algorithms.available()
    width = max(map(len, specs))
    for name, spec in specs.items():
        origin = "" if spec.origin == "built-in" else f" [{spec.origin}]"
        sys.stdout.write(f"{name:<{width}}  {spec.summary}{origin}\n")


def report(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by `lbsim run`.")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here; default: RUN_DIR.")
    ] = None,
    formats: Annotated[
        list[str] | None,
        typer.Option("--format", "-f", help="Plot file format: png, svg, pdf (repeatable)."),
    ] = None,
    summary_only: Annotated[
        bool, typer.Option("--summary-only", help="Print the summary table; write nothing.")
    ] = False,
) -> None:
    """Print the summary of a saved run and re-render its plots and report.html,
    without re-running it.

    OUT must be new, empty, or a folder lbsim wrote (a report or a run)."""
    import contextlib

    from lbsim.analysis.result import Result
    from lbsim.gate.validate import CheckError, run_files, summary_table
    from lbsim.io import OutputError
    from lbsim.outputs import claim_folder
    from lbsim.report import FORMATS, write_report
    from lbsim.report.table import pools_table
    from lbsim.report.table import summary_table as terminal_table

    working()
    unknown = [f for f in formats or [] if f not in FORMATS]
    if unknown:
        fail(f"--format: unknown {', '.join(unknown)}; expected some of {', '.join(FORMATS)}")
    target = out_dir or run_dir
    with contextlib.ExitStack() as stack:
        try:
            if out_dir is not None:
                stack.enter_context(claim_folder(out_dir, "report", "--out", accept=("run",)))
            elif run_dir.is_dir():
                stack.enter_context(claim_folder(run_dir, "run", "RUN_DIR"))
            summary = run_files(run_dir)[1]  # run.json and summary.csv checked first
            summary_table(summary, run_dir / "summary.csv")
            result = Result.load(run_dir)
        except (CheckError, OutputError) as error:
            fail(str(error))
        except (OSError, ValueError) as error:
            fail(f"{error}; expected the output folder of `lbsim run`")
        out.print(terminal_table(result.summary, out.width, result.meta.get("scenario")))
        pools = pools_table(result, out.width)
        if pools is not None:
            out.print(pools)
        if summary_only:
            return
        paths = write_report(result, target, formats or ("png",))
    out.print(
        f"wrote {len(paths)} files to {target}/ (open {target / 'report.html'})",
        highlight=False,
        soft_wrap=True,
    )
