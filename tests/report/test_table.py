"""The terminal summary table: fits 100 columns, names intact, best marked."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from rich.console import Console

from lbsim.analysis.metrics import TERMINAL_METRICS, describe
from lbsim.report.table import BEST_MARK, best_rows, format_number, summary_table

VARIANTS = ["round_robin", "least_connections", "power_of_two", "least_response_time"]


def typical_summary(scale: float = 1.0) -> pd.DataFrame:
    """Four variants of an 8-server run; ``scale`` stretches the latencies."""
    return pd.DataFrame(
        {
            "variant": VARIANTS,
            "balancer.algorithm": VARIANTS,
            "requests": [1_234_567] * 4,
            "ok": [1_230_000, 1_234_000, 1_233_000, 1_232_000],
            "throughput": [1234.5, 1240.25, 1239.0, 1238.75],  # best: least_connections
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


def render(summary: pd.DataFrame, width: int = 100) -> str:
    console = Console(width=width, record=True, color_system=None, legacy_windows=False)
    console.print(summary_table(summary, width=width))
    return console.export_text()


def rows_by_variant(text: str) -> dict[str, str]:
    rows = {}
    for line in text.splitlines():
        first = line.split()[0] if line.split() else ""
        if first in VARIANTS:
            rows[first] = line
    return rows


@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_fits_100_columns_without_cutting_names(scale: float) -> None:
    text = render(typical_summary(scale))
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert "…" not in text and "..." not in text
    assert set(rows_by_variant(text)) == set(VARIANTS)  # each name whole, on one line


def test_units_in_headers_and_cells() -> None:
    text = render(typical_summary())
    assert "ms" in text and "%" in text and "req/s" in text
    rows = rows_by_variant(text)
    # round_robin: p99 1.234 s -> 1,234 ms; errors 0.312 %.
    assert "1,234" in rows["round_robin"]
    assert "0.312" in rows["round_robin"]
    # 1240.25 req/s -> 1,240 (marked best).
    assert f"1,240{BEST_MARK}" in rows["least_connections"]


def test_best_marked_in_the_right_row() -> None:
    table = summary_table(typical_summary())
    headings = [str(c.header).split("\n")[0] for c in table.columns]
    rows = rows_by_variant(render(typical_summary()))
    best: dict[str, set[str]] = {}
    for variant, line in rows.items():
        cells = line.split()
        assert len(cells) == len(headings)
        for heading, cell in zip(headings, cells, strict=True):
            if cell.endswith(BEST_MARK):
                best.setdefault(heading, set()).add(variant)
    assert best == {
        "thruput": {"least_connections"},
        "errors": {"least_connections"},
        "p50": {"least_connections"},
        "p99": {"power_of_two"},
        "p99.9": {"power_of_two"},
        "max": {"power_of_two"},
        "queue": {"least_connections"},
        "imbal": {"least_connections"},
    }  # "util" has no better direction: never marked


def test_best_is_bold() -> None:
    console = Console(width=100, record=True, color_system="standard", force_terminal=True)
    console.print(summary_table(typical_summary()))
    styled = console.export_text(styles=True)
    assert re.search(r"\x1b\[1m *1,240\*", styled)  # least_connections' throughput
    assert not re.search(r"\x1b\[1m *1,234", styled)  # round_robin's is not best


def test_narrow_terminal_drops_trailing_columns_not_names() -> None:
    text = render(typical_summary(), width=60)
    assert max(len(line) for line in text.splitlines()) <= 60
    assert set(rows_by_variant(text)) == set(VARIANTS)
    assert "p50" in text  # the first columns survive


def test_missing_and_unknown_columns() -> None:
    summary = typical_summary()[["variant", "requests", "latency_p99", "error_rate"]].copy()
    summary["shiny_new_metric"] = [1.0, 2.0, 3.0, 4.0]
    text = render(summary)
    assert "p99" in text and "errors" in text and "shiny" not in text
    assert render(summary.iloc[0:0])  # no rows: still a table


def test_best_rows_rules() -> None:
    assert best_rows([3.0, 1.0, 2.0], "lower") == {1}
    assert best_rows([3.0, 1.0, 3.0], "higher") == {0, 2}
    assert best_rows([0.0, 0.0, 0.0], "lower") == set()  # all equal: nothing stands out
    assert best_rows([float("nan"), 1.0, 2.0], "lower") == {1}
    assert best_rows([1.0], "lower") == set()
    assert best_rows([1.0, 2.0], None) == set()


def test_describe_inference() -> None:
    assert describe("latency_p999").unit == "ms"
    assert describe("retry_rate").unit == "%" and describe("retry_rate").better == "lower"
    assert describe("latency_p75").better == "lower"
    assert describe("throughput").better == "higher"
    assert describe("utilization_mean").better is None
    assert describe("whatever").better is None
    assert set(TERMINAL_METRICS) <= set(typical_summary().columns)


def test_format_number() -> None:
    cases = [0, 0.000123, 0.0312, 1.0, 12.345, 99.96, 123.4, 1234567.8, float("nan")]
    assert [format_number(x) for x in cases] == [
        "0",
        "0.000123",
        "0.0312",
        "1.00",
        "12.3",
        "100",
        "123",
        "1,234,568",
        "-",
    ]
