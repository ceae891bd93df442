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
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import multiprocessing
import os
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from lbsim._version import __version__
from lbsim.analysis.result import requests_frame, summarize
from lbsim.engine.records import OK
from lbsim.engine.workload import draw_workload, rate_at
from lbsim.engine.world import World
from lbsim.io import atomic_path, write_files
from lbsim.scenario import (
    AlgorithmChoice,
    Loaded,
    Problem,
    Scenario,
    ScenarioError,
    Variant,
    load,
    resolved,
    variant_name,
)
from lbsim.streams import replication_seeds, stream

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

DASK_MISSING = "Dask support needs: pip install 'lbsim[dask]'"

# (runs finished, runs to do): called once with (0, total) before the first run.
SweepProgress = Callable[[int, int], None]
CiMethod = Literal["t", "bootstrap"]

# ---------------------------------------------------------------- histogram

BINS_PER_DECADE = 40
#: Fixed, log-spaced latency bin edges from 1 µs to 1e5 s, 40 per decade (a bin
#: is 5.9 % wide). Every run uses the same edges, so histograms add up.
EDGES: np.ndarray = 10.0 ** (np.arange(-6 * BINS_PER_DECADE, 5 * BINS_PER_DECADE + 1) / 40)
N_BINS = len(EDGES) - 1


@dataclass(frozen=True)
class LatencyHistogram:
    """Counts of latencies in the fixed :data:`EDGES` bins, mergeable by ``+``.

    ``counts`` has ``N_BINS + 2`` slots: below 1 µs, the bins, then 1e5 s and
    above. Quantiles read from it are exact to within one bin (±5.9 %).
    """

    counts: np.ndarray = field(default_factory=lambda: np.zeros(N_BINS + 2, dtype=np.int64))

    @classmethod
    def of(cls, values: np.ndarray) -> LatencyHistogram:
        """The histogram of ``values`` (seconds; NaNs are left out)."""
        values = np.asarray(values, dtype=np.float64)
        values = values[~np.isnan(values)]
        slots = np.searchsorted(EDGES, values, side="right")  # 0 = underflow
        return cls(np.bincount(slots, minlength=N_BINS + 2).astype(np.int64))

    @classmethod
    def from_sparse(cls, slots: Sequence[int], counts: Sequence[int]) -> LatencyHistogram:
        full = np.zeros(N_BINS + 2, dtype=np.int64)
        full[np.asarray(slots, dtype=np.int64)] = np.asarray(counts, dtype=np.int64)
        return cls(full)

    def sparse(self) -> tuple[list[int], list[int]]:
        """(slot, count) of the non-empty slots."""
        slots = np.flatnonzero(self.counts)
        return slots.tolist(), self.counts[slots].tolist()

    def __add__(self, other: LatencyHistogram) -> LatencyHistogram:
        return LatencyHistogram(self.counts + other.counts)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def quantile(self, q: float) -> float:
        """The ``q``-quantile (0..1), log-interpolated within its bin; NaN if empty."""
        total = self.total
        if total == 0:
            return math.nan
        cumulative = np.cumsum(self.counts)
        target = q * total
        slot = int(np.searchsorted(cumulative, target, side="left"))
        slot = min(max(slot, 0), N_BINS + 1)
        if slot == 0:
            return float(EDGES[0])
        if slot == N_BINS + 1:
            return float(EDGES[-1])
        lo, hi = EDGES[slot - 1], EDGES[slot]
        before = cumulative[slot] - self.counts[slot]
        fraction = (target - before) / self.counts[slot] if self.counts[slot] else 0.0
        return float(lo * (hi / lo) ** min(max(fraction, 0.0), 1.0))

    def mean(self) -> float:
        """Mean over the bins' geometric centres (±3 %); NaN if empty."""
        total = self.total
        if total == 0:
            return math.nan
        centres = np.r_[EDGES[0], np.sqrt(EDGES[:-1] * EDGES[1:]), EDGES[-1]]
        return float((centres * self.counts).sum() / total)


# ---------------------------------------------------------------- tasks


@dataclass(frozen=True)
class Task:
    """One run: small and picklable, so it can travel to any worker."""

    key: str
    point: int
    replication: int
    variant: str
    params: dict[str, Any]  # every varied path -> its value (grid and compare)
    seed: int
    scenario: dict[str, Any]  # resolved scenario of the variant, with ``seed``
    keep_requests: bool = False


@dataclass(frozen=True)
class Outcome:
    """What a worker sends back: metrics and a histogram, or the error."""

    key: str
    metrics: dict[str, float] | None = None
    histogram: LatencyHistogram | None = None
    requests: pd.DataFrame | None = None
    error: str | None = None
    traceback: str | None = None
    wall_time: float = 0.0


def run_key(scenario: Mapping[str, Any], seed: int) -> str:
    """SHA-256 of the canonical JSON of (resolved scenario, seed, lbsim version)."""
    text = json.dumps(
        {"scenario": scenario, "seed": seed, "lbsim_version": __version__},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def run_task(task: Task) -> Outcome:
    """Simulate one task (top-level, so ``spawn`` pools and Dask can call it)."""
    started = time.perf_counter()
    try:
        scenario = load(data=task.scenario).base
        variant = Variant(task.variant, task.params, scenario)
        workload = draw_workload(scenario)
        records = World(scenario, workload).run()
        row = summarize(variant, workload, records)
        skip = {"variant", *task.params}
        metrics = {
            k: float(v)
            for k, v in row.items()
            if k not in skip and isinstance(v, int | float | np.integer | np.floating)
        }
        measured = workload.arrival >= scenario.warmup
        ok = measured & (records.status == OK)
        histogram = LatencyHistogram.of(records.end[ok] - workload.arrival[ok])
        requests = None
        if task.keep_requests:
            names = scenario.server_names()
            requests = requests_frame(task.variant, workload, records, names, scenario.warmup)
        return Outcome(
            task.key, metrics, histogram, requests, wall_time=time.perf_counter() - started
        )
    except Exception as error:  # reported with the task's parameters, never fatal
        return Outcome(
            task.key,
            error=_describe(error),
            traceback=traceback.format_exc(),
            wall_time=time.perf_counter() - started,
        )


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# ---------------------------------------------------------------- planning


def parse_grid(assignments: Sequence[str]) -> dict[str, list[Any]]:
    """``["clients.arrivals.rate=50,60/s,70"]`` -> ``{"clients.arrivals.rate": [50, "60/s", 70]}``.

    Values are split on commas outside brackets and quotes, each read as YAML
    (so ``{name: power_of_two, choices: 3}`` is one value); a value starting
    with ``[`` is read as one YAML list. Raises :class:`ScenarioError`.
    """
    import yaml

    grid: dict[str, list[Any]] = {}
    problems: list[Problem] = []
    for assignment in assignments:
        path, eq, text = assignment.partition("=")
        path = path.strip()
        if not eq or not path:
            message = "expected path=value1,value2,..., e.g. clients.arrivals.rate=50,60,70"
            problems.append(Problem("--grid", None, None, assignment, message))
            continue
        try:
            if text.strip().startswith("["):
                values = yaml.safe_load(text)
                if not isinstance(values, list):
                    raise yaml.YAMLError("not a list")
            else:
                values = [_yaml_value(piece) for piece in _split_values(text)]
        except (yaml.YAMLError, ValueError) as error:
            problems.append(Problem("--grid", None, None, path, f"cannot read values: {error}"))
            continue
        if path in grid:
            problems.append(Problem("--grid", None, None, path, "given more than once"))
            continue
        grid[path] = values
    if problems:
        raise ScenarioError(problems)
    return grid


def _yaml_value(piece: str) -> Any:
    import yaml

    if not piece.strip():
        raise ValueError("empty value (two commas in a row, or a trailing comma?)")
    try:
        return yaml.safe_load(piece)
    except yaml.YAMLError:
        return piece.strip()


def _split_values(text: str) -> list[str]:
    """Split on top-level commas (not inside ``[]``, ``{}`` or quotes)."""
    pieces, depth, quote, current = [], 0, "", ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            pieces.append(current)
            current = ""
            continue
        current += char
    pieces.append(current)
    return pieces


@dataclass(frozen=True)
class Plan:
    """Everything a sweep will run, in table order."""

    loaded: Loaded
    replications: int
    grid_params: list[str]
    compare_params: list[str]
    n_points: int
    variant_names: list[str]
    tasks: list[Task]
    # (point, variant index) -> resolved display value of every varied path
    values: dict[tuple[int, int], dict[str, Any]]
    offered_load: dict[tuple[int, int], float]
    seeds: dict[int, list[int]]  # point -> replication seeds


def _load(
    source: str | Path | Scenario | Loaded | dict[str, Any],
    overrides: dict[str, Any],
    grid: dict[str, list[Any]],
) -> Loaded:
    """Load with ``grid`` on top; a ``grid`` path replaces the same path of
    the file's own ``sweep.grid`` (the command line wins over the file)."""
    path: Path | None = None
    data: dict[str, Any] | None = None
    if isinstance(source, Loaded):
        data = source.raw
    elif isinstance(source, Scenario):
        data = resolved(source)
    elif isinstance(source, dict):
        data = source
    else:
        path = Path(source)

    def attempt(extra: dict[str, Any], with_grid: bool) -> Loaded:
        return load(
            path, data=data, overrides={**overrides, **extra}, grid=grid if with_grid else None
        )

    extra: dict[str, Any] = {}
    if grid:
        try:
            plain = attempt({}, with_grid=False)
        except ScenarioError:
            plain = None  # reported again, with any grid problems, below
        file_grid = plain.base.sweep.grid if plain and plain.base.sweep else None
        if file_grid and set(file_grid) & set(grid):
            kept = {k: v for k, v in file_grid.items() if k not in grid}
            extra["sweep.grid"] = kept or None
    return attempt(extra, with_grid=True)


def _at(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _cell(value: Any) -> Any:
    """A table cell for a parameter value: numbers stay numbers, an algorithm
    is its label, anything else compact JSON."""
    if isinstance(value, dict) and "name" in value:
        try:
            return AlgorithmChoice.model_validate(value).label()
        except ValueError:
            pass
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def offered_load(scenario: Scenario) -> float:
    """ρ = λ·E[S] / Σ(workers·speed): the utilisation the arrivals ask for
    (λ averaged over ``duration`` for a profile)."""
    arrivals = scenario.clients.arrivals
    if arrivals.rate is not None:
        rate = arrivals.rate
    else:
        times = np.linspace(0.0, scenario.duration, 2001)
        rate = float(np.trapezoid(rate_at(arrivals, times), times) / scenario.duration)
    capacity = sum(p.count * p.workers * p.speed for p in scenario.servers)
    return float(rate * scenario.clients.service.mean / capacity)


def plan(
    source: str | Path | Scenario | Loaded | dict[str, Any],
    *,
    replications: int | None = None,
    grid: dict[str, list[Any]] | None = None,
    overrides: dict[str, Any] | None = None,
    keep_requests: bool = False,
) -> Plan:
    """Validate the scenario with its grid and list every run (no simulation)."""
    grid = dict(grid or {})
    loaded = _load(source, dict(overrides or {}), grid)
    base = loaded.base
    if replications is None:
        replications = base.sweep.replications if base.sweep else 1
    if replications < 1:
        raise ScenarioError([Problem("--replications", None, None, "", "must be at least 1")])
    compare = dict(base.compare or {})
    compare_params = list(compare)
    every = list(loaded.variants[0].params)
    grid_params = [p for p in every if p not in compare]
    n_variants = math.prod(len(v) for v in compare.values())
    n_points = len(loaded.variants) // n_variants
    assert n_points * n_variants == len(loaded.variants)

    if compare_params:
        combos = itertools.product(*compare.values())
        variant_names = [variant_name(dict(zip(compare, c, strict=True))) for c in combos]
        if len(set(variant_names)) != len(variant_names):
            variant_names = [f"{n} #{i}" for i, n in enumerate(variant_names)]
    else:
        variant_names = [base.name]

    tasks: list[Task] = []
    values: dict[tuple[int, int], dict[str, Any]] = {}
    loads: dict[tuple[int, int], float] = {}
    seeds: dict[int, list[int]] = {}
    seeds_of: dict[int, list[int]] = {}  # scenario seed -> replication seeds
    by_cell: dict[tuple[int, int], Variant] = {}
    for index, variant in enumerate(loaded.variants):
        # compare: axes come first in the product, so the grid varies fastest
        by_cell[(index % n_points, index // n_points)] = variant
    resolved_of: dict[tuple[int, int], dict[str, Any]] = {}
    for point in range(n_points):
        for v in range(n_variants):
            variant = by_cell[(point, v)]
            data = resolved_of[(point, v)] = resolved(variant.scenario)
            values[(point, v)] = {p: _cell(_at(data, p)) for p in variant.params}
            loads[(point, v)] = offered_load(variant.scenario)
            seed = variant.scenario.seed
            if seed not in seeds_of:
                seeds_of[seed] = replication_seeds(seed, replications)
            seeds.setdefault(point, seeds_of[seed])
    for point in range(n_points):
        for replication in range(replications):
            for v in range(n_variants):
                variant = by_cell[(point, v)]
                seed = seeds_of[variant.scenario.seed][replication]
                data = {**resolved_of[(point, v)], "seed": seed}
                tasks.append(
                    Task(
                        key=run_key(data, seed),
                        point=point,
                        replication=replication,
                        variant=variant_names[v],
                        params=dict(variant.params),
                        seed=seed,
                        scenario=data,
                        keep_requests=keep_requests,
                    )
                )
    return Plan(
        loaded,
        replications,
        grid_params,
        compare_params,
        n_points,
        variant_names,
        tasks,
        values,
        loads,
        seeds,
    )


# ---------------------------------------------------------------- cache


def _cache_path(runs_dir: Path, key: str) -> Path:
    return runs_dir / f"{key}.json"


def _requests_path(runs_dir: Path, key: str) -> Path:
    return runs_dir / f"{key}.requests.parquet"


def _read_cached(runs_dir: Path, task: Task) -> Outcome | None:
    """A finished run from the cache, or None if absent, unreadable or incomplete."""
    path = _cache_path(runs_dir, task.key)
    try:
        record = json.loads(path.read_text())
        if record.get("key") != task.key or not isinstance(record.get("metrics"), dict):
            return None
        if task.keep_requests and not _requests_path(runs_dir, task.key).is_file():
            return None
        metrics = {str(k): float(v) for k, v in record["metrics"].items()}
        hist = record["histogram"]
        histogram = LatencyHistogram.from_sparse(hist["slots"], hist["counts"])
        return Outcome(task.key, metrics, histogram, wall_time=float(record["wall_time"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_cached(runs_dir: Path, task: Task, outcome: Outcome) -> None:
    assert outcome.metrics is not None and outcome.histogram is not None
    if outcome.requests is not None:
        with atomic_path(_requests_path(runs_dir, task.key)) as tmp:
            outcome.requests.to_parquet(tmp, index=False)
    slots, counts = outcome.histogram.sparse()
    record = {
        "key": task.key,
        "lbsim_version": __version__,
        "seed": task.seed,
        "variant": task.variant,
        "params": task.params,
        "metrics": outcome.metrics,
        "histogram": {"edges": "10**(k/40), k=-240..200", "slots": slots, "counts": counts},
        "wall_time": outcome.wall_time,
        "scenario": task.scenario,
    }
    with atomic_path(_cache_path(runs_dir, task.key)) as tmp:
        Path(tmp).write_text(json.dumps(record, indent=1, default=str))


# ---------------------------------------------------------------- execution


@contextmanager
def dask_executor(address: str = "local", workers: int | None = None) -> Iterator[Executor]:
    """A :class:`concurrent.futures.Executor` on a Dask cluster.

    ``address="local"`` starts a ``LocalCluster`` on 127.0.0.1 (``workers``
    processes, one thread each; all cores by default) and closes it at the
    end; otherwise ``address`` is a running scheduler (``tcp://host:8786``).
    Raises ImportError with :data:`DASK_MISSING` when Dask is not installed.
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as error:
        raise ImportError(DASK_MISSING) from error
    cluster = None
    if address == "local":
        cluster = LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        )
        client = Client(cluster)
    else:
        client = Client(address)
    try:
        yield client.get_executor()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _execute(
    tasks: list[Task],
    executor: Executor | None,
    jobs: int | None,
    done: Callable[[Task, Outcome], None],
) -> None:
    """Run ``tasks``, calling ``done`` for each as it finishes (any order)."""
    if executor is None and (jobs == 1 or len(tasks) <= 1):
        for task in tasks:
            done(task, run_task(task))
        return
    own = executor is None
    pool: Executor = executor or ProcessPoolExecutor(
        max_workers=min(jobs or os.cpu_count() or 1, len(tasks)),
        mp_context=multiprocessing.get_context("spawn"),
    )
    futures: dict[Future[Outcome], Task] = {}
    try:
        futures = {pool.submit(run_task, task): task for task in tasks}
        for future in as_completed(futures):
            task = futures[future]
            try:
                outcome = future.result()
            except Exception as error:  # a worker died, a cluster went away...
                outcome = Outcome(
                    task.key,
                    error=_describe(error),
                    traceback="".join(traceback.format_exception(error)),
                )
            done(task, outcome)
    finally:
        if own:
            pool.shutdown(wait=True, cancel_futures=True)
        else:
            for future in futures:
                future.cancel()


# ---------------------------------------------------------------- statistics

PERCENTILE_METRICS = ("_p50", "_p90", "_p95", "_p99", "_p999", "_max")


def _is_percentile(metric: str) -> bool:
    return metric.endswith(PERCENTILE_METRICS)


def confidence_intervals(
    runs: pd.DataFrame,
    by: Sequence[str] = ("point", "variant", "metric"),
    confidence: float = 0.95,
    method: CiMethod = "t",
    seed: int = 0,
) -> pd.DataFrame:
    """Mean and confidence interval of ``value`` across replications per group.

    ``method="t"``: Student t-interval mean ± t(1-α/2, n-1)·s/√n.
    ``method="bootstrap"``: a BCa bootstrap (9999 resamples of the
    replications, generator ``streams.stream(seed, "bootstrap")`` fresh for
    each group) for percentile and maximum metrics, t for the others.
    NaN values are left out; with fewer than two values the interval is NaN.
    Returns the group columns, then ``n, mean, std, ci_low, ci_high, ci_method``.
    """
    from scipy import stats

    keys = list(by)
    grouped = runs.groupby(keys, sort=False, observed=True)["value"]
    table = grouped.agg(n="count", mean="mean", std="std").reset_index()
    n = table["n"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        quantile = stats.t.ppf(0.5 + confidence / 2, np.where(n >= 2, n - 1, np.nan))
        half = quantile * table["std"].to_numpy() / np.sqrt(n)
    mean = table["mean"].to_numpy()
    table["ci_low"] = np.where(n >= 2, mean - half, np.nan)
    table["ci_high"] = np.where(n >= 2, mean + half, np.nan)
    table["ci_method"] = "t"
    if method == "bootstrap" and "metric" in keys:
        wanted = table["metric"].map(_is_percentile).to_numpy(dtype=bool)
        groups = dict(iter(grouped))
        for row in np.flatnonzero(wanted):
            ident = tuple(table.loc[row, keys])
            values = groups[ident if len(keys) > 1 else ident[0]].to_numpy(dtype=np.float64)
            lo, hi = _bootstrap(values[~np.isnan(values)], confidence, seed)
            table.loc[row, ["ci_low", "ci_high"]] = lo, hi
            table.loc[row, "ci_method"] = "bootstrap"
    table["n"] = table["n"].astype(np.int64)
    return table


def _bootstrap(values: np.ndarray, confidence: float, seed: int) -> tuple[float, float]:
    from scipy import stats

    if len(values) < 2:
        return math.nan, math.nan
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in ("BCa", "percentile"):
            result = stats.bootstrap(
                (values,),
                np.mean,
                confidence_level=confidence,
                n_resamples=9999,
                method=method,
                rng=stream(seed, "bootstrap"),
            )
            lo, hi = result.confidence_interval
            if np.isfinite(lo) and np.isfinite(hi):
                return float(lo), float(hi)
    return math.nan, math.nan


# ---------------------------------------------------------------- results


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

    def _repr_html_(self) -> str:
        return str(self.summary.to_html(index=False, max_rows=60))

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
            path = _requests_path(self.out_dir / "runs", str(row.run_key))
            if not path.is_file():
                raise FileNotFoundError(f"{path}: run the sweep with keep_requests=True")
            frame = pd.read_parquet(path)
            frame.insert(0, "point", row.point)
            frame.insert(1, "replication", row.replication)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def save(self, out_dir: Path) -> list[Path]:
        """Write the tables and ``sweep.json`` into ``out_dir``, each atomically."""
        out_dir.mkdir(parents=True, exist_ok=True)
        writers: dict[str, Callable[[str], object]] = {
            "runs.parquet": lambda p: self.runs.to_parquet(p, index=False),
            "histograms.parquet": lambda p: self.histograms.to_parquet(p, index=False),
            "sweep_summary.csv": lambda p: self.summary.to_csv(p, index=False),
            "failures.csv": lambda p: self.failures.to_csv(p, index=False),
            "sweep.json": lambda p: Path(p).write_text(
                json.dumps(self.meta, indent=2, default=str)
            ),
        }
        return write_files(out_dir, writers)


def _fix_types(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Parameter columns mixing numbers and text become text (parquet needs one type)."""
    for column in columns:
        series = frame[column]
        if series.dtype == object:
            kinds = {type(v) for v in series if v is not None}
            if len(kinds) > 1:
                frame[column] = series.map(lambda v: None if v is None else str(v))
    return frame


def _tables(
    the_plan: Plan, outcomes: dict[str, Outcome]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(runs, histograms, failures) in table order, whatever the completion order."""
    variant_index = {name: i for i, name in enumerate(the_plan.variant_names)}
    params = the_plan.grid_params + the_plan.compare_params
    columns = [
        "point",
        *the_plan.grid_params,
        "replication",
        "run_seed",
        "variant",
        *the_plan.compare_params,
        "metric",
        "value",
        "run_key",
    ]
    runs: dict[str, list[Any]] = {c: [] for c in columns}
    hist: dict[str, list[Any]] = {
        c: [] for c in ("point", "replication", "variant", "slot", "lo", "hi", "count")
    }
    failures: list[dict[str, Any]] = []
    edges = np.r_[0.0, EDGES, np.inf]
    for task in the_plan.tasks:
        outcome = outcomes.get(task.key)
        cell = the_plan.values[(task.point, variant_index[task.variant])]
        if outcome is None or outcome.metrics is None:
            failures.append(
                {
                    "point": task.point,
                    **{p: cell[p] for p in params},
                    "replication": task.replication,
                    "run_seed": task.seed,
                    "variant": task.variant,
                    "error": outcome.error if outcome else "not run",
                    "traceback": outcome.traceback if outcome else "",
                    "run_key": task.key,
                }
            )
            continue
        for metric, value in outcome.metrics.items():
            runs["point"].append(task.point)
            runs["replication"].append(task.replication)
            runs["run_seed"].append(task.seed)
            runs["variant"].append(task.variant)
            for p in params:
                runs[p].append(cell[p])
            runs["metric"].append(metric)
            runs["value"].append(value)
            runs["run_key"].append(task.key)
        assert outcome.histogram is not None
        slots, counts = outcome.histogram.sparse()
        hist["point"] += [task.point] * len(slots)
        hist["replication"] += [task.replication] * len(slots)
        hist["variant"] += [task.variant] * len(slots)
        hist["slot"] += slots
        hist["lo"] += edges[slots].tolist()
        hist["hi"] += edges[np.asarray(slots, dtype=np.int64) + 1].tolist()
        hist["count"] += counts

    categories = pd.CategoricalDtype(the_plan.variant_names, ordered=True)
    runs_frame = pd.DataFrame(runs)
    runs_frame = _fix_types(runs_frame, params)
    hist_frame = pd.DataFrame(hist)
    for frame in (runs_frame, hist_frame):
        for column in ("point", "replication", "slot", "count"):
            if column in frame:
                frame[column] = frame[column].astype(np.int64)
        frame["variant"] = frame["variant"].astype(categories)
    runs_frame["run_seed"] = runs_frame["run_seed"].astype(np.int64)
    runs_frame["value"] = runs_frame["value"].astype(np.float64)
    failure_columns = [
        "point",
        *the_plan.grid_params,
        "replication",
        "run_seed",
        "variant",
        *the_plan.compare_params,
        "error",
        "traceback",
        "run_key",
    ]
    failure_frame = _fix_types(pd.DataFrame(failures, columns=failure_columns), params)
    return runs_frame, hist_frame, failure_frame


def _summary(
    the_plan: Plan, runs: pd.DataFrame, confidence: float, method: CiMethod
) -> pd.DataFrame:
    seed = the_plan.loaded.base.seed
    stats = confidence_intervals(runs, ("point", "variant", "metric"), confidence, method, seed)
    variant_index = {name: i for i, name in enumerate(the_plan.variant_names)}
    rows = []
    for point, variant in stats[["point", "variant"]].itertuples(index=False):
        v = variant_index[str(variant)]
        rows.append(
            {
                **the_plan.values[(int(point), v)],
                "offered_load": the_plan.offered_load[(int(point), v)],
            }
        )
    params = the_plan.grid_params + the_plan.compare_params
    extra = pd.DataFrame(rows, columns=[*params, "offered_load"])
    extra = _fix_types(extra, params)
    columns = [
        stats["point"],
        *(extra[p] for p in the_plan.grid_params),
        stats["variant"],
        *(extra[p] for p in the_plan.compare_params),
        extra["offered_load"],
    ]
    front = pd.concat([c.reset_index(drop=True) for c in columns], axis=1)
    rest = stats.drop(columns=["point", "variant"]).reset_index(drop=True)
    summary = pd.concat([front, rest], axis=1)
    summary["variant"] = summary["variant"].astype(
        pd.CategoricalDtype(the_plan.variant_names, ordered=True)
    )
    return summary


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
    ``keep_requests`` or overrides, which the plan already holds).
    """
    started = time.perf_counter()
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
    runs_dir = out_dir / "runs" if out_dir is not None else None
    if runs_dir is not None:
        runs_dir.mkdir(parents=True, exist_ok=True)

    unique: dict[str, Task] = {}
    for task in the_plan.tasks:
        unique.setdefault(task.key, task)
    outcomes: dict[str, Outcome] = {}
    if runs_dir is not None and resume:
        for key, task in unique.items():
            cached = _read_cached(runs_dir, task)
            if cached is not None:
                outcomes[key] = cached
    reused = len(outcomes)
    todo = [task for key, task in unique.items() if key not in outcomes]
    finished = 0
    if progress is not None:
        progress(0, len(todo))

    def done(task: Task, outcome: Outcome) -> None:
        nonlocal finished
        if runs_dir is not None and outcome.metrics is not None:
            _write_cached(runs_dir, task, outcome)
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

    _execute(todo, executor, jobs, done)

    runs, histograms, failures = _tables(the_plan, outcomes)
    summary = _summary(the_plan, runs, confidence, ci)
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
        "ran": len(todo),
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
