"""Results of a run as pandas DataFrames.

This is where raw records become tables: ``requests`` (one row per measured
request), ``timeseries`` (sampled levels per server), ``events`` and
``summary`` (one row per variant, the columns of DESIGN §5, from
:mod:`lbsim.analysis.summary`).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from lbsim.analysis.capacity import capacity_frame
from lbsim.analysis.sessions import session_share
from lbsim.analysis.summary import measured_from
from lbsim.engine.records import BALANCER_LEVELS, LEVELS, STATUSES, Recorder
from lbsim.engine.workload import Workload
from lbsim.io import read_manifest, read_member, retire, write_set
from lbsim.outputs import claim_folder

FILES = (
    "summary.csv",
    "requests.parquet",
    "timeseries.parquet",
    "balancers.parquet",
    "events.csv",
    "run.json",
)
#: Files an older lbsim wrote into a run folder without listing them in run.json.
UNLISTED = (*FILES, "replications.csv")
NOT_A_RUN = "expected the output folder of `lbsim run`"


def retire_run(out_dir: Path) -> None:
    """Mark a run folder incomplete before a new run is written into it:
    run.json goes first, then the files of the run it listed."""
    retire(Path(out_dir), "run.json", UNLISTED)


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

    def capacity(self) -> pd.DataFrame:
        """Autoscaled pools' counts after each scaling event, per variant
        (:func:`lbsim.analysis.capacity.capacity_frame`)."""
        return capacity_frame(self.events)

    def session_share(self) -> pd.DataFrame:
        """Sessions per variant and server by where their state first lived
        (:func:`lbsim.analysis.sessions.session_share`)."""
        return session_share(self.requests)

    def save(
        self,
        out_dir: Path,
        *,
        replications: pd.DataFrame | None = None,
        already: Sequence[Path] = (),
    ) -> list[Path]:
        """Write the tables (and ``replications``, from
        :func:`lbsim.runner.run.replicate`) into ``out_dir`` as one set, each
        file atomically, then run.json listing every file with its SHA-256
        (and the files ``already`` written there for this run, e.g. the report).
        The files of an earlier run in ``out_dir`` are removed first; a folder
        lbsim did not write is refused (:mod:`lbsim.outputs`)."""
        out_dir = Path(out_dir)
        writers: dict[str, Callable[[str], object]] = {
            "summary.csv": lambda p: self.summary.to_csv(p, index=False),
            "requests.parquet": lambda p: self.requests.to_parquet(p, index=False),
            "timeseries.parquet": lambda p: self.timeseries.to_parquet(p, index=False),
            "balancers.parquet": lambda p: self.balancers.to_parquet(p, index=False),
            "events.csv": lambda p: self.events.to_csv(p, index=False),
        }
        if replications is not None:
            writers["replications.csv"] = lambda p: replications.to_csv(p, index=False)
        meta = {k: v for k, v in self.meta.items() if k != "files"}
        with claim_folder(out_dir, "run"):
            return write_set(out_dir, writers, "run.json", meta, already=already, stale=UNLISTED)

    @classmethod
    def load(cls, out_dir: Path) -> Result:
        """Read back what :meth:`save` wrote (for ``lbsim report``), each file
        checked against run.json; :class:`lbsim.io.OutputError` if one is
        missing, changed or not of this run."""
        out_dir = Path(out_dir)
        manifest = read_manifest(out_dir, "run.json", NOT_A_RUN)
        data = {}
        for name in FILES[:-1]:
            content = read_member(out_dir, manifest, name)
            if content is None:
                raise FileNotFoundError(f"{out_dir / name}: missing; {NOT_A_RUN}")
            data[name] = io.BytesIO(content)
        return cls(
            summary=pd.read_csv(data["summary.csv"]),
            requests=pd.read_parquet(data["requests.parquet"]),
            timeseries=pd.read_parquet(data["timeseries.parquet"]),
            balancers=pd.read_parquet(data["balancers.parquet"]),
            events=pd.read_csv(data["events.csv"], keep_default_na=False),
            meta=manifest,
        )


# Recorded facts that requests_frame shapes itself; every other registered
# fact (lbsim.engine.records.FACTS) becomes a column of its own name.
_SHAPED = frozenset({"server", "start", "end", "status", "retries", "balancer", "sent"})


def requests_frame(
    variant: str,
    workload: Workload,
    rec: Recorder,
    names: list[str],
    warmup: float,
    every: int = 1,
) -> pd.DataFrame:
    """One row per request that arrived after the warm-up (with ``every``,
    only those whose id is a multiple of it; 0: no rows).

    Latency is split into named parts: ``latency_queue`` (the wait at the
    server that answered, = ``wait``), ``latency_service`` (its service),
    ``latency_backoff`` (the retry back-offs) and ``latency_failed_attempts``
    (time in earlier attempts that failed, from arrival to the last send
    less the back-offs). For an ``ok`` request they sum to ``latency`` up to
    float rounding; parts that did not happen are NaN (never served) or 0.
    """
    first = measured_from(workload, warmup)
    ids = range(-(-first // every) * every, len(workload), every) if every else range(0)
    rows = slice(ids.start, ids.stop, ids.step)
    # Slices are views: only the derived columns are new memory, and the frame
    # takes every array as it is (copy=False), wait and latency_queue one array.
    arrival, start, end = workload.arrival[rows], rec.start[rows], rec.end[rows]
    sent = rec.sent[rows]
    wait = start - sent
    codes = np.zeros(len(ids), dtype=np.int8)
    columns: dict[str, Any] = {
        "variant": pd.Categorical.from_codes(codes, categories=[variant]),
        "id": np.arange(ids.start, ids.stop, ids.step, dtype=np.int64),
        "balancer": rec.balancer[rows],
        "client": workload.client[rows],
        "server": pd.Categorical.from_codes(rec.server[rows], categories=names),
        "arrival": arrival,
        "start": start,
        "end": end,
        "latency": end - arrival,
        "wait": wait,
        "demand": workload.demand[rows],
        "status": pd.Categorical.from_codes(rec.status[rows], categories=STATUSES),
        "retries": rec.retries[rows],
        "latency_queue": wait,
        "latency_service": end - start,
    }
    for name, values in rec.columns.items():
        if name not in _SHAPED:
            columns[name] = values[rows]
    if workload.session is not None:
        columns["session"] = workload.session[rows]
    if rec.extra is not None:  # hedged or fan-out: calls beyond the first
        columns["extra_calls"] = rec.extra[rows]
    failed = sent - arrival
    failed -= rec.columns["latency_backoff"][rows]
    for part in ("latency_balancer", "latency_tls", "latency_network"):  # before the first send
        if part in rec.columns:
            failed -= rec.columns[part][rows]
    columns["latency_failed_attempts"] = failed
    return pd.DataFrame(columns, copy=False)


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
    if len(frames) == 1:
        frame = frames[0]  # no copy of the one variant's (possibly large) frame
    else:
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if "variant" in frame and len(frames):
        order = list(dict.fromkeys(v for f in frames for v in f["variant"].unique()))
        variants = frame["variant"]
        if isinstance(variants.dtype, pd.CategoricalDtype):  # (an empty one has no values)
            frame["variant"] = variants.cat.set_categories(order)
        else:
            frame["variant"] = pd.Categorical(variants, categories=order)
    for column in ("server", "status"):
        if column in frame and not isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype("category")
    return frame
