"""Hostile values and YAML (issue 15 §1, §3): each refused with its
position and reason, never a traceback; merge keys merge as YAML defines."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lbsim.cli import app
from lbsim.scenario import ScenarioError, load
from lbsim.scenario.source import MAX_DEPTH, YamlError, parse

GOOD = """\
name: ok
duration: 10m
clients:
  arrivals: {process: poisson, rate: 5/s}
  service: {dist: exponential, mean: 100ms}
servers:
  - {name: web, count: 2, workers: 1}
"""
SERVICE = "{dist: exponential, mean: 100ms}"
runner = CliRunner()


def problems(tmp_path: Path, text: str) -> str:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 2, result.output
    return result.stderr


@pytest.mark.parametrize(
    ("old", "new", "where", "expected"),
    [
        ("10m", ".inf", "2:1: duration", "must be a finite number, not inf"),
        ("10m", "1e999s", "2:1: duration", "must be a finite number, not inf"),
        ("5/s", ".nan", "4:32: clients.arrivals.rate", "must be a finite number, not nan"),
        ("count: 2", "count: " + "9" * 400, "7:17: servers.0.count", "400-digit integer is too"),
        ("count: 2", "count: true", "7:17: servers.0.count", "expected a number, not true"),
        ("name: ok", "seed: true", "1:1: seed", "expected a number, not true"),
        ("workers: 1", "workers: 1, weight: true", "servers.0.weight", "not true"),
        ("workers: 1", "workers: 1, speed: .inf", "servers.0.speed", "finite number"),
        ("workers: 1", "workers: 1, speed: " + "9" * 400, "servers.0.speed", "too large"),
        ("workers: 1", "workers: " + "9" * 5000, "7:36", "an integer of 5000 digits"),
        (SERVICE, "{dist: gamma, mean: 100ms, cv: 1e-200}", "clients.service", "division"),
        (SERVICE, "{dist: pareto, alpha: 1e-300, low: 1ms, high: 1s}", "clients.service", "by"),
        (SERVICE, "{dist: lognormal, mean: 100ms, cv: 1e200}", "clients.service", "overflows"),
        # variance (1e150)² is finite: cv² overflows in the sampler's σ² = log(1 + cv²)
        (SERVICE, "{dist: lognormal, mean: 1e-10s, cv: 1e160}", "clients.service", "overflows"),
        (
            "{process: poisson, rate: 5/s}",
            "{profile: [{at: 0, rate: 1}, {at: .inf, rate: 2}]}",
            "clients.arrivals.profile.1.at",
            "finite",
        ),
    ],
)
def test_values_are_refused_with_position_and_reason(
    tmp_path: Path, old: str, new: str, where: str, expected: str
) -> None:
    assert old in GOOD
    stderr = problems(tmp_path, GOOD.replace(old, new))
    assert where in stderr and expected in stderr, stderr


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("choices: true", "choices: expected a number, not true"),
        ("choices: 1000000000000", "choices: Input should be less than or equal to 100"),
        ("active_request_bias: .inf", "active_request_bias: Input should be a finite number"),
    ],
)
def test_algorithm_parameters_are_checked_too(tmp_path: Path, params: str, expected: str) -> None:
    text = GOOD.replace(
        "servers:", f"balancer: {{algorithm: {{name: power_of_two, {params}}}}}\nservers:"
    )
    assert expected in problems(tmp_path, text)


def test_a_distribution_that_samples_is_accepted() -> None:
    scenario = load(text=GOOD.replace(SERVICE, "{dist: gamma, mean: 100ms, cv: 0.001}")).base
    assert scenario.clients.service.mean == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("text", "line", "col", "expected"),
    [
        ("a: !!python/object/apply:os.system [ls]\n", 1, 4, "python/object/apply:os.system"),
        ("a: !mine x\n", 1, 4, "tag !mine is not allowed"),
        ("a: !!binary aGk=\n", 1, 4, "binary is not allowed"),
        ("a: !!set {x}\n", 1, 4, "set is not allowed"),
        ("a: &x [1, *x]\n", 1, 11, "recursive alias *x"),
        ("a: &x {b: {<<: *x}}\n", 1, 16, "recursive alias *x"),
        # line 2, column 5: after "b: o" (4 characters) comes the NUL
        ("a: 1\nb: o\x00k\n", 2, 5, "U+0000"),
        ("a: 1\n  \x07\n", 2, 3, "U+0007"),
        ("a: " + "9" * 5000 + "\n", 1, 4, "an integer of 5000 digits is too large"),
        ("a: 1\na: 2\n", 2, 1, "duplicate key 'a'"),
        ("a: {<<: {x: 1}, <<: {y: 2}}\n", 1, 17, "duplicate key <<"),
        ("--- 1\n--- 2\n", 2, 1, "one YAML document"),
    ],
)
def test_yaml_attacks_are_refused_where_they_are(
    text: str, line: int, col: int, expected: str
) -> None:
    with pytest.raises(YamlError) as caught:
        parse(text)
    assert (caught.value.line, caught.value.col) == (line, col)
    assert expected in caught.value.message


@pytest.mark.parametrize("opening", ["[", "{a: "])
def test_deep_nesting_is_refused_not_a_recursion_error(opening: str) -> None:
    closing = "]" if opening == "[" else "}"
    text = "x: " + opening * 5000 + "1" * (opening != "[") + closing * 5000 + "\n"
    with pytest.raises(YamlError, match="nest"):
        parse(text)
    parse("x: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1))  # at the limit: fine


def test_merge_keys_merge_as_yaml_defines() -> None:
    # YAML merge (yaml.org/type/merge.html): keys written in the mapping win,
    # and earlier merged mappings win over later ones.
    text = "d1: &d1 {a: 1, b: 1}\nd2: &d2 {b: 2, c: 2}\nx:\n  <<: [*d1, *d2]\n  c: 3\n"
    data, marks = parse(text)
    assert data["x"] == {"a": 1, "b": 1, "c": 3}
    assert marks[("x", "c")] == (5, 3)  # written here
    assert marks[("x", "b")] == (1, 16)  # merged from d1's `b`


def test_merged_servers_validate_and_point_at_the_anchor(tmp_path: Path) -> None:
    text = GOOD.replace(
        "  - {name: web, count: 2, workers: 1}",
        "  - &web {name: web, count: 2, workers: 1}\n  - {<<: *web, name: api, count: 3}",
    )
    base = load(text=text).base
    assert [(p.name, p.count, p.workers) for p in base.servers] == [("web", 2, 1), ("api", 3, 1)]
    bad = text.replace("workers: 1}", "workers: -1}")
    with pytest.raises(ScenarioError) as caught:
        load(text=bad)
    # both pools' workers come from line 7 (the anchor): "  - &web {" is 10
    # characters, "name: web, " 11 and "count: 2, " 10, so `workers` is at 32
    assert {(p.path, p.line, p.col) for p in caught.value.problems} == {
        ("servers.0.workers", 7, 32),
        ("servers.1.workers", 7, 32),
    }


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("count: 2,", "count: 3,", "3 servers do not fit a table_size of 2"),
        ("workers: 1}", "workers: 1}\nclients:\n  subnets: 1000000000000000000", "16777216"),
    ],
)
def test_sizes_that_would_fail_when_the_world_is_built(old: str, new: str, expected: str) -> None:
    text = GOOD.replace(
        "servers:", "balancer: {algorithm: {name: maglev, table_size: 2}}\nservers:"
    )
    if "subnets" in new:
        text = GOOD.replace("clients:\n", "clients:\n  subnets: 1000000000000000000\n")
    else:
        text = text.replace(old, new)
    with pytest.raises(ScenarioError, match=expected):
        load(text=text)
