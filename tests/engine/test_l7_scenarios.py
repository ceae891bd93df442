"""What the layer-7 scenarios' comments say their output shows."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import Bundled, event_times

pytestmark = pytest.mark.slow


def test_l4_vs_l7(bundled: Bundled) -> None:
    summary = bundled("l4_vs_l7.yaml").summary.set_index("balancer.layer")
    l4, l7 = summary.loc[4], summary.loc[7]
    # L4: 40k/s × 5 µs = 0.2 of a core; Poisson count over 5 s: sd 0.2/sqrt(2e5)
    assert l4["balancer_utilization"] == pytest.approx(0.2, abs=0.005)
    assert l4["error_rate"] == 0 and l4["latency_p99"] < 0.1
    assert l7["balancer_utilization"] == pytest.approx(1.0, abs=1e-3)
    assert l7["balancer_queue_mean"] > 10_000 and l7["timeout_rate"] > 0.5
    assert l7["goodput"] < 1 / 35e-6  # below what the core parses
    assert l7["utilization_mean"] < 0.5  # the servers are not the bottleneck


def test_tls_termination(bundled: Bundled) -> None:
    summary = bundled("tls_termination.yaml").summary
    key = summary["balancer.tls.mode"] + "/" + summary["balancer.tls.resumption"].astype(str)
    rows = summary.set_index(key)
    shakes = rows["handshakes_per_s"]
    assert (shakes == shakes.iloc[0]).all()
    full, resumed = 0.0005, 0.00005
    for r in (0.0, 0.9):
        cpu = rows.loc[f"terminate/{r}", "balancer_cpu_handshake"]
        # the resumed share is binomial over n ≈ 54000: 4 se ≤ 0.0052
        expected = shakes.iloc[0] * ((1 - r) * full + r * resumed)
        assert cpu == pytest.approx(expected, rel=0.02)
    assert rows.loc["terminate/0.0", "balancer_utilization"] == pytest.approx(0.8, abs=0.02)
    assert rows.loc["passthrough/0.0", "balancer_utilization"] < 0.01
    # servers: + 3000/s × 0.5 ms over 80 workers ≈ 0.019 of their capacity
    extra = (
        rows.loc["passthrough/0.0", "utilization_mean"]
        - rows.loc["terminate/0.0", "utilization_mean"]
    )
    assert extra == pytest.approx(shakes.iloc[0] * full / 80, rel=0.1)
    # one extra 20 ms round trip; exponential 20 ms service has median 13.9 ms
    assert rows["latency_p50"].min() > 0.02 + 0.0139 * 0.9


def test_microservices_routing(bundled: Bundled) -> None:
    result = bundled("microservices_routing.yaml")
    requests = result.requests
    assert (requests["route"] == requests["request_class"].map({0: 2, 1: 0, 2: 1})).all()
    summary = result.summary.set_index("variant")
    ratio = (
        summary.loc["round_robin", "latency_p99"] / summary.loc["least_connections", "latency_p99"]
    )
    assert ratio > 3


def test_canary(bundled: Bundled) -> None:
    result = bundled("canary.yaml")
    summary = result.summary.set_index("pools.0.rollback.error_rate")
    with_rule, without = summary.loc[0.02], summary.loc[1.0]
    rollback = result.events[result.events["kind"] == "rollback"]
    assert list(rollback["variant"]) == ["error_rate=0.02"]
    assert float(rollback["time"].iloc[0]) < 30  # within its first 30 s window
    assert with_rule["canary_share"] < 0.01 and with_rule["error_rate"] < 0.001
    assert without["canary_share"] > 0.35
    assert without["canary_error_rate"] == pytest.approx(0.05, abs=0.005)
    assert without["error_rate"] == pytest.approx(0.02, abs=0.003)
    assert (summary["primary_error_rate"] == 0).all()
    assert event_times(result, "ejected") == []
    assert np.isfinite(without["canary_error_rate"])
