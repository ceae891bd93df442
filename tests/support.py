"""Shared helpers: small scenario dicts and replicated runs."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

import lbsim.runner.run

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


def scenario(**changes: Any) -> dict[str, Any]:
    """``BASE`` with dotted-path changes: ``scenario(**{"clients.count": 5})``."""
    data = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split(".")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value
    return data


def replicate(data: dict[str, Any], replications: int, metric: str) -> np.ndarray:
    """``metric`` of every variant (columns) over independent replications (rows)."""
    table = lbsim.runner.run.replicate(data, replications)
    wide = table.pivot(index="replication", columns="variant", values=metric)
    return wide[list(table["variant"].unique())].to_numpy()
