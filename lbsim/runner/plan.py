"""Planning a sweep: grid points × variants × replications, each a :class:`Task`
in table order (nothing is simulated here)."""

from __future__ import annotations

import itertools
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lbsim.runner.tasks import Task, run_key
from lbsim.runner.work import MAX_PLANNED_RUNS, check_work, estimate, mean_rate
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
from lbsim.streams import replication_seeds


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
    allow_outside_files: bool,
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
            path,
            data=data,
            overrides={**overrides, **extra},
            grid=grid if with_grid else None,
            allow_outside_files=allow_outside_files,
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
    capacity = sum(p.count * p.workers * p.speed for p in scenario.servers)
    return float(mean_rate(scenario) * scenario.clients.service.mean / capacity)


def plan(
    source: str | Path | Scenario | Loaded | dict[str, Any],
    *,
    replications: int | None = None,
    grid: dict[str, list[Any]] | None = None,
    overrides: dict[str, Any] | None = None,
    keep_requests: bool = False,
    force: bool = False,
    allow_outside_files: bool = False,
) -> Plan:
    """Validate the scenario with its grid and list every run (no simulation).

    Raises :class:`ScenarioError` if the runs are out of reach
    (:func:`refusals`), unless ``force``."""
    grid = dict(grid or {})
    loaded = _load(source, dict(overrides or {}), grid, allow_outside_files)
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
    work = estimate([v.scenario for v in loaded.variants], replications, os.cpu_count() or 1)
    check_work(work, force, loaded.source)
    if work.runs > MAX_PLANNED_RUNS:  # even with --force: the plan itself would not fit
        message = f"{work.runs:,} runs; at most {MAX_PLANNED_RUNS:,} can be planned"
        raise ScenarioError([Problem(loaded.source, None, None, "", message)])

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
