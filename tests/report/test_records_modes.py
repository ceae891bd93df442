"""Plots of runs that keep a sample of the request rows or none of them:
what they draw from rows is scaled to every request, or said to be missing."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pytest

import lbsim
from lbsim.report.plots import queue_depth, server_load

REQUESTS = 20_000


def _run(records: str) -> lbsim.Result:
    return lbsim.run(_run_data(records))


def _run_data(records: str) -> dict[str, Any]:
    return {
        "name": "modes",
        "seed": 5,
        "duration": REQUESTS / 6.0,
        "warmup": 100,
        "records": records,
        "clients": {
            "arrivals": {
                "process": "poisson",
                "profile": [{"at": 0, "rate": 4.5}, {"at": 1600, "rate": 7.5}],
            },
            "service": {"dist": "exponential", "mean": 1.0},
        },
        "balancer": {"algorithm": "power_of_two"},
        "servers": [{"name": "web", "count": 8, "workers": 1}],
    }


@pytest.fixture(scope="module")
def results() -> dict[str, lbsim.Result]:
    return {records: _run(records) for records in ("all", "sample", "none")}


def _bars(result: lbsim.Result) -> list[float]:
    fig = server_load(result)
    heights = [p.get_height() for c in fig.axes[0].containers for p in c.patches]
    plt.close(fig)
    return heights


def test_server_bars_count_every_request_whatever_rows_are_kept(
    results: dict[str, lbsim.Result],
) -> None:
    # The same run three times (records change nothing it does): the bars
    # are the measured requests each server answered last, counted by the
    # run itself, so equal in every mode; from the rows of a sample they
    # would be a hundredth, and without rows nothing.
    rows = results["all"].requests
    counts = rows["server"].astype(str).value_counts()
    expected = [float(counts[name]) for name in sorted(counts.index, key=lambda s: int(s[4:]))]
    for records, result in results.items():
        assert _bars(result) == expected, records
    assert sum(expected) > 0.99 * len(rows)


def _arrival_strip(result: lbsim.Result) -> tuple[list[Any], list[str]]:
    fig = queue_depth(result)
    strip = fig.axes[-1]
    patches = [p for p in strip.patches if p.get_gid() == "arrivals"]
    texts = [t.get_text() for t in strip.texts]
    plt.close(fig)
    return patches, texts


def test_arrival_rates_from_a_sample_are_scaled_and_none_are_said_missing(
    results: dict[str, lbsim.Result],
) -> None:
    measured = len(results["all"].requests)
    for records in ("all", "sample"):
        patches, _ = _arrival_strip(results[records])
        values, edges = patches[0].get_data()[:2]
        end = float(results[records].requests["arrival"].max())  # where the strip stops
        widths = np.minimum(edges[1:], end) - edges[:-1]
        shown = float((values * widths).sum())  # the arrivals the strip stands for
        # all: every measured arrival, exactly. sample: the rows are the ids
        # that are multiples of 100, so 100 times their count is the
        # measured arrivals to within 100 (one id either end; the strip
        # starts at the first sampled arrival and stops at the last, a
        # hundred ids in from each end at most): not a hundredth of them.
        tolerance = 0.5 if records == "all" else 300
        assert shown == pytest.approx(measured, abs=tolerance), records
    patches, texts = _arrival_strip(results["none"])
    assert not patches
    assert any("no per-request rows" in text for text in texts)


def test_the_arrival_strip_scales_by_the_variant_it_draws() -> None:
    # A comparison whose first variant keeps no rows: the strip is drawn
    # from the second's sample, and scaled by that variant's 100.
    data = {**_run_data("none"), "compare": {"records": ["none", "sample"]}}
    result = lbsim.run(data)
    patches, _ = _arrival_strip(result)
    values, edges = patches[0].get_data()[:2]
    end = float(result.requests["arrival"].max())
    shown = float((values * (np.minimum(edges[1:], end) - edges[:-1])).sum())
    measured = int(result.summary["requests"].iloc[1])
    assert shown == pytest.approx(measured, abs=300)
