"""Limits of the gate: which metrics it can check, and how much worse each may get.

A limit is ``5%`` (relative to the baseline value), ``+0.1pp`` (percentage
points, for rates) or ``+20ms``, ``+2`` (absolute, in the metric's unit).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lbsim.analysis.metrics import CHECKABLE, Metric, Quantity
from lbsim.analysis.metrics import METRICS as CATALOGUE
from lbsim.gate.baseline import CheckError

#: Checked when no metric is named: errors, and the tail over every request
#: (p99 of ok requests alone passes a build that fails more of them).
DEFAULT_METRICS: tuple[str, ...] = ("error_rate", "latency_all_p99")
DEFAULT_LIMIT = "5%"
#: The default limit of a rate (a fraction of requests): relative limits from
#: a rate of zero are infinite, so rates get percentage points.
DEFAULT_RATE_LIMIT = "+0.1pp"

#: The metrics a gate can check: those of the catalogue with a direction.
#: Utilisation and request counts have none (they follow the workload).
METRICS: dict[str, Metric] = CHECKABLE

# Absolute limit units per kind of metric: factor to the metric's own unit.
_UNITS: dict[Quantity, dict[str, float]] = {
    "seconds": {"us": 1e-6, "ms": 1e-3, "s": 1.0},
    "fraction": {"pp": 0.01},
    "rate": {"": 1.0, "/s": 1.0},
    "number": {"": 1.0},
}
_LIMIT_RE = re.compile(r"^\s*([+-]?)\s*(\d+(?:\.\d*)?|\.\d+)\s*(%|pp|us|ms|s|/s)?\s*$")


def metric(name: str) -> Metric:
    """The checkable metric ``name``; :class:`CheckError` listing them if unknown."""
    if name not in METRICS:
        known = ", ".join(sorted(METRICS))
        if name in CATALOGUE:
            raise CheckError(
                f"metric {name!r} has no better direction (it follows the workload) and "
                f"cannot be checked; known metrics are {known}"
            )
        raise CheckError(f"unknown metric {name!r}: known metrics are {known}")
    return METRICS[name]


@dataclass(frozen=True)
class Limit:
    """How much worse ``metric`` may get: ``amount`` as a fraction of the
    baseline (``relative``) or in the metric's own unit (``absolute``)."""

    metric: str
    amount: float
    relative: bool
    text: str

    def __str__(self) -> str:
        return self.text


def parse_limit(metric_name: str, text: str) -> Limit:
    """``5%`` (relative), ``+0.1pp`` (rates), ``+20ms`` (latencies), ``+2`` (plain numbers)."""
    info = metric(metric_name)
    match = _LIMIT_RE.match(text)
    if not match:
        raise CheckError(
            f"malformed limit {text!r} for {metric_name}: expected e.g. 5%, +0.1pp or +20ms"
        )
    sign, number, unit = match.groups()
    if sign == "-":
        raise CheckError(
            f"limit {text!r} for {metric_name}: a limit is how much worse the metric may get; "
            "it cannot be negative"
        )
    value = float(number)
    if unit == "%":
        return Limit(metric_name, value / 100, True, text.strip())
    units = _UNITS[info.quantity]
    if (unit or "") not in units:
        allowed = ", ".join(f"+1{u}" if u else "+1" for u in units)
        raise CheckError(
            f"limit {text!r} for {metric_name}: use a relative limit (5%) or an absolute one "
            f"in its unit ({allowed})"
        )
    return Limit(metric_name, value * units[unit or ""], False, text.strip())


def parse_limits(specs: Iterable[str], metrics: Sequence[str] = ()) -> dict[str, Limit]:
    """Limits by metric from ``--metric`` names and ``--max-regression`` specs.

    A spec is ``METRIC=LIMIT`` or a bare ``LIMIT`` (the default for every metric
    without its own); specs may also be given comma- or space-separated in one
    string. Metrics named in specs are checked too; with no metric named at
    all, :data:`DEFAULT_METRICS` are. Without a bare limit, a metric's limit is
    :data:`DEFAULT_RATE_LIMIT` for rates, :data:`DEFAULT_LIMIT` otherwise.
    """
    named: dict[str, str] = {}
    default: str | None = None
    for spec in (part for item in specs for part in re.split(r"[,\s]+", item) if part):
        if "=" in spec:
            name, _, text = spec.partition("=")
            name = name.strip()
            metric(name)
            if name in named and named[name] != text:
                raise CheckError(f"two limits for {name}: {named[name]} and {text}")
            named[name] = text
        elif default is not None and default != spec:
            raise CheckError(f"two default limits: {default} and {spec}; name the metric (m=5%)")
        else:
            default = spec
    for name in metrics:
        metric(name)
    chosen = list(dict.fromkeys([*metrics, *named])) or list(DEFAULT_METRICS)

    def fallback(name: str) -> str:
        return DEFAULT_RATE_LIMIT if METRICS[name].quantity == "fraction" else DEFAULT_LIMIT

    return {
        name: parse_limit(name, named.get(name) or default or fallback(name)) for name in chosen
    }
