"""Operations that span layers, written once above the sibling stores.

The stores never import one another; what needs two of them (a cache entry promoted into deep
memory, a session cleared with its cache entries, a group read with its sessions) lives here,
used by the facades (:class:`~tta_memory.MemoryWorkflowPrimitive`,
:class:`~tta_memory.SessionGroupPrimitive`).
"""

from __future__ import annotations

from tta_memory.context import EngineContext, run_specs
from tta_memory.errors import NotFoundError
from tta_memory.models import CacheEntry, DeepMemory, GroupSummary, SessionMessage
from tta_memory.names import check_name
from tta_memory.stores.cache import CacheStore
from tta_memory.stores.deep import DeepStore
from tta_memory.stores.groups import GroupStore
from tta_memory.stores.sessions import SessionStore
from tta_memory.validation import check_positive


async def promote_cache_entry(
    cache: CacheStore,
    deep: DeepStore,
    entry_id: str,
    *,
    tags: list[str] | None = None,
    memory_type: str | None = None,
) -> DeepMemory:
    """Copy a cache entry into deep memory (its tags, session and metadata come along)."""
    entry = await cache.get(entry_id)
    if entry is None:
        raise NotFoundError(f"no cache entry {entry_id!r} (it may have expired)")
    item = {
        "text": entry.content,
        "tags": entry.tags if tags is None else tags,
        "metadata": {**entry.metadata, "promoted_from": entry.id},
        "memory_type": memory_type or "observation",
        "session_id": entry.session_id,
    }
    return (await deep.create_many([item]))[0]


async def clear_session(sessions: SessionStore, cache: CacheStore, session_id: str) -> int:
    """Delete every message of a session and its cache entries; return the message count."""
    count = await sessions.clear(session_id)
    await cache.drop_session(session_id)
    return count


async def delete_session_message(
    sessions: SessionStore,
    cache: CacheStore,
    session_id: str,
    *,
    message_id: str | None = None,
    position: int | None = None,
) -> SessionMessage:
    """Delete one message and its cache copy (a deleted message is no recent activity)."""
    message = await sessions.delete(session_id, message_id=message_id, position=position)
    await cache.delete_messages(session_id, [message.id])
    return message


async def trim_session_messages(
    sessions: SessionStore, cache: CacheStore, session_id: str, n: int
) -> list[SessionMessage]:
    """Delete the ``n`` oldest active messages and their cache copies."""
    removed = await sessions.pop_oldest(session_id, n, archive=False)
    await cache.delete_messages(session_id, [m.id for m in removed])
    return removed


async def cache_memory(
    cache: CacheStore,
    groups: GroupStore,
    session_id: str | None,
    time_window_hours: float,
    group_id: str | None,
    limit: int,
) -> list[CacheEntry]:
    """Recent activity of a session, a group's sessions, or the caller (newest first)."""
    check_positive("limit", limit)
    sessions: list[str] | None = None
    if session_id is not None:
        sessions = [check_name("session_id", session_id)]
    if group_id is not None:
        group = await groups.get(group_id)
        sessions = sorted(set(sessions or []) | set(group.session_ids))
        if not sessions:
            return []
    return await cache.recent(sessions, time_window_hours, limit=limit)


async def group_summary(
    ctx: EngineContext, groups: GroupStore, sessions: SessionStore, group_id: str
) -> GroupSummary:
    """A group with the message count of each of its sessions."""
    group = await groups.get(group_id)
    [per] = await run_specs(ctx, [sessions.counts_spec(group.session_ids)])
    return GroupSummary(**group.model_dump(), message_counts=per, total_messages=sum(per.values()))


async def grouped_context(
    ctx: EngineContext,
    groups: GroupStore,
    sessions: SessionStore,
    group_id: str,
    max_messages_per_session: int,
) -> dict[str, list[SessionMessage]]:
    """The latest messages of every session of a group (one round trip for all sessions)."""
    n = check_positive("max_messages_per_session", max_messages_per_session)
    group = await groups.get(group_id)
    if not group.session_ids:
        return {}
    [found] = await run_specs(ctx, [sessions.recent_many_spec(group.session_ids, n)])
    return dict(found)
