"""Shared test helpers: scenario builders, replicated runs, event times, and
one run per bundled scenario for a whole test session.

Builders are plain functions (``from tests.conftest import cluster``) so that
module-level constants can use them; bundled scenarios' runs come from the
``bundled`` session fixture, shared by the xdist workers through files.
"""

from __future__ import annotations

import copy
import os
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from filelock import FileLock

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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep the tests of a module on one xdist worker when they share a
    module-scoped fixture (``--dist loadgroup``), so it is built once."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.values() if info else ()
        if any(d[-1].scope == "module" for d in defs):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


#: The ``bundled`` fixture's type: a bundled scenario's name → its result.
Bundled = Callable[[str], lbsim.Result]


def _shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this test run seen by every xdist worker (the parent of the
    workers' own base folders), or the base folder when not distributed."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> Bundled:
    """``bundled("slow_start.yaml")``: a bundled scenario (a path under
    scenarios/) simulated as shipped, once per test run. The first worker to
    ask simulates it and pickles the result into the run's shared folder,
    under a file lock; the others wait for it and read it, so the record-hash,
    claim, report and published-result tests share one run of each."""
    folder = _shared_folder(tmp_path_factory) / "bundled"
    folder.mkdir(exist_ok=True)
    results: dict[str, lbsim.Result] = {}

    def get(name: str) -> lbsim.Result:
        if name not in results:
            file = folder / (name.replace("/", "__") + ".pickle")
            with FileLock(f"{file}.lock"):
                if file.exists():
                    results[name] = pickle.loads(file.read_bytes())
                else:
                    results[name] = lbsim.run(ROOT / "scenarios" / name)
                    file.write_bytes(pickle.dumps(results[name], pickle.HIGHEST_PROTOCOL))
        return results[name]

    return get


@pytest.fixture(scope="session")
def black_friday_result(bundled: Bundled) -> lbsim.Result:
    """scenarios/black_friday_single_region.yaml, simulated once per test run."""
    return bundled("black_friday_single_region.yaml")


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
