"""Results of a run as pandas DataFrames, and the summary statistics.

This is where raw records become tables: ``requests`` (one row per measured
request), ``timeseries`` (sampled levels per server), ``events`` and
``summary`` (one row per variant, the columns of DESIGN §5). Time-weighted
statistics (queue length, utilisation) come from the integrals each server
keeps of its own levels over the measurement window, exact rather than
sampled; per-request ones (latency, wait) are over requests answered ``ok``
that arrived after the warm-up.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from lbsim.analysis.metrics import METRICS, percentiles
from lbsim.engine.records import BALANCER_LEVELS, LEVELS, STATUSES, Recorder
from lbsim.engine.workload import Workload
from lbsim.io import write_files
from lbsim.scenario import Variant

FILES = (
    "summary.csv",
    "requests.parquet",
    "timeseries.parquet",
    "balancers.parquet",
    "events.csv",
    "run.json",
)


@dataclass
class Result:
    """Everything a run produced, as DataFrames plus metadata (``meta``)."""

    summary: pd.DataFrame
    requests: pd.DataFrame
    timeseries: pd.DataFrame
    balancers: pd.DataFrame  # sampled per balancer instance: what each one believes
    events: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"Result({self.meta.get('name')!r}: {len(self.summary)} variants, "
            f"{len(self.requests)} requests)"
        )

    #: The Jupyter summary, set by :mod:`lbsim.report.notebook` when imported
    #: (this layer may not import reporting); a plain table until then.
    html_renderer: ClassVar[Callable[[Any], str] | None] = None

    def _repr_html_(self) -> str:
        render = type(self).html_renderer
        return render(self) if render is not None else str(self.summary.to_html(index=False))

    def save(self, out_dir: Path) -> list[Path]:
        """Write the tables and run.json into ``out_dir``, each atomically."""
        out_dir.mkdir(parents=True, exist_ok=True)
        writers = {
            "summary.csv": lambda p: self.summary.to_csv(p, index=False),
            "requests.parquet": lambda p: self.requests.to_parquet(p, index=False),
            "timeseries.parquet": lambda p: self.timeseries.to_parquet(p, index=False),
            "balancers.parquet": lambda p: self.balancers.to_parquet(p, index=False),
            "events.csv": lambda p: self.events.to_csv(p, index=False),
            "run.json": lambda p: Path(p).write_text(json.dumps(self.meta, indent=2, default=str)),
        }
        return write_files(out_dir, writers)

    @classmethod
    def load(cls, out_dir: Path) -> Result:
        """Read back what :meth:`save` wrote (for ``lbsim report``, ``diff``...)."""
        missing = [name for name in FILES if not (out_dir / name).is_file()]
        if missing:
            raise FileNotFoundError(f"{out_dir}: missing {', '.join(missing)}")
        events = pd.read_csv(out_dir / "events.csv", keep_default_na=False)
        return cls(
            summary=pd.read_csv(out_dir / "summary.csv"),
            requests=pd.read_parquet(out_dir / "requests.parquet"),
            timeseries=pd.read_parquet(out_dir / "timeseries.parquet"),
            balancers=pd.read_parquet(out_dir / "balancers.parquet"),
            events=events,
            meta=json.loads((out_dir / "run.json").read_text()),
        )


def _param_value(value: Any) -> Any:
    if isinstance(value, dict) and "name" in value:
        extra = ", ".join(f"{k}={v}" for k, v in value.items() if k != "name")
        return f"{value['name']}({extra})" if extra else value["name"]
    return value if isinstance(value, int | float | str | bool) else json.dumps(value)


def summarize(variant: Variant, workload: Workload, rec: Recorder) -> dict[str, Any]:
    """The summary row of one variant (DESIGN §5): its parameters, then every
    metric of the catalogue (:data:`~lbsim.analysis.metrics.METRICS`) in order."""
    scenario = variant.scenario
    lo, hi = scenario.warmup, scenario.duration
    window = hi - lo
    measured = workload.arrival >= lo
    status = rec.status[measured]
    arrival, start, end = workload.arrival[measured], rec.start[measured], rec.end[measured]
    sent = rec.sent[measured]
    ok = status == STATUSES.index("ok")
    n = int(measured.sum())
    row: dict[str, Any] = {"requests": n}
    row["ok"] = int(ok.sum())
    row["throughput"] = row["ok"] / window
    for code, name in enumerate(STATUSES[1:], start=1):
        row[f"{name}_rate"] = float((status == code).sum() / n) if n else 0.0
    row["error_rate"] = 1 - row["ok"] / n if n else 0.0
    row["retry_amplification"] = float(1 + rec.retries[measured].mean()) if n else 1.0
    row["wasted_rate"] = rec.abandoned / len(rec.status) if len(rec.status) else 0.0
    latency = (end - arrival)[ok]
    wait = (start - sent)[ok]  # in the queue of the server that answered
    row["latency_mean"] = float(latency.mean()) if len(latency) else np.nan
    for name, q in percentiles("latency_").items():
        row[name] = float(np.percentile(latency, q)) if len(latency) else np.nan
    row["latency_max"] = float(latency.max()) if len(latency) else np.nan
    row["wait_mean"] = float(wait.mean()) if len(wait) else np.nan
    for name, q in percentiles("wait_").items():
        row[name] = float(np.percentile(wait, q)) if len(wait) else np.nan

    # Time-weighted levels over the measurement window, integrated exactly by
    # the servers themselves (work for abandoned attempts and probes included).
    n_servers = rec.n_servers
    row["queue_mean"] = float(rec.queue_area.sum() / (window * n_servers))
    row["queue_max"] = int(rec.queue_peak.max()) if n_servers else 0
    capacity = sum(pool.workers * pool.count for pool in scenario.servers)
    row["utilization_mean"] = float(rec.busy_area.sum() / (window * capacity))
    served = rec.server >= 0
    per_server = np.bincount(rec.server[measured & served], minlength=n_servers)
    row["load_imbalance"] = float(per_server.max() / per_server.mean()) if per_server.sum() else 1.0
    down, up = detection_delays(rec)
    row["detect_down_mean"] = float(np.mean(down)) if down else np.nan
    row["detect_up_mean"] = float(np.mean(up)) if up else np.nan
    params = {path: _param_value(value) for path, value in variant.params.items()}
    return {"variant": variant.name, **params, **{name: row[name] for name in METRICS}}


def detection_delays(rec: Recorder) -> tuple[list[float], list[float]]:
    """Seconds from each failure (crash, hang) of a server to the balancer marking
    it down, and from each recovery to it being marked up again."""
    down: list[float] = []
    up: list[float] = []
    failed_at: dict[str, float] = {}
    recovered_at: dict[str, float] = {}
    for event in rec.events:
        if event.kind in ("crash", "hang"):
            failed_at.setdefault(event.target, event.time)
            recovered_at.pop(event.target, None)
        elif event.kind == "recover":
            recovered_at[event.target] = event.time
            failed_at.pop(event.target, None)
        elif event.kind == "marked_down" and event.target in failed_at:
            down.append(event.time - failed_at.pop(event.target))
        elif event.kind == "marked_up" and event.target in recovered_at:
            up.append(event.time - recovered_at.pop(event.target))
    return down, up


# Recorded facts that requests_frame shapes itself; every other registered
# fact (lbsim.engine.records.FACTS) becomes a column of its own name.
_SHAPED = frozenset({"server", "start", "end", "status", "retries", "balancer", "sent"})


def requests_frame(
    variant: str, workload: Workload, rec: Recorder, names: list[str], warmup: float
) -> pd.DataFrame:
    """One row per request that arrived after the warm-up.

    Latency is split into named parts: ``latency_queue`` (the wait at the
    server that answered, = ``wait``), ``latency_service`` (its service),
    ``latency_backoff`` (the retry back-offs) and ``latency_failed_attempts``
    (time in earlier attempts that failed, from arrival to the last send
    less the back-offs). For an ``ok`` request they sum to ``latency`` up to
    float rounding; parts that did not happen are NaN (never served) or 0.
    """
    measured = np.flatnonzero(workload.arrival >= warmup)
    arrival, start, end = workload.arrival[measured], rec.start[measured], rec.end[measured]
    sent = rec.sent[measured]
    server = rec.server[measured]
    columns: dict[str, Any] = {
        "variant": variant,
        "id": measured.astype(np.int64),
        "balancer": rec.balancer[measured],
        "client": workload.client[measured],
        "server": pd.Categorical.from_codes(server, categories=names),
        "arrival": arrival,
        "start": start,
        "end": end,
        "latency": end - arrival,
        "wait": start - sent,
        "demand": workload.demand[measured],
        "status": pd.Categorical.from_codes(rec.status[measured], categories=STATUSES),
        "retries": rec.retries[measured],
        "latency_queue": start - sent,
        "latency_service": end - start,
    }
    for name, values in rec.columns.items():
        if name not in _SHAPED:
            columns[name] = values[measured]
    columns["latency_failed_attempts"] = sent - arrival - rec.columns["latency_backoff"][measured]
    return pd.DataFrame(columns)


def timeseries_frame(variant: str, rec: Recorder, names: list[str]) -> pd.DataFrame:
    """Sampled levels in long form: one row per sample time and server."""
    if not rec.samples:
        return pd.DataFrame(columns=["variant", "time", "server", *LEVELS])
    levels = np.stack(rec.samples)  # (samples, levels, servers)
    samples, _, servers = levels.shape
    frame = pd.DataFrame(
        {
            "variant": variant,
            "time": np.repeat(np.asarray(rec.sample_times), servers),
            "server": pd.Categorical.from_codes(np.tile(np.arange(servers), samples), names),
        }
    )
    for index, level in enumerate(LEVELS):
        column = levels[:, index, :].reshape(-1)
        frame[level] = column.astype(bool) if level == "up" else column
    return frame


def balancers_frame(variant: str, rec: Recorder) -> pd.DataFrame:
    """Sampled view of each balancer instance: backends in rotation,
    outstanding requests, whether the instance is up."""
    columns = ["variant", "time", "balancer", *BALANCER_LEVELS]
    if not rec.balancer_samples:
        return pd.DataFrame(columns=columns)
    levels = np.stack(rec.balancer_samples)  # (samples, instances, levels)
    samples, instances, _ = levels.shape
    frame = pd.DataFrame(
        {
            "variant": variant,
            "time": np.repeat(np.asarray(rec.sample_times), instances),
            "balancer": np.tile([f"lb-{i}" for i in range(instances)], samples),
        }
    )
    for index, level in enumerate(BALANCER_LEVELS):
        column = levels[:, :, index].reshape(-1)
        frame[level] = column.astype(bool) if level == "up" else column
    return frame


def events_frame(variant: str, rec: Recorder) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "variant": variant,
            "time": [e.time for e in rec.events],
            "kind": [e.kind for e in rec.events],
            "target": [e.target for e in rec.events],
            "detail": [e.detail for e in rec.events],
        },
        columns=["variant", "time", "kind", "target", "detail"],
    )


def concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack per-variant frames, with ``variant`` as an ordered category."""
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if "variant" in frame and len(frames):
        order = list(dict.fromkeys(v for f in frames for v in f["variant"].unique()))
        frame["variant"] = pd.Categorical(frame["variant"], categories=order)
    for column in ("server", "status"):
        if column in frame and not isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype("category")
    return frame
