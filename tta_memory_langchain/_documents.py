"""Engine records as LangChain ``Document``s.

Every document's metadata names the record's ``id`` and ``layer`` (``paf``, ``deep``,
``cache``, ``session``) and its times as ISO 8601 strings, so documents stay JSON-friendly
(LangSmith traces, serialisation) while keeping what a caller needs to act on the memory.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from langchain_core.documents import Document
from tta_memory import PAF, CacheEntry, DeepMemory, SessionMessage


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _document(record_id: str, content: str, layer: str, **metadata: Any) -> Document:
    """A document whose ``id`` and ``metadata["id"]`` are the record's id."""
    return Document(
        id=record_id, page_content=content, metadata={"id": record_id, "layer": layer, **metadata}
    )


def deep_memory_document(memory: DeepMemory) -> Document:
    """Build a document from a ``DeepMemory``.

    Args:
        memory: The deep memory (``score`` set when it came from a search).

    Returns:
        The document; ``page_content`` is the memory's text, ``metadata`` the engine's
        :meth:`~tta_memory.DeepMemory.flat_metadata` plus ``id``, ``score`` and the
        memory's own ``memory_metadata``.
    """
    return _document(
        memory.id,
        memory.text,
        **memory.flat_metadata(),
        score=memory.score,
        memory_metadata=dict(memory.metadata),
    )


def paf_document(paf: PAF) -> Document:
    """Build a document from a ``PAF`` (a permanent architectural fact).

    Args:
        paf: The PAF.

    Returns:
        The document; ``page_content`` is ``"AUTH-001: description"``.
    """
    return _document(
        paf.id,
        f"{paf.id}: {paf.description}",
        "paf",
        category=paf.category,
        status=str(paf.status),
        rationale=paf.rationale,
        version=paf.version,
        author=paf.author,
        created_at=_iso(paf.created_at),
        updated_at=_iso(paf.updated_at),
    )


def cache_entry_document(entry: CacheEntry) -> Document:
    """Build a document from a ``CacheEntry``.

    Args:
        entry: The cache entry (recent message or note).

    Returns:
        The document; ``page_content`` is the entry's content.
    """
    return _document(
        entry.id,
        entry.content,
        "cache",
        kind=entry.kind,
        role=entry.role,
        session_id=entry.session_id,
        author=entry.user_id,
        tags=list(entry.tags),
        importance=entry.importance,
        created_at=_iso(entry.created_at),
        expires_at=_iso(entry.expires_at),
    )


def session_message_document(message: SessionMessage) -> Document:
    """Build a document from a ``SessionMessage``.

    Args:
        message: The session message.

    Returns:
        The document; ``page_content`` is the message's content.
    """
    return _document(
        message.id,
        message.content,
        "session",
        role=message.role,
        seq=message.seq,
        session_id=message.session_id,
        author=message.user_id,
        created_at=_iso(message.created_at),
    )
