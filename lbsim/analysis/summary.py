"""The summary row of a variant: every metric of the catalogue from its records.

Time-weighted statistics (queue length, utilisation) come from the integrals
each server keeps of its own levels over the measurement window, exact
rather than sampled; per-request ones (latency, wait) are over requests
answered ``ok`` that arrived after the warm-up, read from the rows
(:class:`Exact`) or from histograms, and the counts from the rows or from a
windowed run's :class:`Tally`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from lbsim.analysis.capacity import capacity_metrics
from lbsim.analysis.layer7 import layer7_metrics
from lbsim.analysis.metrics import METRICS, OPTIONAL_METRICS, percentiles
from lbsim.analysis.recovery import pattern_metrics
from lbsim.analysis.regions import region_metrics
from lbsim.analysis.sessions import session_metrics
from lbsim.engine.records import STATUSES, Recorder
from lbsim.engine.workload import Workload
from lbsim.scenario import Variant


def _param_value(value: Any) -> Any:
    if isinstance(value, dict) and "name" in value:
        extra = ", ".join(f"{k}={v}" for k, v in value.items() if k != "name")
        return f"{value['name']}({extra})" if extra else value["name"]
    return value if isinstance(value, int | float | str | bool) else json.dumps(value)


class Distribution(Protocol):
    """Latencies (or waits) as the summary reads them: exact values
    (:class:`Exact`) or a histogram (:class:`lbsim.runner.histogram.LatencyHistogram`)."""

    @property
    def total(self) -> int: ...

    @property
    def max(self) -> float: ...

    def mean(self) -> float: ...

    def percentiles(self, qs: Sequence[float]) -> Sequence[float]: ...


@dataclass
class Exact:
    """A :class:`Distribution` of the values themselves (which it may reorder)."""

    values: np.ndarray

    @property
    def total(self) -> int:
        return len(self.values)

    @property
    def max(self) -> float:
        return float(self.values.max())

    def mean(self) -> float:
        return float(self.values.mean())

    def percentiles(self, qs: Sequence[float]) -> Sequence[float]:
        return [float(v) for v in np.percentile(self.values, qs, overwrite_input=True)]


@dataclass
class WithUnanswered:
    """A :class:`Distribution` of the answered values and ``never`` more that
    are +∞ (requests never answered): numpy's linear percentile of the lot,
    ∞ wherever it would interpolate towards an unanswered one."""

    answered: Distribution
    never: int

    @property
    def total(self) -> int:
        return self.answered.total + self.never

    @property
    def max(self) -> float:
        return math.inf if self.never else self.answered.max

    def mean(self) -> float:
        return math.inf if self.never else self.answered.mean()

    def percentiles(self, qs: Sequence[float]) -> Sequence[float]:
        # The answered values are the `answered.total` smallest of the lot, so
        # rank r of all is rank r of them, until r passes the last of them.
        last = self.answered.total - 1
        ranks = [q / 100 * (self.total - 1) for q in qs]
        inner = [100 * r / last if last > 0 else 0.0 for r in ranks if r <= last]
        found = iter(self.answered.percentiles(inner) if inner else [])
        return [next(found) if r <= last else math.inf for r in ranks]


@dataclass(frozen=True)
class Tally:
    """The summary's counts of requests, which add up: taken over the
    measured requests at once, or window by window as a windowed run
    (:mod:`lbsim.engine.windows`) folds them."""

    statuses: np.ndarray  # requests by final status code (STATUSES)
    ended: int  # answered, whatever the status
    retries: int  # attempts after the first, summed
    per_server: np.ndarray  # requests whose latest attempt went to each server
    total: int  # every request of the run, measured or not (as wasted_rate counts)

    @classmethod
    def of(cls, rec: Recorder, lo: int, hi: int, total: int) -> Tally:
        """The counts of requests ``[lo, hi)`` of ``rec``, all measured, of ``total``."""
        status, server = rec.status[lo:hi], rec.server[lo:hi]
        return cls(
            np.bincount(status, minlength=len(STATUSES)),
            int((~np.isnan(rec.end[lo:hi])).sum()),
            int(rec.retries[lo:hi].sum()),
            np.bincount(server[server >= 0], minlength=rec.n_servers),
            total,
        )

    @classmethod
    def none(cls, n_servers: int) -> Tally:
        """The counts of no request."""
        zeros = np.zeros(len(STATUSES), dtype=np.int64)
        return cls(zeros, 0, 0, np.zeros(n_servers, dtype=np.int64), 0)

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.statuses + other.statuses,
            self.ended + other.ended,
            self.retries + other.retries,
            self.per_server + other.per_server,
            self.total + other.total,
        )

    @property
    def requests(self) -> int:
        return int(self.statuses.sum())


def measured_from(workload: Workload, warmup: float) -> int:
    """Index of the first measured request (arrivals are sorted, so the
    measured ones are a suffix and every per-request column a view)."""
    return int(np.searchsorted(workload.arrival, warmup, side="left"))


def summarize(
    variant: Variant,
    workload: Workload,
    rec: Recorder,
    latency: Distribution | None = None,
    wait: Distribution | None = None,
    answered: Distribution | None = None,
    tally: Tally | None = None,
) -> dict[str, Any]:
    """The summary row of one variant (DESIGN §5): its parameters, then every
    metric of the catalogue (:data:`~lbsim.analysis.metrics.METRICS`) in order.
    The counts come from ``tally`` when given (a windowed run's, which keeps
    no rows), otherwise from the measured rows.

    Latency and wait statistics come from ``latency`` / ``wait`` (of ``ok``
    requests) and ``answered`` (of every answered request, whatever its
    status) when given (e.g. histograms), otherwise from the exact values.
    ``latency_all_*`` count each request never answered as ∞."""
    scenario = variant.scenario
    lo, hi = scenario.warmup, scenario.duration
    window = hi - lo
    first = measured_from(workload, lo)
    if tally is None:
        tally = Tally.of(rec, first, len(rec.status), len(rec.status))
    n, ok_code = tally.requests, STATUSES.index("ok")
    row: dict[str, Any] = {"requests": n}
    row["ok"] = int(tally.statuses[ok_code])
    row["throughput"] = tally.ended / window
    row["goodput"] = row["ok"] / window
    for code, name in enumerate(STATUSES[1:], start=1):
        row[f"{name}_rate"] = float(tally.statuses[code] / n) if n else 0.0
    row["error_rate"] = 1 - row["ok"] / n if n else 0.0
    row["retry_amplification"] = float(1 + tally.retries / n) if n else 1.0
    row["wasted_rate"] = rec.abandoned / tally.total if tally.total else 0.0
    if latency is None or wait is None or answered is None:
        ok = rec.status[first:] == ok_code
        ended = ~np.isnan(rec.end[first:])
        if latency is None:
            latency = Exact(rec.end[first:][ok] - workload.arrival[first:][ok])
        if wait is None:  # in the queue of the server that answered
            wait = Exact(rec.start[first:][ok] - rec.sent[first:][ok])
        if answered is None:
            answered = Exact(rec.end[first:][ended] - workload.arrival[first:][ended])
        del ok, ended
    everyone = WithUnanswered(answered, n - tally.ended)
    for prefix, values in (("latency_", latency), ("wait_", wait), ("latency_all_", everyone)):
        levels = percentiles(prefix)
        if f"{prefix}mean" in METRICS:
            row[f"{prefix}mean"] = values.mean() if values.total else np.nan  # before reordering
        qs = list(levels.values())
        found = values.percentiles(qs) if values.total else [np.nan] * len(qs)
        row.update(zip(levels, found, strict=True))
    row["latency_max"] = latency.max if latency.total else np.nan

    # Time-weighted levels over the measurement window, integrated exactly by
    # the servers themselves (work for abandoned attempts and probes included).
    n_servers = rec.n_servers
    row["queue_mean"] = float(rec.queue_area.sum() / (window * n_servers))
    row["queue_max"] = int(rec.queue_peak.max()) if n_servers else 0
    capacity = sum(pool.workers * pool.count for pool in scenario.servers)
    row["utilization_mean"] = float(rec.busy_area.sum() / (window * capacity))
    per_server = tally.per_server
    row["load_imbalance"] = float(per_server.max() / per_server.mean()) if per_server.sum() else 1.0
    down, up = detection_delays(rec)
    row["detect_down_mean"] = float(np.mean(down)) if down else np.nan
    row["detect_up_mean"] = float(np.mean(up)) if up else np.nan
    row.update(
        capacity_metrics(scenario, rec, lo, hi, per_server)
    )  # autoscaling (per-server means)
    row.update(session_metrics(rec, scenario.session_store, lo, hi))
    row.update(pattern_metrics(variant, workload, rec, first))
    row.update(layer7_metrics(scenario, rec, first, window))
    row.update(region_metrics(scenario, workload, rec, first, window))
    if rec.connections is not None:
        row.update(connection_metrics(rec.connections, lo, hi))
    params = {path: _param_value(value) for path, value in variant.params.items()}
    metrics = {name: row[name] for name in METRICS if name in row or name not in OPTIONAL_METRICS}
    return {"variant": variant.name, **params, **metrics}


def connection_metrics(stats: Mapping[str, np.ndarray], lo: float, hi: float) -> dict[str, float]:
    """``connections_opened`` and ``requests_per_connection`` (over connections
    opened in [lo, hi)), ``connection_imbalance`` (max/mean of each server's
    time-averaged open pinned connections; NaN when connections are not pinned)."""
    opened = stats["opened"]
    measured = (opened >= lo) & (opened < hi)
    count = int(measured.sum())
    carried = stats["requests"][measured]
    area = stats["server_connection_seconds"]
    pinned = bool(stats["pinned"][0]) and area.sum() > 0
    return {
        "connections_opened": count,
        "requests_per_connection": float(carried.mean()) if count else np.nan,
        "connection_imbalance": float(area.max() / area.mean()) if pinned else np.nan,
    }


def detection_delays(rec: Recorder) -> tuple[list[float], list[float]]:
    """Seconds from each failure (crash, hang) of a server to the balancer marking
    it down, and from each recovery to it being marked up again."""
    down: list[float] = []
    up: list[float] = []
    failed_at: dict[str, float] = {}
    recovered_at: dict[str, float] = {}
    for event in rec.events:
        if event.kind in ("crash", "hang"):
            failed_at.setdefault(event.target, event.time)
            recovered_at.pop(event.target, None)
        elif event.kind == "recover":
            recovered_at[event.target] = event.time
            failed_at.pop(event.target, None)
        elif event.kind == "marked_down" and event.target in failed_at:
            down.append(event.time - failed_at.pop(event.target))
        elif event.kind == "marked_up" and event.target in recovered_at:
            up.append(event.time - recovered_at.pop(event.target))
    return down, up
