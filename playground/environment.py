"""Operator settings given as environment variables: numbers are checked, and a bad value is refused
in the operator's words (the variable, the value, what is allowed), never as a bare ValueError."""

from __future__ import annotations

import os

from playground.params import Problem, ValidationError


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    """The integer in `name`, or `default` when it is unset or empty."""
    return int(_number(name, default, int, minimum))


def env_float(name: str, default: float, minimum: float | None = None) -> float:
    """The number in `name`, or `default` when it is unset or empty."""
    return float(_number(name, default, float, minimum))


def _number(name: str, default: float, kind: type, minimum: float | None) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or value != value or (minimum is not None and value < minimum):  # NaN is refused too
        what = "an integer" if kind is int else "a number"
        floor = f" of at least {minimum:g}" if minimum is not None else ""
        raise ValidationError([Problem(name, raw, f"{what}{floor} (unset: {default:g})")])
    return value
