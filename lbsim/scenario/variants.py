"""Variants: one fully resolved :class:`Scenario` per combination of the
varied fields (``compare:``, the file's ``sweep.grid``, ``--grid``)."""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass, replace
from typing import Any

from lbsim.scenario import paths
from lbsim.scenario.errors import Problem, did_you_mean
from lbsim.scenario.labels import variant_name
from lbsim.scenario.models import Scenario
from lbsim.scenario.source import Marks
from lbsim.scenario.validation import Origin, validate

Axis = tuple[str, list[Any], Origin]


@dataclass(frozen=True)
class Variant:
    """One combination of the ``compare:`` values, fully resolved."""

    name: str
    params: dict[str, Any]
    scenario: Scenario


def axes(
    data: dict[str, Any], source: str, marks: Marks, grid: dict[str, list[Any]] | None
) -> tuple[list[Axis], list[Problem]]:
    """The varied fields: ``compare:``, the file's ``sweep.grid`` and ``--grid``."""
    found: list[Axis] = []
    sweep = data.get("sweep") if isinstance(data.get("sweep"), dict) else {}
    for prefix, mapping in (
        (("compare",), data.get("compare")),
        (("sweep", "grid"), (sweep or {}).get("grid")),
    ):
        if isinstance(mapping, dict):
            found += [(str(k), v, Origin(source, (*prefix, k))) for k, v in mapping.items()]
    found += [(k, v, Origin("--grid")) for k, v in (grid or {}).items()]
    problems = []
    for dotted, values, origin in found:
        exists, unknown, allowed = paths.exists(paths.split(dotted))
        label = paths.dotted(origin.mark) if origin.mark else dotted
        line, col = marks.get(origin.mark, (None, None)) if origin.mark else (None, None)
        if not exists:
            message = f"no such field{did_you_mean(unknown, allowed)}"
            problems.append(Problem(origin.where, line, col, label, message))
        elif not isinstance(values, list) or not values:
            problems.append(Problem(origin.where, line, col, label, "expected a non-empty list"))
    seen = [dotted for dotted, _, _ in found]
    for dotted in {d for d in seen if seen.count(d) > 1}:
        problems.append(Problem(source, None, None, dotted, "varied in more than one place"))
    return found, problems


MAX_VARIANTS = 10_000


def too_many(varied: list[Axis], source: str) -> list[Problem]:
    """A problem if the varied values combine into more than :data:`MAX_VARIANTS`
    variants (counted before any is built)."""
    count = math.prod(len(v) if isinstance(v, list) else 1 for _, v, _ in varied)
    if count <= MAX_VARIANTS:
        return []
    sizes = " x ".join(str(len(v)) for _, v, _ in varied if isinstance(v, list))
    message = f"{sizes} values make {count:,} variants; the limit is {MAX_VARIANTS:,}"
    return [Problem(source, None, None, "compare", message)]


def expand(
    data: dict[str, Any],
    varied: list[Axis],
    default_name: str,
    source: str,
    marks: Marks,
    context: dict[str, Any],
    origins: dict[paths.FieldPath, Origin],
) -> tuple[list[Variant], list[Problem]]:
    """Every combination of the ``varied`` values validated as a variant;
    duplicate names get a ``#<index>`` suffix."""
    variants, problems = [], []
    for combo in itertools.product(*(values for _, values, _ in varied)):
        variant_data = copy.deepcopy(data)
        variant_data["compare"] = None
        variant_data.pop("sweep", None)
        params = {dotted: value for (dotted, _, _), value in zip(varied, combo, strict=True)}
        variant_origins = dict(origins)
        for (dotted, _, origin), value in zip(varied, combo, strict=True):
            paths.set_value(variant_data, paths.split(dotted), value)
            variant_origins[paths.split(dotted)] = origin
        scenario, variant_problems = validate(variant_data, source, marks, context, variant_origins)
        name = variant_name(_distinct(params, varied)) if varied else default_name
        for problem in variant_problems:
            problem = replace(problem, message=f"{problem.message} (in variant {name})")
            if problem not in problems:
                problems.append(problem)
        if scenario is not None:
            variants.append(Variant(name, params, scenario))
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        variants = [Variant(f"{v.name} #{i}", v.params, v.scenario) for i, v in enumerate(variants)]
    return variants, problems


def _distinct(params: dict[str, Any], varied: list[Axis]) -> dict[str, Any]:
    """``params`` without the keys that every value of an axis of mappings
    shares (``health_check: {preset: haproxy}`` in each ``balancer`` compared),
    so a variant is named by what differs."""
    shown = dict(params)
    for dotted, values, _ in varied:
        value = params[dotted]
        if len(values) > 1 and all(isinstance(v, dict) for v in values):
            same = {k for k in value if all(k in v and v[k] == value[k] for v in values)}
            shown[dotted] = {k: v for k, v in value.items() if k not in same} or value
    return shown
