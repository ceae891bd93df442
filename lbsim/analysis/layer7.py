"""Summary metrics of layer-7 runs: balancer CPU (utilisation, queue, CPU by
cause), TLS handshakes and canary versions' error rates.

Each applies only to a run that uses the feature (``feature`` in the metric
catalogue), so a flat scenario's summary keeps its columns. CPU by cause is
in cores (core-seconds per second of the window) over the requests that
arrived after the warm-up: L7 parse = requests × ``request_cost``, handshakes
= full and resumed counts × their costs (plus one full upstream handshake
each with re-encryption), connections = the rest of the CPU the requests
were charged.
"""

from __future__ import annotations

import numpy as np

from lbsim.engine.records import STATUSES, Recorder
from lbsim.scenario import Scenario


def layer7_metrics(
    scenario: Scenario, rec: Recorder, first: int, window: float
) -> dict[str, float]:
    """Balancer CPU, TLS and canary metrics (only those the scenario uses)."""
    row: dict[str, float] = {}
    config = scenario.balancer
    if config.cpu is not None and len(rec.lb_busy_area):
        cores = config.cpu.workers * len(rec.lb_busy_area)
        row["balancer_utilization"] = float(rec.lb_busy_area.sum() / (window * cores))
        row["balancer_queue_mean"] = float(rec.lb_queue_area.mean() / window)
        row["balancer_queue_max"] = int(rec.lb_queue_peak.max())
    if config.cpu is not None or config.tls is not None:
        cpu = rec.columns["balancer_cpu"][first:]
        handshake = rec.columns["handshake"][first:]
        served = int((cpu > 0).sum())  # dropped unserved: charged nothing
        passthrough = config.tls is not None and config.tls.mode == "passthrough"
        layer7 = config.cpu is not None and config.layer == 7 and not passthrough
        parse = served * config.cpu.request_cost if config.cpu is not None and layer7 else 0.0
        shakes = 0.0
        if config.tls is not None and config.tls.mode != "passthrough":
            tls = config.tls
            upstream = tls.full_handshake if tls.mode == "reencrypt" else 0.0
            shakes = float(
                (handshake == 1).sum() * (tls.full_handshake + upstream)
                + (handshake == 2).sum() * (tls.resumed_handshake + upstream)
            )
        if config.cpu is not None:
            row["balancer_cpu_connection"] = max(float(cpu.sum()) - parse - shakes, 0.0) / window
            row["balancer_cpu_parse"] = parse / window
        if config.tls is not None:
            row["balancer_cpu_handshake"] = shakes / window
            row["handshakes_per_s"] = float((handshake > 0).sum()) / window
    if any(pool.versions is not None for pool in scenario.pools):
        version = rec.columns["version"][first:]
        failed = rec.status[first:] != STATUSES.index("ok")
        canary = version > 0
        n = len(version)
        row["canary_share"] = float(canary.sum() / n) if n else 0.0
        row["canary_error_rate"] = float(failed[canary].mean()) if canary.any() else np.nan
        primary = version == 0
        row["primary_error_rate"] = float(failed[primary].mean()) if primary.any() else np.nan
    return row
