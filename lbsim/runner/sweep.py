"""Sweeps: a parameter grid × independent replications, run in parallel.

One simulation run says little about a stochastic system: its p99 is one draw
of a random variable. A sweep runs every *grid point* (a combination of the
``sweep.grid`` / ``--grid`` values) × every *variant* (a combination of the
``compare:`` values) × R *replications*, and states each metric as a mean
across replications with a confidence interval.

Replications are independent runs whose seeds derive from the scenario seed
with ``numpy.random.SeedSequence`` (:func:`lbsim.streams.replication_seeds`).
Replication r uses the same seed at every grid point and in every variant, so
differences between points and variants are paired comparisons (common random
numbers). A confidence interval is never computed from the pooled requests of
one run: successive latencies in a queue are strongly correlated, so such an
interval would be far too narrow. Each replication gives one number per
metric, and the interval is over those R numbers (Student t; optionally a
bootstrap for percentile metrics, whose replication values can be skewed).

Execution takes any :class:`concurrent.futures.Executor`: by default a local
process pool (``spawn``, one worker per core), in-process for ``jobs=1``, or a
Dask cluster through :func:`dask_executor`. A task is small and picklable (the
resolved scenario of one run as a dict, its seed, variant name and
parameters); the worker rebuilds the scenario, simulates, and returns only the
summary metrics and a mergeable latency histogram (per-request records stay in
the worker unless ``keep_requests``). Results never depend on completion
order: tables are built in (grid point, replication, variant, metric) order,
so they are identical bit for bit for any number of workers or a cluster.

Nothing is lost: each finished run is written at once to
``<out>/runs/<key>.json``, ``key`` being the SHA-256 of the canonical JSON of
(resolved scenario, seed, lbsim version). Running the sweep again reuses every
run already there. A run that raises is reported with its parameters and does
not stop the others.

This module orchestrates; the parts live beside it: :mod:`~lbsim.runner.plan`
(what to run), :mod:`~lbsim.runner.tasks` (one run), :mod:`~lbsim.runner.executors`
(where), :mod:`~lbsim.runner.cache` (the run cache), :mod:`~lbsim.runner.tables`
and :mod:`~lbsim.runner.intervals` (the results), :mod:`~lbsim.runner.grid` (``--grid``).
"""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from lbsim._version import __version__
from lbsim.io import OutputError, write_set
from lbsim.outputs import claim_folder
from lbsim.runner.cache import BadEntryError, cache_path, read_cached, requests_path, write_cached
from lbsim.runner.executors import DASK_MISSING, dask_executor, execute, start_workers
from lbsim.runner.grid import parse_grid
from lbsim.runner.histogram import EDGES, LatencyHistogram
from lbsim.runner.intervals import CiMethod, confidence_intervals
from lbsim.runner.plan import Plan, plan
from lbsim.runner.tables import build_tables, summary_table
from lbsim.runner.tasks import Outcome, Task, run_key, run_task
from lbsim.scenario import Loaded, Scenario, resolved

__all__ = [
    "DASK_MISSING",
    "EDGES",
    "LatencyHistogram",
    "Plan",
    "SweepProgress",
    "SweepResult",
    "Task",
    "confidence_intervals",
    "dask_executor",
    "parse_grid",
    "plan",
    "run_key",
    "run_task",
    "sweep",
]


# (runs finished, runs to do): called once with (0, total) before the first run.
SweepProgress = Callable[[int, int], None]


@dataclass
class SweepResult:
    """The tidy tables of a sweep.

    * ``runs``: one row per grid point × replication × variant × metric:
      ``point``, the grid parameters, ``replication``, ``run_seed``,
      ``variant``, the compared parameters, ``metric``, ``value``, ``run_key``.
    * ``summary``: one row per grid point × variant × metric: the parameters,
      ``offered_load``, ``metric``, ``n`` (replications), ``mean``, ``std``,
      ``ci_low``, ``ci_high`` (NaN with one replication), ``ci_method``.
    * ``histograms``: per run, the non-empty latency histogram slots
      (``slot``, ``lo``, ``hi`` in seconds, ``count``); see :meth:`latency_histogram`.
    * ``failures``: one row per run that raised, with its parameters and error.
    """

    runs: pd.DataFrame
    summary: pd.DataFrame
    histograms: pd.DataFrame
    failures: pd.DataFrame
    meta: dict[str, Any]
    out_dir: Path | None = None

    @property
    def reused(self) -> int:
        return int(self.meta["reused"])

    @property
    def ok(self) -> bool:
        """True when no run failed."""
        return self.failures.empty

    def __repr__(self) -> str:
        m = self.meta
        return (
            f"SweepResult({m['name']!r}: {m['points']} points × {len(m['variants'])} variants "
            f"× {m['replications']} replications; {m['ran']} ran, {m['reused']} reused, "
            f"{m['failed']} failed)"
        )

    #: The Jupyter summary, set by :mod:`lbsim.report.notebook` when imported
    #: (this layer may not import reporting); a plain table until then.
    html_renderer: ClassVar[Callable[[Any], str] | None] = None

    def _repr_html_(self) -> str:
        render = type(self).html_renderer
        return (
            render(self)
            if render is not None
            else str(self.summary.to_html(index=False, max_rows=60))
        )

    def latency_histogram(
        self, point: int | None = None, variant: str | None = None
    ) -> LatencyHistogram:
        """Latencies of ``ok`` requests merged over every replication (and over
        every point / variant when not given). Good for a pooled shape; for
        intervals use ``summary``, which treats replications as the unit."""
        frame = self.histograms
        if point is not None:
            frame = frame[frame["point"] == point]
        if variant is not None:
            frame = frame[frame["variant"] == variant]
        merged = frame.groupby("slot")["count"].sum()
        return LatencyHistogram.from_sparse(merged.index.tolist(), merged.tolist())

    def requests(self) -> pd.DataFrame:
        """Per-request records of every run (only with ``keep_requests``)."""
        if self.out_dir is None:
            raise ValueError("per-request records are kept only in a sweep with an output folder")
        frames = []
        runs = self.runs.drop_duplicates(["point", "replication", "variant"])
        for row in runs.itertuples(index=False):
            path = requests_path(self.out_dir / "runs", str(row.run_key))
            if not path.is_file():
                raise FileNotFoundError(f"{path}: run the sweep with keep_requests=True")
            frame = pd.read_parquet(path)
            frame.insert(0, "point", row.point)
            frame.insert(1, "replication", row.replication)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def save(self, out_dir: Path) -> list[Path]:
        """Write the tables into ``out_dir`` as one set (:func:`lbsim.io.write_set`):
        each atomically, then ``sweep.json`` listing them with their checksums."""
        writers: dict[str, Callable[[str], object]] = {
            "runs.parquet": lambda p: self.runs.to_parquet(p, index=False),
            "histograms.parquet": lambda p: self.histograms.to_parquet(p, index=False),
            "sweep_summary.csv": lambda p: self.summary.to_csv(p, index=False),
            "failures.csv": lambda p: self.failures.to_csv(p, index=False),
        }
        meta = {k: v for k, v in self.meta.items() if k != "files"}
        with claim_folder(Path(out_dir), "sweep"):
            return write_set(Path(out_dir), writers, "sweep.json", meta)


def sweep(
    scenario: str | Path | Scenario | Loaded | dict[str, Any] | Plan,
    *,
    replications: int | None = None,
    grid: dict[str, list[Any]] | None = None,
    executor: Executor | None = None,
    jobs: int | None = None,
    out: str | Path | None = None,
    resume: bool = True,
    keep_requests: bool = False,
    confidence: float = 0.95,
    ci: CiMethod = "t",
    progress: SweepProgress | None = None,
    warn: Callable[[str], None] | None = None,
    **overrides: Any,
) -> SweepResult:
    """Run every grid point × variant × replication of ``scenario``.

    ``replications`` and ``grid`` (dotted path -> values, on top of
    ``compare:``) default to the scenario's own ``sweep:``; a ``grid`` path
    replaces the same path there. Runs go to ``executor`` if given (e.g.
    from :func:`dask_executor`), else to a local ``spawn`` process pool of
    ``jobs`` workers (all cores by default), or in-process for ``jobs=1``.
    With ``out``, every finished run is written at once to
    ``out/runs/<key>.json`` and reused next time (unless ``resume=False``),
    and the tables are written into ``out`` at the end. Keyword arguments
    override scenario fields as in :func:`lbsim.run`. A run that raises is
    listed in ``result.failures``; the others complete. Raises
    :class:`ScenarioError` for bad input. ``scenario`` may also be a
    :class:`Plan` from :func:`plan` (then without ``replications``, ``grid``,
    ``keep_requests`` or overrides, which the plan already holds). A damaged
    cache entry is recomputed and reported through ``warn`` (default:
    :func:`warnings.warn`). Raises :class:`lbsim.io.OutputError` for an
    output folder that cannot be used (a file, another's folder, in use).
    """
    started = time.perf_counter()
    if executor is None:
        start_workers(jobs)  # they import while the plan is made and the cache read
    if executor is not None or jobs != 1:
        # the intervals' scipy.stats (~0.4 s), imported while the runs go on
        # elsewhere rather than after the last one (in-process runs would wait)
        threading.Thread(target=import_module, args=("scipy.stats",), daemon=True).start()
    if isinstance(scenario, Plan):
        if replications is not None or grid or overrides:
            raise TypeError("give replications, grid and overrides to plan(), not with a Plan")
        the_plan = scenario
        keep_requests = any(task.keep_requests for task in the_plan.tasks)
    else:
        fields = {key.replace("__", "."): value for key, value in overrides.items()}
        the_plan = plan(
            scenario,
            replications=replications,
            grid=grid,
            overrides=fields,
            keep_requests=keep_requests,
        )
    out_dir = Path(out) if out is not None else None
    if keep_requests and out_dir is None:
        raise ValueError("keep_requests needs an output folder (out=...) to keep them in")
    claim = claim_folder(out_dir, "sweep") if out_dir is not None else contextlib.nullcontext()
    with claim:
        runs_dir = _runs_dir(out_dir) if out_dir is not None else None
        outcomes, ran, reused = _outcomes(
            the_plan, runs_dir, executor, jobs, resume, progress, warn or _warn
        )
        return _result(
            the_plan, outcomes, ran, reused, confidence, ci, keep_requests, out_dir, started
        )


def _warn(message: str) -> None:
    warnings.warn(message, stacklevel=3)


def _runs_dir(out_dir: Path) -> Path:
    runs_dir = out_dir / "runs"
    if runs_dir.exists() and not runs_dir.is_dir():
        raise OutputError(f"{runs_dir}: is a file; the run cache must be a folder (remove it)")
    runs_dir.mkdir(parents=True, exist_ok=True)
    return runs_dir


def _reuse(
    runs_dir: Path, unique: dict[str, Task], warn: Callable[[str], None]
) -> dict[str, Outcome]:
    """The cached outcomes that check out; each damaged entry reported and left to rerun."""
    outcomes: dict[str, Outcome] = {}
    for key, task in unique.items():
        try:
            cached = read_cached(runs_dir, task)
        except BadEntryError as problem:
            warn(f"{cache_path(runs_dir, key)}: {problem}; running it again")
            continue
        if cached is not None:
            outcomes[key] = cached
    return outcomes


def _outcomes(
    the_plan: Plan,
    runs_dir: Path | None,
    executor: Executor | None,
    jobs: int | None,
    resume: bool,
    progress: SweepProgress | None,
    warn: Callable[[str], None],
) -> tuple[dict[str, Outcome], int, int]:
    """(outcome by run key, runs run, runs reused): the cache's, then the rest run."""
    unique: dict[str, Task] = {}
    for task in the_plan.tasks:
        unique.setdefault(task.key, task)
    outcomes = _reuse(runs_dir, unique, warn) if runs_dir is not None and resume else {}
    reused = len(outcomes)
    todo = [task for key, task in unique.items() if key not in outcomes]
    finished = 0
    if progress is not None:
        progress(0, len(todo))

    def done(task: Task, outcome: Outcome) -> None:
        nonlocal finished
        if runs_dir is not None and outcome.metrics is not None:
            write_cached(runs_dir, task, outcome)
        outcomes[task.key] = Outcome(
            outcome.key,
            outcome.metrics,
            outcome.histogram,
            None,
            outcome.error,
            outcome.traceback,
            outcome.wall_time,
        )
        finished += 1
        if progress is not None:
            progress(finished, len(todo))

    execute(todo, executor, jobs, done)
    return outcomes, len(todo), reused


def _result(
    the_plan: Plan,
    outcomes: dict[str, Outcome],
    ran: int,
    reused: int,
    confidence: float,
    ci: CiMethod,
    keep_requests: bool,
    out_dir: Path | None,
    started: float,
) -> SweepResult:
    """The tables and meta of a finished sweep, saved into ``out_dir`` if given."""
    runs, histograms, failures = build_tables(the_plan, outcomes)
    summary = summary_table(the_plan, runs, confidence, ci)
    base = the_plan.loaded.base
    meta = {
        "name": base.name,
        "source": the_plan.loaded.source,
        "seed": base.seed,
        "lbsim_version": __version__,
        "replications": the_plan.replications,
        "replication_seeds": {str(p): s for p, s in the_plan.seeds.items()},
        "points": the_plan.n_points,
        "grid": {
            p: list(dict.fromkeys(the_plan.values[(i, 0)][p] for i in range(the_plan.n_points)))
            for p in the_plan.grid_params
        },
        "grid_params": the_plan.grid_params,
        "compare_params": the_plan.compare_params,
        "variants": the_plan.variant_names,
        "runs": len(the_plan.tasks),
        "ran": ran,
        "reused": reused,
        "failed": len(failures),
        "confidence": confidence,
        "ci": ci,
        "keep_requests": keep_requests,
        "compute_time": sum(o.wall_time for o in outcomes.values()),
        "wall_time": time.perf_counter() - started,
        "scenario": resolved(base),
    }
    result = SweepResult(runs, summary, histograms, failures, meta, out_dir)
    if out_dir is not None:
        result.save(out_dir)
    return result
