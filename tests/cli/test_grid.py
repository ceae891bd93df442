"""``--grid path=values``: the values are read as one YAML flow sequence."""

from __future__ import annotations

from typing import Any

import pytest

from lbsim.runner.grid import parse_grid, parse_values
from lbsim.runner.plan import plan
from lbsim.scenario import ScenarioError
from tests.conftest import scenario


@pytest.mark.parametrize(
    ("text", "values"),
    [
        # units stay text: the scenario model parses them, as in a file
        ("[1/s, 2/s]", ["1/s", "2/s"]),
        ("1/s, 2/s", ["1/s", "2/s"]),  # brackets may be left out
        ("50,60/s,70", [50, "60/s", 70]),
        # a quoted string keeps its commas; single and double quotes
        ("['a, b', \"c,d\", e]", ["a, b", "c,d", "e"]),
        ('"x,y",z', ["x,y", "z"]),
        # a flow mapping is one value, its commas do not split
        (
            "[round_robin, {name: power_of_two, choices: 3}]",
            ["round_robin", {"name": "power_of_two", "choices": 3}],
        ),
        (
            "random,{name: power_of_two, choices: 3}",
            ["random", {"name": "power_of_two", "choices": 3}],
        ),
        # nesting: a list value and a mapping holding a list
        ("[[1, 2], {values: [3, 4]}]", [[1, 2], {"values": [3, 4]}]),
        # YAML 1.1 scalars, as in a scenario file: `1e3` is text there too
        ("[~, 0, true, 1.0e+3, 1e3]", [None, 0, True, 1000.0, "1e3"]),
        (" [ 1 , 2 ] ", [1, 2]),
    ],
)
def test_values(text: str, values: list[Any]) -> None:
    assert parse_values(text) == values


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1/s, 2/s", "expected ',' or ']', but got '<stream end>' at the end of '[1/s, 2/s'"),
        ("1/s, {a: 1", "at the end of '1/s, {a: 1'"),
        # the bracket-less form is wrapped; positions are still in the user's text
        ("1,,2", "empty value (two commas in a row, or a comma first?) at character 3 of '1,,2'"),
        ("[, 1]", "empty value (two commas in a row, or a comma first?) at character 2"),
        ("[1, {a: 2]", "expected ',' or '}', but got ']' at character 10 of '[1, {a: 2]'"),
        ("[{name: a, name: b}]", "duplicate key 'name' at character 12"),
        ("[1, 2] [3]", "at character 8 of '[1, 2] [3]'"),
    ],
)
def test_errors_say_where(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_values(text)
    assert message in str(caught.value)


def test_parse_grid_collects_every_problem() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_grid(["seed=[1, 2]", "seed=[3]", "clients.count", "servers.0.count=[1,"])
    assert [str(p) for p in caught.value.problems] == [
        "--grid: seed: given more than once",
        "--grid: clients.count: expected path=value1,value2,..., e.g. "
        "clients.arrivals.rate=50,60,70",
        "--grid: servers.0.count: cannot read values: YAML syntax error: expected the node "
        "content, but found '<stream end>' at the end of '[1,'",
    ]


def test_a_mapping_value_becomes_one_grid_point() -> None:
    grid = parse_grid(["balancer.algorithm=[round_robin, {name: power_of_two, choices: 3}]"])
    the_plan = plan(scenario(), grid=grid)
    assert the_plan.n_points == 2
    chosen = [v.scenario.balancer.algorithm for v in the_plan.loaded.variants]
    assert [a.name for a in chosen] == ["round_robin", "power_of_two"]
    assert chosen[1].params().model_dump()["choices"] == 3


def test_rates_with_units_reach_the_scenario() -> None:
    the_plan = plan(scenario(), grid=parse_grid(["clients.arrivals.rate=[30/m, 2/s]"]))
    rates = [v.scenario.clients.arrivals.rate for v in the_plan.loaded.variants]
    assert rates == [0.5, 2.0]
