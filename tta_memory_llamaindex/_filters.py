"""LlamaIndex ``MetadataFilters`` translated to deep-memory search arguments."""

from __future__ import annotations

from typing import Any

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)
from tta_memory.errors import InvalidInputError

# key -> operator -> search_deep_memory argument(s). Values are passed through untouched: the
# engine validates them and escapes every query-syntax character.
_EQ = (FilterOperator.EQ,)
_SINGLE_KEYS = {"author": "author", "session_id": "session_id"}
_TIME_KEYS = ("created_at",)
FILTER_KEYS = ("tags", "memory_type", *_SINGLE_KEYS, *_TIME_KEYS)


def _tags(flt: MetadataFilter) -> dict[str, Any]:
    op, value = flt.operator, flt.value
    if op in (FilterOperator.EQ, FilterOperator.CONTAINS):
        return {"tags": [value], "match_all_tags": False}
    if op in (FilterOperator.IN, FilterOperator.ANY):
        return {"tags": value, "match_all_tags": False}
    if op is FilterOperator.ALL:
        return {"tags": value, "match_all_tags": True}
    raise InvalidInputError(f"tags filter supports ==, contains, in, any, all; got {op.value!r}")


def filters_to_kwargs(filters: MetadataFilters | None) -> dict[str, Any]:
    """Return the ``search_deep_memory`` keyword arguments that ``filters`` ask for.

    Supported: ``tags`` (``==``, ``contains``, ``in``, ``any``, ``all``), ``memory_type``
    (``==``, ``in``), ``author`` and ``session_id`` (``==``), ``created_at`` (``>``/``>=`` -> since,
    ``<``/``<=`` -> until; bounds are inclusive), combined with AND, one filter per key
    (``created_at`` may have one lower and one upper bound).

    Args:
        filters: LlamaIndex metadata filters, or ``None``.

    Returns:
        A dict of keyword arguments (empty for ``None``).

    Raises:
        InvalidInputError: An unknown key or operator, OR/NOT, nesting or a repeated key.
    """
    if filters is None:
        return {}
    if not isinstance(filters, MetadataFilters):
        raise InvalidInputError(f"filters must be MetadataFilters, got {type(filters).__name__}")
    if filters.condition not in (FilterCondition.AND, None) and len(filters.filters) > 1:
        raise InvalidInputError("only AND-combined filters are supported")
    if filters.condition is FilterCondition.NOT:
        raise InvalidInputError("NOT filters are not supported")
    kwargs: dict[str, Any] = {}

    def put(name: str, value: Any) -> None:
        if name in kwargs:
            raise InvalidInputError(f"more than one filter sets {name!r}")
        kwargs[name] = value

    for flt in filters.filters:
        if not isinstance(flt, MetadataFilter):
            raise InvalidInputError("nested filter groups are not supported")
        if flt.key == "tags":
            for name, value in _tags(flt).items():
                put(name, value)
        elif flt.key == "memory_type":
            if flt.operator not in (FilterOperator.EQ, FilterOperator.IN):
                raise InvalidInputError("memory_type filter supports == and in")
            put("memory_type", flt.value)
        elif flt.key in _SINGLE_KEYS:
            if flt.operator not in _EQ:
                raise InvalidInputError(f"{flt.key} filter supports only ==")
            put(_SINGLE_KEYS[flt.key], flt.value)
        elif flt.key in _TIME_KEYS:
            if flt.operator in (FilterOperator.GT, FilterOperator.GTE):
                put("since", flt.value)
            elif flt.operator in (FilterOperator.LT, FilterOperator.LTE):
                put("until", flt.value)
            else:
                raise InvalidInputError(f"{flt.key} filter supports >, >=, <, <=")
        else:
            raise InvalidInputError(
                f"unknown filter key {flt.key!r}; valid: {', '.join(FILTER_KEYS)}"
            )
    return kwargs
