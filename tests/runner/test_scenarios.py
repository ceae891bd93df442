"""Bundled scenarios, the committed JSON Schema, variants and overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lbsim
from lbsim.scenario import ScenarioError, json_schema, load
from tests.conftest import Bundled, scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def test_committed_schema_is_current() -> None:
    committed = json.loads((ROOT / "schema" / "scenario.schema.json").read_text())
    assert committed == json_schema(), "run: lbsim schema > schema/scenario.schema.json"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_bundled_scenario_validates_and_declares_the_schema(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schema/scenario.schema.json"
    loaded = load(path)
    assert loaded.variants


def runs(result: lbsim.Result, path: Path) -> None:
    summary = result.summary
    assert len(summary) == len(load(path).variants)
    assert (summary["requests"] > 0).all()
    assert (summary["ok"] > 0).all()


# load_curve is a sweep (tests/runner/test_sweep.py).
@pytest.mark.slow
@pytest.mark.parametrize(
    "path", [p for p in SCENARIOS if p.name != "load_curve.yaml"], ids=lambda p: p.name
)
def test_bundled_scenario_runs(path: Path, bundled: Bundled) -> None:
    runs(bundled(path.name), path)


def test_compare_makes_one_variant_per_combination() -> None:
    data = scenario(
        compare={"balancer.algorithm": ["random", "round_robin"], "servers.0.count": [1, 2, 3]}
    )
    loaded = load(data=data)
    assert [v.name for v in loaded.variants][:3] == [
        "random / count=1",
        "random / count=2",
        "random / count=3",
    ]
    assert len(loaded.variants) == 6
    assert {v.scenario.seed for v in loaded.variants} == {1}
    assert loaded.variants[4].scenario.servers[0].count == 2
    assert loaded.variants[4].scenario.balancer.algorithm.name == "round_robin"


def test_overrides_set_any_field() -> None:
    loaded = load(data=scenario(), overrides={"servers.0.count": 7, "seed": 9})
    assert loaded.base.servers[0].count == 7 and loaded.base.seed == 9
    with pytest.raises(ScenarioError, match="no such field"):
        load(data=scenario(), overrides={"servers.0.cores": 7})


def test_algorithm_parameters_are_validated_and_kept() -> None:
    loaded = load(data=scenario(balancer={"algorithm": {"name": "power_of_two", "choices": 3}}))
    choice = loaded.base.balancer.algorithm
    assert choice.label() == "power_of_two(choices=3)"
    assert choice.params().choices == 3  # type: ignore[attr-defined]


def test_run_accepts_keyword_overrides() -> None:
    result = lbsim.run(scenario(duration="10m", warmup=0), balancer__algorithm="random", seed=4)
    assert result.meta["seed"] == 4
    assert result.meta["scenario"]["balancer"]["algorithm"]["name"] == "random"
