"""``MemoryWorkflowPrimitive``: the guide's flat API over the sibling stores, and stage-aware
loading. Every method is an explicit delegation; the stores are also reachable directly as
``memory.sessions``, ``.cache``, ``.deep``, ``.pafs`` and ``.groups``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from tta_memory import crosslayer
from tta_memory.backend import guarded
from tta_memory.base import ScopedPrimitive
from tta_memory.literals import SearchMode
from tta_memory.loading.loader import ContextLoader
from tta_memory.loading.policy import DEFAULT_POLICY, StagePolicy
from tta_memory.models import (
    PAF,
    CacheEntry,
    DeepMemory,
    LoadedContext,
    SessionMessage,
    WorkflowContext,
    WorkflowMode,
)
from tta_memory.observability import instrument
from tta_memory.paf import PAFPrimitive
from tta_memory.stores.cache import CacheStore
from tta_memory.stores.deep import DeepStore
from tta_memory.stores.groups import GroupStore
from tta_memory.stores.pafs import PAFStore
from tta_memory.stores.sessions import SessionStore
from tta_memory.sync import SyncProxy

if TYPE_CHECKING:
    from tta_memory.sync_api import SyncMemoryWorkflowPrimitive


@instrument
class MemoryWorkflowPrimitive(ScopedPrimitive):
    """The layered memory of one user in one workspace.

    Args:
        redis_url: Redis URL, or ``None`` for ``TTA_MEMORY_REDIS_URL`` / ``REDIS_URL`` or the
            embedded server.
        user_id: The actor, recorded as author of everything written.
        workspace: The tenant (default ``"default"``).
        vectorizer: Embedding model; ``None`` for the offline all-MiniLM-L6-v2.
        settings: Engine settings.

    Attributes:
        sessions: The session layer (:class:`~tta_memory.stores.sessions.SessionStore`).
        cache: The cache layer (:class:`~tta_memory.stores.cache.CacheStore`).
        deep: Deep memory (:class:`~tta_memory.stores.deep.DeepStore`).
        pafs: PAFs (:class:`~tta_memory.stores.pafs.PAFStore`).
        groups: Session groups (:class:`~tta_memory.stores.groups.GroupStore`).
        policy: The stage/mode policy table ``load_workflow_context`` reads.

    Example:
        >>> memory = MemoryWorkflowPrimitive(user_id="dev-alice")
        >>> await memory.add_session_message("s1", "user", "Implement JWT auth")
    """

    def __init__(self, redis_url: str | None = None, user_id: str = "default", **kwargs: Any):
        super().__init__(redis_url, user_id, **kwargs)
        ctx = self._ctx
        self.sessions = SessionStore(ctx)
        self.cache = CacheStore(ctx)
        self.deep = DeepStore(ctx)
        self.pafs = PAFStore(ctx)
        self.groups = GroupStore(ctx)
        self.policy: dict[tuple[str, str], StagePolicy] = dict(DEFAULT_POLICY)
        self._loader = ContextLoader(
            ctx, self.sessions, self.cache, self.deep, self.pafs, self.groups
        )

    @cached_property
    def sync(self) -> SyncMemoryWorkflowPrimitive:
        """Blocking twins of every coroutine method, usable inside a running loop too."""
        return cast("SyncMemoryWorkflowPrimitive", SyncProxy(self))

    @cached_property
    def paf_primitive(self) -> PAFPrimitive:
        """The guide's PAF API on the same engine context (workspace, user, connections)."""
        return PAFPrimitive(context=self._ctx)

    # --- layer 1: session ---------------------------------------------------------------

    @guarded
    async def add_session_message(
        self,
        session_id: str,
        role: str,
        content: str,
        metadata: dict[str, Any] | None = None,
        ttl_seconds: int | None = None,
    ) -> SessionMessage:
        """Append a message to a session (layer 1) and to the cache layer.

        Args:
            session_id: The session.
            role: ``user``, ``assistant``, ``system`` or ``tool``.
            content: Non-empty text (up to 1,000,000 characters).
            metadata: JSON-serialisable data kept with the message, returned exactly.
            ttl_seconds: Optional retention of the whole session, renewed by each write.

        Returns:
            The stored message with its sequence number.
        """
        return await self.sessions.add(session_id, role, content, metadata, ttl_seconds)

    @guarded
    async def add_session_messages(
        self,
        session_id: str,
        messages: Iterable[Mapping[str, Any]],
        ttl_seconds: int | None = None,
        *,
        archived: bool = False,
    ) -> list[SessionMessage]:
        """Append several messages (dicts of ``role``, ``content``, ``metadata``) atomically,
        in order, in one round trip; ``archived=True`` appends to the archive instead."""
        return await self.sessions.add_many(session_id, messages, ttl_seconds, archived=archived)

    @guarded
    async def get_session_context(
        self, session_id: str, limit: int | None = 50, *, archived: bool = False
    ) -> list[SessionMessage]:
        """The latest ``limit`` messages of a session (``None``: all), oldest first."""
        return await self.sessions.get(session_id, limit, archived=archived)

    @guarded
    async def count_session_messages(self, session_id: str, *, archived: bool = False) -> int:
        """How many active (or archived) messages the session holds."""
        return await self.sessions.count(session_id, archived=archived)

    @guarded
    async def delete_session_message(
        self, session_id: str, *, message_id: str | None = None, position: int | None = None
    ) -> SessionMessage:
        """Delete one active message (and its cache copy) by id or 0-based position.

        Raises:
            NotFoundError: No such message or position.
        """
        return await crosslayer.delete_session_message(
            self.sessions, self.cache, session_id, message_id=message_id, position=position
        )

    @guarded
    async def archive_session_messages(self, session_id: str, n: int) -> list[SessionMessage]:
        """Move the ``n`` oldest active messages to the session's archive, atomically."""
        return await self.sessions.pop_oldest(session_id, n, archive=True)

    @guarded
    async def trim_session_messages(self, session_id: str, n: int) -> list[SessionMessage]:
        """Delete the ``n`` oldest active messages (and their cache entries) atomically."""
        return await crosslayer.trim_session_messages(self.sessions, self.cache, session_id, n)

    @guarded
    async def replace_session_messages(
        self, session_id: str, messages: Iterable[Mapping[str, Any]], *, archived: bool = False
    ) -> list[SessionMessage]:
        """Replace the active (or archived) messages of a session atomically."""
        return await self.sessions.replace(session_id, messages, archived=archived)

    @guarded
    async def clear_session(self, session_id: str) -> int:
        """Delete every message of a session and its cache entries; return how many messages."""
        return await crosslayer.clear_session(self.sessions, self.cache, session_id)

    @guarded
    async def list_sessions(self, limit: int | None = 1000) -> list[str]:
        """Sessions of this workspace, most recently active first (``limit=None``: all)."""
        return await self.sessions.list_sessions(limit)

    # --- layer 2: cache -----------------------------------------------------------------

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
        """Add a short-lived note (0..1 ``importance``, ``ttl_seconds`` lifetime) to the cache."""
        return await self.cache.add_note(
            content,
            session_id=session_id,
            tags=tags,
            importance=importance,
            ttl_seconds=ttl_seconds,
            metadata=metadata,
        )

    @guarded
    async def get_cache_memory(
        self,
        session_id: str | None = None,
        time_window_hours: float = 24,
        *,
        group_id: str | None = None,
        limit: int = 100,
    ) -> list[CacheEntry]:
        """Recent activity, newest first: of one session, of a group's sessions, or (neither)
        of all the caller's sessions, within ``time_window_hours``."""
        return await crosslayer.cache_memory(
            self.cache, self.groups, session_id, time_window_hours, group_id, limit
        )

    @guarded
    async def promote_cache_entry(
        self, entry_id: str, *, tags: list[str] | None = None, memory_type: str | None = None
    ) -> DeepMemory:
        """Copy a cache entry into deep memory (its tags, session and metadata come along)."""
        return await crosslayer.promote_cache_entry(
            self.cache, self.deep, entry_id, tags=tags, memory_type=memory_type
        )

    # --- layer 3: deep ------------------------------------------------------------------

    @guarded
    async def create_deep_memory(
        self,
        text: str,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        memory_type: str | None = None,
        session_id: str | None = None,
        private: bool = False,
        event_time: datetime | None = None,
    ) -> DeepMemory:
        """Store a long-term memory. Storing the same text again returns the existing memory.

        Args:
            text: The memory.
            tags: Tags for filtering.
            metadata: JSON-serialisable data (``metadata["session_id"]`` fills ``session_id``,
                ``metadata["category"]`` fills ``memory_type`` when they are not given).
            memory_type: observation, pattern, decision, bug-resolution, …
            session_id: The session it came from.
            private: Visible to its author only.
            event_time: When the remembered event happened.
        """
        item = {
            "text": text,
            "tags": tags,
            "metadata": metadata,
            "memory_type": memory_type,
            "session_id": session_id,
            "private": private,
            "event_time": event_time,
        }
        return (await self.deep.create_many([item]))[0]

    @guarded
    async def create_deep_memories(
        self, items: Iterable[Mapping[str, Any]], *, batch_size: int = 256
    ) -> list[DeepMemory]:
        """Store many memories (dicts of :meth:`create_deep_memory`'s arguments): batched
        embedding and pipelined writes. Returns them in input order."""
        return await self.deep.create_many(items, batch_size=batch_size)

    @guarded
    async def search_deep_memory(
        self,
        query: str = "",
        limit: int = 10,
        tags: list[str] | None = None,
        *,
        match_all_tags: bool = False,
        memory_type: str | list[str] | None = None,
        author: str | None = None,
        session_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        search_mode: SearchMode = "hybrid",
        include_superseded: bool = False,
        recency_half_life_days: float | None = None,
    ) -> list[DeepMemory]:
        """Search long-term memories, best first, each with its ``score``.

        Args:
            query: Natural-language query; empty lists everything, newest first.
            limit: At most this many results (1..1000).
            tags: Keep memories with any of these tags (all of them with ``match_all_tags``).
            match_all_tags: Require every tag.
            memory_type: One type or a list of types.
            author: Only memories written by this user.
            session_id: Only memories from this session.
            since: Created at or after.
            until: Created at or before.
            search_mode: ``hybrid`` (BM25 + vector, fused), ``vector`` or ``text``.
            include_superseded: Also return memories a newer one superseded (hygiene: the
                history; each carries ``superseded_by`` and ``valid_until``).
            recency_half_life_days: Weigh results down by age: a score halves per this many
                days between a result's event (else creation) time and the newest result's.
        """
        return await self.deep.search(
            query,
            limit,
            tags,
            match_all_tags=match_all_tags,
            memory_type=memory_type,
            author=author,
            session_id=session_id,
            since=since,
            until=until,
            search_mode=search_mode,
            include_superseded=include_superseded,
            recency_half_life_days=recency_half_life_days,
        )

    @guarded
    async def get_deep_memory(self, memory_id: str) -> DeepMemory:
        """Return one memory by id (``NotFoundError`` if absent or not visible)."""
        return await self.deep.get(memory_id)

    @guarded
    async def update_deep_memory(
        self,
        memory_id: str,
        *,
        text: str | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        memory_type: str | None = None,
    ) -> DeepMemory:
        """Change a memory; a new text is re-embedded, unspecified fields are kept."""
        return await self.deep.update(
            memory_id, text=text, tags=tags, metadata=metadata, memory_type=memory_type
        )

    @guarded
    async def delete_deep_memory(self, memory_id: str) -> None:
        """Delete a memory (``NotFoundError`` if absent or not visible)."""
        await self.deep.delete(memory_id)

    # --- layer 4: PAFs and stage-aware loading ------------------------------------------

    @guarded
    async def get_active_pafs(self, category: str | None = None) -> list[PAF]:
        """All active PAFs of the workspace (of one category if given), in full."""
        return await self.pafs.list_pafs(category, "active")

    @guarded
    async def load_context(
        self,
        context: WorkflowContext | Mapping[str, Any],
        stage: str = "understand",
        mode: WorkflowMode | str = WorkflowMode.STANDARD,
        *,
        query: str | None = None,
        policy: StagePolicy | Mapping[str, Any] | None = None,
    ) -> LoadedContext:
        """What :meth:`load_workflow_context` loads, as a typed :class:`LoadedContext`."""
        _, loaded = await self._loader.load(
            context, stage, mode, table=self.policy, query=query, policy=policy
        )
        return loaded

    @guarded
    async def load_workflow_context(
        self,
        context: WorkflowContext | Mapping[str, Any],
        stage: str = "understand",
        mode: WorkflowMode | str = WorkflowMode.STANDARD,
        *,
        query: str | None = None,
        policy: StagePolicy | Mapping[str, Any] | None = None,
    ) -> WorkflowContext:
        """Load what a workflow stage needs from every layer (independent reads sent together).

        Args:
            context: The workflow context (its ``session_id`` is the session to load).
            stage: understand, decompose, plan, implement, verify (``validate``), review
                (``reflect``).
            mode: RAPID (last 10 messages only), STANDARD or AUGSTER_RIGOROUS.
            query: Deep-search query; default: the latest user messages, then the context's
                feature/description and the group's description, then the workflow id.
            policy: Overrides of the policy cell (a :class:`StagePolicy` or a dict of fields).

        Returns:
            A new context whose ``metadata`` holds ``session_context``, ``cache_memory``,
            ``deep_memory``, ``pafs``, ``session_groups``, ``memories`` and ``memory_report``
            (filled from the :class:`LoadedContext`).
        """
        enriched, _ = await self._loader.load(
            context, stage, mode, table=self.policy, query=query, policy=policy
        )
        return enriched
