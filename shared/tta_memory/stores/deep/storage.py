"""Deep-memory storage: create (with content-hash dedup), read, update, delete, and the
per-workspace counters the search planner reads."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from redisvl.query import FilterQuery

from tta_memory import contextual, hygiene, progress, vectors
from tta_memory.context import Store
from tta_memory.errors import InvalidInputError, NotFoundError
from tta_memory.models import DeepMemory
from tta_memory.names import Tag, check_name, check_tags
from tta_memory.schema import QUERY_DIALECT, TAG_SEPARATOR
from tta_memory.stores.deep.coalesce import coalescer_for
from tta_memory.stores.deep.dedup import CreatePlan, plan_create
from tta_memory.stores.deep.records import (
    DEEP_FIELDS,
    content_hash,
    decode_memory,
    decode_row,
    scope_of,
)
from tta_memory.validation import check_datetime, check_metadata, check_positive, check_text

EXPORT_PAGE = 500


@dataclass
class ContextWrites:
    """What contextual indexing and hygiene write beside a batch of new memories, in its
    ``MULTI``: field updates of older memories, and how many memories became hidden."""

    fields: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    superseded: int = 0


_ITEM_FIELDS = {"text", "tags", "metadata", "memory_type", "session_id", "private", "event_time"}


class DeepStorage(Store):
    """Create, read, update and delete the deep memories of one workspace."""

    def encode(self, item: Mapping[str, Any], now: float) -> dict[str, Any]:
        """Validate one create request and return its hash fields (without id and embedding)."""
        ctx = self._ctx
        text = check_text("text", item.get("text"))
        metadata = check_metadata(item.get("metadata"))
        session_id = item.get("session_id")
        if session_id is None and isinstance(metadata.get("session_id"), str):
            session_id = metadata["session_id"]
        if session_id is not None:
            check_name("session_id", session_id)
        memory_type = item.get("memory_type")
        if memory_type is None:
            category = metadata.get("category")
            memory_type = category if isinstance(category, str) and category else "observation"
        check_name("memory_type", memory_type)
        private = item.get("private", False)
        if not isinstance(private, bool):
            raise InvalidInputError(f"private must be a bool, got {private!r}")
        event_time = check_datetime("event_time", item.get("event_time"))
        unknown = set(item) - _ITEM_FIELDS
        if unknown:
            raise InvalidInputError(f"unknown field(s) {sorted(unknown)} in a memory")
        doc = {
            "workspace": ctx.workspace,
            "author": ctx.user_id,
            "visibility": "private" if private else "shared",
            "session_id": session_id or "",
            "memory_type": memory_type,
            "tags": TAG_SEPARATOR.join(check_tags(item.get("tags"))),
            "text": text,
            # What BM25 searches; contextual indexing appends the memory's context at create.
            "search_text": text,
            "metadata": json.dumps(metadata, ensure_ascii=False),
            "created_at": repr(now),
            "created": repr(now),
            "updated_at": repr(now),
            "updated": repr(now),
            "content_hash": content_hash(ctx.workspace, text),
        }
        if event_time is not None:
            doc["event_time"] = doc["event"] = repr(event_time.timestamp())
        doc["valid_from"] = doc.get("event", doc["created"])
        return doc

    async def create_many(
        self, items: Iterable[Mapping[str, Any]], *, batch_size: int = 256
    ) -> list[DeepMemory]:
        """Store many memories: batched embedding and pipelined writes, in input order."""
        check_positive("batch_size", batch_size)
        if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
            raise InvalidInputError(f"items must be a list of dicts, got {type(items).__name__}")
        now = time.time()
        docs = []
        for item in items:
            if not isinstance(item, Mapping):
                raise InvalidInputError(f"each item must be a dict, got {type(item).__name__}")
            docs.append(self.encode(item, now))
        if len(docs) == 1 and self._ctx.settings.coalesce_writes:
            # One memory per call (agents, chat stores): written together with the other
            # single creates in flight, each caller getting its own result or error.
            return [await coalescer_for(self).create(self, docs[0])]
        out: list[DeepMemory] = []
        # A bar on a terminal when the work spans batches (2,000 texts take ~1 min on 2 cores).
        with progress.bar("creating deep memories", len(docs), when=len(docs) > batch_size) as step:
            for start in range(0, len(docs), batch_size):
                batch = docs[start : start + batch_size]
                out += await self._create_batch(batch)
                step(len(batch))
        return out

    async def _create_batch(
        self, docs: list[dict[str, Any]], known: Mapping[str, bytes] | None = None
    ) -> list[DeepMemory]:
        """Create ``docs`` (vectors of ``known`` texts are not computed again)."""
        ctx = self._ctx
        plan = await self._plan(docs)
        payload: list[dict[str, Any]] = []
        if plan.new:
            texts = plan.texts
            if known and all(t in known for t in texts):
                own = [known[t] for t in texts]
            else:
                own = await ctx.embedder.embed_many(texts, None)
            payload = plan.payload(own)
            extra = await self._index_in_context(payload, own)
            await self._write_all(payload, extra)
        return plan.results(payload)

    async def _plan(self, docs: list[dict[str, Any]]) -> CreatePlan:
        """Which of ``docs`` are stored already, and the new ones' ids (:mod:`.dedup`)."""
        ctx = self._ctx
        index = await ctx.backend.deep_index(ctx.embedder, ctx.keys.partition)
        client = await ctx.client()
        return await plan_create(index, client, ctx.workspace, ctx.keys.deep, docs)

    async def _write_all(
        self, payload: Sequence[Mapping[str, Any]], extra: ContextWrites | None = None
    ) -> None:
        """Write a batch of new memories, their counts and the contextual/hygiene updates of
        older memories (``extra``) in one ``MULTI``/``EXEC``: all or nothing.
        Redis refuses a transaction as a whole at its memory limit (measured before: a
        pipelined batch of 30 x 20 KB stored 8 of 30 with the counters not updated)."""
        client = await self._ctx.client()
        async with client.pipeline(transaction=True) as pipe:
            self._queue_writes(pipe, payload, extra)
            await pipe.execute()

    def _queue_writes(
        self, pipe: Any, payload: Sequence[Mapping[str, Any]], extra: ContextWrites | None = None
    ) -> None:
        """Queue the commands of :meth:`_write_all` into ``pipe`` (a ``MULTI`` of the
        workspace's partition, maybe shared with other workspaces of that partition)."""
        ctx = self._ctx
        dtype = ctx.backend.vector_dtype
        for p in payload:
            # The embedder's float32 bytes (or a list of floats), stored as the index's type.
            stored = {f: vectors.encode(p[f], dtype) for f in vectors.FIELDS if f in p}
            pipe.hset(ctx.keys.deep(p["memory_id"]), mapping={**p, **stored})
        if extra is not None:
            for target, mapping in extra.fields:
                pipe.hset(target, mapping=dict(mapping))
            if extra.superseded:
                pipe.hincrby(ctx.keys.deep_stats(), "superseded", extra.superseded)
        self._queue_counts(pipe, payload, +1)

    def _queue_counts(self, pipe: Any, docs: Sequence[Mapping[str, Any]], sign: int) -> None:
        stats = self._ctx.keys.deep_stats()
        pipe.hincrby(stats, "n", sign * len(docs))
        pipe.hincrby(self._ctx.keys.deep_total(), "n", sign * len(docs))
        for doc in docs:
            tags = doc.get("tags") or ""
            for tag in tags.split(TAG_SEPARATOR) if tags else []:
                pipe.hincrby(stats, f"t:{tag}", sign)

    async def _index_in_context(
        self, payload: list[dict[str, Any]], own: list[bytes]
    ) -> ContextWrites:
        """Contextual indexing and hygiene of new memories (payload edited in place).

        Returns:
            Further writes, sent in the new memories' ``MULTI``.
        """
        ctx = self._ctx
        client = await ctx.client()
        writes: list[tuple[str, dict[str, Any]]] = []
        spec = ctx.settings.contextual
        if spec.enabled:
            ids = [p["memory_id"] for p in payload]
            scopes = [scope_of(p) for p in payload]
            plan = await contextual.prepare(
                client, ctx.keys.deep_tails(), ctx.keys.deep, payload, scopes, ids, own, spec
            )
            for doc, text, vec, mine in zip(payload, plan.contexts, plan.vectors, own, strict=True):
                doc["search_text"] = contextual.indexed_text(doc["text"], text)
                mixed = vec.astype(np.float32).tobytes()
                if mixed != mine:  # keep the memory's own vector for hygiene's comparisons
                    doc["embedding"], doc["own_embedding"] = mixed, mine
            writes += [(key, {"search_text": t}) for key, t in plan.tail_contexts.items()]
            if plan.tails:
                writes.append((ctx.keys.deep_tails(), dict(plan.tails)))
        if ctx.settings.hygiene is not None:
            index = await ctx.backend.deep_index(ctx.embedder, ctx.keys.partition)
            links = await hygiene.supersede(
                index,
                client,
                ctx.keys.deep,
                payload,
                own,
                ctx.settings.hygiene,
                ctx.backend.vector_dtype,
            )
            writes += links
            # Counted in the batch's MULTI (it was a separate HINCRBY before it: one more round
            # trip, and a count kept for a batch that was then refused).
            hidden = len(links) + sum(1 for p in payload if p.get("superseded"))
            return ContextWrites(writes, hidden)
        return ContextWrites(writes)

    async def count_changes(self, docs: Sequence[Mapping[str, Any]], sign: int) -> None:
        """Keep the per-workspace and per-tag memory counts the query planner reads."""
        if not docs:
            return
        client = await self._ctx.client()
        async with client.pipeline(transaction=False) as pipe:
            self._queue_counts(pipe, docs, sign)
            await pipe.execute()

    async def _fetch(self, memory_id: str) -> dict[str, Any]:
        check_name("memory_id", memory_id)
        ctx = self._ctx
        client = await ctx.client()
        row = decode_row(await client.hmget(ctx.keys.deep(memory_id), DEEP_FIELDS))
        if row is None or not ctx.readable(
            row.get("workspace"), row.get("visibility"), row.get("author")
        ):
            raise NotFoundError(f"no deep memory {memory_id!r} in workspace {ctx.workspace!r}")
        return row

    async def get(self, memory_id: str) -> DeepMemory:
        """One memory by id (``NotFoundError`` if absent or not visible)."""
        return decode_memory(await self._fetch(memory_id))

    async def update(
        self,
        memory_id: str,
        *,
        text: str | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        memory_type: str | None = None,
    ) -> DeepMemory:
        """Change a memory; a new text is re-embedded. Unspecified fields are kept."""
        ctx = self._ctx
        row = await self._fetch(memory_id)
        now = repr(time.time())
        changes: dict[str, Any] = {"updated_at": now, "updated": now}
        if text is not None:
            changes["text"] = changes["search_text"] = check_text("text", text)
            changes["content_hash"] = content_hash(ctx.workspace, text)
        if tags is not None:
            changes["tags"] = TAG_SEPARATOR.join(check_tags(tags))
        if metadata is not None:
            changes["metadata"] = json.dumps(check_metadata(metadata), ensure_ascii=False)
        if memory_type is not None:
            changes["memory_type"] = check_name("memory_type", memory_type)
        await ctx.backend.deep_index(ctx.embedder, ctx.keys.partition)  # checks the model
        if text is not None:
            st = await ctx.backend.state()
            own = await ctx.embedder.embed(text, st.embedding_cache)
            # The new text's own vector, indexed and kept as the memory's own (an older
            # own_embedding would describe the old text to hygiene's comparisons).
            changes["embedding"] = changes["own_embedding"] = vectors.encode(
                own, ctx.backend.vector_dtype
            )
        await (await ctx.client()).hset(ctx.keys.deep(memory_id), mapping=changes)
        if "tags" in changes:
            await self.count_changes([row], -1)
            await self.count_changes([changes], +1)
        for name in vectors.FIELDS:
            changes.pop(name, None)
        return decode_memory({**row, **changes})

    async def delete(self, memory_id: str) -> None:
        """Delete a memory (``NotFoundError`` if absent or not visible)."""
        row = await self._fetch(memory_id)
        client = await self._ctx.client()
        await client.delete(self._ctx.keys.deep(memory_id))
        await self.count_changes([row], -1)
        if row.get("superseded_by"):
            await client.hincrby(self._ctx.keys.deep_stats(), "superseded", -1)

    async def export(self) -> AsyncIterator[DeepMemory]:
        """Every memory of the workspace (private ones included), oldest first."""
        ctx = self._ctx
        index = await ctx.backend.deep_index(ctx.embedder, ctx.keys.partition)
        q = FilterQuery(
            filter_expression=Tag("workspace") == ctx.workspace,
            return_fields=DEEP_FIELDS,
            num_results=EXPORT_PAGE,
        )
        q.sort_by("created_at", asc=True)
        q.dialect(QUERY_DIALECT)
        async for page in index.paginate(q, page_size=EXPORT_PAGE):
            for doc in page:
                if doc.get("workspace") == ctx.workspace:
                    yield decode_memory(doc)

    async def restore(self, items: Sequence[DeepMemory]) -> None:
        """Write exported memories back with their ids, authors and times (re-embedded)."""
        ctx = self._ctx
        index = await ctx.backend.deep_index(ctx.embedder, ctx.keys.partition)
        for start in range(0, len(items), EXPORT_PAGE):
            batch = items[start : start + EXPORT_PAGE]
            vectors = await ctx.embedder.embed_many([m.text for m in batch], None)
            docs = []
            for m, vec in zip(batch, vectors, strict=True):
                item = m.model_dump(include=_ITEM_FIELDS)
                doc = self.encode(item, m.created_at.timestamp())
                updated = repr(m.updated_at.timestamp())
                doc.update(
                    memory_id=m.id,
                    author=m.author,
                    embedding=vec,
                    updated_at=updated,
                    updated=updated,
                )
                docs.append(doc)
            await index.load(docs, keys=[ctx.keys.deep(d["memory_id"]) for d in docs])
            await self.count_changes(docs, +1)
