"""Engine records as LangChain ``Document``s.

Every document's metadata names the record's ``id`` and ``layer`` (``paf``, ``deep``,
``cache``, ``session``) and its times as ISO 8601 strings, so documents stay JSON-friendly
(LangSmith traces, serialisation) while keeping what a caller needs to act on the memory.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from langchain_core.documents import Document


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def deep_memory_document(memory: Any) -> Document:
    """Build a document from a ``DeepMemory``.

    Args:
        memory: The deep memory (``score`` set when it came from a search).

    Returns:
        The document; ``page_content`` is the memory's text.
    """
    return Document(
        id=memory.id,
        page_content=memory.text,
        metadata={
            "id": memory.id,
            "layer": "deep",
            "score": memory.score,
            "tags": list(memory.tags),
            "memory_type": memory.memory_type,
            "author": memory.author,
            "session_id": memory.session_id,
            "private": memory.private,
            "created_at": _iso(memory.created_at),
            "updated_at": _iso(memory.updated_at),
            "event_time": _iso(memory.event_time),
            "memory_metadata": dict(memory.metadata),
        },
    )


def paf_document(paf: Any) -> Document:
    """Build a document from a ``PAF`` (a permanent architectural fact).

    Args:
        paf: The PAF.

    Returns:
        The document; ``page_content`` is ``"AUTH-001: description"``.
    """
    return Document(
        id=paf.id,
        page_content=f"{paf.id}: {paf.description}",
        metadata={
            "id": paf.id,
            "layer": "paf",
            "category": paf.category,
            "status": str(paf.status),
            "rationale": paf.rationale,
            "version": paf.version,
            "author": paf.author,
            "created_at": _iso(paf.created_at),
            "updated_at": _iso(paf.updated_at),
        },
    )


def cache_entry_document(entry: Any) -> Document:
    """Build a document from a ``CacheEntry``.

    Args:
        entry: The cache entry (recent message or note).

    Returns:
        The document; ``page_content`` is the entry's content.
    """
    return Document(
        id=entry.id,
        page_content=entry.content,
        metadata={
            "id": entry.id,
            "layer": "cache",
            "kind": entry.kind,
            "role": entry.role,
            "session_id": entry.session_id,
            "author": entry.user_id,
            "tags": list(entry.tags),
            "importance": entry.importance,
            "created_at": _iso(entry.created_at),
            "expires_at": _iso(entry.expires_at),
        },
    )


def session_message_document(message: Any) -> Document:
    """Build a document from a ``SessionMessage``.

    Args:
        message: The session message.

    Returns:
        The document; ``page_content`` is the message's content.
    """
    return Document(
        id=message.id,
        page_content=message.content,
        metadata={
            "id": message.id,
            "layer": "session",
            "role": message.role,
            "seq": message.seq,
            "session_id": message.session_id,
            "author": message.user_id,
            "created_at": _iso(message.created_at),
        },
    )
