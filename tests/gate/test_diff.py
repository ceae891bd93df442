"""``lbsim diff`` (two runs -> change table + plot) and ``lbsim report`` (re-render).

Two real runs of a small model (4 servers, 20 simulated minutes, round robin
vs least connections): the reference, and the same with a slower server pool
(speed 0.8), which makes every latency worse and leaves throughput alone
(nothing is rejected, every request is eventually served).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.patches import Rectangle
from matplotlib.text import Annotation
from typer.testing import CliRunner

import lbsim
from lbsim.cli import app
from lbsim.gate.baseline import CheckError, RunSummary, read_run
from lbsim.gate.diff import KEY_METRICS, compare_runs
from lbsim.report.diff_plot import diff_figure

SCENARIO = {
    "name": "diffed",
    "seed": 5,
    "duration": "20m",
    "warmup": "2m",
    "clients": {
        "arrivals": {"process": "poisson", "rate": "30/s"},
        "service": {"dist": "exponential", "mean": "100ms"},
    },
    "servers": [{"name": "web", "count": 4, "workers": 1}],
    "compare": {"balancer.algorithm": ["round_robin", "least_connections"]},
}
VARIANTS = ["round_robin", "least_connections"]

runner = CliRunner()


def cli(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output + result.stderr, result.output + result.stderr
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("diff")
    lbsim.run(SCENARIO).save(root / "a")
    lbsim.run(SCENARIO, servers__0__speed=0.8).save(root / "b")
    return root / "a", root / "b"


def test_diff_prints_the_changes_and_writes_a_plot(runs: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = runs
    plot, table = tmp_path / "cmp.png", tmp_path / "cmp.csv"
    code, out, err = cli("diff", a, b, "--plot", plot, "--csv", table)
    assert code == 0, err
    assert plot.read_bytes().startswith(b"\x89PNG")
    frame = pd.read_csv(table)
    assert list(frame["variant"].unique()) == VARIANTS
    assert list(frame["metric"].unique()) == [
        m for m in KEY_METRICS if m in read_run(a).values.columns
    ]
    summary_a = pd.read_csv(a / "summary.csv").set_index("variant")
    summary_b = pd.read_csv(b / "summary.csv").set_index("variant")
    for row in frame.itertuples():
        before = summary_a.at[row.variant, row.metric]
        after = summary_b.at[row.variant, row.metric]
        assert math.isclose(row.absolute, after - before, abs_tol=1e-12)
        if before:
            assert math.isclose(row.relative, (after - before) / before, abs_tol=1e-12)
    p99 = frame[frame["metric"] == "latency_p99"]
    assert (p99["moved"] == "worse").all() and (p99["relative"] > 0.2).all()
    assert "worse" in out and "latency_p99" in out
    # p99 of round robin, in ms, as printed: the table shows the values.
    assert f"{summary_a.at['round_robin', 'latency_p99'] * 1e3:,.0f}ms" in out


def test_diff_defaults_its_plot_into_run_b(runs: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = runs
    code, out, _ = cli("diff", a, b, "--metric", "latency_p99", "--metric", "goodput")
    assert code == 0
    assert (b / "diff.png").is_file()
    assert str(b / "diff.png") in out


def test_all_metrics_and_directions(runs: tuple[Path, Path]) -> None:
    a, b = runs
    frame = compare_runs(a, b)
    shared = read_run(a).values.columns
    assert len(frame) == len(VARIANTS) * len(shared)
    moved = frame.set_index(["variant", "metric"])["moved"]
    assert moved["round_robin", "latency_p999"] == "worse"
    assert moved["round_robin", "requests"] == "same"  # the same workload
    assert moved["least_connections", "utilization_mean"] == "changed"  # slower: busier


def test_direction_of_a_higher_is_better_metric() -> None:
    def summary(value: float) -> RunSummary:
        frame = pd.DataFrame({"goodput": [value]}, index=pd.Index(["v"], name="variant"))
        return RunSummary("s", 1, "0", "h", frame)

    frame = compare_runs(summary(100.0), summary(90.0))
    assert frame.iloc[0].to_dict() == {
        "variant": "v",
        "metric": "goodput",
        "a": 100.0,
        "b": 90.0,
        "absolute": -10.0,
        "relative": -0.1,
        "moved": "worse",
    }
    assert compare_runs(summary(90.0), summary(100.0)).iloc[0]["moved"] == "better"


def test_figure_has_a_panel_per_metric_with_the_changes(runs: tuple[Path, Path]) -> None:
    frame = compare_runs(*runs, metrics=["latency_p99", "goodput", "queue_mean"])
    fig = diff_figure(frame, "a", "b")
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == [
        "latency p99 (ms)",
        "goodput (req/s)",
        "queue mean (req)",
    ]
    p99 = panels[0]
    heights = sorted(p.get_height() for p in p99.patches if isinstance(p, Rectangle))
    expected = sorted(frame[frame["metric"] == "latency_p99"][["a", "b"]].to_numpy().ravel() * 1e3)
    assert heights == pytest.approx(expected)
    labels = [c.get_text() for c in p99.get_children() if isinstance(c, Annotation)]
    changes = frame[frame["metric"] == "latency_p99"]["relative"]
    assert labels == [f"{x * 100:+.1f}%" for x in changes]


def test_diff_bad_input_exits_2(runs: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = runs
    code, _, err = cli("diff", a, tmp_path)
    assert code == 2 and "not a run directory" in err
    code, _, err = cli("diff", a, b, "--metric", "latency_p98")
    assert code == 2 and "not in both runs" in err
    code, _, err = cli("diff", a, b, "--plot", tmp_path / "x.gif")
    assert code == 2 and ".png, .svg or .pdf" in err
    with pytest.raises(CheckError, match="no variant in common"):
        frame = read_run(a).values.rename(index=lambda v: f"x_{v}")
        compare_runs(read_run(a), RunSummary("s", 1, "0", "h", frame))


def test_report_rerenders_a_saved_run(runs: tuple[Path, Path], tmp_path: Path) -> None:
    a, _ = runs
    code, out, err = cli("report", a, "--out", tmp_path / "r", "--format", "svg")
    assert code == 0, err
    html = (tmp_path / "r" / "report.html").read_text()
    assert "round_robin" in html and "least_connections" in html
    assert (tmp_path / "r" / "latency_cdf.svg").is_file()
    assert "report.html" in out.replace("\n", "")  # a long temporary path wraps
    code, _, err = cli("report", tmp_path / "nothing")
    assert code == 2 and "missing" in err
    code, _, err = cli("report", a, "--format", "gif")
    assert code == 2 and "unknown gif" in err
