"""Same scenario and seed, same output; every variant faces the same workload."""

from __future__ import annotations

import pandas as pd

import lbsim
from tests.conftest import scenario

DATA = scenario(
    duration="20m",
    warmup="1m",
    **{
        "clients.arrivals.rate": 3.5,
        "servers.0.count": 4,
        "compare": {"balancer.algorithm": ["random", "least_connections", "power_of_two"]},
    },
)


def test_two_runs_are_identical() -> None:
    a, b = lbsim.run(DATA), lbsim.run(DATA)
    for name in ("summary", "requests", "timeseries", "events"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)


def test_another_seed_gives_another_workload() -> None:
    a, b = lbsim.run(DATA), lbsim.run(DATA, seed=2)
    assert not a.requests["arrival"].equals(b.requests["arrival"])


def test_variants_see_identical_arrivals_and_demands() -> None:
    requests = lbsim.run(DATA).requests
    groups = [g.reset_index(drop=True) for _, g in requests.groupby("variant", observed=True)]
    assert len(groups) == 3
    for group in groups[1:]:
        for column in ("id", "arrival", "demand", "client"):
            pd.testing.assert_series_equal(group[column], groups[0][column], check_exact=True)
    # while the balancer's decisions differ
    assert not groups[0]["server"].equals(groups[1]["server"])
