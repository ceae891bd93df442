"""subset: deterministic subsetting (Google SRE ch. 20) and random subsets.

Golden: n = 12 hosts, size 3 -> subset_count = 12 // 3 = 4; instances 0-3 are
round 0 (one shuffle, seeded 0), 4-7 round 1 (seeded 1). Within a round the
four slices of 3 of the same permutation are disjoint and cover all 12.
"""

from __future__ import annotations

import numpy as np
import pytest

import lbsim
from lbsim.algorithms.policies.subset import aperture_subset, deterministic_subset, random_subset
from lbsim.scenario import ScenarioError, load
from tests.conftest import scenario


def test_deterministic_subsets_slice_one_shuffle_per_round() -> None:
    order = np.random.default_rng(0).permutation(12).tolist()
    assert deterministic_subset(12, 0, 3) == sorted(order[0:3])
    assert deterministic_subset(12, 2, 3) == sorted(order[6:9])
    round_0 = [deterministic_subset(12, c, 3) for c in range(4)]
    assert sorted(h for s in round_0 for h in s) == list(range(12))
    order_1 = np.random.default_rng(1).permutation(12).tolist()
    assert deterministic_subset(12, 5, 3) == sorted(order_1[3:6])  # round 1, slice 1
    assert deterministic_subset(4, 3, 10) == [0, 1, 2, 3]  # size >= n: every host
    chosen = random_subset(12, 5, np.random.default_rng(3))
    assert len(set(chosen)) == 5 and all(0 <= h < 12 for h in chosen)


def test_aperture_windows_on_the_ring() -> None:
    # N = 4 instances, n = 12 hosts, size 3: width max(1/4, 3/12) = 1/4; instance 0's
    # window [0, 1/4) covers slices 0, 1, 2 (slice 3 starts at 3/12 = 1/4: no overlap)
    assert aperture_subset(12, 0, 4, 3) == [0, 1, 2]
    assert aperture_subset(12, 1, 4, 3) == [3, 4, 5]
    # N = 5: width max(1/5, 1/4) = 1/4; instance 1: [1/5, 9/20) overlaps slice 2
    # ([1/6, 1/4): 1/4 > 1/5) to slice 5 ([5/12, 1/2): 5/12 < 9/20)
    assert aperture_subset(12, 1, 5, 3) == [2, 3, 4, 5]
    # instance 4: [4/5, 21/20) wraps: slices 9 ([3/4, 5/6): 5/6 > 4/5), 10, 11, and
    # [0, 1/20): slice 0
    assert aperture_subset(12, 4, 5, 3) == [0, 9, 10, 11]
    # every host is in some window
    assert set().union(*(aperture_subset(12, c, 5, 3) for c in range(5))) == set(range(12))
    assert aperture_subset(3, 0, 2, 3) == [0, 1, 2]  # width 1: everything


@pytest.mark.parametrize("mode", ["deterministic", "aperture"])
def test_each_instance_sends_only_to_its_subset(mode: str) -> None:
    data = scenario(
        **{
            "duration": "60s",
            "warmup": 0,
            "clients.arrivals.rate": 6.0,
            "servers.0.count": 12,
            "balancer": {
                "instances": 4,
                "algorithm": "least_connections",
                "subset": {"size": 3, "mode": mode},
            },
        }
    )
    requests = lbsim.run(data).requests
    names = [f"web-{i}" for i in range(12)]
    for lb in range(4):
        used = {names.index(str(s)) for s in requests[requests["balancer"] == lb]["server"]}
        expected = (
            deterministic_subset(12, lb, 3)
            if mode == "deterministic"
            else aperture_subset(12, lb, 4, 3)
        )
        assert used == set(expected), lb


def test_subset_errors_are_precise() -> None:
    data = scenario(**{"balancer": {"subset": {"size": 0, "mode": "fixed"}}})
    with pytest.raises(ScenarioError) as err:
        load(data=data)
    text = str(err.value)
    assert "balancer.subset.size" in text and "balancer.subset.mode" in text
