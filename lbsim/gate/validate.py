"""What ``check``, ``diff`` and ``baseline`` read, checked before use.

A run folder is read as the set ``lbsim run`` wrote (:mod:`lbsim.io`): run.json
must list summary.csv (and replications.csv, if there is one) with the
checksums of the files there, so a summary of one run beside the run.json of
another, or a replications.csv left from an earlier run, is refused. Then
every field the gate uses is checked for its type: a damaged file gives
``file: field: what is wrong`` and exit status 2, never a traceback or a
silently wrong verdict.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import pandas as pd

from lbsim.io import OutputError, parse_json, read_bytes, read_manifest, read_member

NOT_A_RUN = "expected the output folder of `lbsim run`"
KEYS = ("variant", "replication", "seed")


class CheckError(ValueError):
    """Bad input to a check (exit status 2): unknown metric, malformed limit,
    a baseline of another scenario, an unreadable or damaged run folder..."""


def read_json(path: Path) -> Any:
    """A JSON file lbsim wrote (at most 64 MiB, duplicated keys refused)."""
    try:
        return parse_json(read_bytes(path), path)
    except OutputError as error:
        raise CheckError(str(error)) from error


def run_files(run_dir: Path) -> tuple[dict[str, Any], bytes, bytes | None]:
    """(run.json, summary.csv bytes, replications.csv bytes or None), each
    file checked against run.json's list."""
    if not run_dir.exists():
        raise CheckError(f"{run_dir}: not a run directory (missing: no such folder); {NOT_A_RUN}")
    if not run_dir.is_dir():
        raise CheckError(f"{run_dir}: not a run directory (not a folder); {NOT_A_RUN}")
    missing = [n for n in ("summary.csv", "run.json") if not (run_dir / n).exists()]
    if missing:
        raise CheckError(
            f"{run_dir}: not a run directory (missing {', '.join(missing)}); {NOT_A_RUN}"
        )
    try:
        meta = read_manifest(run_dir, "run.json", NOT_A_RUN)
        summary = read_member(run_dir, meta, "summary.csv")
        replications = read_member(run_dir, meta, "replications.csv")
    except OutputError as error:
        raise CheckError(str(error)) from error
    assert summary is not None  # present, checked above
    check_meta(meta, run_dir / "run.json")
    return meta, summary, replications


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _field(path: Path, name: str, value: Any, expected: str) -> CheckError:
    return CheckError(f"{path}: {name}: expected {expected}, found {_kind(value)} {value!r:.60}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_meta(meta: dict[str, Any], path: Path) -> None:
    """The fields of run.json the gate reads have the types lbsim writes."""
    for name in ("name", "lbsim_version"):
        if not isinstance(meta.get(name), str):
            raise _field(path, name, meta.get(name), "text")
    if meta.get("seed") is not None and not _is_int(meta["seed"]):
        raise _field(path, "seed", meta["seed"], "an integer")
    if not isinstance(meta.get("scenario"), dict):
        raise _field(path, "scenario", meta.get("scenario"), "an object")
    variants = meta.get("variants", [])
    if not isinstance(variants, list):
        raise _field(path, "variants", variants, "a list")
    for i, variant in enumerate(variants):
        if not isinstance(variant, dict) or not isinstance(variant.get("params", {}), dict):
            raise _field(path, f"variants[{i}]", variant, "an object with params")


def _csv(data: bytes, path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(io.BytesIO(data))
    except (ValueError, UnicodeDecodeError) as error:
        raise CheckError(f"{path}: unreadable CSV: {error}") from error


def summary_table(data: bytes, path: Path) -> pd.DataFrame:
    """summary.csv: a row per variant, named in a ``variant`` column."""
    table = _csv(data, path)
    if "variant" not in table.columns:
        raise CheckError(f"{path}: no 'variant' column")
    if table.empty:
        raise CheckError(f"{path}: no rows (no variant)")
    if table["variant"].isna().any():
        raise CheckError(f"{path}: variant: empty in row {int(table['variant'].isna().argmax())}")
    table["variant"] = table["variant"].astype(str)
    twice = table["variant"][table["variant"].duplicated()].tolist()
    if twice:
        raise CheckError(f"{path}: variant: {', '.join(dict.fromkeys(twice))} appears twice")
    return table


def _integers(table: pd.DataFrame, column: str, path: Path) -> None:
    series = table[column]
    if series.isna().any():
        raise CheckError(f"{path}: {column}: empty in row {int(series.isna().argmax())}")
    if not pd.api.types.is_integer_dtype(series):
        bad = next(v for v in series if not _integral(v))
        raise CheckError(f"{path}: {column}: expected integers, found {bad!r:.40}")


def _integral(value: Any) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return math.isfinite(number) and number == int(number)


def replications_table(data: bytes, path: Path) -> pd.DataFrame:
    """replications.csv: a row per variant and replication, with its seed;
    the same seed for every variant of a replication."""
    table = _csv(data, path)
    absent = [c for c in KEYS if c not in table.columns]
    if absent:
        raise CheckError(
            f"{path}: no {', '.join(absent)} column: expected columns variant, replication, "
            "seed and metrics"
        )
    if table.empty:
        raise CheckError(f"{path}: no rows")
    for column in ("replication", "seed"):
        _integers(table, column, path)
    if table["variant"].isna().any():
        raise CheckError(f"{path}: variant: empty in row {int(table['variant'].isna().argmax())}")
    table["variant"] = table["variant"].astype(str)
    if (table["replication"] < 0).any():
        raise CheckError(f"{path}: replication: negative")
    twice = table[table.duplicated(["variant", "replication"])]
    if not twice.empty:
        row = twice.iloc[0]
        raise CheckError(
            f"{path}: variant {row['variant']}, replication {row['replication']} appears twice"
        )
    seeds = table.groupby("replication")["seed"].nunique()
    if (seeds > 1).any():
        raise CheckError(
            f"{path}: seed: replication {int(seeds.idxmax())} has different seeds in "
            "different variants"
        )
    return table


def _number_or_null(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def check_baseline(data: Any, path: Path) -> None:
    """The fields of a baseline file have the shape :func:`write_baseline` gives them."""
    if not isinstance(data, dict):
        raise CheckError(
            f"{path}: not an lbsim baseline (a JSON {_kind(data)}, not an object); "
            "record one with `lbsim baseline RUN_DIR -o FILE`"
        )
    if not isinstance(data.get("name"), str):
        raise _field(path, "name", data.get("name"), "text")
    if data.get("seed") is not None and not _is_int(data["seed"]):
        raise _field(path, "seed", data["seed"], "an integer")
    variants = data.get("variants")
    if not isinstance(variants, dict) or not variants:
        raise _field(path, "variants", variants, "an object of variants")
    for name, metrics in variants.items():
        if not isinstance(metrics, dict):
            raise _field(path, f"variants.{name}", metrics, "an object of metrics")
        for metric, value in metrics.items():
            if not _number_or_null(value):
                raise _field(path, f"variants.{name}.{metric}", value, "a number or null")
    replications = data.get("replications")
    if replications is None:
        return
    if not isinstance(replications, dict):
        raise _field(path, "replications", replications, "an object or null")
    seeds = replications.get("seeds")
    if not isinstance(seeds, list) or not seeds or not all(_is_int(s) for s in seeds):
        raise _field(path, "replications.seeds", seeds, "a non-empty list of integers")
    per_variant = replications.get("variants")
    if not isinstance(per_variant, dict):
        raise _field(path, "replications.variants", per_variant, "an object of variants")
    for name, metrics in per_variant.items():
        if not isinstance(metrics, dict):
            raise _field(path, f"replications.variants.{name}", metrics, "an object of metrics")
        for metric, values in metrics.items():
            where = f"replications.variants.{name}.{metric}"
            if not isinstance(values, list) or not all(_number_or_null(v) for v in values):
                raise _field(path, where, values, "a list of numbers or nulls")
            if len(values) != len(seeds):
                raise CheckError(f"{path}: {where}: {len(values)} values for {len(seeds)} seeds")
