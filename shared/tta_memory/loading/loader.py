"""The batched loader behind ``load_workflow_context``: what each stage needs, from every
layer, in as few round trips as the reads allow.

Round 1 sends the session, the PAFs, the context's group and the session's groups (or,
outside group mode, the cache) as one pipeline of the stores' read specs. Round 2 sends the
deep search with the cache read of the group's sessions in its rankings' pipeline; the PAFs
are validated while it is out. Round 3 reads the search's winners. Reads answer from what the
process read before where they can: the PAF list while its version token holds, cache rows by
key (a fourth round trip only for rows never read), items by what they show.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError
from redis.exceptions import ResponseError

from tta_memory.cluster import is_missing_index
from tta_memory.context import EngineContext, ReadSpec, run_specs
from tta_memory.errors import InvalidInputError
from tta_memory.literals import LAYERS
from tta_memory.loading.policy import StagePolicy, normalize_mode, normalize_stage, resolve_policy
from tta_memory.loading.query import CONTEXT_TERMS, QUERY_MESSAGES, context_query
from tta_memory.models import (
    PAF,
    CacheEntry,
    DeepMemory,
    LayerReport,
    LoadedContext,
    LoadedItem,
    MemoryReport,
    SessionGroup,
    SessionMessage,
    WorkflowContext,
    WorkflowMode,
)
from tta_memory.names import check_name
from tta_memory.stores.cache import CacheStore, Window
from tta_memory.stores.deep import DeepStore
from tta_memory.stores.deep.scope import DeepFilter
from tta_memory.stores.deep.search import Alongside, carrying
from tta_memory.stores.groups import GroupStore
from tta_memory.stores.pafs import PAFStore
from tta_memory.stores.sessions import MessageRows, SessionStore
from tta_memory.validation import check_text

T = TypeVar("T")


async def _timed(aw: Awaitable[T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = await aw
    return result, (time.perf_counter() - start) * 1000


# Items are validated as one list: ~370 per AUGSTER load took 0.55 ms one model at a time and
# 0.29 ms so (micro-benchmark, load ~5).
ITEM_LIST: TypeAdapter[list[LoadedItem]] = TypeAdapter(list[LoadedItem])

# The items of PAFs, cache entries and messages, by everything they hold: the same stored item
# is the same (immutable) LoadedItem in every load, so a load validates only what it has not
# seen. Building the items was 16 % of a 10k understand / AUGSTER load's client instructions
# (callgrind: 33.2 M per load with them, 28.0 M without); most are the same 200 PAFs and 100
# cache entries load after load. Deep memories carry their query's score: built each time.
_ITEMS: dict[tuple[Any, ...], LoadedItem] = {}
MAX_ITEMS = 20_000  # ~10 MB at the benchmark's items; cleared when full


def _items(layer: str, rows: list[tuple[str, str, Any]]) -> list[LoadedItem]:
    """The items of ``layer`` for (id, text, created_at) rows, from :data:`_ITEMS` or built."""
    keys = [(layer, *row) for row in rows]
    found = [_ITEMS.get(k) for k in keys]
    missing = [i for i, item in enumerate(found) if item is None]
    if missing:
        built = ITEM_LIST.validate_python(
            [
                {"layer": layer, "id": keys[i][1], "text": keys[i][2], "created_at": keys[i][3]}
                for i in missing
            ]
        )
        if len(_ITEMS) + len(built) > MAX_ITEMS:
            _ITEMS.clear()
        for i, item in zip(missing, built, strict=True):
            found[i] = _ITEMS[keys[i]] = item
    return found  # type: ignore[return-value]  # every None was filled


def _drop(task: asyncio.Future[Any] | None) -> None:
    """Cancel a helper task no longer wanted (retrieving its error if it already failed)."""
    if task is None:
        return
    if not task.done():
        task.cancel()
    elif not task.cancelled():
        task.exception()


def layer_items(layer: str, records: Sequence[Any]) -> list[LoadedItem]:
    """The items of one layer's records: PAFs, cache entries and messages from :data:`_ITEMS`
    (or built), deep memories built with their score."""
    if layer == "deep":
        return ITEM_LIST.validate_python(
            [
                {
                    "layer": "deep",
                    "id": m.id,
                    "text": m.text,
                    "score": m.score,
                    "created_at": m.created_at,
                }
                for m in records
            ]
        )
    if layer == "paf":
        return _items("paf", [(p.id, p.description, p.created_at) for p in records])
    return _items(layer, [(r.id, r.content, r.created_at) for r in records])


def in_layer_order(by_layer: Mapping[str, list[LoadedItem]]) -> list[LoadedItem]:
    """Every layer's items in the engine's order (:data:`LAYERS`)."""
    return [item for layer in LAYERS for item in by_layer[layer]]


def ordered_items(
    pafs: list[PAF], deep: list[DeepMemory], cache: list[CacheEntry], messages: list[SessionMessage]
) -> list[LoadedItem]:
    """Every loaded item tagged with its layer, in the engine's order (:data:`LAYERS`):
    PAFs by id, deep memories best first, cache newest first, session oldest first."""
    records: dict[str, Sequence[Any]] = {
        "paf": pafs,
        "deep": deep,
        "cache": cache,
        "session": messages,
    }
    return in_layer_order({layer: layer_items(layer, r) for layer, r in records.items()})


class ContextLoader:
    """Loads a stage's context from the stores of one engine context."""

    def __init__(
        self,
        ctx: EngineContext,
        sessions: SessionStore,
        cache: CacheStore,
        deep: DeepStore,
        pafs: PAFStore,
        groups: GroupStore,
    ) -> None:
        self._ctx = ctx
        self._sessions, self._cache, self._deep = sessions, cache, deep
        self._pafs, self._groups = pafs, groups

    async def load(
        self,
        context: WorkflowContext | Mapping[str, Any],
        stage: str,
        mode: WorkflowMode | str,
        *,
        table: Mapping[tuple[str, str], StagePolicy],
        query: str | None = None,
        policy: StagePolicy | Mapping[str, Any] | None = None,
    ) -> tuple[WorkflowContext, LoadedContext]:
        """Load what ``stage`` needs under ``mode`` (see ``load_workflow_context``)."""
        started = time.perf_counter()
        if isinstance(context, Mapping):
            try:
                context = WorkflowContext.model_validate(dict(context))
            except ValidationError as exc:
                raise InvalidInputError(f"invalid workflow context: {exc}") from exc
        if not isinstance(context, WorkflowContext):
            raise InvalidInputError(
                f"context must be a WorkflowContext, got {type(context).__name__}"
            )
        stage_name, mode_value = normalize_stage(stage), normalize_mode(mode)
        cell = resolve_policy(table, stage_name, mode_value, policy)
        session_id = check_name("session_id", context.session_id)
        if query is not None:
            check_text("query", query, allow_empty=True)
        meta_group = context.metadata.get("group_id")
        if meta_group is not None:
            check_name("group_id", meta_group)
        report: dict[str, LayerReport] = {}

        # Round 1: one pipeline of the stores' read specs, the session's groups (or, outside
        # group mode, the cache) included.
        specs: list[ReadSpec[Any]] = []
        if cell.messages:
            specs.append(self._sessions.recent_rows_spec(session_id, cell.messages))
        if cell.pafs:
            specs.append(self._pafs.list_spec(cell.paf_categories, "active"))
        if cell.groups and meta_group:
            specs.append(self._groups.get_spec(meta_group))
        if cell.deep_k:  # how many superseded memories deep search hides (hygiene.py)
            specs.append(self._deep.superseded_spec())
        indexed: Callable[[], Awaitable[Any]] | None = None
        if cell.groups:
            specs.append(self._groups.of_session_spec(session_id))
            indexed = partial(self._groups.of_session, session_id)
        elif cell.cache_hours:
            specs.append(self._cache_spec(None, cell, session_id))
            indexed = partial(self._cache_window, None, cell, session_id)
        replies, direct_ms = await _timed(self._round1(specs, indexed))
        replies = list(replies)

        rows: MessageRows | None = replies.pop(0) if cell.messages else None
        if rows is not None:
            report["session"] = LayerReport(count=len(rows), ms=direct_ms)
        paf_fields: list[Mapping[str, Any]] = replies.pop(0) if cell.pafs else []
        if cell.pafs:
            report["paf"] = LayerReport(count=len(paf_fields), ms=direct_ms)
        groups: list[SessionGroup] = []
        cache: list[CacheEntry] = []
        if cell.groups:
            named = replies.pop(0) if meta_group else None
            superseded: int = replies.pop(0) if cell.deep_k else 0
            groups = replies.pop(0)
            if named is not None and all(g.id != named.id for g in groups):
                groups.insert(0, named)
            report["groups"] = LayerReport(count=len(groups), ms=direct_ms)
        else:
            superseded = replies.pop(0) if cell.deep_k else 0
            if cell.cache_hours:
                window = replies.pop(0)
                cache, ms = await _timed(self._cache.finish(window))
                report["cache"] = LayerReport(count=len(cache), ms=direct_ms + ms)

        # Round 2: the deep search (and the cache across the group's sessions) together.
        search_text = query
        if search_text is None:
            search_text = context_query(
                rows.latest("user", QUERY_MESSAGES) if rows is not None else [],
                context.metadata,
                [g.description for g in groups],
                context.workflow_id,
            )
        group_cache = bool(cell.groups and cell.cache_hours)
        along: Alongside | None = None
        if group_cache:
            sessions = sorted({session_id, *(s for g in groups for s in g.session_ids)})
            cache_sessions = sessions if groups else None
            along = Alongside(self._cache_spec(cache_sessions, cell, session_id))
        deep: list[DeepMemory] = []
        finishing: asyncio.Future[tuple[list[CacheEntry], list[LoadedItem], float]] | None = None
        if cell.deep_k:
            tags = sorted({t for g in groups for t in g.tags}) if cell.groups else []
            searching = asyncio.ensure_future(
                _timed(
                    self._deep_for_stage(
                        search_text, cell.deep_k, tags, cell.recency_half_life_days, along
                    )
                )
            )
            if along is not None:
                # The cache's rows are read as soon as its window lands, while the search reads
                # its winners (round 3).
                finishing = asyncio.ensure_future(self._finish_landed(along))
            try:
                # The search sends its rankings at its first step; the messages are decoded and
                # the PAFs validated while Redis runs them (200 PAFs: ~1 ms of a 10k load's
                # client time, see benchmarks/README "session 5"; 50 messages ~0.5 ms).
                await asyncio.sleep(0)
                messages, pafs, items = self._decoded(rows, paf_fields)
            except BaseException:
                searching.cancel()
                _drop(finishing)
                raise
            try:
                deep, ms = await searching
            except BaseException:
                _drop(finishing)
                raise
            report["deep"] = LayerReport(count=len(deep), ms=ms, query=search_text)
        else:
            messages, pafs, items = self._decoded(rows, paf_fields)
        if along is not None:
            if along.done and finishing is not None:  # its read rode in the search's round trip
                cache, items["cache"], finish_ms = await finishing
                ms = report["deep"].ms + finish_ms
            else:  # no ranking was sent, or a lost index failed the pipeline
                _drop(finishing)
                cache, ms = await _timed(self._cache_for(cache_sessions, cell, session_id))
            report["cache"] = LayerReport(count=len(cache), ms=ms)

        # The items of PAFs and messages were built while round 2 was out, the cache's while
        # round 3 was (see _finish_landed); the rest are built here.
        items["deep"] = layer_items("deep", deep)
        if "cache" not in items:
            items["cache"] = layer_items("cache", cache)
        loaded = LoadedContext(
            stage=stage_name,
            mode=mode_value,
            query=search_text if cell.deep_k else None,
            session_context=messages,
            cache_memory=cache,
            deep_memory=deep,
            pafs=pafs,
            session_groups=groups,
            items=in_layer_order(items),
            report=MemoryReport(
                stage=stage_name,
                mode=mode_value,
                query=search_text if cell.deep_k else None,
                total_ms=(time.perf_counter() - started) * 1000,
                layers=report,
                superseded_hidden=superseded,
            ),
        )
        enriched = context.model_copy(
            update={"metadata": {**context.metadata, **loaded.metadata()}}, deep=False
        )
        return enriched, loaded

    def _decoded(
        self, rows: MessageRows | None, paf_fields: list[Mapping[str, Any]]
    ) -> tuple[list[SessionMessage], list[PAF], dict[str, list[LoadedItem]]]:
        """Round 1's messages and PAFs decoded, with their items (by layer)."""
        messages = rows.decode() if rows is not None else []
        pafs = self._pafs.pafs_of(paf_fields)
        items = {"paf": layer_items("paf", pafs), "session": layer_items("session", messages)}
        return messages, pafs, items

    async def _finish_landed(
        self, along: Alongside
    ) -> tuple[list[CacheEntry], list[LoadedItem], float]:
        """The entries of the cache window riding with the deep search, once it has landed,
        and their items."""
        await along.landed.wait()
        cache, ms = await _timed(self._cache.finish(along.result))
        return cache, layer_items("cache", cache), ms

    async def _round1(
        self, specs: list[ReadSpec[Any]], indexed: Callable[[], Awaitable[Any]] | None
    ) -> list[Any]:
        """Round 1 in one pipeline. A server that lost an index fails it: the index query (the
        last spec) is then sent on its own through its store, which re-creates the index."""
        try:
            return await run_specs(self._ctx, specs)
        except ResponseError as exc:
            if indexed is None or not is_missing_index(exc):
                raise
        return [*await run_specs(self._ctx, specs[:-1]), await indexed()]

    def _cache_spec(
        self, sessions: list[str] | None, cell: StagePolicy, session_id: str
    ) -> ReadSpec[Window]:
        return self._cache.recent_spec(
            sessions, cell.cache_hours, limit=100, exclude_messages_of=session_id
        )

    def _cache_window(
        self, sessions: list[str] | None, cell: StagePolicy, session_id: str
    ) -> Awaitable[Window]:
        return self._cache.window(
            sessions, cell.cache_hours, limit=100, exclude_messages_of=session_id
        )

    async def _cache_for(
        self, sessions: list[str] | None, cell: StagePolicy, session_id: str
    ) -> list[CacheEntry]:
        return await self._cache.finish(await self._cache_window(sessions, cell, session_id))

    async def _deep_for_stage(
        self,
        text: str,
        k: int,
        tags: list[str],
        half_life: float | None = None,
        along: Alongside | None = None,
    ) -> list[DeepMemory]:
        """Hybrid search focused on ``tags``, topped up from unfocused results if it finds < k.

        ``along`` (the cache read) rides in the first search's rankings pipeline.
        """
        deep = self._deep

        async def search(f: DeepFilter) -> list[DeepMemory]:
            opts: dict[str, Any] = {"max_terms": CONTEXT_TERMS, "recency_half_life_days": half_life}
            if along is None or along.spec is None:
                return await deep.ranked(text, k, f, **opts)
            with carrying(along):
                return await deep.ranked(text, k, f, **opts)

        found: list[DeepMemory] = []
        if tags:
            found = await search(deep.where(tags))
            if len(found) >= k:
                return found
        seen = {m.id for m in found}
        unfocused = search(deep.where())
        for m in await unfocused:
            if len(found) >= k:
                break
            if m.id not in seen:
                found.append(m)
        return found
