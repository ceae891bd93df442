"""Extreme values that validate also simulate (issue 15 §1): no arithmetic
error, overflow or allocation failure mid-run. Each case is a 20 s run."""

from __future__ import annotations

from typing import Any

import pytest

from lbsim.runner.run import run
from tests.conftest import scenario

TINY: dict[str, Any] = {"duration": "20s", "warmup": 0, "clients.arrivals.rate": 5.0}


@pytest.mark.parametrize(
    "changes",
    [
        {"clients.subnets": 2**24},
        {"servers.0.workers": 10**18, "servers.0.queue_limit": 10**18},
        {"servers.0.speed": 1e-300},
        {"servers.0.speed": 1e15},
        {"clients.service": {"dist": "lognormal", "mean": 0.1, "cv": 1e7}},
        {"clients.service": {"dist": "pareto", "alpha": 0.5, "low": 1e-300, "high": 1e15}},
        {"drain": 1e15, "clients.timeout": 1e15},
        {"seed": 2**63 - 1},
    ],
    ids=str,
)
def test_extreme_values_run(changes: dict[str, Any]) -> None:
    result = run(scenario(TINY, **changes))
    assert result.summary["requests"].iloc[0] > 0
