"""Baselines: a run's summary frozen into a small JSON file, and reading runs.

A *baseline* (usually committed as ``baselines/<scenario>.json``) holds every
summary metric per variant, plus, when the run had ``--replications N``, the
same metrics for each replication and its seed. It also records what the
numbers came from: the scenario name, a hash of the resolved scenario (seed,
report section and default values left out), the seed and the lbsim version.
:func:`read_run` reads the same numbers from a run folder written by ``lbsim run``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from lbsim.gate.validate import (
    CheckError,
    check_baseline,
    read_json,
    replications_table,
    run_files,
    summary_table,
)
from lbsim.io import atomic_path
from lbsim.scenario.models import Scenario

__all__ = ["BASELINE_FORMAT", "CheckError", "RunSummary", "read_baseline", "read_run"]

BASELINE_FORMAT = 1
#: What every baseline file holds (so ``baseline -o`` replaces only baselines).
SIGNATURE = b'"lbsim_baseline"'


def scenario_hash(scenario: dict[str, Any]) -> str:
    """SHA-256 of the resolved scenario as canonical JSON, without its seed,
    its ``report`` section (presentation) and the fields at their defaults:
    the same model under another seed has the same hash, and so has the
    same model after lbsim gains a feature that is off by default."""
    try:
        valid = Scenario.model_validate(scenario, context={"base_dir": Path(".")})
        written = valid.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    except ValidationError:  # not a scenario of this lbsim: hash it as it is
        written = scenario
    model = {key: value for key, value in written.items() if key not in ("seed", "report")}
    text = json.dumps(model, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class RunSummary:
    """The numbers of a run (or a baseline): per-variant metrics and, if the
    run had replications, one row per replication and variant."""

    name: str
    seed: int | None
    lbsim_version: str
    scenario_hash: str
    values: pd.DataFrame  # index: variant; columns: metrics
    replications: pd.DataFrame | None = None  # variant, replication, seed, metrics
    source: str = ""

    @property
    def variants(self) -> list[str]:
        return [str(v) for v in self.values.index]

    @property
    def replication_seeds(self) -> list[int]:
        if self.replications is None:
            return []
        ordered = self.replications.sort_values("replication")
        return [int(s) for s in ordered.drop_duplicates("replication")["seed"]]


def _numeric(frame: pd.DataFrame, skip: set[str]) -> list[str]:
    return [
        c
        for c in frame.columns
        if c not in skip
        and pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
    ]


def read_run(run_dir: Path) -> RunSummary:
    """Read ``summary.csv``, ``run.json`` and, if present, ``replications.csv``,
    each checked (:mod:`lbsim.gate.validate`)."""
    run_dir = Path(run_dir)
    meta, summary_bytes, replication_bytes = run_files(run_dir)
    summary = summary_table(summary_bytes, run_dir / "summary.csv")
    params = {key for v in meta.get("variants", []) for key in v.get("params", {})}
    skip = {"variant", "replication", "seed", *params}
    values = summary.set_index("variant")[_numeric(summary, skip)].astype(float)
    replications = None
    if replication_bytes is not None:
        table = replications_table(replication_bytes, run_dir / "replications.csv")
        keep = ["variant", "replication", "seed", *_numeric(table, skip)]
        replications = table[keep]
    return RunSummary(
        name=meta["name"],
        seed=meta.get("seed"),
        lbsim_version=meta["lbsim_version"],
        scenario_hash=scenario_hash(meta["scenario"]),
        values=values,
        replications=replications,
        source=str(meta.get("source", "")),
    )


def _json_number(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def baseline_data(run: RunSummary) -> dict[str, Any]:
    """The JSON document of a baseline (see ``docs/ci.md`` for the format)."""
    data: dict[str, Any] = {
        "lbsim_baseline": BASELINE_FORMAT,
        "name": run.name,
        "scenario_hash": run.scenario_hash,
        "seed": run.seed,
        "lbsim_version": run.lbsim_version,
        "source": run.source,
        "variants": {
            str(variant): {m: _json_number(v) for m, v in row.items()}
            for variant, row in run.values.iterrows()
        },
        "replications": None,
    }
    if run.replications is not None:
        table = run.replications.sort_values(["variant", "replication"])
        metrics = [c for c in table.columns if c not in ("variant", "replication", "seed")]
        data["replications"] = {
            "seeds": run.replication_seeds,
            "variants": {
                str(variant): {m: [_json_number(v) for v in group[m]] for m in metrics}
                for variant, group in table.groupby("variant", sort=False)
            },
        }
    return data


def write_baseline(run: RunSummary, path: Path) -> Path:
    """Record ``run`` as a baseline file at ``path`` (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(baseline_data(run), indent=2) + "\n")
    return path


def _floats(values: Iterable[float | None]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def read_baseline(path: Path) -> RunSummary:
    """Read a baseline file written by :func:`write_baseline`."""
    path = Path(path)
    if not path.exists():
        raise CheckError(f"{path}: cannot read baseline: no such file")
    try:
        data = read_json(path)
    except CheckError as error:
        raise CheckError(f"not a baseline: {error}") from error
    if not isinstance(data, dict) or data.get("lbsim_baseline") != BASELINE_FORMAT:
        raise CheckError(
            f"{path}: not an lbsim baseline (format {BASELINE_FORMAT}); "
            "record one with `lbsim baseline RUN_DIR -o FILE`"
        )
    check_baseline(data, path)
    try:
        values = pd.DataFrame(
            {v: dict(zip(m, _floats(m.values()), strict=True)) for v, m in data["variants"].items()}
        ).T
        values.index.name = "variant"
        replications = None
        if data.get("replications"):
            seeds = [int(s) for s in data["replications"]["seeds"]]
            rows = []
            for variant, metrics in data["replications"]["variants"].items():
                frame = pd.DataFrame({m: _floats(v) for m, v in metrics.items()})
                frame.insert(0, "seed", seeds[: len(frame)])
                frame.insert(0, "replication", range(len(frame)))
                frame.insert(0, "variant", variant)
                rows.append(frame)
            replications = pd.concat(rows, ignore_index=True)
        return RunSummary(
            name=str(data["name"]),
            seed=data.get("seed"),
            lbsim_version=str(data.get("lbsim_version", "")),
            scenario_hash=str(data.get("scenario_hash", "")),
            values=values.astype(float),
            replications=replications,
            source=str(data.get("source", "")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise CheckError(f"{path}: malformed baseline ({error!r})") from error
