"""Numbers in scenario files: finite, within range, and never a boolean.

Every scenario model derives from :class:`Frozen`, which checks every field
of every model, whatever its constraints: ``.inf``, ``-.inf`` and ``.nan``
are refused (``allow_inf_nan=False``), a boolean is refused where a number is
expected (YAML's ``true`` would otherwise count as 1), an integer must fit in
64 bits (:data:`MAX_INT`) and a non-integer number is at most
:data:`MAX_FLOAT` in size, so no product of two scenario numbers can
overflow. Algorithm parameters get the same checks through :func:`problems`.
Quantities written with units are converted by :func:`finite`.
"""

from __future__ import annotations

import functools
import math
import types
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

MAX_INT = 2**63 - 1
MAX_FLOAT = 1e15


def _shown(value: int | float) -> str:
    text = str(value)
    return f"a {len(text.lstrip('-'))}-digit integer" if len(text) > 20 else text


def finite(value: int | float, what: str = "number") -> float:
    """``value`` as a float; raises ValueError for infinities, NaN and
    numbers past :data:`MAX_FLOAT`."""
    if isinstance(value, bool):
        raise ValueError(f"expected a {what}, not {str(value).lower()}")
    if isinstance(value, int) and abs(value) > MAX_FLOAT:
        raise ValueError(f"{_shown(value)} is too large for a {what} (at most {MAX_FLOAT:g})")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"a {what} must be a finite number, not {number}")
    if abs(number) > MAX_FLOAT:
        raise ValueError(f"{number:g} is too large for a {what} (at most {MAX_FLOAT:g})")
    return number


def _kinds(annotation: Any) -> tuple[frozenset[type], Any]:
    """The scalar types an annotation admits and the element annotation of
    the sequence it may hold (or None)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _kinds(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        found: set[type] = set()
        element = None
        for arg in get_args(annotation):
            kinds, inner = _kinds(arg)
            found |= kinds
            element = element or inner
        return frozenset(found), element
    if origin is Literal:
        return frozenset(type(v) for v in get_args(annotation)), None
    if origin in (tuple, list):
        return frozenset(), get_args(annotation)[0]
    return (frozenset({annotation}) if isinstance(annotation, type) else frozenset()), None


@functools.cache
def _fields(model: type[BaseModel]) -> dict[str, tuple[frozenset[type], Any]]:
    """What each key of ``model`` (field name or alias) admits."""
    found = {}
    for name, info in model.model_fields.items():
        found[name] = found[info.alias or name] = _kinds(info.annotation)
    return found


def problem(value: Any, kinds: frozenset[type], element: Any) -> str | None:
    """What is wrong with a raw ``value`` for a field admitting ``kinds``
    (holding ``element`` items if a sequence): a boolean for a number, a
    number out of range; or None."""
    numeric = kinds & {int, float}
    if isinstance(value, bool):
        if numeric and bool not in kinds:
            return f"expected a number, not {str(value).lower()}"
        return None
    if isinstance(value, int) and numeric:
        limit = MAX_INT if int in kinds else MAX_FLOAT
        if abs(value) > limit:
            return f"{_shown(value)} is too large (at most {limit:g})"
    elif isinstance(value, float) and float in kinds and math.isfinite(value):
        if abs(value) > MAX_FLOAT:
            return f"{value:g} is too large (at most {MAX_FLOAT:g})"
    elif isinstance(value, list | tuple) and element is not None:
        inner = _kinds(element)
        return next((p for v in value if (p := problem(v, *inner)) is not None), None)
    return None


def problems(model: type[BaseModel], data: Mapping[str, Any]) -> list[str]:
    """``"field: what is wrong"`` for each raw value of ``data`` that
    :func:`problem` refuses for ``model``'s fields."""
    found = []
    fields = _fields(model)
    for name, value in data.items():
        text = problem(value, *fields[name]) if name in fields else None
        if text is not None:
            found.append(f"{name}: {text}")
    return found


def _error(reason: str) -> PydanticCustomError:
    return PydanticCustomError("value_error", "Value error, {reason}", {"reason": reason})


class Frozen(BaseModel):
    """Base of every scenario model: unknown keys are errors, values
    immutable, numbers finite and in range, booleans only where allowed."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)

    @model_validator(mode="wrap")
    @classmethod
    def _checked_numbers(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        if isinstance(data, dict):
            fields = _fields(cls)
            wrong = [
                InitErrorDetails(type=_error(text), loc=(key,), input=value)
                for key, value in data.items()
                if key in fields and (text := problem(value, *fields[key])) is not None
            ]
            if wrong:
                raise ValidationError.from_exception_data(cls.__name__, wrong)
        return handler(data)
