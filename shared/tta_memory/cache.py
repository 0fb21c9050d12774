"""Layer 2 — the cache: recent session messages and short-lived notes, read by time window.

Entries are hashes that expire by themselves; a RediSearch index serves the window queries.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from redisvl.query import FilterQuery
from redisvl.query.filter import FilterExpression, Num

from tta_memory.backend import guarded
from tta_memory.errors import InvalidInputError, NotFoundError
from tta_memory.models import CacheEntry, DeepMemory
from tta_memory.names import Tag
from tta_memory.schema import SORTED_DIALECT, TAG_SEPARATOR
from tta_memory.session import SessionLayer
from tta_memory.validation import (
    check_id,
    check_metadata,
    check_positive,
    check_tags,
    check_text,
)

CACHE_FIELDS = [
    "entry_id",
    "kind",
    "content",
    "role",
    "session_id",
    "user_id",
    "tags",
    "importance",
    "metadata",
    "created",
    "expires_at",
    "workspace",
]


def decode_entry(doc: dict[str, Any]) -> CacheEntry:
    """Rebuild a :class:`CacheEntry` from a search result."""
    tags = doc.get("tags") or ""
    return CacheEntry(
        id=doc["entry_id"],
        kind=doc["kind"],
        content=doc.get("content", ""),
        role=doc.get("role") or None,
        session_id=doc.get("session_id") or None,
        user_id=doc["user_id"],
        tags=tags.split(TAG_SEPARATOR) if tags else [],
        importance=float(doc.get("importance") or 0.5),
        metadata=json.loads(doc.get("metadata") or "{}"),
        created_at=datetime.fromtimestamp(float(doc.get("created") or doc["created_at"]), UTC),
        expires_at=datetime.fromtimestamp(float(doc["expires_at"]), UTC)
        if doc.get("expires_at")
        else None,
    )


def decode_entries(docs: list[dict[str, Any]], workspace: str) -> list[CacheEntry]:
    """Rebuild the entries of a search result of ``workspace``.

    An entry whose TTL ran out between the index match and the read comes back as a bare
    key without fields; it is gone, so it is not returned. A row of another workspace is
    never returned, whatever the tag matching did.
    """
    return [decode_entry(d) for d in docs if "entry_id" in d and d.get("workspace") == workspace]


class CacheLayer(SessionLayer):
    """Cache-layer calls of :class:`~tta_memory.MemoryWorkflowPrimitive`."""

    def cache_filter(
        self, session_ids: list[str] | None, time_window_hours: float, *, all_users: bool = False
    ) -> FilterExpression:
        """The filter of a cache read: this workspace, the window, the sessions or the caller."""
        if (
            isinstance(time_window_hours, bool)
            or not isinstance(time_window_hours, int | float)
            or time_window_hours <= 0
        ):
            raise InvalidInputError(
                f"time_window_hours must be a positive number, got {time_window_hours!r}"
            )
        since = time.time() - float(time_window_hours) * 3600
        f = (Tag("workspace") == self.workspace) & (Num("created_at") >= since)
        if session_ids is not None:
            if not session_ids:
                raise InvalidInputError("session_ids must not be empty")
            f &= Tag("session_id") == session_ids
        elif not all_users:
            f &= Tag("user_id") == self.user_id
        return f

    def cache_query(self, f: FilterExpression, limit: int) -> FilterQuery:
        """A newest-first query over the cache index."""
        q = FilterQuery(filter_expression=f, return_fields=CACHE_FIELDS, num_results=limit)
        q.sort_by("created_at", asc=False)
        q.dialect(SORTED_DIALECT)
        return q

    @guarded
    async def add_cache_entry(
        self,
        content: str,
        *,
        session_id: str | None = None,
        tags: list[str] | None = None,
        importance: float = 0.5,
        ttl_seconds: int = 86400,
        metadata: dict[str, Any] | None = None,
    ) -> CacheEntry:
        """Add a short-lived note to the cache layer.

        Args:
            content: The note.
            session_id: The session it belongs to, if any.
            tags: Tags for filtering and for promotion to deep memory.
            importance: 0..1, kept with the entry.
            ttl_seconds: Lifetime of the note.
            metadata: JSON-serialisable data.

        Returns:
            The stored entry.
        """
        check_text("content", content)
        if session_id is not None:
            check_id("session_id", session_id)
        tags = check_tags(tags)
        if not isinstance(importance, int | float) or not 0 <= importance <= 1:
            raise InvalidInputError(f"importance must be between 0 and 1, got {importance!r}")
        check_positive("ttl_seconds", ttl_seconds)
        metadata = check_metadata(metadata)
        now = time.time()
        entry_id = uuid.uuid4().hex
        doc = {
            "entry_id": entry_id,
            "kind": "note",
            "workspace": self.workspace,
            "user_id": self.user_id,
            "session_id": session_id or "",
            "role": "",
            "content": content,
            "metadata": json.dumps(metadata, ensure_ascii=False),
            "tags": TAG_SEPARATOR.join(tags),
            "importance": repr(float(importance)),
            "created_at": repr(now),
            "created": repr(now),
            "expires_at": repr(now + ttl_seconds),
        }
        st = await self._backend.state()
        await st.cache_index.load(
            [doc], keys=[self._keys.cache_entry(entry_id, session_id)], ttl=ttl_seconds
        )
        return decode_entry(doc)

    @guarded
    async def get_cache_memory(
        self,
        session_id: str | None = None,
        time_window_hours: float = 24,
        *,
        group_id: str | None = None,
        limit: int = 100,
    ) -> list[CacheEntry]:
        """Recent activity, newest first.

        Args:
            session_id: One session; ``None`` for all of the caller's sessions.
            time_window_hours: How far back to look.
            group_id: Read across every session of this group instead.
            limit: At most this many entries.

        Returns:
            The entries in the window.
        """
        check_positive("limit", limit)
        sessions: list[str] | None = None
        if session_id is not None:
            sessions = [check_id("session_id", session_id)]
        if group_id is not None:
            group = await self._load_group(group_id)
            sessions = sorted(set(sessions or []) | set(group.session_ids))
            if not sessions:
                return []
        st = await self._backend.state()
        docs = await st.cache_index.query(
            self.cache_query(self.cache_filter(sessions, time_window_hours), limit)
        )
        return decode_entries(docs, self.workspace)

    async def _load_group(self, group_id: str) -> Any:
        from tta_memory.groups import fetch_group

        return await fetch_group(self._backend, self._keys, group_id)

    @guarded
    async def promote_cache_entry(
        self, entry_id: str, *, tags: list[str] | None = None, memory_type: str | None = None
    ) -> DeepMemory:
        """Copy a cache entry into deep memory (its tags, session and metadata come along).

        Args:
            entry_id: The cache entry.
            tags: Tags for the memory (default: the entry's tags).
            memory_type: Memory type (default ``observation``).

        Returns:
            The deep memory.
        """
        check_id("entry_id", entry_id)
        st = await self._backend.state()
        f = (Tag("workspace") == self.workspace) & (Tag("entry_id") == entry_id)
        docs = await st.cache_index.query(self.cache_query(f, 1))
        entries = decode_entries(docs, self.workspace)
        if not entries:
            raise NotFoundError(f"no cache entry {entry_id!r} (it may have expired)")
        entry = entries[0]
        return await self.create_deep_memory(  # type: ignore[attr-defined]
            entry.content,
            tags=entry.tags if tags is None else tags,
            metadata={**entry.metadata, "promoted_from": entry.id},
            memory_type=memory_type or "observation",
            session_id=entry.session_id,
        )

    async def _drop_session_cache(self, session_id: str) -> None:
        st = await self._backend.state()
        f = (Tag("workspace") == self.workspace) & (Tag("session_id") == session_id)
        q = FilterQuery(filter_expression=f, return_fields=["entry_id"], num_results=10_000)
        docs = await st.cache_index.query(q)
        if docs:
            await st.client.delete(*[d["id"] for d in docs])
