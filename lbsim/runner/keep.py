"""What a run keeps of its per-request records (the scenario's ``records``).

* ``all``: every measured request as a row; the summary from the exact values.
* ``sample``: every :data:`SAMPLE_EVERY`-th request (by id, so the same
  requests in every variant and on every rerun); the summary from histograms.
* ``none``: no rows; the summary from histograms. An open-loop workload of
  several windows runs window by window (:func:`simulate`), in memory that
  does not grow with the number of requests.

Every mode keeps the latency histogram of each variant (``ok`` requests after
the warm-up; the summary's also of every answered request), read in slices
of :data:`SLICE` rows so the transient memory of the summary does not grow
with the run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from lbsim.analysis.result import requests_frame
from lbsim.analysis.summary import Tally, measured_from, summarize
from lbsim.engine.records import OK, Recorder
from lbsim.engine.windows import WindowedRun, windowed
from lbsim.engine.workload import Workload
from lbsim.engine.world import Progress, World
from lbsim.runner.histogram import LatencyHistogram
from lbsim.scenario import Variant

Records = Literal["all", "sample", "none"]
RECORDS: tuple[Records, ...] = ("all", "sample", "none")
SAMPLE_EVERY = 100
SLICE = 1 << 20
Histograms = tuple[LatencyHistogram, LatencyHistogram, LatencyHistogram]


def histograms(workload: Workload, rec: Recorder, warmup: float) -> Histograms:
    """Latency and wait (in the answering server's queue) of the measured
    ``ok`` requests, and the latency of every measured answered one."""
    found = (LatencyHistogram(), LatencyHistogram(), LatencyHistogram())
    for lo in range(measured_from(workload, warmup), len(workload), SLICE):
        _count(found, workload, rec, lo, min(lo + SLICE, len(workload)))
    return found


def _count(found: Histograms, workload: Workload, rec: Recorder, lo: int, hi: int) -> None:
    """Add requests ``[lo, hi)`` (all measured) to the three histograms."""
    latency, wait, answered = found
    ok = rec.status[lo:hi] == OK
    latencies = rec.end[lo:hi] - workload.arrival[lo:hi]
    latency.add(latencies[ok])
    wait.add((rec.start[lo:hi] - rec.sent[lo:hi])[ok])
    answered.add(latencies)  # the unanswered are NaN, left out


class Folded:
    """What the summary reads of a windowed run (:mod:`lbsim.engine.windows`),
    added up window by window: the counts and the three histograms."""

    def __init__(self, warmup: float, n_servers: int) -> None:
        self.warmup = warmup
        self.tally = Tally.none(n_servers)
        self.histograms: Histograms = (LatencyHistogram(), LatencyHistogram(), LatencyHistogram())

    def __call__(self, workload: Workload, rec: Recorder, lo: int, hi: int) -> None:
        """Requests ``[lo, hi)`` are over: add the measured ones."""
        first = lo + int(np.searchsorted(workload.arrival[lo:hi], self.warmup, side="left"))
        self.tally += Tally.of(rec, first, hi, hi - lo)
        _count(self.histograms, workload, rec, first, hi)


class Kept(NamedTuple):
    """What a run keeps (:func:`simulate`)."""

    records: Recorder
    row: dict[str, Any]  # the summary row
    histogram: LatencyHistogram  # latency of the measured ok requests
    rows: pd.DataFrame  # the request rows ``records`` keeps
    per_server: np.ndarray  # measured requests whose latest attempt went to each server


# the request rows each mode keeps: every one, every SAMPLE_EVERY-th (by id), none
ROWS_EVERY: dict[Records, int] = {"all": 1, "sample": SAMPLE_EVERY, "none": 0}


def simulate(
    variant: Variant,
    records: Records,
    workload: Callable[[], Workload],
    progress: Progress | None = None,
) -> Kept:
    """Run ``variant`` and keep what ``records`` says. A run that keeps no
    rows of an open-loop workload of several windows runs window by window
    (memory independent of its length); ``workload`` draws the workload of
    any other."""
    scenario = variant.scenario
    if records == "none" and windowed(scenario):
        folded = Folded(scenario.warmup, sum(pool.hosts for pool in scenario.servers))
        run = WindowedRun(scenario, folded)
        world = World(scenario, run.workload, run)
        rec = world.run(progress)
        (latency, wait, answered), tally = folded.histograms, folded.tally
    else:
        world = World(scenario, workload())
        rec = world.run(progress)
        latency, wait, answered = histograms(world.workload, rec, scenario.warmup)
        first = measured_from(world.workload, scenario.warmup)
        tally = Tally.of(rec, first, len(rec.status), len(rec.status))
    if records == "all":  # percentiles from the rows themselves
        row = summarize(variant, world.workload, rec, tally=tally)
    else:
        row = summarize(variant, world.workload, rec, latency, wait, answered, tally)
    names, every = scenario.server_names(), ROWS_EVERY[records]
    rows = requests_frame(variant.name, world.workload, rec, names, scenario.warmup, every)
    return Kept(rec, row, latency, rows, tally.per_server)
