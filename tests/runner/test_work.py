"""Work out of reach is refused before simulating (issue 15 §2), with the
figure: each figure here is derived by hand from the scenario."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lbsim.cli import app
from lbsim.runner.work import estimate, mean_rate, refusals
from lbsim.scenario import load

GOOD = """\
name: ok
duration: 10m
clients:
  arrivals: {process: poisson, rate: 5/s}
  service: {dist: exponential, mean: 100ms}
servers:
  - {name: web, count: 2, workers: 1}
"""
runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def work(text: str, replications: int = 1) -> tuple[float, float, float, list[str]]:
    loaded = load(text=text)
    found = estimate([v.scenario for v in loaded.variants], replications)
    return found.runs, found.requests, found.samples, refusals(found)


def test_the_figures_follow_from_the_scenario() -> None:
    runs, requests, samples, refused = work(GOOD, replications=3)
    assert runs == 3
    assert requests == pytest.approx(3 * 5 * 600)  # λ · duration per run
    # (duration + drain) / (duration / 500) samples of 2 servers + 1 balancer
    assert samples == pytest.approx(3 * 1000 * 3)
    assert refused == []


@pytest.mark.parametrize(
    ("old", "new", "figure"),
    [
        ("5/s", "1e9/s", "about 6e+11 requests"),  # 1e9/s · 600 s
        ("10m", "1000h", None),
        ("name: ok", "sample_interval: 1us", "about 3.6e+09 time-series rows"),  # 1200 s/1 µs · 3
        ("count: 2", "count: 100000", "about 1e+08 time-series rows"),  # 1000 · 100,001
    ],
)
def test_out_of_reach_is_refused_with_the_figure(old: str, new: str, figure: str | None) -> None:
    text = GOOD.replace(old, new)
    if new == "1000h":
        text = text.replace("5/s", "10k/s")
        figure = "about 3.6e+10 requests"  # 10,000/s · 3.6e6 s
    *_, refused = work(text)
    assert any(r.startswith(figure) for r in refused), refused


def test_the_cli_refuses_with_exit_2_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(GOOD.replace("5/s", "1e9/s"))
    for command in (["validate"], ["run", "-q", "-o", str(tmp_path / "out")], ["sweep", "-q"]):
        result = runner.invoke(app, [*command, str(path)])
        assert result.exit_code == 2, result.output
        assert "about 6e+11 requests" in result.stderr and "--force" in result.stderr
    assert runner.invoke(app, ["validate", "--force", str(path)]).exit_code == 0
    assert not (tmp_path / "out").exists()


def test_a_million_variants_are_refused_before_any_is_built(tmp_path: Path) -> None:
    values = ", ".join(map(str, range(1000)))
    path = tmp_path / "many.yaml"
    path.write_text(
        GOOD
        + f"compare:\n  seed: [{values}]\n  clients.count: [{values.replace('0, ', '1, ', 1)}]\n"
    )
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "1000 x 1000 values make 1,000,000 variants; the limit is 10,000" in result.stderr


def test_every_bundled_scenario_is_within_reach() -> None:
    for path in sorted((ROOT / "scenarios").rglob("*.yaml")):
        loaded = load(path)
        replications = loaded.base.sweep.replications if loaded.base.sweep else 1
        found = estimate([v.scenario for v in loaded.variants], replications)
        assert refusals(found) == [], path


def test_a_profile_s_mean_rate_is_its_exact_average() -> None:
    # held at 0/s until 10 s, linear to 10/s at 20 s, then held (after the
    # last corner) to the end at 40 s: (0·10 + 10·10/2 + 10·20) / 40 = 6.25/s
    text = GOOD.replace(
        "{process: poisson, rate: 5/s}", "{profile: [{at: 10s, rate: 0}, {at: 20s, rate: 10}]}"
    ).replace("duration: 10m", "duration: 40s")
    assert mean_rate(load(text=text).base) == pytest.approx(6.25, rel=1e-12)
    # a corner after the end counts up to the end only: 1/s to 2/s over
    # 0..100 s, cut at 50 s, averages 1.25/s
    text = text.replace(
        "[{at: 10s, rate: 0}, {at: 20s, rate: 10}]", "[{at: 0, rate: 1}, {at: 100s, rate: 2}]"
    )
    assert mean_rate(load(text=text.replace("40s", "50s")).base) == pytest.approx(1.25, rel=1e-12)
