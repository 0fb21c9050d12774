"""``MemoryWorkflowPrimitive``: the four layers behind one object, and stage-aware loading."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Mapping
from functools import cached_property
from typing import Any, Self, TypeVar

from tta_memory.backend import guarded
from tta_memory.cache import decode_entries
from tta_memory.deep import DeepLayer
from tta_memory.errors import InvalidInputError
from tta_memory.groups import GROUP_FIELDS, _decode_row, decode_group, group_filter, group_query
from tta_memory.models import (
    PAF,
    CacheEntry,
    DeepMemory,
    LayerReport,
    LoadedItem,
    MemoryReport,
    SessionGroup,
    SessionMessage,
    WorkflowContext,
    WorkflowMode,
)
from tta_memory.names import Tag
from tta_memory.paf import PAFPrimitive, decode_pafs, filter_pafs
from tta_memory.policy import (
    DEFAULT_POLICY,
    StagePolicy,
    normalize_mode,
    normalize_stage,
    resolve_policy,
)
from tta_memory.session import decode_message
from tta_memory.validation import check_id, check_text

T = TypeVar("T")
QUERY_MESSAGES = 3
QUERY_CHARS = 1000
# The conversation-derived query is long; its BM25 part keeps the latest terms (the vector
# part reads it all): 24 OR'ed terms over 100k notes cost ~3x the time of 10.
CONTEXT_TERMS = 10


async def _timed(aw: Awaitable[T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = await aw
    return result, (time.perf_counter() - start) * 1000


class MemoryWorkflowPrimitive(DeepLayer):
    """The layered memory of one user in one workspace.

    Args:
        redis_url: Redis URL, or ``None`` for ``TTA_MEMORY_REDIS_URL`` / ``REDIS_URL`` or the
            embedded server.
        user_id: The actor, recorded as author of everything written.
        workspace: The tenant (default ``"default"``).
        vectorizer: Embedding model; ``None`` for the offline all-MiniLM-L6-v2.
        settings: Engine settings.

    Example:
        >>> memory = MemoryWorkflowPrimitive(user_id="dev-alice")
        >>> await memory.add_session_message("s1", "user", "Implement JWT auth")
    """

    def __init__(self, redis_url: str | None = None, user_id: str = "default", **kwargs: Any):
        super().__init__(redis_url, user_id, **kwargs)
        self.policy: dict[tuple[str, str], StagePolicy] = dict(DEFAULT_POLICY)

    @classmethod
    def resolve(
        cls,
        memory: Self | None = None,
        *,
        redis_url: str | None = None,
        user_id: str | None = None,
        workspace: str | None = None,
    ) -> Self:
        """Return ``memory`` if given, else a new engine for the given server and scope.

        The one way the LangChain and LlamaIndex adapters get hold of an engine: either the
        caller's instance (sharing its connections, workspace and user) or one built from
        ``redis_url``, ``user_id`` and ``workspace``, never a mix of both.

        Args:
            memory: An existing engine instance, or ``None`` to build one.
            redis_url: Redis URL; ``None`` lets the engine choose (``TTA_MEMORY_REDIS_URL``,
                ``REDIS_URL``, else its embedded server).
            user_id: The acting user; ``None`` keeps the engine's default.
            workspace: The tenant; ``None`` keeps the engine's default.

        Returns:
            ``memory``, or the new engine instance.

        Raises:
            InvalidInputError: ``memory`` is not an instance of this class, or is given
                together with ``redis_url``, ``user_id`` or ``workspace``.
        """
        if memory is not None:
            if not isinstance(memory, cls):
                raise InvalidInputError(
                    f"memory must be a {cls.__name__}, got {type(memory).__name__}"
                )
            if any(v is not None for v in (redis_url, user_id, workspace)):
                raise InvalidInputError(
                    "pass either memory= or redis_url/user_id/workspace, not both"
                )
            return memory
        kwargs: dict[str, Any] = {"redis_url": redis_url}
        if user_id is not None:
            kwargs["user_id"] = user_id
        if workspace is not None:
            kwargs["workspace"] = workspace
        return cls(**kwargs)

    @cached_property
    def paf_primitive(self) -> PAFPrimitive:
        """The PAF layer of the same workspace and user."""
        paf = PAFPrimitive(user_id=self.user_id, workspace=self.workspace, settings=self.settings)
        paf._backend = self._backend
        return paf

    @guarded
    async def get_active_pafs(self, category: str | None = None) -> list[PAF]:
        """All active PAFs of the workspace (of one category if given), in full."""
        return await self.paf_primitive.list_pafs(category=category, status="active")

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
            ``deep_memory``, ``pafs``, ``session_groups``, ``memories`` and ``memory_report``.
        """
        started = time.perf_counter()
        if isinstance(context, Mapping):
            context = WorkflowContext.model_validate(dict(context))
        if not isinstance(context, WorkflowContext):
            raise InvalidInputError(
                f"context must be a WorkflowContext, got {type(context).__name__}"
            )
        stage_name, mode_value = normalize_stage(stage), normalize_mode(mode)
        cell = resolve_policy(self.policy, stage_name, mode_value, policy)
        session_id = check_id("session_id", context.session_id)
        if query is not None:
            check_text("query", query, allow_empty=True)
        meta_group = context.metadata.get("group_id")
        if meta_group is not None:
            check_id("group_id", meta_group)
        st = await self._backend.state()
        k = self._keys
        report: dict[str, LayerReport] = {}

        # Round 1: session, PAFs and the context's group in one pipeline; the session's groups
        # and (outside group mode) the cache as concurrent index queries.
        async def direct() -> list[Any]:
            async with st.client.pipeline(transaction=False) as pipe:
                if cell.messages:
                    pipe.zrange(k.session_active(session_id), -cell.messages, -1, withscores=True)
                if cell.pafs:
                    pipe.hgetall(k.pafs())
                if cell.groups and meta_group:
                    pipe.hmget(k.group(meta_group), GROUP_FIELDS)
                return list(await pipe.execute())

        def cache_q(sessions: list[str] | None) -> Any:
            f = self.cache_filter(sessions, cell.cache_hours)
            f &= (Tag("session_id") != session_id) | (Tag("kind") == "note")
            return self.cache_query(f, 100)

        round1: list[Awaitable[Any]] = [_timed(direct())]
        if cell.groups:
            q = group_query(group_filter(self.workspace, session_id=session_id))
            round1.append(_timed(st.group_index.query(q)))
        elif cell.cache_hours:
            round1.append(_timed(st.cache_index.query(cache_q(None))))
        results = await asyncio.gather(*round1)
        (rows, direct_ms), rest = results[0], list(results[1:])

        messages: list[SessionMessage] = []
        pafs: list[PAF] = []
        groups: list[SessionGroup] = []
        cache: list[CacheEntry] = []
        pos = 0
        if cell.messages:
            messages = [decode_message(session_id, m, s) for m, s in rows[pos]]
            pos += 1
            report["session"] = LayerReport(count=len(messages), ms=direct_ms)
        if cell.pafs:
            pafs = filter_pafs(decode_pafs(rows[pos]), cell.paf_categories, "active")
            pos += 1
            report["paf"] = LayerReport(count=len(pafs), ms=direct_ms)
        if cell.groups:
            found, ms = rest.pop(0)
            groups = [decode_group(d) for d in found if d.get("workspace") == self.workspace]
            if meta_group:
                row = _decode_row(rows[pos])
                if (
                    row is not None
                    and row.get("workspace") == self.workspace
                    and all(g.id != meta_group for g in groups)
                ):
                    groups.insert(0, decode_group(row))
            report["groups"] = LayerReport(count=len(groups), ms=ms)
        elif cell.cache_hours:
            found, ms = rest.pop(0)
            cache = decode_entries(found, self.workspace)
            report["cache"] = LayerReport(count=len(cache), ms=ms)

        # Round 2: the deep search (and the cache across the group's sessions) together.
        search_text = self._deep_query_text(query, messages, context, groups)
        round2: list[Awaitable[Any]] = []
        if cell.groups and cell.cache_hours:
            sessions = sorted({session_id, *(s for g in groups for s in g.session_ids)})
            round2.append(_timed(st.cache_index.query(cache_q(sessions if groups else None))))
        if cell.deep_k:
            tags = sorted({t for g in groups for t in g.tags}) if cell.groups else []
            round2.append(_timed(self._deep_for_stage(search_text, cell.deep_k, tags)))
        results2 = list(await asyncio.gather(*round2))
        if cell.groups and cell.cache_hours:
            found, ms = results2.pop(0)
            cache = decode_entries(found, self.workspace)
            report["cache"] = LayerReport(count=len(cache), ms=ms)
        deep: list[DeepMemory] = []
        if cell.deep_k:
            deep, ms = results2.pop(0)
            report["deep"] = LayerReport(count=len(deep), ms=ms, query=search_text)

        items = (
            [
                LoadedItem(layer="paf", id=p.id, text=p.description, created_at=p.created_at)
                for p in pafs
            ]
            + [
                LoadedItem(
                    layer="deep", id=m.id, text=m.text, score=m.score, created_at=m.created_at
                )
                for m in deep
            ]
            + [
                LoadedItem(layer="cache", id=e.id, text=e.content, created_at=e.created_at)
                for e in cache
            ]
            + [
                LoadedItem(layer="session", id=m.id, text=m.content, created_at=m.created_at)
                for m in messages
            ]
        )
        memory_report = MemoryReport(
            stage=stage_name,
            mode=mode_value,
            query=search_text if cell.deep_k else None,
            total_ms=(time.perf_counter() - started) * 1000,
            layers=report,
        )
        return context.model_copy(
            update={
                "metadata": {
                    **context.metadata,
                    "stage": stage_name,
                    "mode": mode_value.value,
                    "session_context": messages,
                    "cache_memory": cache,
                    "deep_memory": deep,
                    "pafs": pafs,
                    "session_groups": groups,
                    "memories": items,
                    "memory_report": memory_report,
                }
            },
            deep=False,
        )

    @staticmethod
    def _deep_query_text(
        query: str | None,
        messages: list[SessionMessage],
        context: WorkflowContext,
        groups: list[SessionGroup],
    ) -> str:
        if query is not None:
            return query
        users = [m.content for m in messages if m.role == "user"][-QUERY_MESSAGES:]
        if users:
            return " ".join(users)[-QUERY_CHARS:]
        parts = [
            str(context.metadata[k])
            for k in ("feature", "description")
            if isinstance(context.metadata.get(k), str)
        ]
        parts += [g.description for g in groups if g.description]
        return " ".join(parts)[:QUERY_CHARS] or context.workflow_id

    async def _deep_for_stage(self, text: str, k: int, tags: list[str]) -> list[DeepMemory]:
        """Hybrid search focused on ``tags``, topped up from unfocused results if it finds < k."""
        found: list[DeepMemory] = []
        if tags:
            found = await self.ranked(
                text, k, self.deep_filter(tags), "hybrid", tags=tags, max_terms=CONTEXT_TERMS
            )
            if len(found) >= k:
                return found
        seen = {m.id for m in found}
        unfocused = self.ranked(text, k, self.deep_filter(), "hybrid", max_terms=CONTEXT_TERMS)
        for m in await unfocused:
            if len(found) >= k:
                break
            if m.id not in seen:
                found.append(m)
        return found
