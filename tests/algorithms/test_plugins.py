"""User algorithms: the decorator and the entry-point group."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import ClassVar

import numpy as np
import pytest

import lbsim
from lbsim import algorithms
from lbsim.algorithms import BaseAlgorithm, HostSet, Params, Request, RequestView
from tests.conftest import scenario


class FirstParams(Params):
    offset: int = 0


class FirstAvailable(BaseAlgorithm):
    """Always the first available backend (after an offset)."""

    name: ClassVar[str] = "first"
    Params = FirstParams

    def pick(self, request: Request) -> int | None:
        eligible = self.backends.eligible()
        assert isinstance(self.params, FirstParams)
        return eligible[self.params.offset % len(eligible)] if eligible else None


def test_decorated_algorithm_runs_in_a_scenario() -> None:
    lbsim.register_algorithm("first_test")(FirstAvailable)
    data = scenario(
        duration="5m",
        warmup=0,
        **{"servers.0.count": 3, "balancer": {"algorithm": {"name": "first_test", "offset": 1}}},
    )
    result = lbsim.run(data)
    assert set(result.requests["server"].dropna().unique()) == {"web-1"}
    assert "first_test" in algorithms.available()


def test_bad_plugin_parameters_are_scenario_errors() -> None:
    lbsim.register_algorithm("first_test")(FirstAvailable)
    with pytest.raises(lbsim.ScenarioError, match="offset"):
        lbsim.load(scenario(balancer={"algorithm": {"name": "first_test", "offset": "x"}}))


def test_entry_point_plugins_are_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    point = EntryPoint(
        "ep_first", "tests.algorithms.test_plugins:FirstAvailable", algorithms.ENTRY_POINT_GROUP
    )
    monkeypatch.setattr(algorithms, "_plugins", None)
    monkeypatch.setattr(algorithms, "entry_points", lambda group: [point])
    spec = algorithms.get("ep_first")
    assert spec.origin.startswith("plugin")
    built = spec.factory(HostSet(["a", "b"], [1, 1]), np.random.default_rng(0), spec.params())
    assert built.pick(RequestView(0)) == 0
