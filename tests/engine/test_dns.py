"""Route 53 routing policies (lbsim.engine.dns.Authority), checked against the
published rules (lb-semantics §2.5), and the policies end to end."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

import lbsim
from lbsim.engine.dns import Authority
from lbsim.engine.loop import Loop
from lbsim.engine.records import Recorder
from lbsim.scenario.models.dns import Dns
from lbsim.scenario.models.regions import Location
from tests.engine.test_regions import TWO_REGIONS

REGIONS = ("us", "eu", "ap")
LOCATIONS = (
    Location(name="us", share=0.3, continent="NA", country="US", subdivision="US-CA"),
    Location(name="eu", share=0.3, continent="EU", country="DE"),
    Location(name="ap", share=0.4, continent="AS", country="JP"),
)
MEAN_RTT = ((0.01, 0.08, 0.15), (0.08, 0.01, 0.2), (0.15, 0.2, 0.03))


def authority(**dns: Any) -> Authority:
    return Authority(
        Loop(),
        Dns.model_validate(dns),
        REGIONS,
        LOCATIONS,
        MEAN_RTT,
        lambda region: True,
        Recorder(0, 0),
        seed=5,
        active=lambda: False,
    )


def counts(auth: Authority, n: int, location: int = 0) -> np.ndarray:
    picks = [auth.answer(location)[0] for _ in range(n)]
    return np.bincount(picks, minlength=len(REGIONS))


def test_weighted_splits_by_weight_within_the_binomial_error() -> None:
    """Weights 1:3:0 -> P = 1/4, 3/4, 0. n = 4000 answers: each count is
    Binomial(n, p), sd = sqrt(n p (1 - p)) = 27.4; we allow 4 sd (±110, a
    share off by 2.7 points), so a bias of about 3.5 points in the share
    would fail. A zero-weight record is never answered while others are healthy."""
    n = 4000
    auth = authority(
        policy="weighted",
        records=[
            {"region": "us", "weight": 1},
            {"region": "eu", "weight": 3},
            {"region": "ap", "weight": 0},
        ],
    )
    got = counts(auth, n)
    for region, p in ((0, 0.25), (1, 0.75)):
        assert abs(got[region] - n * p) <= 4 * np.sqrt(n * p * (1 - p))
    assert got[2] == 0


def test_zero_weights_answer_only_when_the_others_are_unhealthy_or_all_are_zero() -> None:
    records = [
        {"region": "us", "weight": 2},
        {"region": "eu", "weight": 0},
        {"region": "ap", "weight": 0},
    ]
    auth = authority(policy="weighted", records=records)
    auth.healthy[0] = False  # the only non-zero record: zero weights now share equally
    got = counts(auth, 2000)
    assert got[0] == 0 and min(got[1], got[2]) > 800  # Binomial(2000, 1/2): 800 is 8.9 sd out
    auth = authority(policy="weighted", records=[{**r, "weight": 0} for r in records])
    assert (counts(auth, 3000) > 800).all()  # all zero: equal, Binomial(3000, 1/3) mean 1000
    auth = authority(policy="weighted", records=records)
    auth.healthy[:] = [False, False, False]  # all unhealthy: answered as if all healthy
    assert counts(auth, 200).tolist() == [200, 0, 0]


def test_latency_answers_the_lowest_rtt_healthy_region() -> None:
    auth = authority(policy="latency")
    assert [auth.answer(loc) for loc in range(3)] == [[0], [1], [2]]
    auth.healthy[1] = False
    # eu's next best is us (80 ms < 200 ms)
    assert [auth.answer(loc) for loc in range(3)] == [[0], [0], [2]]


def test_geolocation_takes_the_most_specific_healthy_match_then_the_default() -> None:
    records = [
        {"region": "ap"},  # the default record
        {"region": "eu", "continent": "NA"},
        {"region": "us", "country": "US"},
        {"region": "eu", "subdivision": "US-CA"},
        {"region": "eu", "continent": "EU"},
    ]
    auth = authority(policy="geolocation", records=records)
    # us: subdivision US-CA beats country US beats continent NA; eu: continent; ap: default
    assert [auth.answer(loc) for loc in range(3)] == [[1], [1], [2]]
    auth.healthy[1] = False  # eu down: us falls back to its country record, eu to the default
    assert [auth.answer(loc) for loc in range(3)] == [[0], [2], [2]]


def test_failover_answers_the_primary_while_healthy() -> None:
    auth = authority(
        policy="failover",
        records=[{"region": "eu", "role": "secondary"}, {"region": "us", "role": "primary"}],
        health_check={"interval": 10},
    )
    assert auth.answer(2) == [0]
    auth.healthy[0] = False
    assert auth.answer(2) == [1]


def test_multivalue_answers_up_to_eight_healthy_records_in_random_order() -> None:
    auth = authority(policy="multivalue", records=[{"region": REGIONS[i % 3]} for i in range(10)])
    answers = [auth.answer(0) for _ in range(300)]
    assert {len(a) for a in answers} == {8}
    auth.healthy[2] = False
    answers = [auth.answer(0) for _ in range(300)]
    assert all(2 not in a and len(a) == 7 for a in answers)  # 7 healthy records left
    firsts = np.bincount([a[0] for a in answers], minlength=3)
    # the first is each healthy record equally often: us 4/7, eu 3/7 of 300 (sd 8.6)
    assert abs(firsts[0] - 300 * 4 / 7) <= 4 * np.sqrt(300 * 4 / 7 * 3 / 7)


def _three_regions(policy: str, **dns: Any) -> dict[str, Any]:
    data = copy.deepcopy(TWO_REGIONS)
    data.update(duration="3m", events=[])
    data["clients"]["locations"] = [loc.model_dump(exclude_none=True) for loc in LOCATIONS]
    data["servers"] = [{"name": f"{r}-web", "count": 1} for r in REGIONS]
    data["regions"] = [{"name": r, "servers": [f"{r}-web"]} for r in REGIONS]
    data["network"] = {
        "rtt": {
            loc: {r: f"{MEAN_RTT[i][j] * 1000:g}ms" for j, r in enumerate(REGIONS)}
            for i, loc in enumerate(REGIONS)
        }
    }
    data["dns"] = {"policy": policy, **dns}
    return data


@pytest.mark.parametrize(
    ("policy", "dns", "expected"),
    [
        ("latency", {}, {0: 0, 1: 1, 2: 2}),
        (
            "geolocation",
            {"records": [{"region": "eu"}, {"region": "us", "continent": "NA"}]},
            {0: 0, 1: 1, 2: 1},
        ),
    ],
)
def test_each_client_goes_to_its_mapped_region(
    policy: str, dns: dict[str, Any], expected: dict[int, int]
) -> None:
    """End to end: every request of a location's clients reaches the region
    the policy maps it to, and its latency includes that pair's round trip."""
    result = lbsim.run(_three_regions(policy, **dns))
    requests = result.requests
    edges = np.round(np.cumsum([loc.share for loc in LOCATIONS]) * 600).astype(int)
    location = np.searchsorted(edges, requests["client"].to_numpy(), side="right")
    for loc, region in expected.items():
        mine = requests[location == loc]
        assert len(mine) > 0 and (mine["region"] == region).all()
        assert np.allclose(mine["latency_network"], MEAN_RTT[loc][region])
    summary = result.summary.iloc[0]
    home = np.array([0, 1, 2])[location]
    assert summary["cross_region_share"] == pytest.approx(
        np.mean(requests["region"].to_numpy() != home)
    )
