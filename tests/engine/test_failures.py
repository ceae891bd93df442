"""Failures, health checks and what the balancer does about them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import lbsim
from lbsim.engine.health import consecutive, haproxy_counter
from lbsim.scenario import ScenarioError, load
from tests.conftest import cluster, event_times


def test_haproxy_health_counter_golden_trace() -> None:
    # rise 2, fall 3 (HAProxy defaults): h starts at rise = 2 (UP).
    rise, fall = 2, 3
    trace, h = [], rise
    for ok in [True, False, False, False, True, True, False, True, False]:
        h = haproxy_counter(h, ok, rise, fall)
        trace.append((h, h >= rise))
    assert trace == [
        (4, True),  # success at rise jumps to rise+fall-1
        (3, True),
        (2, True),
        (0, False),  # third failure from the top: below rise, to 0, DOWN
        (1, False),
        (4, True),  # rise successes: UP, counter at the top
        (3, True),
        (4, True),
        (3, True),
    ]
    # from the initial state (h = rise), one failed check marks the server down
    assert haproxy_counter(rise, False, rise, fall) == 0


def test_consecutive_counting_with_one_success_at_start() -> None:
    assert consecutive(False, 0, True, 5, 2, ever_healthy=False) == (True, 0)
    state = (True, 0)
    for ok in [False, True, False, False]:  # a success resets the failure run
        state = consecutive(*state, ok, 5, 2, ever_healthy=True)
    assert state == (False, 0)
    for _ in range(4):
        state = consecutive(*state, True, 5, 2, ever_healthy=True)
    assert state[0] is False  # needs healthy_threshold = 5 in a row once it was healthy
    assert consecutive(*state, True, 5, 2, ever_healthy=True) == (True, 0)


@pytest.mark.parametrize(
    ("preset", "interval", "timeout", "fall"),
    [("haproxy", 2.0, 1.0, 3), ("alb", 10.0, 5.0, 2), ("envoy", 5.0, 1.0, 3)],
)
def test_detection_delay_is_inside_the_window_the_settings_imply(
    preset: str, interval: float, timeout: float, fall: int
) -> None:
    # A crashed server fails each probe after `timeout`; the next probe goes
    # out `interval` after a result. The first probe after a crash at t is
    # sent in [t, t + interval), and the server is marked down at the result
    # of the fall-th failure: delay in [D, D + interval) where
    # D = fall * timeout + (fall - 1) * interval.
    low = fall * timeout + (fall - 1) * interval
    # each crash lasts past its detection; a server crashes again only after
    # it is back in rotation (spacing 4 x 37.3 s)
    crashes = [
        {
            "at": 300 + 37.3 * k,
            "target": f"web-{k % 4}",
            "action": "crash",
            "for": low + 2 * interval,
        }
        for k in range(20)
    ]
    check = {
        "preset": preset,
        "interval": interval,
        "timeout": timeout,
        "unhealthy_threshold": fall,
        "healthy_threshold": 2,
    }
    result = lbsim.run(cluster(balancer={"health_check": check}, events=crashes))
    delays = []
    for event in crashes:
        crash = float(event["at"])  # type: ignore[arg-type]
        marks = [t for t in event_times(result, "marked_down", str(event["target"])) if t >= crash]
        delays.append(marks[0] - crash)
    assert all(low <= d < low + interval for d in delays), (low, delays)
    assert np.std(delays) > 0  # the phases really differ
    assert result.summary["detect_down_mean"].iloc[0] == pytest.approx(np.mean(delays))


def test_no_request_is_routed_to_a_backend_marked_down() -> None:
    events = [{"at": "5m", "target": "web-1", "action": "crash", "for": "5m"}]
    check = {"preset": "haproxy", "interval": "1s", "timeout": "500ms"}
    result = lbsim.run(cluster(balancer={"health_check": check}, events=events))
    down = event_times(result, "marked_down", "web-1")[0]
    up = event_times(result, "marked_up", "web-1")[0]
    sent = result.requests
    to_web1 = sent[sent["server"] == "web-1"]["arrival"]
    assert ((to_web1 <= down) | (to_web1 >= up)).all()
    assert (to_web1 > up).any()  # and it does come back into rotation
    # requests sent between the crash and the detection failed to connect
    lost = sent[(sent["status"] == "conn_error")]
    assert len(lost) > 0 and (lost["server"] == "web-1").all()


def test_crash_without_health_checks_costs_a_connect_timeout_per_request() -> None:
    events = [{"at": "10m", "target": "web-0", "action": "crash"}]
    result = lbsim.run(cluster(events=events, balancer={"connect_timeout": "3s"}))
    errors = result.requests[result.requests["status"] == "conn_error"]
    after_crash = errors[errors["arrival"] >= 600]
    # round robin keeps sending a quarter of the traffic to the dead server
    share = len(after_crash) / (result.requests["arrival"] >= 600).sum()
    assert share == pytest.approx(0.25, abs=0.01)
    assert np.allclose(after_crash["latency"], 3.0)


def test_crash_fails_requests_in_service_and_in_queue() -> None:
    data = cluster(
        **{"servers.0.count": 1, "clients.arrivals.rate": 0.9},
        events=[{"at": "10m", "target": "web-0", "action": "crash", "for": "1m"}],
    )
    result = lbsim.run(data)
    requests = result.requests
    reset = requests[(requests["status"] == "conn_error") & (requests["end"] == 600.0)]
    before = requests[(requests["arrival"] < 600) & (requests["end"] > 600)]
    assert len(reset) >= 1
    assert set(reset["id"]) == set(before["id"]) | set(reset["id"])
    assert not (
        (requests["status"] == "ok") & (requests["start"] < 600) & (requests["end"] > 600)
    ).any()


def test_panic_routing_switches_on_below_the_threshold() -> None:
    crash_three = [
        {"at": "5m", "target": f"web-{i}", "action": "crash", "for": "10m"} for i in (0, 1, 2)
    ]
    check = {"preset": "haproxy", "interval": "1s", "timeout": "500ms"}
    calm = lbsim.run(cluster(balancer={"health_check": check}, events=crash_three))
    panic = lbsim.run(
        cluster(balancer={"health_check": check, "panic_threshold": 0.5}, events=crash_three)
    )
    # one of four healthy = 25 % < 50 %: panic, and traffic goes to every primary
    assert event_times(panic, "panic") and not event_times(calm, "panic")
    started = event_times(panic, "panic")[0]
    window = panic.requests[
        (panic.requests["arrival"] > started + 1) & (panic.requests["arrival"] < 900)
    ]
    assert window["server"].nunique() == 4
    calm_window = calm.requests[
        (calm.requests["arrival"] > started + 1) & (calm.requests["arrival"] < 900)
    ]
    assert set(calm_window["server"].dropna().unique()) == {"web-3"}
    # at half health (two of four) there is no panic: 50 % is not below 50 %
    two = [{"at": "5m", "target": f"web-{i}", "action": "crash"} for i in (0, 1)]
    half = lbsim.run(cluster(balancer={"health_check": check, "panic_threshold": 0.5}, events=two))
    assert not event_times(half, "panic")


def test_backup_serves_only_when_every_primary_is_down() -> None:
    data = cluster(
        servers=[
            {"name": "web", "count": 2},
            {"name": "spare", "count": 1, "backup": True},
        ],
        balancer={"health_check": {"preset": "haproxy", "interval": "1s", "timeout": "500ms"}},
        events=[
            {"at": "10m", "target": "web-0", "action": "crash", "for": "5m"},
            {"at": "10m", "target": "web-1", "action": "crash", "for": "5m"},
        ],
    )
    result = lbsim.run(data)
    to_spare = result.requests[result.requests["server"] == "spare-0"]["arrival"]
    down = max(event_times(result, "marked_down"))
    back = min(event_times(result, "marked_up"))
    assert len(to_spare) > 0
    assert ((to_spare > down) & (to_spare < back + 1e-9)).all()


def test_no_healthy_backend_means_no_backend_errors() -> None:
    data = cluster(
        **{"servers.0.count": 2},
        balancer={"health_check": {"preset": "haproxy", "interval": "1s", "timeout": "500ms"}},
        events=[
            {"at": "10m", "target": f"web-{i}", "action": "crash", "for": "2m"} for i in (0, 1)
        ],
    )
    result = lbsim.run(data)
    assert result.summary["no_backend_rate"].iloc[0] > 0
    refused = result.requests[result.requests["status"] == "no_backend"]
    assert refused["arrival"].between(600, 725).all()


def test_drain_sends_nothing_new_and_lets_in_flight_finish() -> None:
    result = lbsim.run(cluster(events=[{"at": "10m", "target": "web-2", "action": "drain"}]))
    to_web2 = result.requests[result.requests["server"] == "web-2"]
    assert (to_web2["arrival"] <= 600).all()
    assert (to_web2["status"] == "ok").all()


def test_gray_failure_answers_a_share_with_5xx() -> None:
    events = [{"at": 0, "target": "web-0", "action": "error_rate", "rate": 0.5}]
    result = lbsim.run(cluster(events=events))
    web0 = result.requests[result.requests["server"] == "web-0"]
    share = (web0["status"] == "server_error").mean()
    n = len(web0)
    assert abs(share - 0.5) < 4 * np.sqrt(0.25 / n)  # binomial, 4 standard errors


@pytest.mark.slow
def test_random_crashes_follow_mtbf() -> None:
    data = cluster(
        duration="10h",
        servers=[{"name": "web", "count": 4, "faults": {"crash": {"mtbf": "1h", "mttr": "2m"}}}],
    )
    result = lbsim.run(data)
    crashes = len(event_times(result, "crash"))
    # 4 servers x 10 h / (1 h + 2 min) ≈ 39 crashes, Poisson-like: within 4.5 sd
    expected = 4 * 36000 / 3720
    assert abs(crashes - expected) < 4.5 * np.sqrt(expected)


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ({"interval": "-1s"}, "greater than 0"),
        ({"unhealthy_threshold": 0}, "greater than or equal to 1"),
        ({"interval": "5s", "timeout": "10s"}, "must be shorter than interval"),
        ({"preset": "nginx"}, "Input should be 'alb', 'haproxy' or 'envoy'"),
    ],
)
def test_bad_health_check_values(check: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        load(data=cluster(balancer={"health_check": check}))


def test_timeline_targets_and_parameters_are_checked() -> None:
    with pytest.raises(ScenarioError, match="unknown target 'web-9'"):
        load(data=cluster(events=[{"at": 1, "target": "web-9", "action": "crash"}]))
    with pytest.raises(ScenarioError, match="needs `factor`"):
        load(data=cluster(events=[{"at": 1, "target": "web-0", "action": "slow"}]))


def test_events_are_in_the_output() -> None:
    events = [{"at": "1m", "target": "web-0", "action": "slow", "factor": 3, "for": "1m"}]
    frame = lbsim.run(cluster(events=events)).events
    assert list(frame["kind"]) == ["slow", "slow_over"]


def test_probes_through_the_queue_fail_on_an_overloaded_server() -> None:
    # One server of two turns 20x slow: out-of-band probes still pass (the
    # process answers), probes that queue behind requests time out and the
    # server is ejected; answered out of band, it stays in rotation.
    def run(through_queue: bool) -> lbsim.Result:
        check = {
            "preset": "haproxy",
            "interval": "1s",
            "timeout": "1s",
            "through_queue": through_queue,
        }
        return lbsim.run(
            cluster(
                **{"servers.0.count": 2, "clients.arrivals.rate": 0.8},
                balancer={"algorithm": "round_robin", "health_check": check},
                events=[{"at": "5m", "target": "web-0", "action": "slow", "factor": 20}],
            )
        )

    assert event_times(run(True), "marked_down", "web-0")
    assert not event_times(run(False), "marked_down", "web-0")


def test_health_plot_shows_truth_and_belief() -> None:
    from lbsim.report.plots import health_over_time

    events = [{"at": "5m", "target": "web-1", "action": "crash", "for": "5m"}]
    check = {"preset": "haproxy", "interval": "2s", "timeout": "1s"}
    result = lbsim.run(cluster(balancer={"health_check": check}, events=events))
    fig = health_over_time(result)
    lines = {line.get_gid(): line for line in fig.axes[0].get_lines() if line.get_label() == "test"}
    up, rotation = (np.asarray(lines[g].get_ydata(), float) for g in ("up", "in_rotation:lb-0"))
    times = np.asarray(lines["up"].get_xdata(), float)
    assert up.max() == 4 and up.min() == 3
    # belief lags the truth: right after the crash the balancer still routes to 4
    just_after = (times > 300) & (times < 305)
    assert (up[just_after] == 3).all() and (rotation[just_after] == 4).any()
    assert rotation.min() == 3


def test_alb_fails_open_when_every_target_is_unhealthy() -> None:
    data = cluster(
        **{"servers.0.count": 2},
        balancer={
            "health_check": {"preset": "haproxy", "interval": "1s", "timeout": "500ms"},
            "fail_open": True,
        },
        events=[
            {"at": "10m", "target": f"web-{i}", "action": "crash", "for": "2m"} for i in (0, 1)
        ],
    )
    result = lbsim.run(data)
    assert result.summary["no_backend_rate"].iloc[0] == 0  # routed to all: they fail to connect
    assert result.summary["conn_error_rate"].iloc[0] > 0


def test_haproxy_intervals_follow_the_state() -> None:
    # fall 3, inter 10s, fastinter 1s, downinter 5s: after the first failure
    # the server is in transition and checked every second (plus the 500 ms
    # timeout), so it is marked down ~2 x 1.5 s after the first failed check
    # instead of ~2 x 10.5 s; while down it is checked every 5 s.
    check = {
        "preset": "haproxy",
        "interval": "10s",
        "timeout": "500ms",
        "fastinter": "1s",
        "downinter": "5s",
        "initial_state": "fully-up",
    }
    events = [{"at": "5m", "target": "web-1", "action": "crash", "for": "2m"}]
    result = lbsim.run(cluster(balancer={"health_check": check}, events=events))
    down = event_times(result, "marked_down", "web-1")[0]
    up = event_times(result, "marked_up", "web-1")[0]
    assert 300 + 3 * 0.5 + 2 * 1.0 <= down < 300 + 10 + 3 * 0.5 + 2 * 1.0
    # back up: the first success at most downinter + timeout after the recovery,
    # the second (rise 2) one fastinter later
    assert 420 + 1.0 <= up <= 420 + 5.5 + 1.0 + 1e-9


def test_initial_state_and_preset_specific_fields_are_checked() -> None:
    with pytest.raises(ScenarioError, match="fastinter only apply to preset haproxy"):
        load(data=cluster(balancer={"health_check": {"preset": "envoy", "fastinter": "1s"}}))
    with pytest.raises(ScenarioError, match="initial_state only applies to preset haproxy"):
        load(data=cluster(balancer={"health_check": {"initial_state": "down"}}))


def test_envoy_checks_slowly_until_traffic_and_fast_on_edges() -> None:
    # Arrivals start at 2m: until then Envoy checks every no_traffic_interval
    # (60 s). A crash at 5m is seen after unhealthy_threshold failures at the
    # normal interval; once down, the unhealthy_interval (30 s) applies, so the
    # recovery at 6m is seen up to 30 s late.
    check = {
        "preset": "envoy",
        "interval": "2s",
        "timeout": "1s",
        "unhealthy_threshold": 2,
        "healthy_threshold": 1,
        "unhealthy_interval": "30s",
    }
    data = cluster(
        balancer={"health_check": check},
        events=[{"at": "5m", "target": "web-1", "action": "crash", "for": "1m"}],
        **{
            "clients.arrivals": {
                "profile": [{"at": 0, "rate": 0}, {"at": 119.9, "rate": 0}, {"at": 120, "rate": 2}]
            }
        },
    )
    result = lbsim.run(data)
    down = event_times(result, "marked_down", "web-1")[0]
    up = next(t for t in event_times(result, "marked_up", "web-1") if t > 0)  # 0: first check
    assert 300 + 2 * 1 + 2 <= down < 300 + 2 * 1 + 2 + 2
    assert 360 <= up <= 360 + 30 + 1
    assert up - 360 > 3  # not at the 2 s interval


def test_envoy_health_checks_before_traffic_use_no_traffic_interval() -> None:

    data = cluster(
        balancer={"health_check": {"preset": "envoy"}},
        events=[{"at": "30s", "target": "web-1", "action": "crash"}],
        **{
            "clients.arrivals": {
                "profile": [{"at": 0, "rate": 0}, {"at": 299.9, "rate": 0}, {"at": 300, "rate": 2}]
            }
        },
    )
    result = lbsim.run(data)
    # no traffic until 300 s: probes every 60 s. The crash at 30 s fails the
    # probes sent at 60 s, ~121 s and ~182 s (1 s timeout each): the third
    # failure (unhealthy_threshold 3) marks it down at ~183 s, not at ~38 s.
    down = event_times(result, "marked_down", "web-1")[0]
    assert 60 + 2 * 61 + 1 <= down < 300
