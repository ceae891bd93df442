"""The Tail at Scale (Dean & Barroso, CACM 2013): hedged and fan-out requests
(scenarios/published/tail_at_scale_{hedging,fanout}.yaml).

Every answer independently takes D = 10 ms (p = 0.96), 20 ms (0.03) or 1 s
(0.01, the stragglers). Sixteen workers per server at a few per cent
utilisation: no request ever queues (queue_max is checked to be 0), so each
latency is a function of the copies' demands and the theory is exact.

Hedging after a: the backup goes out iff D1 > a, and the request answers at
min(D1, a + D2). After a = 12 ms (just past p95 = 10 ms): extra load
P(D1 > 12 ms) = 0.04; a 20 ms first copy still wins (12 + 10 > 20); a
straggler is replaced by 22 ms (p 0.96), 32 ms (0.03) or stays 1 s (0.01).
So P(L ≥ 22 ms) = 0.01 > 0.001 > P(L > 22 ms) = 4·10⁻⁴: p99.9 = 22 ms
exactly, against 1 s unhedged; p95 stays 10 ms. After 25 ms only stragglers
are hedged: extra 0.01, p99.9 = 35 ms. Work per request (the loser runs
until the winner answers): unhedged E[D] = 20.2 ms; hedged at 12 ms E[L] +
E[(L − a)·1{D1 > a}] = 10.5208 + 0.4408 = 10.9616 ms.

Fan-out to k leaves needing q: slow (1 s; counted as latency > 0.5 s, as
arrival + 1 s − arrival may round below 1 s) iff more than k − q leaves
straggle: 1 − 0.99^100 = 63.4 % for all 100, 1 − 0.99^100 − 100·0.01·0.99^99
= 26.4 % for 99 of 100, 1 % for one leaf.

Tolerances: binomial standard errors at the measured counts (95,394 hedged
requests, 4,858 fan-out requests), 4-5 SE as stated per check.
"""

from __future__ import annotations

import math

import pytest

from tests.conftest import ROOT, Bundled

PUBLISHED = ROOT / "scenarios" / "published"


def _se(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n)


@pytest.mark.slow
def test_hedging_after_p95_cuts_the_tail_for_a_few_percent_more_requests(bundled: Bundled) -> None:
    result = bundled("published/tail_at_scale_hedging.yaml")
    summary = result.summary.set_index("variant")
    plain, p95, p99 = summary.index
    n = int(summary.loc[plain, "requests"])
    assert (summary["queue_max"] == 0).all()
    assert summary.loc[plain, "latency_p95"] == pytest.approx(0.010)
    assert summary.loc[plain, "latency_p999"] == pytest.approx(1.0)
    assert summary.loc[plain, "extra_load"] == 0.0
    # extra load: 4 % and 1 %, within 5 SE (0.0032 and 0.0016 at n = 95,394)
    assert summary.loc[p95, "extra_load"] == pytest.approx(0.04, abs=5 * _se(0.04, n))
    assert summary.loc[p99, "extra_load"] == pytest.approx(0.01, abs=5 * _se(0.01, n))
    # p99.9 exact by the quantile argument of the module docstring
    assert summary.loc[p95, "latency_p999"] == pytest.approx(0.022, abs=1e-9)
    assert summary.loc[p99, "latency_p999"] == pytest.approx(0.035, abs=1e-9)
    assert summary.loc[p95, "latency_p95"] == pytest.approx(0.010)
    # requests still at 1 s: both copies straggle, 10^-4 × n ≈ 9.5 expected;
    # 25 is 5 Poisson sd above
    requests = result.requests
    for variant in (p95, p99):
        slow = requests[(requests["variant"] == variant) & (requests["latency"] > 0.5)]
        assert len(slow) <= 25
    # utilisation follows the work per request, 20.2 ms against 10.9616 ms;
    # the straggler count (≈ 950) dominates both: SE ≈ 1.6 %, tolerance 5 %
    capacity = 100 * 16
    rate = 1000
    assert summary.loc[plain, "utilization_mean"] == pytest.approx(
        rate * 0.0202 / capacity, rel=0.05
    )
    assert summary.loc[p95, "utilization_mean"] == pytest.approx(
        rate * 0.0109616 / capacity, rel=0.05
    )


@pytest.mark.slow
def test_fanning_out_to_100_leaves_makes_63_percent_of_requests_slow(bundled: Bundled) -> None:
    result = bundled("published/tail_at_scale_fanout.yaml")
    requests = result.requests
    assert (result.summary["queue_max"] == 0).all()
    single, fanned, quorum = result.summary["variant"]
    expected = {
        single: 0.01,
        fanned: 1 - 0.99**100,
        quorum: 1 - 0.99**100 - 100 * 0.01 * 0.99**99,
    }
    for variant, p in expected.items():
        latency = requests.loc[requests["variant"] == variant, "latency"]
        slow = float((latency > 0.5).mean())
        # 4 SE at n = 4,858: 0.0057, 0.028, 0.025
        assert slow == pytest.approx(p, abs=4 * _se(p, len(latency))), (variant, slow, p)
    extra = dict(zip(result.summary["variant"], result.summary["extra_load"], strict=True))
    assert extra == {single: 0.0, fanned: 99.0, quorum: 99.0}
