"""``records: all | sample | none``: what a run keeps, and that the summary
without rows matches the exact one.

The run is the same in every mode (records only decide what is kept), so the
counts and rates must be equal, the means equal up to float summation order
(the histograms keep the exact sum), the maximum exact, and each percentile
within the histogram's bound of 1/128 relative (see tests/runner/test_histogram.py
for why the bound is deterministic).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import lbsim
from lbsim.analysis.metrics import percentiles
from lbsim.cli import app
from lbsim.runner.histogram import RELATIVE_ERROR, LatencyHistogram
from lbsim.runner.keep import SAMPLE_EVERY
from tests.conftest import scenario

# Four servers at ρ = 0.75 with a warm-up, two variants: ~10k measured requests each.
DATA = scenario(
    duration="1h",
    warmup="5m",
    **{
        "clients.arrivals.rate": 3.0,
        "servers.0.count": 4,
        "compare": {"balancer.algorithm": ["random", "least_connections"]},
    },
)
PERCENTILES = [*percentiles("latency_"), *percentiles("wait_"), *percentiles("latency_all_")]


@pytest.fixture(scope="module")
def results() -> dict[str, lbsim.Result]:
    return {mode: lbsim.run(DATA, records=mode) for mode in ("all", "sample", "none")}


def test_none_summary_matches_the_exact_one(results: dict[str, lbsim.Result]) -> None:
    exact, approx = results["all"].summary, results["none"].summary
    rest = [c for c in exact.columns if c not in [*PERCENTILES, "latency_mean", "wait_mean"]]
    pd.testing.assert_frame_equal(approx[rest], exact[rest])  # counts, rates, max: exact
    for column in ("latency_mean", "wait_mean"):
        assert np.allclose(approx[column], exact[column], rtol=1e-12, atol=0), column
    for column in PERCENTILES:
        error = (approx[column] - exact[column]).abs()
        assert (error <= RELATIVE_ERROR * exact[column]).all(), column
    assert results["sample"].summary.equals(approx)


def test_rows_kept_by_mode(results: dict[str, lbsim.Result]) -> None:
    every = results["all"].requests
    assert len(every) == results["all"].summary["requests"].sum() > 19_000
    assert results["none"].requests.empty
    assert list(results["none"].requests.columns) == list(every.columns)
    sample = results["sample"].requests
    assert len(sample) > 0 and (sample["id"] % SAMPLE_EVERY == 0).all()
    expected = every[every["id"] % SAMPLE_EVERY == 0].reset_index(drop=True)
    pd.testing.assert_frame_equal(sample.reset_index(drop=True), expected)


def test_every_mode_keeps_mergeable_histograms(results: dict[str, lbsim.Result]) -> None:
    for result in results.values():
        for name, ok in zip(result.summary["variant"], result.summary["ok"], strict=True):
            histogram = LatencyHistogram.from_dict(result.meta["latency_histograms"][name])
            assert histogram.total == ok
    exact = results["all"].requests
    latency = exact.loc[exact["status"] == "ok", "latency"].to_numpy()
    merged = LatencyHistogram()
    for data in results["none"].meta["latency_histograms"].values():
        merged.merge(LatencyHistogram.from_dict(data))
    assert merged.total == len(latency) and merged.max == latency.max()
    p99 = float(np.quantile(latency, 0.99))
    assert abs(merged.quantile(0.99) - p99) <= RELATIVE_ERROR * p99


def test_cli_records_and_no_plots(tmp_path: Path, results: dict[str, lbsim.Result]) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(DATA))
    out = tmp_path / "out"
    answer = CliRunner().invoke(
        app, ["run", str(path), "-o", str(out), "-q", "--records", "none", "--no-plots"]
    )
    assert answer.exit_code == 0, answer.output
    saved = lbsim.Result.load(out)
    assert saved.requests.empty and saved.meta["records"] == "none"
    assert not list(out.glob("*.png")) and (out / "report.html").is_file()
    pd.testing.assert_frame_equal(saved.summary, results["none"].summary, check_dtype=False)
    bad = CliRunner().invoke(app, ["run", str(path), "-o", str(out), "--records", "some"])
    assert bad.exit_code == 2
