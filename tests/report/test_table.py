"""The terminal summary table: fits the width, never drops what a scenario is
about, names intact (markup escaped), best marked, populations said."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

import lbsim
from lbsim.analysis.metrics import (
    HEADLINE_METRICS,
    OPTIONAL_METRICS,
    TERMINAL_METRICS,
    describe,
    scenario_metrics,
    unranked_metrics,
)
from lbsim.cli import app
from lbsim.report.html import summary_html
from lbsim.report.table import (
    BEST_MARK,
    FLAG_MARK,
    format_cell,
    format_number,
    summary_table,
    terminal_columns,
)
from tests.conftest import cluster

VARIANTS = ["round_robin", "least_connections", "power_of_two", "least_response_time"]


def typical_summary(scale: float = 1.0) -> pd.DataFrame:
    """Four variants of an 8-server run; ``scale`` stretches the latencies."""
    return pd.DataFrame(
        {
            "variant": VARIANTS,
            "balancer.algorithm": VARIANTS,
            "requests": [1_234_567] * 4,
            "ok": [1_230_000, 1_234_000, 1_233_000, 1_232_000],
            "throughput": [1234.5, 1240.25, 1239.0, 1238.75],
            "goodput": [1234.5, 1240.25, 1239.0, 1238.75],  # best: least_connections
            "rejected_rate": [0.0] * 4,
            "no_backend_rate": [0.0] * 4,
            "conn_error_rate": [0.0] * 4,
            "server_error_rate": [0.0] * 4,
            "timeout_rate": [0.00312, 0.0001, 0.0004, 0.0012],
            "incomplete_rate": [0.0] * 4,
            "error_rate": [0.00312, 0.0001, 0.0004, 0.0012],  # best: least_connections
            "latency_mean": [0.1234 * scale, 0.0821 * scale, 0.0855 * scale, 0.0899 * scale],
            "latency_p50": [0.0612 * scale, 0.0553 * scale, 0.0561 * scale, 0.0598 * scale],
            "latency_p90": [0.301 * scale, 0.202 * scale, 0.211 * scale, 0.221 * scale],
            "latency_p95": [0.512 * scale, 0.301 * scale, 0.312 * scale, 0.333 * scale],
            "latency_p99": [1.234 * scale, 0.612 * scale, 0.598 * scale, 0.701 * scale],
            "latency_p999": [4.567 * scale, 1.789 * scale, 1.701 * scale, 2.345 * scale],
            "latency_max": [12.345 * scale, 8.9 * scale, 7.7 * scale, 9.9 * scale],
            "latency_all_p50": [0.0612 * scale, 0.0553 * scale, 0.0561 * scale, 0.0598 * scale],
            "latency_all_p99": [1.334 * scale, 0.612 * scale, 0.598 * scale, 0.701 * scale],
            "latency_all_p999": [4.567 * scale, 1.789 * scale, 1.701 * scale, 2.345 * scale],
            "wait_mean": [0.05, 0.01, 0.012, 0.02],
            "wait_p99": [0.9, 0.4, 0.41, 0.5],
            "queue_mean": [1.234, 0.321, 0.333, 0.456],
            "queue_max": [57, 21, 19, 33],
            "utilization_mean": [0.901, 0.902, 0.903, 0.904],
            "load_imbalance": [1.234, 1.012, 1.019, 1.101],
            "retry_amplification": [1.01, 1.0, 1.0, 1.002],
            "sessions_lost": [float("nan")] * 4,  # empty columns are not shown
            "recovery_time": [float("nan")] * 4,
            "extra_load": [float("nan")] * 4,
        }
    )


def render(summary: pd.DataFrame, width: int = 100, scenario: dict | None = None) -> str:
    console = Console(width=width, record=True, color_system=None, legacy_windows=False)
    console.print(summary_table(summary, width=width, scenario=scenario))
    return console.export_text()


def rows_by_variant(text: str) -> dict[str, list[str]]:
    """Each variant's table lines (one per part of a split table)."""
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        first = line.split()[0] if line.split() else ""
        if first in VARIANTS:
            rows.setdefault(first, []).append(line)
    return rows


@pytest.mark.parametrize("width", [80, 200])
@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_fits_the_width_without_cutting_names(scale: float, width: int) -> None:
    text = render(typical_summary(scale), width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "…" not in text and "..." not in text
    assert set(rows_by_variant(text)) == set(VARIANTS)  # each name whole, on one line
    for name in HEADLINE_METRICS:  # never dropped
        assert describe(name).short in text


def test_wide_terminal_shows_more_columns_in_one_table() -> None:
    narrow, wide = render(typical_summary(), 80), render(typical_summary(), 200)
    assert len(rows_by_variant(wide)["round_robin"]) == 1
    cells = [len(line.split()) for line in rows_by_variant(narrow)["round_robin"]]
    assert len(rows_by_variant(wide)["round_robin"][0].split()) > max(cells)


def test_units_and_populations_under_headings() -> None:
    text = render(typical_summary(), 200)
    lines = text.splitlines()
    assert lines[1].split()[:4] == ["req/s", "%", "ms", "ms"]  # goodput errors p99 p99
    assert lines[2].split()[:5] == ["variant", "ok", "all", "ok", "all"]
    assert "ok: ok requests after warm-up" in text
    assert "all: every request after warm-up (in a latency: a failure at the time the" in text
    # round_robin: p99 1.234 s -> 1,234 ms; all-requests p99 1,334; errors 0.312 %.
    row = rows_by_variant(text)["round_robin"][0]
    assert "1,234" in row and "1,334" in row and "0.312" in row
    assert f"1,240{BEST_MARK}" in rows_by_variant(text)["least_connections"][0]


def test_best_marked_in_the_right_row() -> None:
    from lbsim.analysis.best import mark

    summary = typical_summary()
    marks = mark(summary, [c for c in TERMINAL_METRICS if c in summary])
    names = {i: v for i, v in enumerate(VARIANTS)}
    best = {c: {names[i] for i in rows} for c, rows in marks.best.items() if rows}
    assert best == {
        "goodput": {"least_connections"},
        "error_rate": {"least_connections"},
        "latency_p50": {"least_connections"},
        "latency_p99": {"least_connections"},
        "latency_all_p99": {"least_connections"},
        "latency_p999": {"least_connections"},
        "latency_all_p999": {"least_connections"},
        "latency_max": {"least_connections"},
        "queue_mean": {"least_connections"},
        "load_imbalance": {"least_connections"},
        "wait_p99": {"least_connections"},
    }  # "util" has no better direction: never marked
    # Error rates 0.04% .. 0.312% of 1.23M requests are all above least_connections'
    # 0.01% beyond noise (power_of_two: z = 0.0003 / sqrt(0.00025 * 2 / 1.23M) ≈ 15),
    # so least_connections is best everywhere and power_of_two flagged where fastest.
    assert {names[i] for i in marks.failing_more} == set(VARIANTS) - {"least_connections"}
    flagged = {c: {names[i] for i in rows} for c, rows in marks.flagged.items() if rows}
    assert flagged == {
        name: {"power_of_two"}
        for name in ("latency_p99", "latency_all_p99", "latency_p999", "latency_all_p999")
    } | {"latency_max": {"power_of_two"}}


def test_best_is_bold_and_flags_are_explained() -> None:
    summary = typical_summary()
    console = Console(width=200, record=True, color_system="standard", force_terminal=True)
    console.print(summary_table(summary, 200))
    styled = console.export_text(styles=True)
    assert re.search(r"\x1b\[1m *1,240\*", styled)  # least_connections' goodput
    assert not re.search(r"\x1b\[1m *1,234", styled)  # round_robin's is not best
    text = render(summary, 200)
    p99 = rows_by_variant(text)["power_of_two"][0]
    assert f"598{FLAG_MARK}" in p99 and f"598{BEST_MARK}" not in p99
    assert f"612{BEST_MARK}" in rows_by_variant(text)["least_connections"][0]
    assert f"{FLAG_MARK} would be best, but fails more requests than least_connections" in text


def test_equal_error_rates_within_noise_do_not_guard() -> None:
    summary = typical_summary()
    summary["error_rate"] = [0.0010, 0.0011, 0.0010, 0.0011]  # z ≈ 2.4 at n = 1.2M: noise
    text = render(summary, 200)
    assert FLAG_MARK not in text
    assert f"598{BEST_MARK}" in rows_by_variant(text)["power_of_two"][0]


def test_narrow_terminal_splits_rather_than_drops() -> None:
    scenario = {"events": [{"at": 60, "target": "web-1", "action": "crash"}]}
    summary = typical_summary().assign(detect_down_mean=[6.0, 6.1, 6.0, 6.2])
    summary["detect_up_mean"] = [2.0, 2.0, 2.1, 2.0]
    text = render(summary, 60, scenario)
    assert max(len(line) for line in text.splitlines()) <= 60
    assert set(rows_by_variant(text)) == set(VARIANTS)
    for short in ("goodput", "errors", "p99", "detdown", "detup", "conn_err"):
        assert short in text, short
    assert len(rows_by_variant(text)["round_robin"]) >= 2  # continued below


def test_scenario_names_its_metrics() -> None:
    summary = typical_summary()
    required, _ = terminal_columns(summary, {"report": {"metrics": ["queue_max"]}})
    assert required == [*HEADLINE_METRICS, "queue_max"]
    required, optional = terminal_columns(summary, {})
    assert required == list(HEADLINE_METRICS)
    assert optional[0] == "timeout_rate"  # an error kind that occurred comes first


def test_scenario_features_name_their_metrics() -> None:
    """What a scenario switches on is shown: canaries, balancer CPU, TLS,
    connections, sessions and the store, in the base or in a compared value."""
    about = scenario_metrics(
        {
            "pools": [{"name": "api", "versions": [{"name": "a"}, {"name": "b"}]}],
            "balancer": {"cpu": {"workers": 2}},
            "clients": {"connections": {"per_client": 1}, "sessions": {"length": 5}},
            "compare": {"balancer.tls.mode": ["terminate"], "session_store": [None, {}]},
        }
    )
    for name in (
        "canary_share", "canary_error_rate", "balancer_utilization", "balancer_queue_mean",
        "handshakes_per_s", "balancer_cpu_handshake", "connection_imbalance",
        "sessions_lost", "session_imbalance",
    ):  # fmt: skip
        assert name in about, name
    assert "store_utilization" not in about  # compared, but to nothing truthy
    assert scenario_metrics({"servers": [{"name": "web"}]}) == ()


def test_whole_counts_have_no_decimals() -> None:
    assert format_cell(describe("sessions_lost"), 35.0) == "35"
    assert format_cell(describe("queue_max"), 2.0) == "2"
    assert format_cell(describe("instances_peak"), 8.0) == "8"
    assert format_cell(describe("queue_mean"), 2.5) == "2.50"
    assert format_cell(describe("load_imbalance"), 1.0) == "1.00"  # a ratio, not a count


def test_times_of_tens_of_seconds_read_in_seconds() -> None:
    """Failover and scale-out take tens of seconds: 54 s, not 54,000 ms."""
    for name in ("failover_time", "scale_out_time", "detect_down_mean", "recovery_time"):
        assert describe(name).unit == "s", name
        assert format_cell(describe(name), 54.0) == "54.0", name


def test_labels_with_brackets_are_shown_whole() -> None:
    summary = typical_summary().iloc[:2].copy()
    summary["variant"] = ["retries=None", "max=3, retry_on=[rejected, timeout]"]
    text = render(summary, 200)
    assert "max=3, retry_on=[rejected, timeout]" in text
    narrow = render(summary, 80)
    assert "retry_on=[rejected, timeout]" in " ".join(narrow.split())


def test_missing_and_unknown_columns() -> None:
    summary = typical_summary()[["variant", "requests", "latency_p99", "error_rate"]].copy()
    summary["shiny_new_metric"] = [1.0, 2.0, 3.0, 4.0]
    text = render(summary)
    assert "p99" in text and "errors" in text and "shiny" not in text
    assert render(summary.iloc[0:0])  # no rows: still a table


def test_describe_inference() -> None:
    assert describe("latency_p999").unit == "ms"
    assert describe("retry_rate").unit == "%" and describe("retry_rate").better == "lower"
    assert describe("latency_p75").better == "lower"
    assert describe("goodput").better == "higher" and describe("throughput").better is None
    assert describe("utilization_mean").better is None
    assert describe("whatever").better is None
    assert set(TERMINAL_METRICS) - OPTIONAL_METRICS <= set(typical_summary().columns)


def test_format_number() -> None:
    cases = [0, 7.29e-7, -3e-5, 0.000123, 0.0312, 1.0, 12.345, 99.96, 123.4, 1234567.8]
    assert [*map(format_number, cases), format_number(float("nan"))] == [
        "0",
        "<0.0001",
        ">-0.0001",
        "0.000123",
        "0.0312",
        "1.00",
        "12.3",
        "100",
        "123",
        "1,234,568",
        "-",
    ]


def test_lbsim_report_reprints_the_summary_at_the_terminal_width(tmp_path: Path) -> None:
    # A crash with health checks: the failure metrics are what the run is about.
    data = cluster(duration="5m")
    data["balancer"] = {"health_check": {"preset": "haproxy"}}
    data["events"] = [{"at": "2m", "target": "web-1", "action": "crash", "for": "1m"}]
    data["compare"] = {"balancer.algorithm": ["round_robin", "least_connections"]}
    lbsim.run(data).save(tmp_path)
    result = CliRunner().invoke(app, ["report", str(tmp_path), "--summary-only"])
    assert result.exit_code == 0, result.output
    for short in ("goodput", "errors", "p99", "detdown", "detup", "conn_err", "no_backe"):
        assert short in result.output, short
    assert not (tmp_path / "report.html").exists()  # --summary-only writes nothing
    for width in (80, 200):
        printed = subprocess.run(
            [sys.executable, "-m", "lbsim", "report", str(tmp_path), "--summary-only"],
            env={**os.environ, "COLUMNS": str(width)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert max(len(line) for line in printed.splitlines()) <= width
        assert "least_connections" in printed and "detdown" in printed


def test_load_imbalance_is_not_ranked_when_servers_differ() -> None:
    """Unequal servers (or pools of their own): the most even split is no better."""
    summary = typical_summary()
    same = {"servers": [{"name": "web", "workers": 1, "speed": 1.0, "weight": 1}]}
    mixed = {"servers": [*same["servers"], {"name": "big", "workers": 4, "speed": 1.0}]}
    assert unranked_metrics(same) == frozenset()
    assert unranked_metrics(mixed) == {"load_imbalance"}
    assert unranked_metrics({**same, "pools": [{"name": "api"}]}) == {"load_imbalance"}
    assert unranked_metrics({**same, "compare": {"servers.0.speed": [1, 2]}}) == {"load_imbalance"}
    column = "load_imbalance"
    assert "load imbalance not ranked" in render(summary, 250, mixed)
    assert "load imbalance not ranked" not in render(summary, 250, same)
    html = summary_html(summary, scenario=mixed)
    assert f'data-col="{column}" class="num best"' not in html
    assert f'data-col="{column}" class="num best"' in summary_html(summary, scenario=same)


def test_footnote_says_where_a_variant_failing_more_is_still_best() -> None:
    """B fails more (3% vs 0.1% of 100,000) and is slower: never marked best;
    with a canary that fails less under B, B is best in that error share."""
    summary = pd.DataFrame(
        {
            "variant": ["A", "B"],
            "requests": [100_000, 100_000],
            "error_rate": [0.001, 0.03],
            "latency_p99": [0.1, 0.2],
        }
    )
    plain = render(summary, 200)
    assert "never marked best: fails more requests than A" in plain
    assert "\nvariant " in plain  # the heading whole beside one-letter names
    summary["canary_error_rate"] = [0.06, 0.04]
    text = render(summary, 200, {"report": {"metrics": ["canary_error_rate"]}})
    assert "best in error shares alone: fails more requests than A" in text
    assert any(line.startswith("B ") and f"4.00{BEST_MARK}" in line for line in text.splitlines())
