"""Closed-loop sessions, persistence and where session state lives
(lbsim.engine.sessions), against rules derived by hand."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import lbsim
from lbsim.engine.workload import draw_workload
from lbsim.engine.world import World
from lbsim.scenario import load


def scenario(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "sessions",
        "seed": 3,
        "duration": 60.0,
        "clients": {
            "count": 400,
            "arrivals": {"process": "poisson", "rate": 2.0},
            "service": {"dist": "exponential", "mean": 0.02},
            "sessions": {"requests": 12, "think": 1.0},
        },
        "servers": [{"name": "web", "count": 3, "workers": 4}],
    }
    for key, value in fields.items():
        if key == "clients":
            base["clients"] = {**base["clients"], **value}
        else:
            base[key] = value
    return base


def test_next_request_leaves_think_after_the_answer() -> None:
    # One session (deterministic arrivals at 0.4/s over 2.5 s: t = 0 only) of
    # 3 requests, 0.5 s of service on one server, think 1 s:
    # request 0 at 0 ends 0.5; request 1 at 1.5 ends 2.0; request 2 would
    # leave at 3.0, after the 2.5 s duration, so it is never sent.
    data = scenario(
        duration=2.5,
        clients={
            "arrivals": {"process": "deterministic", "rate": 0.4},
            "service": {"dist": "deterministic", "value": 0.5},
            "sessions": {"requests": 3, "think": {"dist": "deterministic", "value": 1.0}},
        },
        servers=[{"name": "web", "count": 1}],
    )
    requests = lbsim.run(data).requests
    assert requests["arrival"].tolist() == [0.0, 1.5]
    assert requests["end"].tolist() == [0.5, 2.0]
    assert requests["session"].tolist() == [0, 0]
    summary = lbsim.run(data).summary.iloc[0]
    assert (summary["sessions_started"], summary["sessions_lost"]) == (1, 0)


def test_every_variant_replays_each_sessions_demands_and_think_times() -> None:
    """Common random numbers: what differs between variants is only when
    requests leave; each session's demands, and the gap from an answer to
    its next request (the think time), are the same in every variant."""
    data = scenario(compare={"balancer.algorithm": ["round_robin", "least_connections"]})
    requests = lbsim.run(data).requests
    by_variant = []
    for _, rows in requests.groupby("variant", observed=True):
        rows = rows.sort_values(["session", "arrival"])
        gaps = rows.groupby("session")["arrival"].shift(-1) - rows["end"]
        by_variant.append((rows["demand"].to_numpy(), gaps.to_numpy()))
    (demand_a, gaps_a), (demand_b, gaps_b) = by_variant
    assert len(demand_a) == len(demand_b) > 500
    np.testing.assert_array_equal(demand_a, demand_b)
    np.testing.assert_allclose(gaps_a, gaps_b, rtol=0, atol=1e-9, equal_nan=True)
    assert np.nanmin(gaps_a) >= 0  # never before the answer


def _first_ok_server(rows: pd.DataFrame) -> pd.Series:
    ok = rows[rows["status"] == "ok"].sort_values("arrival")
    return ok.groupby("session")["server"].first()


CRASH = 30.0


def _cookie_run() -> tuple[pd.DataFrame, pd.Series, float]:
    data = scenario(
        balancer={
            "algorithm": "round_robin",
            "sticky": {"cookie": "SERVERID"},
            "health_check": {"preset": "haproxy"},
        },
        events=[{"at": CRASH, "target": "web-1", "action": "crash"}],
    )
    result = lbsim.run(data)
    marked = result.events[result.events["kind"] == "marked_down"]
    assert marked["target"].tolist() == ["web-1"]
    return result.requests, result.summary.iloc[0], float(marked["time"].iloc[0])


def test_cookie_affinity_holds_while_healthy_and_breaks_at_the_mark_down() -> None:
    requests, _, down_at = _cookie_run()
    home = _first_ok_server(requests)
    rows = requests.assign(home=requests["session"].map(home).astype(str))
    # While every server is healthy, no request of a session lands elsewhere.
    before = rows[rows["arrival"] < CRASH]
    assert len(before) > 500
    assert (before["server"].astype(str) == before["home"]).all()
    # web-1's sessions keep going to web-1 until the mark-down (conn_error:
    # it is down, no retries), and never after it.
    theirs = rows[rows["home"] == "web-1"]
    between = theirs[(theirs["arrival"] >= CRASH) & (theirs["arrival"] < down_at)]
    after = theirs[theirs["arrival"] >= down_at]
    assert len(between) > 5 and len(after) > 5
    assert (between["server"] == "web-1").all() and (between["status"] == "conn_error").all()
    assert (after["server"] != "web-1").all()
    # and each of them sticks to its new server from then on
    for _, session in after.sort_values("arrival").groupby("session"):
        answered = session[session["status"] == "ok"]
        assert answered["server"].nunique() == 1


def test_sessions_lost_are_those_whose_home_died() -> None:
    """Lost = measured sessions of web-1 answered ok by another server after
    the mark-down; nothing else moves (web-1 never returns)."""
    requests, summary, down_at = _cookie_run()
    home = _first_ok_server(requests)
    ok = requests[(requests["status"] == "ok") & (requests["arrival"] >= down_at)]
    moved = set(ok[ok["session"].map(home) == "web-1"]["session"])
    assert len(moved) > 5
    assert summary["sessions_lost"] == len(moved)
    assert summary["sessions_started"] == requests["session"].nunique()


def test_without_persistence_a_session_is_lost_when_it_changes_server() -> None:
    result = lbsim.run(scenario())  # round robin, no stickiness, no store
    requests = result.requests
    ok = requests[requests["status"] == "ok"]
    expected = int((ok.groupby("session")["server"].nunique() > 1).sum())
    assert expected > 0.9 * requests["session"].nunique()
    assert result.summary.iloc[0]["sessions_lost"] == expected


def test_a_shared_store_loses_nothing_and_is_busy_as_theory_says() -> None:
    """Store utilisation = request rate × mean store time / workers. The
    rate is measured (closed loop); the time-average has the statistical
    error of the ≈ 1,300 requests' exponential store times: sd/mean = 1/√n
    ≈ 2.8 %; tolerance 4 sd."""
    store = {"workers": 2, "service": {"dist": "exponential", "mean": 0.05}}
    result = lbsim.run(scenario(session_store=store))
    summary = result.summary.iloc[0]
    assert summary["sessions_lost"] == 0
    rate = summary["requests"] / 60.0
    assert summary["store_utilization"] == pytest.approx(rate * 0.05 / 2, rel=0.11)


def test_a_failed_store_fails_the_requests_during_its_outage() -> None:
    store = {"workers": 2, "service": {"dist": "exponential", "mean": 0.005}}
    events = [{"at": 20.0, "target": "store", "action": "crash", "for": 10.0}]
    result = lbsim.run(scenario(session_store=store, events=events))
    requests = result.requests
    # sent during the outage: refused by the store after the 5 s connect
    # timeout, answered 5xx by the server
    during = requests[(requests["arrival"] > 20.0) & (requests["arrival"] < 25.0)]
    assert len(during) > 20 and (during["status"] == "server_error").all()
    outside = requests[(requests["arrival"] < 20.0) | (requests["arrival"] > 30.1)]
    assert (outside["status"] == "ok").all()


def test_source_ip_behind_one_nat_address_puts_every_session_on_one_server() -> None:
    """ip_hash maps one address to one server, so with every client behind
    one gateway all sessions share a server: max/mean of sessions per server
    = 3 with 3 servers."""
    data = scenario(
        clients={"nat": {"gateways": 1, "fraction": 1.0}},
        balancer={"algorithm": "ip_hash", "sticky": "source_ip"},
    )
    result = lbsim.run(data)
    assert result.requests["server"].nunique() == 1
    assert result.summary.iloc[0]["session_imbalance"] == pytest.approx(3.0)
    assert result.summary.iloc[0]["sessions_lost"] == 0


def _row(**clients: Any) -> dict[str, Any]:
    return scenario(
        duration=0.2,
        drain=20.0,
        clients={
            "arrivals": {"process": "deterministic", "rate": 10.0},  # t = 0 and 0.1
            "service": {"dist": "deterministic", "value": 1.0},
            "sessions": None,
            **clients,
        },
        servers=[{"name": "row", "count": 1, "workers": 2, "contention": "optimistic"}],
    )


def test_a_contended_write_fails_if_another_committed_since_its_read() -> None:
    # A reads at 0 and commits at 1.0. B reads at 0.1; at 1.1 the row's last
    # commit (1.0) is after its read: conflict. Plain exponential back-off,
    # base 1 s: retry 1 waits min(cap, 1·2^1) = 2 s, so B reads again at 3.1
    # and commits at 4.1.
    retries = {
        "max": 3,
        "retry_on": ["server_error"],
        "backoff": {"base": 1.0, "max": 10.0, "jitter": "none"},
    }
    requests = lbsim.run(_row(retries=retries)).requests
    assert requests["end"].tolist() == pytest.approx([1.0, 4.1])
    assert requests["retries"].tolist() == [0, 1]
    assert requests["status"].tolist() == ["ok", "ok"]


def test_the_round_trip_is_added_to_every_answer() -> None:
    # no contention: each write takes 1 s of service and the answer 0.25 s more
    data = _row(rtt={"dist": "deterministic", "value": 0.25})
    data["servers"][0]["contention"] = "none"
    requests = lbsim.run(data).requests
    assert requests["latency"].tolist() == pytest.approx([1.25, 1.25])


def test_a_drawn_session_length_is_rounded_and_at_least_one() -> None:
    # lengths drawn as 2.6 round to 3; 0.2 rounds to 0 and is raised to 1
    for value, count in ((2.6, 3), (0.2, 1)):
        data = scenario(
            duration=10.0,
            clients={
                "arrivals": {"process": "deterministic", "rate": 0.1},  # one session, at 0
                "sessions": {"requests": {"dist": "deterministic", "value": value}, "think": 0.1},
            },
        )
        assert len(lbsim.run(data).requests) == count


def test_the_time_series_goes_on_while_a_session_thinks() -> None:
    # One session of 4 requests, 0.1 s each on one server, think 5 s: they are
    # sent at 0, 5.1, 10.2 and 15.3 s, and between them nothing is in flight.
    # The run is active while a session thinks (its next request's event is
    # pending), so the levels are sampled at their period (a few requests: 50
    # samples over the 20 s, one every 0.4 s) until the last answer, 15.4 s,
    # not only until the first one.
    data = scenario(
        duration=20.0,
        clients={
            "arrivals": {"process": "deterministic", "rate": 0.05},
            "service": {"dist": "deterministic", "value": 0.1},
            "sessions": {"requests": 4, "think": {"dist": "deterministic", "value": 5.0}},
        },
        servers=[{"name": "web", "count": 1}],
    )
    variant = load(data=data).variants[0].scenario
    world = World(variant, draw_workload(variant))
    recorder = world.run()
    np.testing.assert_allclose(world.workload.arrival, [0.0, 5.1, 10.2, 15.3])
    times = np.asarray(recorder.sample_times)
    assert times[-1] >= 15.3
    np.testing.assert_allclose(np.diff(times[times <= 15.3]), 0.4)  # no gap while thinking


def test_requests_are_put_in_arrival_order_with_equal_times_by_index() -> None:
    """The sent requests (time not NaN) in order of time, equal times in
    order of request id (a stable sort), whether or not any two are equal.
    By hand: times 3, NaN, 1, 3, 2, 1 give 2, 5 (both 1), 4, 0, 3 (both 3).
    The 5,000 whole-second times below have ties at nearly every value,
    which an unstable sort does not keep in id order."""
    from lbsim.engine.sessions import arrival_order

    by_hand = np.array([3.0, np.nan, 1.0, 3.0, 2.0, 1.0])
    assert arrival_order(by_hand).tolist() == [2, 5, 4, 0, 3]
    rng = np.random.default_rng(5)
    for times in (rng.integers(0, 100, 5000).astype(float), rng.random(5000)):
        times[rng.random(5000) < 0.1] = np.nan
        sent = np.flatnonzero(~np.isnan(times))
        expected = sent[np.argsort(times[sent], kind="stable")]
        assert np.array_equal(arrival_order(times), expected)
