"""Typed access to polars results whose stubs are wider than the values a numeric column gives."""

from __future__ import annotations


def number(value: object, *, default: float | None = None) -> float:
    """A numeric column's aggregate (``Series.mean``, ``min``, ``max``) as the int or float it is.

    polars types these as any Python value; on a numeric column they are a number, or None when the column
    is empty or all null: then ``default``, and an error without one.
    """
    if value is None:
        if default is None:
            raise ValueError("no value to aggregate: the column is empty or all null")
        return default
    if not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {type(value).__name__} {value!r}")
    return value
