"""The metric catalogue: the summary produces exactly its columns, every
selection names catalogue metrics, and unknown columns are inferred."""

from __future__ import annotations

import numpy as np

import lbsim
from lbsim.analysis.metrics import (
    CHECKABLE,
    DIFF_METRICS,
    METRICS,
    OPTIONAL_METRICS,
    SWEEP_METRICS,
    TERMINAL_METRICS,
    describe,
    percentiles,
    scenario_metrics,
)
from lbsim.engine.records import STATUSES

SCENARIO = {
    "name": "catalogue",
    "seed": 3,
    "duration": "2m",
    "warmup": "10s",
    "clients": {
        "arrivals": {"process": "poisson", "rate": "40/s"},
        "service": {"dist": "exponential", "mean": "50ms"},
    },
    "servers": [{"name": "web", "count": 3, "workers": 1}],
    "compare": {"balancer.algorithm": ["round_robin", "random"]},
}


def test_the_summary_has_exactly_the_catalogue_columns_in_order() -> None:
    summary = lbsim.run(SCENARIO).summary
    always = [name for name in METRICS if name not in OPTIONAL_METRICS]
    assert list(summary.columns) == ["variant", "balancer.algorithm", *always]


def test_optional_metrics_appear_only_when_asked_for() -> None:
    # recovery_time with a recovery: section, extra_load with a hedge, in catalogue order
    data = {
        **SCENARIO,
        "recovery": {"trigger_start": 30, "trigger_end": 40},
        "clients": {**SCENARIO["clients"], "hedge": {"after": 1.0}},
    }
    summary = lbsim.run(data).summary
    always = [name for name in METRICS if name not in OPTIONAL_METRICS]
    sessions = ["sessions_started", "sessions_lost", "session_imbalance", "store_utilization"]
    connections = ["connections_opened", "requests_per_connection", "connection_imbalance"]
    optional = [name for name in METRICS if name in OPTIONAL_METRICS]
    layer7 = [name for name, metric in METRICS.items() if metric.feature is not None]
    patterns = ["extra_load", "recovery_time"]
    wanted = {*sessions, *patterns, *layer7, *connections}
    assert optional == [name for name in METRICS if name in wanted]
    assert len(optional) == len(sessions) + len(patterns) + len(layer7) + len(connections)
    assert list(summary.columns) == ["variant", "balancer.algorithm", *always, *patterns]
    # the session metrics with clients.sessions (and the store's with a store)
    sessions_data = {
        **SCENARIO,
        "clients": {**SCENARIO["clients"], "sessions": {"requests": 3, "think": 1.0}},
        "session_store": {"name": "store"},
    }
    columns = list(lbsim.run(sessions_data).summary.columns)
    assert columns == ["variant", "balancer.algorithm", *always, *sessions]
    # the connection metrics with clients.connections
    clients = {**SCENARIO["clients"], "connections": {"keepalive": {"requests": 10}}}  # type: ignore[dict-item]
    summary = lbsim.run({**SCENARIO, "clients": clients}).summary
    assert list(summary.columns) == ["variant", "balancer.algorithm", *always, *connections]


def test_a_run_using_every_layer7_feature_has_their_columns() -> None:
    data = {
        **SCENARIO,
        "servers": [{"name": "web", "count": 3}, {"name": "new", "count": 1}],
        "pools": [
            {
                "name": "api",
                "versions": [
                    {"name": "v1", "servers": ["web"], "weight": 90},
                    {"name": "v2", "servers": ["new"], "weight": 10},
                ],
            }
        ],
        "balancer": {"cpu": {"workers": 1}, "tls": {}, "routes": [{"pool": "api"}]},
    }
    summary = lbsim.run(data).summary
    features = ("cpu", "tls", "versions")
    layer7 = [name for name, metric in METRICS.items() if metric.feature in features]
    assert list(summary.columns)[-len(layer7) :] == layer7
    assert {m.feature for m in METRICS.values()} == {None, *features, "regions", "autoscale"}
    assert "instance_hours" not in summary.columns  # no autoscaling, no autoscaling columns


def test_the_percentiles_are_the_numpy_percentiles_of_ok_latencies() -> None:
    result = lbsim.run(SCENARIO)
    requests = result.requests
    for variant, row in result.summary.set_index("variant").iterrows():
        mine = requests[(requests["variant"] == variant) & (requests["status"] == "ok")]
        for name, q in percentiles("latency_").items():
            assert row[name] == np.percentile(mine["latency"].to_numpy(), q)
    assert percentiles("latency_") == {
        "latency_p50": 50,
        "latency_p90": 90,
        "latency_p95": 95,
        "latency_p99": 99,
        "latency_p999": 99.9,
    }
    assert percentiles("wait_") == {"wait_p99": 99}


def test_every_status_has_a_rate_and_selections_name_catalogue_metrics() -> None:
    assert {f"{s}_rate" for s in STATUSES[1:]} <= set(METRICS)
    for selection in (TERMINAL_METRICS, DIFF_METRICS, SWEEP_METRICS):
        assert set(selection) <= set(METRICS), selection
    assert set(DIFF_METRICS) <= set(CHECKABLE)


def test_directions_and_units() -> None:
    undirected = {n for n, m in METRICS.items() if m.better is None}
    # load, not strategy: the workload's, the connections' and the balancer's CPU demand
    assert undirected == {
        "requests",
        "throughput",  # answers of any status: failing fast would look good
        "utilization_mean",
        "sessions_started",
        "store_utilization",
        "connections_opened",
        "requests_per_connection",
        "balancer_utilization",
        "balancer_cpu_connection",
        "balancer_cpu_parse",
        "balancer_cpu_handshake",
        "handshakes_per_s",
        "canary_share",
        "dns_queries_per_s",  # the TTL's price, set by the resolvers and the TTL
        "instances_peak",  # follows the demand; instance_hours (the bill) is lower-better
    }
    assert METRICS["balancer_cpu_parse"].unit == "cores"
    assert METRICS["sessions_lost"].better == "lower" and METRICS["sessions_lost"].unit == "sess"
    assert METRICS["store_utilization"].unit == "%"
    assert {n for n, m in METRICS.items() if m.better == "higher"} == {"goodput", "ok"}
    assert METRICS["latency_p99"].unit == "ms" and METRICS["latency_p99"].scale == 1e3
    assert METRICS["error_rate"].unit == "%" and METRICS["error_rate"].scale == 100
    assert METRICS["goodput"].unit == "req/s" and METRICS["goodput"].scale == 1
    assert METRICS["latency_p99"].covers == "ok" and METRICS["latency_all_p99"].covers == "all"
    assert METRICS["error_rate"].covers == "all" and METRICS["queue_mean"].covers == "servers"
    assert METRICS["load_imbalance"].unit == "max/mean"
    assert METRICS["detect_down_mean"].quantity == "seconds"
    for slow in ("detect_down_mean", "detect_up_mean", "recovery_time"):  # seconds, in s
        assert METRICS[slow].unit == "s" and METRICS[slow].scale == 1
    assert not METRICS["latency_max"].is_percentile and METRICS["latency_p999"].is_percentile


def test_unknown_columns_are_inferred_from_their_form() -> None:
    assert describe("retry_rate").unit == "%" and describe("retry_rate").better == "lower"
    assert describe("latency_p75").unit == "ms" and describe("latency_p75").better == "lower"
    assert describe("wait_p50").heading == "wait p50"
    whatever = describe("whatever_thing")
    assert whatever.better is None and whatever.unit == "" and whatever.heading == "whatever thing"


def test_a_region_failure_is_about_failover_not_server_detection() -> None:
    scenario = {
        "regions": [{"name": "eu"}, {"name": "us"}],
        "events": [{"at": 60, "target": "eu", "action": "crash"}],
    }
    about = scenario_metrics(scenario)
    assert about[:2] == ("conn_error_rate", "failover_time")
    assert "dns_queries_per_s" in about and "detect_down_mean" not in about
