"""The public Python API: load a scenario, run it, get a :class:`Result`.

Phases, each a plain function of the previous one's output:
load (file -> validated variants) -> draw the workload once (client side) ->
for each variant build a :class:`~lbsim.engine.world.World` and run it -> turn the
records into DataFrames and the summary.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from lbsim._version import __version__
from lbsim.analysis.result import (
    Result,
    balancers_frame,
    concat,
    events_frame,
    timeseries_frame,
)
from lbsim.analysis.summary import summarize
from lbsim.engine.workload import Workload, draw_workload
from lbsim.engine.world import World
from lbsim.runner.keep import ROWS_EVERY, simulate
from lbsim.scenario import Loaded, Scenario, load, resolved
from lbsim.streams import replication_seeds

# (variant index, variant count, variant name, fraction of that variant done)
RunProgress = Callable[[int, int, str, float], None]


def _overrides(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``balancer__algorithm="random"`` and ``{"balancer.algorithm": ...}`` alike."""
    return {key.replace("__", "."): value for key, value in kwargs.items()}


class Workloads:
    """Workloads by client-side configuration: variants that differ only on
    the server side share one draw (and so face identical requests)."""

    def __init__(self) -> None:
        self._cache: dict[str, Workload] = {}

    def get(self, scenario: Scenario) -> Workload:
        key = json.dumps(
            [scenario.seed, scenario.duration, resolved(scenario)["clients"]], sort_keys=True
        )
        if key not in self._cache:
            self._cache[key] = draw_workload(scenario)
        return self._cache[key]


def _servers(scenario: Scenario) -> list[dict[str, Any]]:
    return [
        {
            "name": f"{p.name}-{i}",
            "pool": p.name,
            "workers": p.workers,
            "speed": p.speed,
            "weight": p.weight,
        }
        for p in scenario.servers
        for i in range(p.hosts)
    ]


def replicate(
    scenario: str | Path | Scenario | Loaded | dict[str, Any],
    replications: int,
    *,
    progress: RunProgress | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """Summaries of ``replications`` independent runs of every variant.

    Replication r uses seed ``replication_seeds(seed, replications)[r]`` for
    every variant, so variants (and two versions of a model) are compared on
    paired workloads. One row per replication and variant: ``replication``,
    ``seed`` and the summary columns.
    """
    loaded = load_scenario(scenario, _overrides(overrides))
    rows = []
    count = replications * len(loaded.variants)
    for r, seed in enumerate(replication_seeds(loaded.base.seed, replications)):
        workloads = Workloads()
        for index, variant in enumerate(loaded.variants):
            config = variant.scenario.model_copy(update={"seed": seed})
            step = r * len(loaded.variants) + index
            on_chunk = None if progress is None else partial(progress, step, count, variant.name)
            workload = workloads.get(config)
            world = World(config, workload)
            records = world.run(on_chunk)
            row = summarize(variant, world.workload, records)
            rows.append({"variant": row.pop("variant"), "replication": r, "seed": seed, **row})
    return pd.DataFrame(rows)


def load_scenario(
    source: str | Path | Scenario | Loaded | dict[str, Any],
    overrides: dict[str, Any] | None = None,
    *,
    allow_outside_files: bool = False,
) -> Loaded:
    """Validate and expand a scenario given as a path, a dict, a model or a ``Loaded``.

    A path is relative to the working directory (a notebook's folder); files
    the scenario names (``service: {dist: empirical, file: ...}``) are
    relative to the scenario file, as in ``lbsim run``, and may lie outside
    its folder only if ``allow_outside_files``.
    """
    if isinstance(source, Loaded) and not overrides:
        return source
    if isinstance(source, Loaded):
        # files it names stay relative to the scenario file it was read from
        return load(data=source.raw, overrides=overrides, base_dir=source.base_dir)
    if isinstance(source, Scenario):
        return load(data=resolved(source), overrides=overrides)
    if isinstance(source, dict):
        return load(data=source, overrides=overrides)
    return load(Path(source), overrides=overrides, allow_outside_files=allow_outside_files)


def run(
    scenario: str | Path | Scenario | Loaded | dict[str, Any],
    *,
    progress: RunProgress | None = None,
    **overrides: Any,
) -> Result:
    """Simulate every variant of ``scenario`` and return the results.

    Keyword arguments override scenario fields by dotted path, with ``__``
    for the dot: ``run("s.yaml", seed=3, balancer__algorithm="random")``.
    Overriding a field that the scenario's ``compare:`` varies runs only the
    variant with that value.
    """
    loaded = load_scenario(scenario, _overrides(overrides))
    started = time.perf_counter()
    base = loaded.base
    summaries, requests, series, views, events = [], [], [], [], []
    histograms: dict[str, dict[str, Any]] = {}
    per_server: dict[str, dict[str, int]] = {}
    workloads = Workloads()
    count = len(loaded.variants)
    for index, variant in enumerate(loaded.variants):
        on_chunk = None if progress is None else partial(progress, index, count, variant.name)
        config = variant.scenario
        records, row, histogram, rows, served = simulate(
            variant, config.records, partial(workloads.get, config), on_chunk
        )
        names = config.server_names()
        per_server[variant.name] = dict(zip(names, map(int, served), strict=True))
        summaries.append(row)
        histograms[variant.name] = histogram.to_dict()
        requests.append(rows)
        series.append(timeseries_frame(variant.name, records, names))
        views.append(balancers_frame(variant.name, records))
        events.append(events_frame(variant.name, records))
    meta = {
        "name": base.name,
        "source": loaded.source,
        "seed": base.seed,
        "lbsim_version": __version__,
        "wall_time": time.perf_counter() - started,
        "duration": base.duration,
        "warmup": base.warmup,
        "sample_interval": base.sampling,
        "variants": [
            {"name": v.name, "params": v.params, "servers": _servers(v.scenario)}
            for v in loaded.variants
        ],
        "servers": _servers(base),
        "scenario": resolved(base),
        "records": base.records,
        # per variant, the request rows kept: every k-th request by id (0: none)
        "rows_every": {v.name: ROWS_EVERY[v.scenario.records] for v in loaded.variants},
        # measured requests by the server of their latest attempt, per variant
        # (every request, whatever rows are kept)
        "requests_per_server": per_server,
        # latency of ok requests after the warm-up, per variant: mergeable
        # (lbsim.runner.histogram.LatencyHistogram.from_dict)
        "latency_histograms": histograms,
    }
    return Result(
        summary=pd.DataFrame(summaries),
        requests=concat(requests),
        timeseries=concat(series),
        balancers=concat(views),
        events=concat(events),
        meta=meta,
    )
