"""Distributions of random durations: service demand and anything else random.

Each distribution is a frozen, validated model that knows its theoretical
``mean`` and ``variance`` (so tests and ``theory.py`` can compare simulation to
closed forms) and draws ``n`` values at once from a numpy ``Generator`` it is
given (never a global one). Durations inside them accept units (``250ms``).
Validating one needs no numpy (``lbsim validate`` never imports it).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, Self

from pydantic import (
    BeforeValidator,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from lbsim.scenario import files
from lbsim.scenario.numbers import Frozen
from lbsim.scenario.units import parse_duration, parse_rate

if TYPE_CHECKING:
    import numpy as np

_DURATION_SCHEMA = {
    "anyOf": [
        {"type": "number"},
        {"type": "string", "pattern": r"^\s*[0-9.eE+-]+\s*(us|ms|s|m|h|d)?\s*$"},
    ],
    "description": "seconds, or a number with a unit: 250ms, 2s, 30m, 1h",
}

MAX_DATA_BYTES = 10_000_000  # an empirical CSV file

Duration = Annotated[
    float, BeforeValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA), Field(ge=0)
]
PositiveDuration = Annotated[
    float, BeforeValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA), Field(gt=0)
]


_RATE_SCHEMA = {
    "anyOf": [
        {"type": "number"},
        {"type": "string", "pattern": r"^\s*[0-9.eE+-]+\s*(k|M)?\s*(/\s*(s|m|h))?\s*$"},
    ],
    "description": "events per second, or with a unit: 800/s, 10k/s, 90/m",
}
Rate = Annotated[float, BeforeValidator(parse_rate), WithJsonSchema(_RATE_SCHEMA), Field(ge=0)]
PositiveRate = Annotated[
    float, BeforeValidator(parse_rate), WithJsonSchema(_RATE_SCHEMA), Field(gt=0)
]


class _Sampled(Frozen):
    """A distribution checked once at validation: its moments and the numbers
    its sampler derives from the parameters (:meth:`_sampler_numbers`) are
    finite, so no parameter (a tiny cv, a tiny alpha, a huge cv) fails with an
    arithmetic error mid-run. Given finite ones, every draw is finite and
    non-negative: an exponential, gamma or lognormal variate of finite
    parameters is (its mean bounds its scale), a Pareto draw lies in [low,
    high], an empirical one is one of the values."""

    @model_validator(mode="after")
    def _samplable(self) -> _Sampled:
        return self._check_sampling()

    def _moments(self) -> tuple[float, float]:
        mean, variance = (getattr(self, a) for a in ("mean", "variance"))  # each subclass's
        return mean, variance

    def _sampler_numbers(self) -> tuple[float, ...]:
        """What :meth:`sample` computes from the parameters before drawing."""
        return ()

    def _check_sampling(self) -> Self:
        kind = self.model_dump().get("dist", "distribution")
        try:
            numbers = (*self._moments(), *self._sampler_numbers())
        except ZeroDivisionError:
            reason = "a division by zero"
        except OverflowError:
            reason = "a number overflows"
        except ValueError as err:
            reason = str(err)
        else:
            if all(map(math.isfinite, numbers)):
                return self
            reason = "its mean, variance or draws are not finite"
        raise ValueError(f"{kind} cannot be sampled with these parameters ({reason})")


class Exponential(_Sampled):
    """Exponential with the given mean (memoryless: the M in M/M/1)."""

    dist: Literal["exponential"] = Field(description="exponential law with this mean")
    mean: PositiveDuration

    @property
    def variance(self) -> float:
        return self.mean**2

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean, n)


class Deterministic(_Sampled):
    """Always ``value`` (the D in M/D/1)."""

    dist: Literal["deterministic"] = Field(description="always the same value")
    value: PositiveDuration

    @property
    def mean(self) -> float:
        return self.value

    @property
    def variance(self) -> float:
        return 0.0

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        import numpy as np

        return np.full(n, self.value)


class LogNormal(_Sampled):
    """Lognormal given by its mean and coefficient of variation (stdev / mean)."""

    dist: Literal["lognormal"] = Field(
        description="lognormal law by mean and coefficient of variation"
    )
    mean: PositiveDuration
    cv: float = Field(gt=0, description="coefficient of variation: standard deviation / mean")

    @property
    def variance(self) -> float:
        return (self.cv * self.mean) ** 2

    def _sampler_numbers(self) -> tuple[float, float]:
        """μ and σ of the underlying normal."""
        sigma2 = math.log1p(self.cv**2)
        return math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.lognormal(*self._sampler_numbers(), n)


class Gamma(_Sampled):
    """Gamma given by its mean and coefficient of variation (shape = 1/cv²)."""

    dist: Literal["gamma"] = Field(description="gamma law by mean and coefficient of variation")
    mean: PositiveDuration
    cv: float = Field(gt=0, description="coefficient of variation: standard deviation / mean")

    @property
    def variance(self) -> float:
        return (self.cv * self.mean) ** 2

    def _sampler_numbers(self) -> tuple[float, float]:
        """Shape and scale."""
        return 1 / self.cv**2, self.mean * self.cv**2

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.gamma(*self._sampler_numbers(), n)


class BoundedPareto(_Sampled):
    """Bounded Pareto on [low, high] with tail index ``alpha``: a heavy tail with
    finite moments. Density α·Lᵅ·x^(−α−1) / (1 − (L/H)ᵅ)."""

    dist: Literal["pareto"] = Field(description="Pareto law truncated to [low, high]")
    alpha: float = Field(gt=0, description="tail index α: smaller is a heavier tail")
    low: PositiveDuration
    high: PositiveDuration

    @model_validator(mode="after")
    def _ordered(self) -> BoundedPareto:
        if self.high <= self.low:
            raise ValueError("pareto needs high > low")
        return self

    def _moment(self, k: int) -> float:
        a, lo, hi = self.alpha, self.low, self.high
        norm = a * lo**a / (1 - (lo / hi) ** a)
        if math.isclose(a, k):
            return norm * math.log(hi / lo)
        return norm * (hi ** (k - a) - lo ** (k - a)) / (k - a)

    @property
    def mean(self) -> float:
        return self._moment(1)

    @property
    def variance(self) -> float:
        return self._moment(2) - self.mean**2

    def _sampler_numbers(self) -> tuple[float, float]:
        """1 − (L/H)ᵅ and 1/α, of the inverse CDF L / (1 − u·(1 − (L/H)ᵅ))^(1/α)."""
        return 1 - (self.low / self.high) ** self.alpha, 1 / self.alpha

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        span, exponent = self._sampler_numbers()
        return self.low / (1 - rng.random(n) * span) ** exponent


class Empirical(_Sampled):
    """Resampling (with replacement) of observed values, given inline or as a
    CSV file (first column, or the column named ``column``; path relative to
    the scenario file)."""

    dist: Literal["empirical"] = Field(description="resample observed values with replacement")
    values: tuple[Annotated[float, BeforeValidator(parse_duration), Field(ge=0)], ...] | None = (
        Field(default=None, description="the observed values (durations)")
    )
    file: str | None = Field(
        default=None, description="CSV file of values, relative to the scenario file"
    )
    column: str | None = Field(
        default=None, description="the CSV column to read (default: the first)"
    )

    @model_validator(mode="before")
    @classmethod
    def _read_file(cls, data: object, info: ValidationInfo) -> object:
        if not isinstance(data, dict) or data.get("values"):
            return data
        if not isinstance(data.get("file"), str):
            return data  # the fields' own checks say what is wrong
        context = info.context or {}
        name = str(data["file"])
        try:
            path = files.inside(
                Path(context.get("base_dir", ".")), name, context.get("allow_outside_files", False)
            )
            rows = list(csv.reader(io.StringIO(files.read_text(path, MAX_DATA_BYTES))))
        except (files.FileError, csv.Error) as err:
            raise ValueError(f"empirical file {name!r}: {err}") from None
        column = 0
        if rows and data.get("column") is not None:
            if data["column"] not in rows[0]:
                raise ValueError(f"column {data['column']!r} is not in the header of {name!r}")
            column = rows[0].index(data["column"])
        values = []
        for number, row in enumerate(rows, 1):
            try:
                values.append(parse_duration(row[column].strip()))
            except (ValueError, IndexError):
                if values:  # only a header may fail to parse
                    raise ValueError(f"{name!r}: row {number} is not a duration") from None
        return {**data, "values": values}

    @field_validator("values")
    @classmethod
    def _non_empty(cls, values: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if values is not None and not values:
            raise ValueError("empirical needs at least one value")
        return values

    @model_validator(mode="after")
    def _samplable(self) -> Empirical:
        if not self.values:
            raise ValueError("empirical needs `values` or `file`")
        return self._check_sampling()

    def _moments(self) -> tuple[float, float]:
        """Mean and variance in plain Python (those of :attr:`mean` and
        :attr:`variance` up to rounding; overflow raises here too)."""
        values = self.values or ()
        mean = math.fsum(values) / len(values)
        return mean, math.fsum((v - mean) ** 2 for v in values) / len(values)

    @property
    def _array(self) -> np.ndarray:
        import numpy as np

        return np.asarray(self.values, dtype=float)

    @property
    def mean(self) -> float:
        return float(self._array.mean())

    @property
    def variance(self) -> float:
        return float(self._array.var())

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        values = self._array
        return values[rng.integers(0, len(values), n)]


Distribution = Annotated[
    Exponential | Deterministic | LogNormal | Gamma | BoundedPareto | Empirical,
    Field(discriminator="dist"),
]
