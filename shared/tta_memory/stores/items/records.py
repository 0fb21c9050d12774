"""Keyed items, pure: what an item is, the checks on its parts, how a namespace becomes a TAG
value, the RediSearch schema of the items index, and the fusion of rankings.

A namespace is a tuple of labels; each label is percent-encoded and the path joined with
``/``, and every prefix of the path is a TAG value, so a search under ``("a", "b")`` is one
exact tag match.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote

from pydantic import BaseModel, ConfigDict, Field
from redisvl.query import VectorQuery
from redisvl.schema import IndexSchema

from tta_memory import replies
from tta_memory.errors import InvalidInputError
from tta_memory.fusion import reciprocal_rank
from tta_memory.names import MAX_NAME_CHARS
from tta_memory.schema import TAG_SEPARATOR, numeric_field, tag_field, vector_field
from tta_memory.validation import MAX_CONTENT_CHARS, MAX_TTL_SECONDS

MAX_TEXTS = 256


class StoredItem(BaseModel):
    """One item as stored (``score`` is set by searches with a query)."""

    model_config = ConfigDict(frozen=True)

    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    ttl_seconds: float | None = None
    score: float | None = None


class ItemWrite(BaseModel):
    """A put (``value``) or a delete (``value=None``) of one item.

    Args:
        namespace: The item's namespace (a non-empty tuple of labels).
        key: The item's key inside the namespace.
        value: The JSON object to store, or ``None`` to delete the item.
        texts: The texts to index for search (BM25 and one vector each).
        ttl_seconds: Expire this long after the last write (or read, with refresh).
    """

    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any] | None
    texts: list[str] = Field(default_factory=list)
    ttl_seconds: float | None = None


def check_namespace(namespace: Any, *, allow_empty: bool = False) -> tuple[str, ...]:
    """Return ``namespace`` as a tuple of labels (non-empty strings, no NUL, bounded)."""
    # A tuple or list only: a dict or a set is iterable too, but its order or meaning is not a
    # path of labels.
    if not isinstance(namespace, tuple | list):
        raise InvalidInputError(f"a namespace is a tuple of strings, got {namespace!r}")
    labels = tuple(namespace)
    if not labels and not allow_empty:
        raise InvalidInputError("a namespace needs at least one label")
    for label in labels:
        if not isinstance(label, str) or not label or "\x00" in label:
            raise InvalidInputError(
                f"namespace labels are non-empty strings without NUL, got {label!r}"
            )
        if len(label) > MAX_NAME_CHARS:
            raise InvalidInputError(f"namespace label longer than {MAX_NAME_CHARS} characters")
        _check_encodable("namespace label", label)
    return labels


def _check_encodable(name: str, value: str) -> None:
    try:
        value.encode()
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"{name} holds a lone surrogate: {value!r}") from exc


def check_key(key: Any) -> str:
    """Return ``key`` if it is a string of at most ``MAX_NAME_CHARS`` characters."""
    if not isinstance(key, str):
        raise InvalidInputError(f"an item key is a string, got {type(key).__name__}")
    if len(key) > MAX_NAME_CHARS:
        raise InvalidInputError(f"an item key is at most {MAX_NAME_CHARS} characters")
    _check_encodable("item key", key)
    return key


def check_texts(texts: Any) -> list[str]:
    """Return the texts to index (a bounded list of bounded strings)."""
    if not isinstance(texts, list) or len(texts) > MAX_TEXTS:
        raise InvalidInputError(f"texts is a list of at most {MAX_TEXTS} strings")
    for text in texts:
        if not isinstance(text, str) or len(text) > MAX_CONTENT_CHARS:
            raise InvalidInputError("an indexed text is a string within the size limit")
        _check_encodable("indexed text", text)
    return texts


def check_write(raw: ItemWrite | Mapping[str, Any]) -> ItemWrite:
    """Return a checked :class:`ItemWrite` (from one or from a dict of its fields)."""
    if not isinstance(raw, ItemWrite | Mapping):
        raise InvalidInputError(f"a write is an ItemWrite or a dict, got {type(raw).__name__}")
    w = raw if isinstance(raw, ItemWrite) else ItemWrite.model_validate(dict(raw))
    return w.model_copy(
        update={
            "namespace": check_namespace(w.namespace),
            "key": check_key(w.key),
            "texts": check_texts(w.texts),
            "ttl_seconds": check_ttl(w.ttl_seconds),
        }
    )


def encode_value(value: Any) -> str:
    """The value as JSON text (a dict with string keys, JSON-serialisable, bounded)."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidInputError(f"an item value is a dict with string keys, got {value!r:.80}")
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        text.encode()
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise InvalidInputError(f"an item value must be JSON-serialisable: {exc}") from exc
    if len(text) > MAX_CONTENT_CHARS:
        raise InvalidInputError(
            f"an item value is {len(text):,} characters of JSON; the limit is {MAX_CONTENT_CHARS:,}"
        )
    return text


def check_ttl(ttl_seconds: Any) -> float | None:
    """Return a TTL in seconds within the engine's bounds (1 s to ``MAX_TTL_SECONDS``; a
    fraction of a second above 1 s is kept: LangGraph counts TTLs in fractional minutes), or
    ``None`` (no expiry)."""
    if ttl_seconds is None:
        return None
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int | float):
        raise InvalidInputError(f"ttl must be a number of seconds, got {ttl_seconds!r}")
    if not math.isfinite(ttl_seconds) or not 1 <= ttl_seconds <= MAX_TTL_SECONDS:
        raise InvalidInputError(
            f"ttl must be between 1 second and {MAX_TTL_SECONDS:,} seconds, got {ttl_seconds!r}"
        )
    return float(ttl_seconds)


def encode_path(namespace: Sequence[str]) -> str:
    """The namespace as one TAG value: labels percent-encoded, joined with ``/``."""
    return "/".join(quote(label, safe="") for label in namespace)


def decode_path(path: str) -> tuple[str, ...]:
    """Inverse of :func:`encode_path`."""
    return tuple(unquote(label) for label in path.split("/")) if path else ()


def prefixes(namespace: Sequence[str]) -> str:
    """Every prefix of the namespace as encoded paths, in one TAG field value."""
    return TAG_SEPARATOR.join(encode_path(namespace[: i + 1]) for i in range(len(namespace)))


def _labels_match(pattern: Sequence[str], labels: Sequence[str]) -> bool:
    return len(labels) == len(pattern) and all(
        p in ("*", label) for p, label in zip(pattern, labels, strict=True)
    )


def namespace_matches(
    namespace: tuple[str, ...],
    prefix: Sequence[str] | None = None,
    suffix: Sequence[str] | None = None,
) -> bool:
    """Whether ``namespace`` starts with ``prefix`` and ends with ``suffix`` (``"*"``: any)."""
    pre, suf = list(prefix or ()), list(suffix or ())
    if len(namespace) < max(len(pre), len(suf)):
        return False
    tail = namespace[len(namespace) - len(suf) :] if suf else ()
    return _labels_match(pre, namespace[: len(pre)]) and _labels_match(suf, tail)


def items_schema(prefix: str, dims: int) -> IndexSchema:
    """The items index: item hashes and their indexed texts, filtered by namespace prefix."""
    return IndexSchema.from_dict(
        {
            "index": {
                "name": f"{prefix}:idx:items{dims}",
                "prefix": f"{prefix}:item{dims}:",
                "storage_type": "hash",
            },
            "fields": [
                tag_field("workspace"),
                tag_field("doc"),
                tag_field("ns"),
                tag_field("nsp"),
                tag_field("embedded"),
                {"name": "text", "type": "text"},
                numeric_field("updated_at", sortable=True),
                vector_field(dims),
            ],
        }
    )


def fuse(
    results: list[list[dict[str, Any]]], queries: list[Any]
) -> list[tuple[str, str, float | None]]:
    """Rank items from the rankings of their texts: an item's best text stands for it,
    several rankings fuse by reciprocal rank (:mod:`tta_memory.fusion`), one keeps its scores.

    Returns:
        ``(item key, item version, score)``, best first.
    """
    per_query: list[list[tuple[str, str, float | None]]] = []
    for q, rows in zip(queries, results, strict=True):
        seen: set[str] = set()
        ranking: list[tuple[str, str, float | None]] = []
        for row in rows:
            item = replies.text(row.get("item", ""))
            if not item or item in seen or row.get("workspace") is None:
                continue
            seen.add(item)
            if isinstance(q, VectorQuery):
                score: float | None = 1.0 - float(row.get("vector_distance", 1.0))
            else:
                score = float(row["score"]) if "score" in row else None
            ranking.append((item, replies.text(row.get("ver", "")), score))
        per_query.append(ranking)
    if len(per_query) == 1:
        return per_query[0]
    ver: dict[str, str] = {}
    for ranking in per_query:
        for item, v, _ in ranking:
            ver.setdefault(item, v)
    fused = reciprocal_rank([item for item, _, _ in ranking] for ranking in per_query)
    return [(item, ver[item], score) for item, score in fused.items()]
