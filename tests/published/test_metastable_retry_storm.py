"""A metastable retry storm (Bronson et al., HotOS 2021)
(scenarios/published/metastable_retry_storm.yaml).

The shape, from the model: at 500 req/s on ten servers of 100 req/s each
(ρ = 0.5) an M/M/1 queue reaches the curve's knee (10 requests) with
probability 0.5^10 ≈ 0.1 %, so before the spike service runs at speed and
nothing times out. The spike (1,200 req/s for 5 s, ρ = 1.2 and more as the
slowdown rises) builds a backlog beyond the 1 s per-try timeout. Once waits
exceed 1 s every attempt times out, so without a budget every request
makes all 1 + 3 attempts, each still served: 4 × 0.5 × 1.4 = 2.8 times
capacity, a self-sustaining state. Checked: recovery_time is inf, and of
the requests arriving in the last minute none succeeds, every one used
all four attempts, and the servers are busy all the time (work for
nobody). With the budget the offered load is ≈ 1.2 × 0.5 × 1.4 = 0.84 of
capacity even at full slowdown, so the backlog drains: recovery_time is
finite (checked below 60 s, a third of the run; lbsim gives 20 s) and the
last minute is back to all-ok with the first-minute p99 within 10 %.
"""

from __future__ import annotations

import math

import pytest

from tests.conftest import Bundled


@pytest.mark.slow
def test_storm_outlives_its_trigger_without_a_budget_and_recovers_with_one(
    bundled: Bundled,
) -> None:
    result = bundled("published/metastable_retry_storm.yaml")
    summary = result.summary.set_index("variant")
    storm, budget = summary.index
    assert math.isinf(summary.loc[storm, "recovery_time"])
    assert 0 < summary.loc[budget, "recovery_time"] < 60
    requests = result.requests
    last = requests[requests["arrival"] >= 120]
    first = requests[requests["arrival"] < 60]
    stormy = last[last["variant"] == storm]
    assert (stormy["status"] == "timeout").all()
    assert (stormy["retries"] == 3).all()
    busy = result.timeseries
    busy = busy[(busy["variant"] == storm) & (busy["time"] >= 120) & (busy["time"] <= 180)]
    assert (busy["in_service"] == 1).mean() > 0.99
    calm = last[last["variant"] == budget]
    assert (calm["status"] == "ok").mean() > 0.999
    before = first[(first["variant"] == budget) & (first["status"] == "ok")]["latency"]
    after = calm[calm["status"] == "ok"]["latency"]
    assert after.quantile(0.99) == pytest.approx(before.quantile(0.99), rel=0.1)
    # before the spike both variants are the same healthy system
    assert (first["status"] == "ok").mean() > 0.999
