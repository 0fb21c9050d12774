"""How a deep memory is stored: its hash fields and their decoding (shared by storage and
search)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from pydantic import TypeAdapter

from tta_memory.limits import read_json, read_time
from tta_memory.models import DeepMemory
from tta_memory.schema import TAG_SEPARATOR

DEEP_FIELDS = [
    "memory_id",
    "text",
    "tags",
    "memory_type",
    "metadata",
    "author",
    "session_id",
    "visibility",
    "created",
    "updated",
    "event",
    "updated_at",  # rounded; read only for memories written before "updated"/"event" existed
    "event_time",
    "content_hash",
    "workspace",
    "supersedes",
    "superseded_by",
    "valid_from",
    "valid_until",
]


def content_hash(*parts: str) -> str:
    """A short SHA-256 of the parts (memory ids and dedup keys)."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def scope_of(doc: Mapping[str, Any]) -> str:
    """A memory's visibility scope (its hash fields or a stored row): its author if private,
    else ``""``. Dedup (same text in the same scope is the same memory), contextual indexing
    (neighbours share a scope) and the write coalescer all key on it."""
    return str(doc.get("author") or "") if doc.get("visibility") == "private" else ""


def _ts(value: Any) -> datetime | None:
    # Tolerant: a stored time that does not decode is read as missing, never raises.
    return read_time(value)


def memory_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`DeepMemory` fields (all but ``score``) of a search result or a hash."""
    tags = doc.get("tags") or ""
    # Indexed numeric fields come back from FT.SEARCH rounded to 12 digits; "created",
    # "updated" and "event" keep the exact values (the *_at fields are for filtering).
    created = _ts(doc.get("created") or doc.get("created_at")) or datetime.fromtimestamp(0, UTC)
    return {
        "id": doc["memory_id"],
        "text": doc["text"],
        "tags": tags.split(TAG_SEPARATOR) if tags else [],
        "memory_type": doc.get("memory_type") or "observation",
        "metadata": read_json(doc.get("metadata"), {}),
        "author": doc["author"],
        "session_id": doc.get("session_id") or None,
        "private": doc.get("visibility") == "private",
        "created_at": created,
        "updated_at": _ts(doc.get("updated") or doc.get("updated_at")) or created,
        "event_time": _ts(doc.get("event") or doc.get("event_time")),
        "supersedes": doc.get("supersedes") or None,
        "superseded_by": doc.get("superseded_by") or None,
        "valid_from": _ts(doc.get("valid_from")),
        "valid_until": _ts(doc.get("valid_until")),
    }


def decode_memory(doc: Mapping[str, Any], score: float | None = None) -> DeepMemory:
    """Rebuild a :class:`DeepMemory` from a search result or a hash."""
    return DeepMemory(**memory_fields(doc), score=score)


MEMORY_LIST: TypeAdapter[list[DeepMemory]] = TypeAdapter(list[DeepMemory])


class Stored(NamedTuple):
    """A memory's hash as read: its fields as text (shared by every read of the same values:
    read them, never edit them) and, when it has no metadata, its model fields but the score
    (shared too: validation copies the tags list)."""

    row: dict[str, Any]
    fields: dict[str, Any] | None


# Hashes read before, by their raw values: a search's winners are mostly the same memories
# load after load, and decoding one took ~20 us (fields, five times, metadata) against ~3 us
# to validate its model from known fields (20 winners: 0.41 -> ~0.07 ms a load). Keyed by the
# whole stored values, so an edited memory is simply a new entry.
_STORED: dict[tuple[Any, ...], Stored] = {}
MAX_STORED = 2_000  # ~5 MB at ~2 KB of text a memory; cleared when full


def stored_row(values: Sequence[Any]) -> Stored | None:
    """The :class:`Stored` form of an ``HMGET`` of :data:`DEEP_FIELDS` (``None`` if the key
    is absent)."""
    key = tuple(values)
    try:
        hit = _STORED.get(key)
    except TypeError:  # a value that is not bytes (never from HMGET): decode it every time
        row = decode_row(values)
        return None if row is None else Stored(row, None)
    if hit is None:
        row = decode_row(values)
        if row is None:
            return None
        shareable = row.get("metadata") in (None, "", "{}")
        hit = Stored(row, memory_fields(row) if shareable else None)
        if len(_STORED) >= MAX_STORED:
            _STORED.clear()
        _STORED[key] = hit
    return hit


def memories(found: Sequence[tuple[Stored, float | None]]) -> list[DeepMemory]:
    """The memories of stored rows with their scores, validated as one list."""
    return MEMORY_LIST.validate_python(
        [
            {**(s.fields if s.fields is not None else memory_fields(s.row)), "score": score}
            for s, score in found
        ]
    )


def decode_row(values: Sequence[Any]) -> dict[str, Any] | None:
    """The fields of an ``HMGET`` of :data:`DEEP_FIELDS` (``None`` if the key is absent)."""
    if all(v is None for v in values):
        return None
    return {
        # Inline (a call per field costs more on the load path), lenient like replies.text:
        # bytes another client wrote that are not UTF-8 must not fail the read.
        k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else v)
        for k, v in zip(DEEP_FIELDS, values, strict=True)
        if v is not None
    }
