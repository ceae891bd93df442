"""The one metric catalogue: every summary column, its unit, direction and heading.

The summary (:func:`lbsim.analysis.summary.summarize`) produces exactly the
columns of :data:`METRICS`, in this order; the terminal table, the HTML
report, the sweep plots, ``lbsim diff`` and the CI gate read their units,
directions and headings from here, and nothing else lists metrics.

``quantity`` says what a value is: ``seconds``; a ``fraction`` (of requests,
or of capacity for utilisation), shown in %; a ``rate`` per second; or a
plain ``count``/number. ``better`` is ``lower``, ``higher`` or ``None`` for
metrics that follow the workload rather than the strategy (request counts,
utilisation): those are never marked best nor checkable by the gate.

``population`` says what a value is computed over; its short tag
(:attr:`Metric.covers`: ``ok``, ``all``, ``tries``, ``servers``) is shown under
every column heading, so no table leaves a reader guessing whether failed
requests are in a latency. Best values are marked by :mod:`lbsim.analysis.best`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from lbsim.status import STATUSES

Better = Literal["lower", "higher"] | None
Quantity = Literal["seconds", "fraction", "rate", "number"]

_SCALE: dict[Quantity, float] = {"seconds": 1e3, "fraction": 100.0}
_DISPLAY_UNIT: dict[Quantity, str] = {"seconds": "ms", "fraction": "%", "rate": "req/s"}

# What a column is computed over (``Metric.population``): each population's
# short tag (shown under the column heading) and what it covers (the legend).
OK_LATENCY = "ok requests after warm-up"
MEASURED = "requests after warm-up"
SESSIONS = "sessions started after warm-up"
ALL_LATENCY = (
    "every request after warm-up: a failure at the time the client learned of it, "
    "a timeout at the timeout, one never answered as ∞"
)
ATTEMPTS = "all attempts"
SERVERS = "servers, time-weighted over the measurement window"
POPULATION_TAGS: dict[str, str] = {
    OK_LATENCY: "ok",
    MEASURED: "all",
    ALL_LATENCY: "all",
    ATTEMPTS: "tries",
    SERVERS: "servers",
}
#: What each tag means, for a table's legend.
POPULATION_LEGEND: dict[str, str] = {
    "ok": OK_LATENCY,
    "all": "every request after warm-up (in a latency: a failure at the time the client "
    "learned of it, a timeout at the timeout, one never answered as ∞)",
    "tries": ATTEMPTS,
    "servers": SERVERS,
}


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
    feature: str | None = None  # only in runs that use it: cpu, tls, versions (None: always)
    whole_seconds: bool = False  # seconds shown as s, not ms (detection and recovery times)

    @property
    def covers(self) -> str:
        """Short tag of the population (``ok``, ``all``...); ``""`` for other ones."""
        return POPULATION_TAGS.get(self.population, "")

    @property
    def is_percentile(self) -> bool:
        return self.quantile is not None

    @property
    def scale(self) -> float:
        """Factor from the stored value to the display unit (s -> ms, fraction -> %)."""
        return 1.0 if self.whole_seconds else _SCALE.get(self.quantity, 1.0)

    @property
    def unit(self) -> str:
        """The display unit: ``ms`` (``s`` for :attr:`whole_seconds`), ``%``,
        ``req/s`` or the plain number's label."""
        return "s" if self.whole_seconds else _DISPLAY_UNIT.get(self.quantity, self.label)


def _percentile(stat: str, q: float, short: str) -> Metric:
    heading = f"latency {short}"
    return Metric(f"latency_{stat}", "seconds", "lower", heading, short, OK_LATENCY, quantile=q)


def _all_percentile(stat: str, q: float, short: str) -> Metric:
    """A latency percentile over every measured request, failures included."""
    name, heading = f"latency_all_{stat}", f"latency {short} (all requests)"
    return Metric(name, "seconds", "lower", heading, short, ALL_LATENCY, quantile=q)


def _catalogue() -> tuple[Metric, ...]:
    status_rates = [
        Metric(f"{s}_rate", "fraction", "lower", s.replace("_", " "), s[:8], MEASURED)
        for s in STATUSES[1:]
    ]
    servers = SERVERS
    return (
        Metric("requests", "number", None, "requests", "reqs", MEASURED),
        Metric("ok", "number", "higher", "ok", "ok", MEASURED),
        # Answers of any status per second: fast failures count, so no direction.
        Metric("throughput", "rate", None, "throughput (any answer)", "thruput", MEASURED),
        Metric("goodput", "rate", "higher", "goodput", "goodput", OK_LATENCY),
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
        Metric("wasted_rate", "fraction", "lower", "wasted", "wasted", ATTEMPTS),
        Metric("latency_mean", "seconds", "lower", "latency mean", "mean", OK_LATENCY),
        _percentile("p50", 50, "p50"),
        _percentile("p90", 90, "p90"),
        _percentile("p95", 95, "p95"),
        _percentile("p99", 99, "p99"),
        _percentile("p999", 99.9, "p99.9"),
        Metric("latency_max", "seconds", "lower", "latency max", "max", OK_LATENCY),
        _all_percentile("p50", 50, "p50"),
        _all_percentile("p99", 99, "p99"),
        _all_percentile("p999", 99.9, "p99.9"),
        Metric("wait_mean", "seconds", "lower", "wait mean", "wait", OK_LATENCY),
        Metric("wait_p99", "seconds", "lower", "wait p99", "wait99", OK_LATENCY, quantile=99),
        Metric("queue_mean", "number", "lower", "queue mean", "queue", servers, "req"),
        Metric("queue_max", "number", "lower", "queue max", "qmax", servers, "req"),
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
            whole_seconds=True,
        ),
        Metric(
            "detect_up_mean",
            "seconds",
            "lower",
            "detect up",
            "detup",
            "recoveries (recover -> marked up)",
            whole_seconds=True,
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
            whole_seconds=True,
        ),
        *_layer7(),
        *_connection_metrics(),
        *_region_metrics(),
        *_autoscaling(),
    )


def _autoscaling() -> tuple[Metric, ...]:
    """Columns of runs with an autoscaled pool (lbsim.analysis.capacity)."""
    events = "autoscaling events over the run"
    return (
        Metric(
            "instances_peak",
            "number",
            None,
            "instances peak",
            "inst max",
            events,
            "inst",
            feature="autoscale",
        ),
        Metric(
            "instance_hours",
            "number",
            "lower",
            "instance-hours",
            "inst h",
            "instances provisioned, over the measurement window",
            "h",
            feature="autoscale",
        ),
        Metric(
            "scale_out_time",
            "seconds",
            "lower",
            "time to scaled capacity",
            "scale t",
            "scale-outs: from the decision until that many instances are in service",
            feature="autoscale",
            whole_seconds=True,
        ),
    )


def _layer7() -> tuple[Metric, ...]:
    """Balancer CPU, TLS and canary metrics: columns only of runs that use them."""
    cpu = "balancer CPU, time-weighted over the measurement window, mean over instances"
    cause = "requests after warm-up: core-seconds of balancer CPU per second"
    return (
        Metric(
            "balancer_utilization", "fraction", None, "balancer CPU", "lb util", cpu, feature="cpu"
        ),
        Metric(
            "balancer_queue_mean",
            "number",
            "lower",
            "balancer queue mean",
            "lb queue",
            cpu,
            "req",
            feature="cpu",
        ),
        Metric(
            "balancer_queue_max",
            "number",
            "lower",
            "balancer queue max",
            "lb qmax",
            "balancer CPU",
            "req",
            feature="cpu",
        ),
        Metric(
            "balancer_cpu_connection",
            "number",
            None,
            "LB CPU: connections",
            "cpu conn",
            cause,
            "cores",
            feature="cpu",
        ),
        Metric(
            "balancer_cpu_parse",
            "number",
            None,
            "LB CPU: L7 parse",
            "cpu l7",
            cause,
            "cores",
            feature="cpu",
        ),
        Metric(
            "balancer_cpu_handshake",
            "number",
            None,
            "LB CPU: TLS handshakes",
            "cpu tls",
            cause,
            "cores",
            feature="tls",
        ),
        Metric(
            "handshakes_per_s",
            "rate",
            None,
            "TLS handshakes",
            "hs/s",
            "new TLS connections of requests after warm-up",
            feature="tls",
        ),
        Metric(
            "canary_share",
            "fraction",
            None,
            "canary share",
            "canary",
            "requests after warm-up sent to a version other than a pool's first",
            feature="versions",
        ),
        Metric(
            "canary_error_rate",
            "fraction",
            "lower",
            "canary errors",
            "canary err",
            "requests after warm-up sent to a canary version",
            feature="versions",
        ),
        Metric(
            "primary_error_rate",
            "fraction",
            "lower",
            "primary errors",
            "prim err",
            "requests after warm-up sent to a pool's first version",
            feature="versions",
        ),
    )


def _region_metrics() -> tuple[Metric, ...]:
    """Columns of runs with ``regions`` (lbsim.analysis.regions)."""
    outage = "region failures: from the failure to its recovery (or the end of arrivals)"
    return (
        Metric(
            "cross_region_share",
            "fraction",
            "lower",
            "cross-region share",
            "x-region",
            "requests after warm-up sent to a region other than their client's",
            feature="regions",
        ),
        Metric(
            "dns_queries_per_s",
            "rate",
            None,
            "DNS queries",
            "dns q/s",
            "authoritative DNS queries (a resolver's cache expired) per second",
            feature="regions",
        ),
        Metric(
            "dead_region_requests",
            "number",
            "lower",
            "requests to a dead region",
            "to dead",
            outage,
            "req",
            feature="regions",
        ),
        Metric(
            "failover_time",
            "seconds",
            "lower",
            "time until 99% of traffic moved",
            "moved",
            outage + ", mean over failures",
            feature="regions",
            whole_seconds=True,
        ),
    )


def _connection_metrics() -> tuple[Metric, ...]:
    """Columns of runs with ``clients.connections``."""
    opened = "connections opened after warm-up"
    return (
        Metric("connections_opened", "number", None, "connections opened", "conns", opened, "conn"),
        Metric(
            "requests_per_connection",
            "number",
            None,
            "requests per connection",
            "req/conn",
            opened,
            "req/conn",
        ),
        Metric(
            "connection_imbalance",
            "number",
            "lower",
            "connection imbalance",
            "cimbal",
            "open connections per server, time-weighted over the measurement window "
            "(pinned connections: layer 4 or WebSockets)",
            "max/mean",
        ),
    )


#: Every summary metric, in the summary's column order.
METRICS: dict[str, Metric] = {m.name: m for m in _catalogue()}

#: Metrics in the summary only when the scenario asks for them: ``extra_load``
#: with ``clients.hedge`` or ``clients.fanout``, ``recovery_time`` with ``recovery``,
#: the session metrics with ``clients.sessions``, ``store_utilization`` with a store,
#: the connection metrics with ``clients.connections``, and each metric with a
#: ``feature`` (balancer CPU, TLS, versions) when it uses it.
OPTIONAL_METRICS: frozenset[str] = frozenset(
    {
        "extra_load",
        "recovery_time",
        "sessions_started",  # these three with clients.sessions
        "sessions_lost",
        "session_imbalance",
        "store_utilization",  # with a session_store
        "connections_opened",
        "requests_per_connection",
        "connection_imbalance",
        *(n for n, m in METRICS.items() if m.feature is not None),
    }
)

#: Columns of the per-pool and per-version tables (:mod:`lbsim.analysis.pools`),
#: beside the summary's ones they reuse: the share of a variant's requests.
GROUP_METRICS: dict[str, Metric] = {
    "share": Metric("share", "fraction", None, "share of requests", "share", MEASURED),
}

#: What each per-pool and per-version row shows, in order.
POOL_METRICS: tuple[str, ...] = (
    "requests",
    "share",
    "error_rate",
    "latency_all_p50",
    "latency_all_p99",
    "utilization_mean",
)

#: Metrics with a direction: what the CI gate can check and what diffs colour.
CHECKABLE: dict[str, Metric] = {n: m for n, m in METRICS.items() if m.better is not None}

#: What every terminal summary shows first: served rate, errors, and p99 over
#: ok requests beside p99 over all of them (survivors alone never look best).
HEADLINE_METRICS: tuple[str, ...] = ("goodput", "error_rate", "latency_p99", "latency_all_p99")

#: Terminal summary columns after the headline and the scenario's own
#: (:func:`scenario_metrics`), most important first, shown while they fit.
TERMINAL_METRICS: tuple[str, ...] = (
    *HEADLINE_METRICS,
    "sessions_lost",  # these three only when the scenario has them (OPTIONAL_METRICS)
    "recovery_time",
    "extra_load",
    "latency_p50",
    "latency_p999",
    "latency_all_p999",
    "latency_max",
    "queue_mean",
    "load_imbalance",
    "utilization_mean",
    "wait_p99",
)

#: What ``lbsim diff`` shows unless asked for other metrics.
DIFF_METRICS: tuple[str, ...] = (
    "goodput",
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


def scenario_metrics(scenario: Mapping[str, Any]) -> tuple[str, ...]:
    """The metrics a scenario is about, from its resolved form (``resolved()``):
    ``report.metrics`` if it names them, else what it enables, in the base or
    in any ``compare:`` value: server failures (detection delays,
    ``conn_error_rate``), a balancer or region that can fail, regions (their
    failover and DNS metrics), health checks
    (``no_backend_rate``), retries (``retry_amplification``, ``wasted_rate``),
    timeouts, queue limits (``rejected_rate``), a pool with versions
    (``canary_share``, ``canary_error_rate``), a balancer CPU (its
    utilisation and queue), TLS (handshakes and their CPU), connections
    (``connection_imbalance``), sessions and a session store, autoscaling
    (instance-hours, peak instances, time to scaled capacity)."""
    named = (scenario.get("report") or {}).get("metrics")
    if named:
        return tuple(named)
    compare: Mapping[str, list[Any]] = scenario.get("compare") or {}

    def enabled(path: str) -> bool:
        """Set (truthy) in the base, or in a value of a compare path on or inside it."""
        node: Any = scenario
        for part in path.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        varied = [v for key, values in compare.items() if key.startswith(path) for v in values]
        return bool(node) or any(bool(v) for v in varied)

    events = [*(scenario.get("events") or ()), *(e for v in compare.get("events", []) for e in v)]
    regions = {region.get("name") for region in scenario.get("regions") or ()}
    server_failures = any(
        e.get("action") in ("crash", "hang")
        and not str(e.get("target")).startswith("lb-")
        and e.get("target") not in regions
        for e in events
    ) or any(pool.get("faults") for pool in scenario.get("servers") or ())
    lb_failures = any(
        str(e.get("target")).startswith("lb-") or e.get("target") in regions for e in events
    )
    rules = (
        (server_failures, ("detect_down_mean", "detect_up_mean", "conn_error_rate")),
        (lb_failures, ("conn_error_rate",)),
        (
            bool(regions),
            ("failover_time", "dead_region_requests", "dns_queries_per_s", "cross_region_share"),
        ),
        (enabled("balancer.health_check"), ("no_backend_rate",)),
        (enabled("clients.retries"), ("retry_amplification", "wasted_rate")),
        (enabled("clients.hedge") or enabled("clients.fanout"), ("extra_load",)),
        (enabled("recovery"), ("recovery_time",)),
        (enabled("clients.timeout") or enabled("clients.per_try_timeout"), ("timeout_rate",)),
        (
            any(pool.get("queue_limit") for pool in scenario.get("servers") or ())
            or any(k.endswith("queue_limit") for k in compare),
            ("rejected_rate",),
        ),
        (
            any(pool.get("versions") for pool in scenario.get("pools") or ()),
            ("canary_share", "canary_error_rate"),
        ),
        (enabled("balancer.cpu"), ("balancer_utilization", "balancer_queue_mean")),
        (enabled("balancer.tls"), ("handshakes_per_s", "balancer_cpu_handshake")),
        (enabled("clients.connections"), ("connection_imbalance",)),
        (enabled("clients.sessions"), ("sessions_lost", "session_imbalance")),
        (enabled("session_store"), ("store_utilization",)),
        (
            any(pool.get("autoscale") for pool in scenario.get("servers") or ())
            or any(k.endswith("autoscale") and any(values) for k, values in compare.items()),
            ("instance_hours", "instances_peak", "scale_out_time"),
        ),
    )
    return tuple(dict.fromkeys(name for on, names in rules if on for name in names))


def unranked_metrics(scenario: Mapping[str, Any]) -> frozenset[str]:
    """Metrics whose direction does not hold in this scenario, so no value is
    marked best: ``load_imbalance`` (max/mean requests per server) when the
    servers differ in capacity (workers × speed) or weight, or routes send
    requests to pools of their own, or a compared value changes the servers:
    then a fair split is uneven and the most even one is no better."""
    groups = scenario.get("servers") or ()
    sizes = {(g.get("workers", 1) * g.get("speed", 1.0), g.get("weight", 1)) for g in groups}
    routed = bool((scenario.get("balancer") or {}).get("routes")) or bool(scenario.get("pools"))
    varied = any(key.startswith("servers") for key in scenario.get("compare") or {})
    return frozenset({"load_imbalance"}) if len(sizes) > 1 or routed or varied else frozenset()


def percentiles(prefix: str) -> dict[str, float]:
    """Name -> percentile level (0-100) of the percentile metrics named
    ``<prefix><stat>`` (``latency_`` gives ``latency_p99``, not ``latency_all_p99``)."""
    return {
        m.name: m.quantile
        for m in METRICS.values()
        if m.quantile is not None
        and m.name.startswith(prefix)
        and "_" not in m.name.removeprefix(prefix)
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
    if name in GROUP_METRICS:
        return GROUP_METRICS[name]
    if name.endswith("_rate"):
        kind = name.removesuffix("_rate")
        return Metric(name, "fraction", "lower", kind.replace("_", " "), kind[:8], "")
    for prefix in ("latency_", "wait_"):
        if name.startswith(prefix):
            stat = name.removeprefix(prefix)
            return Metric(name, "seconds", "lower", f"{prefix[:-1]} {stat}", stat[:8], "")
    return Metric(name, "number", None, name.replace("_", " "), name[:8], "")
