"""The local pool is started once and kept; the longest runs go first."""

from __future__ import annotations

from lbsim.runner.executors import local_pool, shutdown_pools
from lbsim.runner.sweep import plan
from lbsim.runner.tasks import expected_requests
from tests.conftest import scenario


def test_the_local_pool_is_kept_between_sweeps() -> None:
    try:
        first = local_pool(2)
        assert local_pool(2) is first
        assert first.submit(pow, 2, 10).result() == 1024
        assert local_pool(2) is first  # still the same after running work
    finally:
        shutdown_pools()
    assert local_pool(2) is not first  # a fresh one once shut down
    shutdown_pools()


def test_expected_requests_is_duration_times_rate() -> None:
    data = scenario(duration="10m", **{"clients.arrivals.rate": 3.0})
    the_plan = plan(data, replications=1, grid={"clients.arrivals.rate": [2.0, 5.0]})
    costs = sorted(expected_requests(task) for task in the_plan.tasks)
    assert costs == [600 * 2.0, 600 * 5.0]
