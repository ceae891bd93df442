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
from typing import Any, Literal

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


def simulate(
    variant: Variant,
    records: Records,
    workload: Callable[[], Workload],
    progress: Progress | None = None,
) -> tuple[Recorder, dict[str, Any], LatencyHistogram, pd.DataFrame]:
    """Run ``variant`` and keep what ``records`` says: the recorder, the
    summary row, the latency histogram and the request rows. A run that
    keeps no rows of an open-loop workload of several windows runs window
    by window (memory independent of its length); ``workload`` draws the
    workload of any other."""
    scenario = variant.scenario
    if records == "none" and windowed(scenario):
        folded = Folded(scenario.warmup, sum(pool.hosts for pool in scenario.servers))
        run = WindowedRun(scenario, folded)
        world = World(scenario, run.workload, run)
        rec = world.run(progress)
        latency, wait, answered = folded.histograms
        row = summarize(variant, world.workload, rec, latency, wait, answered, folded.tally)
        names = scenario.server_names()
        return rec, row, latency, requests_frame(variant.name, world.workload, rec, names, 0.0, 0)
    world = World(scenario, workload())
    rec = world.run(progress)
    return (rec, *kept(variant, world.workload, rec, records))


def kept(
    variant: Variant, workload: Workload, rec: Recorder, records: Records
) -> tuple[dict[str, Any], LatencyHistogram, pd.DataFrame]:
    """The summary row, the latency histogram and the request rows of a run."""
    scenario = variant.scenario
    latency, wait, answered = histograms(workload, rec, scenario.warmup)
    if records == "all":
        row = summarize(variant, workload, rec)
    else:
        row = summarize(variant, workload, rec, latency, wait, answered)
    every = {"all": 1, "sample": SAMPLE_EVERY, "none": 0}[records]
    names = scenario.server_names()
    rows = requests_frame(variant.name, workload, rec, names, scenario.warmup, every)
    return row, latency, rows
