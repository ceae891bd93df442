"""The public Python API: load a scenario, run it, get a :class:`Result`.

Phases, each a plain function of the previous one's output:
load (file -> validated variants) -> draw the workload once (client side) ->
for each variant build a :class:`~lbsim.world.World` and run it -> turn the
records into DataFrames and the summary.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lbsim import __version__
from lbsim.clients import draw_workload
from lbsim.result import (
    Result,
    concat,
    events_frame,
    requests_frame,
    summarize,
    timeseries_frame,
)
from lbsim.scenario import Loaded, Scenario, load, resolved
from lbsim.world import World

# (variant index, variant count, variant name, fraction of that variant done)
RunProgress = Callable[[int, int, str, float], None]


def _overrides(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``balancer__algorithm="random"`` and ``{"balancer.algorithm": ...}`` alike."""
    return {key.replace("__", "."): value for key, value in kwargs.items()}


def load_scenario(
    source: str | Path | Scenario | Loaded | dict[str, Any],
    overrides: dict[str, Any] | None = None,
) -> Loaded:
    """Validate and expand a scenario given as a path, a dict, a model or a ``Loaded``."""
    if isinstance(source, Loaded) and not overrides:
        return source
    if isinstance(source, Loaded):
        return load(data=source.raw, overrides=overrides)
    if isinstance(source, Scenario):
        return load(data=resolved(source), overrides=overrides)
    if isinstance(source, dict):
        return load(data=source, overrides=overrides)
    return load(Path(source), overrides=overrides)


def run(
    scenario: str | Path | Scenario | Loaded | dict[str, Any],
    *,
    progress: RunProgress | None = None,
    **overrides: Any,
) -> Result:
    """Simulate every variant of ``scenario`` and return the results.

    Keyword arguments override scenario fields by dotted path, with ``__``
    for the dot: ``run("s.yaml", seed=3, balancer__algorithm="random")``.
    """
    loaded = load_scenario(scenario, _overrides(overrides))
    started = time.perf_counter()
    base = loaded.base
    workload = draw_workload(loaded.variants[0].scenario)
    names = base.server_names()
    workers = np.array([pool.workers for pool in base.servers for _ in range(pool.count)])
    summaries, requests, series, events = [], [], [], []
    count = len(loaded.variants)
    for index, variant in enumerate(loaded.variants):
        on_chunk = None if progress is None else partial(progress, index, count, variant.name)
        scenario_v = variant.scenario
        records = World(scenario_v, workload).run(on_chunk)
        summaries.append(summarize(variant, workload, records, workers))
        requests.append(requests_frame(variant.name, workload, records, names, scenario_v.warmup))
        series.append(timeseries_frame(variant.name, records, names))
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
        "variants": [{"name": v.name, "params": v.params} for v in loaded.variants],
        "servers": [
            {
                "name": f"{p.name}-{i}",
                "pool": p.name,
                "workers": p.workers,
                "speed": p.speed,
                "weight": p.weight,
            }
            for p in base.servers
            for i in range(p.count)
        ],
        "scenario": resolved(base),
    }
    return Result(
        summary=pd.DataFrame(summaries),
        requests=concat(requests),
        timeseries=concat(series),
        events=concat(events),
        meta=meta,
    )
