"""Shared test helpers: scenario builders, replicated runs, event times, and
the one black_friday run of a test session.

Builders are plain functions (``from tests.conftest import cluster``) so that
module-level constants can use them; the black_friday run is a session
fixture. Under pytest-xdist every test that uses it is put in one
``xdist_group`` (run with ``--dist loadgroup``), so the scenario is simulated
once per test run rather than once per worker.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lbsim
import lbsim.runner.run
from lbsim.algorithms import HostSet

ROOT = Path(__file__).resolve().parents[1]

BASE: dict[str, Any] = {
    "name": "test",
    "seed": 1,
    "duration": "1h",
    "warmup": "5m",
    "clients": {
        "count": 100,
        "arrivals": {"process": "poisson", "rate": 1.0},
        "service": {"dist": "exponential", "mean": 1.0},
    },
    "servers": [{"name": "web", "count": 1, "workers": 1}],
}

# A small cluster for behaviour tests: four M/M/1 servers at ρ = 0.5, no warm-up.
CLUSTER: dict[str, Any] = {
    "duration": "30m",
    "warmup": 0,
    "clients.arrivals.rate": 2.0,
    "servers.0.count": 4,
}


def scenario(*layers: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    """``BASE`` with dotted-path changes applied in order: each of ``layers``,
    then ``changes``. ``scenario(CLUSTER, **{"clients.count": 5})``."""
    data = copy.deepcopy(BASE)
    for layer in (*layers, changes):
        for dotted, value in layer.items():
            node = data
            *parents, last = dotted.split(".")
            for part in parents:
                node = node[int(part)] if part.isdigit() else node[part]
            node[int(last) if last.isdigit() else last] = copy.deepcopy(value)
    return data


def cluster(**changes: Any) -> dict[str, Any]:
    """``CLUSTER`` with ``changes``."""
    return scenario(CLUSTER, **changes)


def replicate(data: dict[str, Any], replications: int, *metrics: str) -> dict[str, np.ndarray]:
    """Each of ``metrics``: every variant (columns) over independent replications
    (rows), all from one set of runs."""
    table = lbsim.runner.run.replicate(data, replications)
    variants = list(table["variant"].unique())
    out = {}
    for metric in metrics:
        wide = table.pivot(index="replication", columns="variant", values=metric)
        out[metric] = wide[variants].to_numpy()
    return out


def event_times(result: lbsim.Result, kind: str, target: str | None = None) -> list[float]:
    """Times of the events of ``kind`` (on ``target``, if given), in order."""
    frame = result.events
    chosen = frame[(frame["kind"] == kind) & ((frame["target"] == target) if target else True)]
    return [float(t) for t in chosen["time"]]


BLACK_FRIDAY_GROUP = "black_friday"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep every user of the black_friday run on one xdist worker."""
    for item in items:
        if {"black_friday", "black_friday_result"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group(BLACK_FRIDAY_GROUP))


@pytest.fixture(scope="session")
def black_friday_result() -> lbsim.Result:
    """scenarios/black_friday.yaml, simulated once per session (per worker)."""
    return lbsim.run(ROOT / "scenarios" / "black_friday.yaml")


@pytest.fixture(scope="session")
def black_friday(
    black_friday_result: lbsim.Result, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The black_friday result saved to a directory (as ``lbsim run`` writes it)."""
    out = tmp_path_factory.mktemp("black_friday")
    black_friday_result.save(out)
    return out


def notify_all(hosts: HostSet) -> None:
    """Tell every listener of ``hosts`` that each host may have changed, as
    ``HostSet.update`` does for the ones that did (tests set ``available`` directly)."""
    for listener in hosts.listeners:
        listener.hosts_changed(range(len(hosts)))
