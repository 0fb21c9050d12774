"""Conditions on an item's JSON value (the ``filter`` of an item search).

The semantics of LangGraph's store filters: each top-level field of the filter must match the
value's field of that name.

- a scalar matches an equal value (``{"status": "active"}``);
- a list matches an equal list, element by element;
- a dict of operators compares: ``$eq``, ``$ne``, ``$gt``, ``$gte``, ``$lt``, ``$lte``
  (``{"score": {"$gte": 3}}``); the ordering ones compare numbers, and a missing or
  non-numeric value does not match (LangGraph's in-memory store raises there instead);
- any other dict matches a nested object field by field.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from tta_memory.errors import InvalidInputError

_ORDER: dict[str, Callable[[float, float], bool]] = {
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}
OPERATORS = ("$eq", "$ne", *_ORDER)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _apply(value: Any, op: str, operand: Any) -> bool:
    if op == "$eq":
        return bool(value == operand)
    if op == "$ne":
        return bool(value != operand)
    compare = _ORDER.get(op)
    if compare is None:
        raise InvalidInputError(f"unknown filter operator {op!r}; valid: {', '.join(OPERATORS)}")
    left, right = _number(value), _number(operand)
    if right is None:
        raise InvalidInputError(f"{op} needs a number, got {operand!r}")
    return left is not None and compare(left, right)


def _match(value: Any, condition: Any) -> bool:
    if isinstance(condition, Mapping):
        if any(isinstance(k, str) and k.startswith("$") for k in condition):
            return all(_apply(value, op, operand) for op, operand in condition.items())
        return isinstance(value, Mapping) and all(
            _match(value.get(k), c) for k, c in condition.items()
        )
    if isinstance(condition, list | tuple):
        return (
            isinstance(value, list | tuple)
            and len(value) == len(condition)
            and all(_match(v, c) for v, c in zip(value, condition, strict=True))
        )
    return bool(value == condition)


def _check(condition: Any) -> None:
    if isinstance(condition, Mapping):
        for k, c in condition.items():
            if isinstance(k, str) and k.startswith("$"):
                if k not in OPERATORS:
                    raise InvalidInputError(
                        f"unknown filter operator {k!r}; valid: {', '.join(OPERATORS)}"
                    )
                if k in _ORDER and _number(c) is None:
                    raise InvalidInputError(f"{k} needs a number, got {c!r}")
            else:
                _check(c)
    elif isinstance(condition, list | tuple):
        for c in condition:
            _check(c)


def check_filter(filter: Any) -> Mapping[str, Any]:
    """Return ``filter`` if it is a dict of known operators (so a typo fails before a query).

    Raises:
        InvalidInputError: Not a dict, an unknown operator, or an ordering operator with a
            non-number.
    """
    if not isinstance(filter, Mapping):
        raise InvalidInputError(f"filter must be a dict, got {type(filter).__name__}")
    _check(filter)
    return filter


def matches(value: Mapping[str, Any], filter: Mapping[str, Any]) -> bool:
    """Whether an item's value satisfies every condition of ``filter`` (checked first with
    :func:`check_filter`)."""
    return all(_match(value.get(field), condition) for field, condition in filter.items())
