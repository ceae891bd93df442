"""What a run keeps of its per-request records (the scenario's ``records``).

* ``all``: every measured request as a row; the summary from the exact values.
* ``sample``: every :data:`SAMPLE_EVERY`-th request (by id, so the same
  requests in every variant and on every rerun); the summary from histograms.
* ``none``: no rows; the summary from histograms.

Every mode keeps the latency histogram of each variant (``ok`` requests after
the warm-up; the summary's also of every answered request), read in slices
of :data:`SLICE` rows so the transient memory of the summary does not grow
with the run.
"""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd

from lbsim.analysis.result import measured_from, requests_frame, summarize
from lbsim.engine.records import OK, Recorder
from lbsim.engine.workload import Workload
from lbsim.runner.histogram import LatencyHistogram
from lbsim.scenario import Variant

Records = Literal["all", "sample", "none"]
RECORDS: tuple[Records, ...] = ("all", "sample", "none")
SAMPLE_EVERY = 100
SLICE = 1 << 20


def histograms(
    workload: Workload, rec: Recorder, warmup: float
) -> tuple[LatencyHistogram, LatencyHistogram, LatencyHistogram]:
    """Latency and wait (in the answering server's queue) of the measured
    ``ok`` requests, and the latency of every measured answered one."""
    latency, wait, answered = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    for lo in range(measured_from(workload, warmup), len(workload), SLICE):
        hi = lo + SLICE
        ok = rec.status[lo:hi] == OK
        latencies = rec.end[lo:hi] - workload.arrival[lo:hi]
        latency.add(latencies[ok])
        wait.add((rec.start[lo:hi] - rec.sent[lo:hi])[ok])
        answered.add(latencies)  # the unanswered are NaN, left out
    return latency, wait, answered


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
