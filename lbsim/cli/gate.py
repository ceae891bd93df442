"""The CI gate: ``lbsim diff`` (what changed between runs), ``lbsim baseline``
(record a run) and ``lbsim check`` (fail on a regression past the limits)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from lbsim.cli.common import MetricOption, err, fail, out, print_table


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
    from lbsim.gate.baseline import CheckError, read_run
    from lbsim.io import OutputError
    from lbsim.outputs import check_file
    from lbsim.report import FORMATS, diff_plot

    target = plot or run_b / "diff.png"
    if target.suffix.lstrip(".").lower() not in FORMATS:
        fail(f"--plot {target}: expected a .png, .svg or .pdf file")
    try:
        check_file(target, "--plot")
        if csv is not None:
            check_file(csv, "--csv", diffs.CSV_SIGNATURE)
    except OutputError as error:
        fail(str(error))
    try:
        a, b = read_run(run_a), read_run(run_b)
        chosen = None if all_metrics else metrics or diffs.key_metrics(a, b)
        frame = diffs.compare_runs(a, b, chosen)
    except CheckError as error:
        fail(str(error))
    print_table(diff_plot.diff_table(frame, str(run_a), str(run_b)))
    for note in diffs.unmatched(a, b):
        out.print(f"note: {note}", highlight=False, soft_wrap=True)
    written = [diff_plot.write_plot(diff_plot.diff_figure(frame, str(run_a), str(run_b)), target)]
    if csv is not None:
        written.append(diffs.write_csv(frame, csv))
    out.print(f"wrote {', '.join(map(str, written))}", highlight=False)


def baseline(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by `lbsim run`.")],
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Baseline file; default: baselines/<scenario>.json."),
    ] = None,
) -> None:
    """Record the metrics of a run (and its replications) as a baseline for `lbsim check`."""
    from lbsim.gate.baseline import SIGNATURE, CheckError, read_run, write_baseline
    from lbsim.io import OutputError
    from lbsim.outputs import check_file
    from lbsim.scenario.models import NAME_PATTERN

    try:
        if out_file is not None:
            check_file(out_file, "--out", SIGNATURE)
        recorded = read_run(run_dir)
        named = len(recorded.name) <= 64 and re.match(NAME_PATTERN, recorded.name)
        if out_file is None and not named:
            fail(
                f"{run_dir}/run.json: name {recorded.name!r} is not a scenario name (letters, "
                "digits, _ . -), so it cannot name a file in baselines/; pass --out"
            )
        target = out_file or Path("baselines") / f"{recorded.name}.json"
        check_file(target, "--out", SIGNATURE)
    except (CheckError, OutputError) as error:
        fail(str(error))
    write_baseline(recorded, target)
    reps = len(recorded.replication_seeds)
    extra = f", {reps} replications" if reps else ", no replications"
    out.print(
        f"recorded {len(recorded.variants)} variant(s) x {len(recorded.values.columns)} metrics"
        f"{extra} of {recorded.name} (seed {recorded.seed}) to {target}",
        highlight=False,
    )


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
            "one metric. Repeatable, or several after one flag. Default: +0.1pp for rates, "
            "5% otherwise.",
        ),
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Write a JUnit XML report here.")] = None,
    markdown: Annotated[
        Path | None, typer.Option(help="Write a Markdown summary here (CI job summary).")
    ] = None,
) -> None:
    """Fail (exit 1) if RUN_DIR regressed past the limits against a baseline.

    Without --metric, error_rate (limit +0.1pp) and latency_all_p99 (the p99 over
    every request, failures included; limit 5%) are checked, plus metrics named in
    limits. An unknown metric name exits 2 with the list of checkable ones.
    With replications on both sides the verdict uses the 95% interval of the
    paired change: a build fails only if the whole interval is past the limit.
    """
    from lbsim.gate import baseline as baselines
    from lbsim.gate import compare as comparing
    from lbsim.gate import limits as limit_rules
    from lbsim.io import OutputError
    from lbsim.outputs import check_file
    from lbsim.report import ci

    try:
        if junit is not None:
            check_file(junit, "--junit", ci.SIGNATURE)
        if markdown is not None:
            check_file(markdown, "--markdown", ci.SIGNATURE)
    except OutputError as error:
        fail(str(error))
    stray = [s for s in more_limits or [] if "=" not in s]
    if stray:
        fail(f"unexpected argument(s) {' '.join(stray)}: one run folder; limits are METRIC=LIMIT")
    try:
        parsed = limit_rules.parse_limits([*(limits or []), *(more_limits or [])], metrics or [])
        reference = baselines.read_baseline(baseline_file)
        comparison = comparing.compare(baselines.read_run(run_dir), reference, parsed)
    except baselines.CheckError as error:
        fail(str(error))
    print_table(ci.comparison_table(comparison))
    for note in comparison.notes:
        warning = note.startswith("warning")
        (err if warning else out).print(
            note if warning else f"note: {note}", highlight=False, soft_wrap=True
        )
    style = "bold green" if comparison.passed else "bold red"
    out.print(ci.verdict_line(comparison), style=style, highlight=False, soft_wrap=True)
    if junit is not None:
        ci.write_text(junit, ci.junit_xml(comparison, str(baseline_file)))
    if markdown is not None:
        ci.write_text(markdown, ci.markdown(comparison, str(baseline_file)))
    if not comparison.passed:
        raise typer.Exit(1)
