"""The one metric catalogue: every summary column, its unit, direction and heading.

The summary (:func:`lbsim.analysis.result.summarize`) produces exactly the
columns of :data:`METRICS`, in this order; the terminal table, the HTML
report, the sweep plots, ``lbsim diff`` and the CI gate read their units,
directions and headings from here, and nothing else lists metrics.

``quantity`` says what a value is: ``seconds``; a ``fraction`` (of requests,
or of capacity for utilisation), shown in %; a ``rate`` per second; or a
plain ``count``/number. ``better`` is ``lower``, ``higher`` or ``None`` for
metrics that follow the workload rather than the strategy (request counts,
utilisation): those are never marked best nor checkable by the gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lbsim.engine.records import STATUSES

Better = Literal["lower", "higher"] | None
Quantity = Literal["seconds", "fraction", "rate", "number"]

_SCALE: dict[Quantity, float] = {"seconds": 1e3, "fraction": 100.0}
_DISPLAY_UNIT: dict[Quantity, str] = {"seconds": "ms", "fraction": "%", "rate": "req/s"}

OK_LATENCY = "ok requests after warm-up"
MEASURED = "requests after warm-up"
SESSIONS = "sessions started after warm-up"


@dataclass(frozen=True)
class Metric:
    """One summary column: what its value is, which way is better, how it is shown."""

    name: str
    quantity: Quantity
    better: Better
    heading: str  # long form: HTML report, plots
    short: str  # compact form: terminal table
    population: str  # what it is computed over
    label: str = ""  # display unit of a plain number (req, max/mean, ×)
    quantile: float | None = None  # percentile level, for percentiles

    @property
    def is_percentile(self) -> bool:
        return self.quantile is not None

    @property
    def scale(self) -> float:
        """Factor from the stored value to the display unit (s -> ms, fraction -> %)."""
        return _SCALE.get(self.quantity, 1.0)

    @property
    def unit(self) -> str:
        """The display unit: ``ms``, ``%``, ``req/s`` or the plain number's label."""
        return _DISPLAY_UNIT.get(self.quantity, self.label)


def _percentile(stat: str, q: float, short: str) -> Metric:
    heading = f"latency {short}"
    return Metric(f"latency_{stat}", "seconds", "lower", heading, short, OK_LATENCY, quantile=q)


def _catalogue() -> tuple[Metric, ...]:
    status_rates = [
        Metric(f"{s}_rate", "fraction", "lower", s.replace("_", " "), s[:8], MEASURED)
        for s in STATUSES[1:]
    ]
    servers = "servers, time-weighted over the measurement window"
    return (
        Metric("requests", "number", None, "requests", "reqs", MEASURED),
        Metric("ok", "number", "higher", "ok", "ok", MEASURED),
        Metric("throughput", "rate", "higher", "throughput", "thruput", "ok " + MEASURED),
        *status_rates,
        Metric("error_rate", "fraction", "lower", "errors", "errors", MEASURED),
        Metric(
            "retry_amplification",
            "number",
            "lower",
            "retry amplification",
            "retry×",
            MEASURED,
            "×",
        ),
        Metric("wasted_rate", "fraction", "lower", "wasted", "wasted", "all attempts"),
        Metric("latency_mean", "seconds", "lower", "latency mean", "mean", OK_LATENCY),
        _percentile("p50", 50, "p50"),
        _percentile("p90", 90, "p90"),
        _percentile("p95", 95, "p95"),
        _percentile("p99", 99, "p99"),
        _percentile("p999", 99.9, "p99.9"),
        Metric("latency_max", "seconds", "lower", "latency max", "max", OK_LATENCY),
        Metric("wait_mean", "seconds", "lower", "wait mean", "wait", OK_LATENCY),
        Metric("wait_p99", "seconds", "lower", "wait p99", "wait99", OK_LATENCY, quantile=99),
        Metric("queue_mean", "number", "lower", "queue mean", "queue", servers, "req"),
        Metric("queue_max", "number", "lower", "queue max", "qmax", "servers", "req"),
        Metric("utilization_mean", "fraction", None, "utilisation", "util", servers),
        Metric(
            "load_imbalance",
            "number",
            "lower",
            "load imbalance",
            "imbal",
            "requests after warm-up, per server that answered",
            "max/mean",
        ),
        Metric(
            "detect_down_mean",
            "seconds",
            "lower",
            "detect down",
            "detdown",
            "failures (crash/hang -> marked down)",
        ),
        Metric(
            "detect_up_mean",
            "seconds",
            "lower",
            "detect up",
            "detup",
            "recoveries (recover -> marked up)",
        ),
        Metric("sessions_started", "number", None, "sessions started", "sess", SESSIONS, "sess"),
        Metric("sessions_lost", "number", "lower", "sessions lost", "lost", SESSIONS, "sess"),
        Metric(
            "session_imbalance",
            "number",
            "lower",
            "session imbalance",
            "simbal",
            "sessions started after warm-up, by the server their state first lived on",
            "max/mean",
        ),
        Metric(
            "store_utilization",
            "fraction",
            None,
            "session store utilisation",
            "store",
            "session store workers, time-weighted over the measurement window",
        ),
        Metric(
            "extra_load",
            "fraction",
            "lower",
            "extra calls",
            "extra",
            "calls beyond one per request after warm-up (hedges, fan-out leaves)",
        ),
        Metric(
            "recovery_time",
            "seconds",
            "lower",
            "recovery time",
            "recover",
            "from the trigger's end until p99 and goodput are back within tolerance",
        ),
    )


#: Every summary metric, in the summary's column order.
METRICS: dict[str, Metric] = {m.name: m for m in _catalogue()}

#: Metrics in the summary only when the scenario asks for them: ``extra_load``
#: with ``clients.hedge`` or ``clients.fanout``, ``recovery_time`` with ``recovery``,
#: the session metrics with ``clients.sessions``, ``store_utilization`` with a store.
OPTIONAL_METRICS: frozenset[str] = frozenset(
    {
        "extra_load",
        "recovery_time",
        "sessions_started",  # these three with clients.sessions
        "sessions_lost",
        "session_imbalance",
        "store_utilization",  # with a session_store
    }
)

#: Metrics with a direction: what the CI gate can check and what diffs colour.
CHECKABLE: dict[str, Metric] = {n: m for n, m in METRICS.items() if m.better is not None}

#: Terminal summary columns, most important first (trailing ones dropped to fit).
TERMINAL_METRICS: tuple[str, ...] = (
    "throughput",
    "error_rate",
    "sessions_lost",  # these three only when the scenario has them (OPTIONAL_METRICS)
    "recovery_time",
    "extra_load",
    "latency_p50",
    "latency_p99",
    "latency_p999",
    "latency_max",
    "queue_mean",
    "load_imbalance",
    "utilization_mean",
    "wait_p99",
)

#: What ``lbsim diff`` shows unless asked for other metrics.
DIFF_METRICS: tuple[str, ...] = (
    "throughput",
    "error_rate",
    "latency_p50",
    "latency_p99",
    "latency_p999",
    "wait_p99",
    "queue_mean",
    "load_imbalance",
)

#: Metrics in a sweep report's table.
SWEEP_METRICS: tuple[str, ...] = (
    "latency_mean",
    "latency_p50",
    "latency_p99",
    "error_rate",
    "utilization_mean",
)


def percentiles(prefix: str) -> dict[str, float]:
    """Name -> percentile level (0-100) of the percentile metrics starting with ``prefix``."""
    return {
        m.name: m.quantile
        for m in METRICS.values()
        if m.quantile is not None and m.name.startswith(prefix)
    }


def describe(name: str) -> Metric:
    """The catalogue entry of ``name``, or one inferred from its form.

    ``<kind>_rate`` is a fraction of requests (lower is better);
    ``latency_*`` and ``wait_*`` are seconds (lower is better); anything
    else is a plain number without a direction. So columns the catalogue
    does not know (derived or user-made) still show sensibly.
    """
    if name in METRICS:
        return METRICS[name]
    if name.endswith("_rate"):
        kind = name.removesuffix("_rate")
        return Metric(name, "fraction", "lower", kind.replace("_", " "), kind[:8], "")
    for prefix in ("latency_", "wait_"):
        if name.startswith(prefix):
            stat = name.removeprefix(prefix)
            return Metric(name, "seconds", "lower", f"{prefix[:-1]} {stat}", stat[:8], "")
    return Metric(name, "number", None, name.replace("_", " "), name[:8], "")
