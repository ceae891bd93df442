"""Durations and rates as people write them."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lbsim.scenario.units import format_duration, parse_duration, parse_rate


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("2s", 2),
        ("30m", 1800),
        ("1.5h", 5400),
        ("10us", 1e-5),
        (3, 3.0),
        ("7", 7.0),
        (" 2 m ", 120),
        ("1e3ms", 1.0),
        ("4m30s", 4 * 60 + 30),
        ("1h30m", 90 * 60),
        ("1h2m3s", 3600 + 2 * 60 + 3),
        ("2s500ms", 2.5),
        ("1d12h", 36 * 3600),
        (" 1m 30s ", 90),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "per_second"),
    [
        ("800/s", 800),
        ("10k/s", 10_000),
        ("90/m", 1.5),
        ("2M/h", 2e6 / 3600),
        (7.2, 7.2),
        ("5", 5.0),
        ("1.5k", 1500),
    ],
)
def test_rates(text: object, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize(
    "bad",
    # the compound ones: units out of order, repeated, or a part without a unit
    ["fast", "10 minutes", "5x", "", True, None, [1], "1/s", "30s4m", "1m1m", "1m30", "-1m-30s"],
)
def test_malformed_durations(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


@pytest.mark.parametrize("bad", ["quick", "10/d", "k/s", True, None])
def test_malformed_rates(bad: object) -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_rate(bad)


@given(
    st.floats(min_value=0, max_value=1e7, allow_nan=False), st.sampled_from(["ms", "s", "m", "h"])
)
def test_duration_units_scale(value: float, unit: str) -> None:
    factor = {"ms": 1e-3, "s": 1, "m": 60, "h": 3600}[unit]
    assert parse_duration(f"{value!r}{unit}") == pytest.approx(value * factor)


@given(st.floats(min_value=1e-6, max_value=1e6, allow_nan=False))
def test_format_duration_round_trips_roughly(seconds: float) -> None:
    assert parse_duration(format_duration(seconds).replace("µs", "us")) == pytest.approx(
        seconds, rel=1e-2
    )
