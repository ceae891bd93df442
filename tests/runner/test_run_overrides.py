"""``lbsim.run`` overrides and paths, as a notebook user calls it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lbsim.runner.run import load_scenario
from lbsim.scenario import load

SCENARIO = """
name: tiny
duration: 10s
clients:
  arrivals: {rate: 5/s}
  service: {dist: empirical, file: demand.csv}
servers:
  - {name: web, count: 2}
compare:
  balancer.algorithm: [round_robin, random, least_connections]
  seed: [1, 2]
"""


@pytest.fixture
def scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "demand.csv").write_text("demand\n10ms\n30ms\n")
    (folder / "tiny.yaml").write_text(SCENARIO)
    monkeypatch.chdir(tmp_path)
    return Path("scenarios/tiny.yaml")


def test_overriding_a_compared_field_runs_only_that_variant(scenario: Path) -> None:
    loaded = load_scenario(scenario, {"balancer.algorithm": "random"})
    assert [v.params for v in loaded.variants] == [
        {"balancer.algorithm": "random", "seed": 1},
        {"balancer.algorithm": "random", "seed": 2},
    ]
    assert all(v.scenario.balancer.algorithm.name == "random" for v in loaded.variants)


def test_overriding_a_whole_section_drops_the_axes_inside_it(scenario: Path) -> None:
    loaded = load_scenario(scenario, {"balancer": {"algorithm": "random"}, "seed": 7})
    assert len(loaded.variants) == 1
    assert loaded.variants[0].scenario.balancer.algorithm.name == "random"
    assert loaded.variants[0].scenario.seed == 7


def test_without_overrides_every_variant_runs(scenario: Path) -> None:
    assert len(load_scenario(scenario).variants) == 6


def test_scenario_path_is_relative_to_cwd_and_its_files_to_the_scenario(
    scenario: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = load(scenario)
    assert loaded.base.clients.service.values == (0.01, 0.03)
    # a notebook elsewhere re-running the loaded scenario with an override
    monkeypatch.chdir(scenario.parent)
    again = load_scenario(loaded, {"duration": "5s"})
    assert again.base.clients.service.values == (0.01, 0.03)
    assert again.base.duration == 5
