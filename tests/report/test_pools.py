"""Per-pool and per-version tables (routes, canaries): their numbers against
the request rows and the summary, and how the HTML and terminal show them.

The run: 80 requests/s for 50 s measured, 30% to /static (a server group of
its own), the rest to pool ``api`` split 75/25 between version ``stable``
and version ``canary``, whose servers answer 20% of requests with a 5xx; no
timeouts, so every request is answered and ``latency_all`` is a plain
percentile of the latencies. Two variants (the balancer's algorithm).
"""

from __future__ import annotations

import dataclasses
import re
from io import StringIO

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

import lbsim
from lbsim.analysis.metrics import POOL_METRICS
from lbsim.analysis.pools import WHOLE_POOL, has_pool_table, pool_table
from lbsim.report import render_html
from lbsim.report.table import pools_table

ROUTED = """
name: routed
seed: 3
duration: 1m
warmup: 10s
clients:
  arrivals: {rate: 80/s}
  service: {dist: exponential, mean: 20ms}
  mix:
    - {name: api, share: 0.7, path: /api}
    - {name: static, share: 0.3, path: /static, service: {dist: exponential, mean: 5ms}}
servers:
  - {name: stable, count: 2}
  - {name: canary, count: 2}
  - {name: static, count: 1}
pools:
  - name: api
    versions:
      - {name: stable, servers: [stable], weight: 75}
      - {name: canary, servers: [canary], weight: 25, error_rate: 0.2}
balancer:
  routes:
    - {match: {path_prefix: /static}, pool: static}
    - {pool: api}
compare:
  balancer.algorithm: [round_robin, least_connections]
"""


@pytest.fixture(scope="module")
def result() -> lbsim.Result:
    return lbsim.run(lbsim.scenario.load(text=ROUTED))


@pytest.fixture(scope="module")
def table(result: lbsim.Result) -> pd.DataFrame:
    return pool_table(result.requests, result.timeseries, result.meta)


def row(table: pd.DataFrame, variant: str, pool: str, version: str = WHOLE_POOL) -> pd.Series:
    chosen = table[(table["variant"] == variant) & (table["pool"] == pool)]
    found = chosen[chosen["version"] == version]
    assert len(found) == 1
    return found.iloc[0]


def test_rows_are_the_requests_routed_there(result: lbsim.Result, table: pd.DataFrame) -> None:
    """Each row's count, error rate and percentiles recomputed from the rows
    (route 0 is /static, route 1 pool api; version 1 the canary)."""
    assert list(table.columns) == ["variant", "pool", "version", *POOL_METRICS]
    for variant, rows in result.requests.groupby("variant", observed=True):
        assert rows["status"].isin(["ok", "server_error"]).all()  # all answered
        picks = {
            ("static", ""): rows["route"] == 0,
            ("api", ""): rows["route"] == 1,
            ("api", "stable"): (rows["route"] == 1) & (rows["version"] == 0),
            ("api", "canary"): (rows["route"] == 1) & (rows["version"] == 1),
        }
        for (pool, version), chosen in picks.items():
            mine = rows[chosen]
            got = row(table, str(variant), pool, version)
            assert got["requests"] == len(mine) > 100
            assert got["share"] == pytest.approx(len(mine) / len(rows))
            assert got["error_rate"] == pytest.approx((mine["status"] != "ok").mean())
            p50, p99 = np.percentile(mine["latency"], [50, 99])
            assert got["latency_all_p50"] == pytest.approx(p50)
            assert got["latency_all_p99"] == pytest.approx(p99)
        stable, canary = (row(table, str(variant), "api", v) for v in ("stable", "canary"))
        assert (
            stable["requests"] + canary["requests"] == row(table, str(variant), "api")["requests"]
        )
        assert stable["error_rate"] == 0


def test_versions_follow_their_weights_and_error_rates(table: pd.DataFrame) -> None:
    """Theory: api gets 70% of requests (n = 4,000 measured: SE 0.007), the
    canary 25% of api's (n ≈ 2,800: SE 0.008) and fails 20% of its own
    (n ≈ 700: SE 0.015); tolerances are 4 SE, so a canary share of 20% or 30%
    (a swapped weight or a version read as another) would fail."""
    for variant in table["variant"].unique():
        api, canary = row(table, variant, "api"), row(table, variant, "api", "canary")
        assert api["share"] == pytest.approx(0.7, abs=0.03)
        assert canary["requests"] / api["requests"] == pytest.approx(0.25, abs=0.035)
        assert canary["error_rate"] == pytest.approx(0.2, abs=0.06)


def test_agrees_with_the_summary(result: lbsim.Result, table: pd.DataFrame) -> None:
    """The canary columns of the summary (over all requests) are the canary row's; utilisation of
    the pools, weighted by their servers' workers (1 each), is the summary's
    exact figure up to sampling: ~100 samples per server, level changes every
    ~20 ms against a 0.12 s interval, u ≈ 0.3: SE of a pool's mean ≲ 0.03
    (relative 0.1); 0.25 relative is ~3 SE and catches a window that
    includes the drain (half the true figure)."""
    summary = result.summary.set_index("variant")
    for variant in summary.index:
        canary = row(table, variant, "api", "canary")
        assert canary["share"] == pytest.approx(summary.loc[variant, "canary_share"])
        assert canary["error_rate"] == pytest.approx(summary.loc[variant, "canary_error_rate"])
        api, static = row(table, variant, "api"), row(table, variant, "static")
        weighted = (4 * api["utilization_mean"] + static["utilization_mean"]) / 5
        assert weighted == pytest.approx(summary.loc[variant, "utilization_mean"], rel=0.25)


def test_html_section_shows_the_table(result: lbsim.Result, table: pd.DataFrame) -> None:
    page = render_html(result, {})
    assert '<h2 id="pools">Pools and versions</h2>' in page
    section = page.split('<h2 id="pools">', 1)[1].split("<h2", 1)[0]
    titles = re.findall(r"<h3>(.*?)</h3>", section)
    assert titles == [
        "pool static (servers: static)",
        "pool api (servers: stable, canary)",
        "pool api, version stable (servers: stable)",
        "pool api, version canary (servers: canary)",
    ]
    tables = section.split("<h3>")[1:]
    canary = tables[3]
    for variant in table["variant"].unique():
        tr = re.search(rf'<tr data-variant="{variant}">(.*?)</tr>', canary)
        assert tr is not None
        cells = dict(re.findall(r'data-col="(\w+)"[^>]*>([^<]*)', tr.group(1)))
        want = row(table, variant, "api", "canary")
        assert cells["requests"] == f"{want['requests']:,}"
        assert float(cells["error_rate"]) == pytest.approx(100 * want["error_rate"], rel=5e-3)


def test_no_section_with_one_pool_without_versions() -> None:
    """One route to one server group: the summary says it all."""
    one = re.sub(r"pools:.*?(?=balancer:)", "", ROUTED, flags=re.S)
    one = re.sub(r"routes:.*?(?=compare:)", "routes: [{pool: stable}]\n", one, flags=re.S)
    result = lbsim.run(lbsim.scenario.load(text=one.replace("duration: 1m", "duration: 15s")))
    assert "route" in result.requests.columns
    assert not has_pool_table(result.requests, result.meta)
    assert 'id="pools"' not in render_html(result, {})
    assert pools_table(result) is None


@pytest.mark.parametrize("width", [80, 200])
def test_terminal_table_fits(result: lbsim.Result, width: int) -> None:
    group = pools_table(result, width)
    assert group is not None
    console = Console(width=width, file=StringIO(), color_system=None)
    with console.capture() as capture:
        console.print(group)
    lines = capture.get().splitlines()
    assert max(len(line.rstrip()) for line in lines) <= width
    text = "\n".join(lines)
    for label in ("static", "api/stable", "api/canary", "round_robin", "least_connections"):
        assert label in text


def test_sampled_rows_are_said_to_be_samples(result: lbsim.Result) -> None:
    sampled = dataclasses.replace(result, meta={**result.meta, "records": "sample"})
    assert "records: sample" in render_html(sampled, {}).split('id="pools"', 1)[1]
    group = pools_table(sampled, 200)
    assert group is not None
    console = Console(width=200, file=StringIO(), color_system=None)
    with console.capture() as capture:
        console.print(group)
    assert "records: sample" in capture.get()
    assert "records: sample" not in render_html(result, {})
