"""Layer 3 — deep memory: long-term memories with hybrid (BM25 + vector) search and filters.

Hybrid search sends a BM25 query and a KNN query in one pipeline and fuses the two rankings
with reciprocal rank fusion (the embedded Redis 8.2 has no server-side FT.HYBRID).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from redisvl.index import AsyncSearchIndex
from redisvl.query import FilterQuery, TextQuery, VectorQuery
from redisvl.query.filter import FilterExpression, Num

from tta_memory.backend import guarded
from tta_memory.cache import CacheLayer
from tta_memory.errors import InvalidInputError, NotFoundError
from tta_memory.keys import Keys
from tta_memory.models import DeepMemory
from tta_memory.names import Tag
from tta_memory.schema import SORTED_DIALECT, TAG_SEPARATOR
from tta_memory.stores.deep.planning import (
    MAX_TEXT_TERMS,
    Ranking,
    fuse,
    knn_policy,
    search_depth,
    text_terms,
)
from tta_memory.validation import (
    check_choice,
    check_datetime,
    check_id,
    check_metadata,
    check_positive,
    check_tags,
    check_text,
)

SearchMode = Literal["hybrid", "vector", "text"]
SEARCH_MODES = ("hybrid", "vector", "text")
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
]
# Rankings carry ids only; the winners' fields are read afterwards (less for Redis to load).
RANK_FIELDS = ["memory_id"]
MAX_LIMIT = 1000
MAX_DEDUP = 10_000


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def _ts(value: Any) -> datetime | None:
    return datetime.fromtimestamp(float(value), UTC) if value not in (None, "") else None


def decode_memory(doc: Mapping[str, Any], score: float | None = None) -> DeepMemory:
    """Rebuild a :class:`DeepMemory` from a search result or a hash."""
    tags = doc.get("tags") or ""
    # Indexed numeric fields come back from FT.SEARCH rounded to 12 digits; "created",
    # "updated" and "event" keep the exact values (the *_at fields are for filtering).
    created = _ts(doc.get("created") or doc.get("created_at"))
    assert created is not None
    return DeepMemory(
        id=doc["memory_id"],
        text=doc["text"],
        tags=tags.split(TAG_SEPARATOR) if tags else [],
        memory_type=doc.get("memory_type") or "observation",
        metadata=json.loads(doc.get("metadata") or "{}"),
        author=doc["author"],
        session_id=doc.get("session_id") or None,
        private=doc.get("visibility") == "private",
        created_at=created,
        updated_at=_ts(doc.get("updated") or doc.get("updated_at")) or created,
        event_time=_ts(doc.get("event") or doc.get("event_time")),
        score=score,
    )


class DeepLayer(CacheLayer):
    """Deep-memory calls of :class:`~tta_memory.MemoryWorkflowPrimitive`."""

    def _visible(self) -> FilterExpression:
        return (Tag("workspace") == self.workspace) & (
            (Tag("visibility") == "shared") | (Tag("author") == self.user_id)
        )

    def _doc(self, item: Mapping[str, Any], now: float) -> dict[str, Any]:
        """Validate one create request and return its hash fields (without id and embedding)."""
        text = check_text("text", item.get("text"))
        metadata = check_metadata(item.get("metadata"))
        session_id = item.get("session_id")
        if session_id is None and isinstance(metadata.get("session_id"), str):
            session_id = metadata["session_id"]
        if session_id is not None:
            check_id("session_id", session_id)
        memory_type = item.get("memory_type")
        if memory_type is None:
            category = metadata.get("category")
            memory_type = category if isinstance(category, str) and category else "observation"
        check_id("memory_type", memory_type)
        private = item.get("private", False)
        if not isinstance(private, bool):
            raise InvalidInputError(f"private must be a bool, got {private!r}")
        event_time = check_datetime("event_time", item.get("event_time"))
        unknown = set(item) - {
            "text",
            "tags",
            "metadata",
            "memory_type",
            "session_id",
            "private",
            "event_time",
        }
        if unknown:
            raise InvalidInputError(f"unknown field(s) {sorted(unknown)} in a memory")
        doc = {
            "workspace": self.workspace,
            "author": self.user_id,
            "visibility": "private" if private else "shared",
            "session_id": session_id or "",
            "memory_type": memory_type,
            "tags": TAG_SEPARATOR.join(check_tags(item.get("tags"))),
            "text": text,
            "metadata": json.dumps(metadata, ensure_ascii=False),
            "created_at": repr(now),
            "created": repr(now),
            "updated_at": repr(now),
            "updated": repr(now),
            "content_hash": _hash(text),
        }
        if event_time is not None:
            doc["event_time"] = doc["event"] = repr(event_time.timestamp())
        return doc

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

        Returns:
            The stored memory.
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
        return (await self.create_deep_memories([item]))[0]

    @guarded
    async def create_deep_memories(
        self, items: Iterable[Mapping[str, Any]], *, batch_size: int = 256
    ) -> list[DeepMemory]:
        """Store many memories: batched embedding and pipelined writes.

        Args:
            items: Dicts with the keyword arguments of :meth:`create_deep_memory`.
            batch_size: Memories embedded and written per batch.

        Returns:
            The stored memories, in input order.
        """
        check_positive("batch_size", batch_size)
        now = time.time()
        docs = [self._doc(item, now) for item in items]
        out: list[DeepMemory] = []
        for start in range(0, len(docs), batch_size):
            out += await self._create_batch(docs[start : start + batch_size])
        return out

    async def _create_batch(self, docs: list[dict[str, Any]]) -> list[DeepMemory]:
        index = await self._backend.deep_index(self.embedder)
        client = index.client
        assert client is not None
        scopes = [d["author"] if d["visibility"] == "private" else "" for d in docs]
        ids = [
            _hash(self.workspace, scope, d["text"]) for scope, d in zip(scopes, docs, strict=True)
        ]
        # Same text in the same scope (shared, or private to one author) is the same memory,
        # found by content hash even when it was written under another id or updated into it.
        hashes = sorted({d["content_hash"] for d in docs})
        lookup = FilterQuery(
            filter_expression=(Tag("workspace") == self.workspace)
            & (Tag("content_hash") == hashes),
            return_fields=[*DEEP_FIELDS, "workspace"],
            num_results=MAX_DEDUP,
        )

        async def taken() -> list[Any]:
            async with client.pipeline(transaction=False) as pipe:
                for memory_id in ids:
                    pipe.exists(self._keys.deep(memory_id))
                return list(await pipe.execute())

        found, exists = await asyncio.gather(index.query(lookup), taken())
        stored = {
            (row["content_hash"], row["author"] if row.get("visibility") == "private" else ""): row
            for row in found
            # The index matched the workspace tag; the row must hold exactly this workspace
            # (dedup never returns another workspace's memory, whatever the tag matching does).
            if "content_hash" in row and row.get("workspace") == self.workspace
        }
        result: list[DeepMemory | None] = [None] * len(docs)
        new: list[int] = []
        first: dict[tuple[str, str], int] = {}
        for i, (doc, scope) in enumerate(zip(docs, scopes, strict=True)):
            key = (doc["content_hash"], scope)
            if key in stored:
                result[i] = decode_memory(stored[key])
            elif key not in first:
                if exists[i]:  # the id's original text was since updated into another text
                    ids[i] = uuid.uuid4().hex
                first[key] = i
                new.append(i)
        if new:
            vectors = await self.embedder.embed_many([docs[i]["text"] for i in new], None)
            payload = [
                {**docs[i], "memory_id": ids[i], "embedding": vec}
                for i, vec in zip(new, vectors, strict=True)
            ]
            await index.load(payload, keys=[self._keys.deep(p["memory_id"]) for p in payload])
            await self.count_changes(payload, +1)
            for i, p in zip(new, payload, strict=True):
                result[i] = decode_memory(p)
        out: list[DeepMemory] = []
        for i, r in enumerate(result):
            if r is None:  # a repeat inside the batch shares the first one's memory
                r = result[first[(docs[i]["content_hash"], scopes[i])]]
            assert r is not None
            out.append(r)
        return out

    def deep_filter(
        self,
        tags: list[str] | None = None,
        *,
        match_all_tags: bool = False,
        memory_type: str | list[str] | None = None,
        author: str | None = None,
        session_id: str | None = None,
        since: Any = None,
        until: Any = None,
    ) -> FilterExpression:
        """The filter of a deep search: visible memories of this workspace, narrowed."""
        f = self._visible()
        tag_list = check_tags(tags)
        if tag_list:
            if match_all_tags:
                for tag in tag_list:
                    f &= Tag("tags") == tag
            else:
                f &= Tag("tags") == tag_list
        if memory_type is not None:
            types = [memory_type] if isinstance(memory_type, str) else list(memory_type)
            f &= Tag("memory_type") == [check_id("memory_type", t) for t in types]
        if author is not None:
            f &= Tag("author") == check_id("author", author)
        if session_id is not None:
            f &= Tag("session_id") == check_id("session_id", session_id)
        lo, hi = check_datetime("since", since), check_datetime("until", until)
        if lo is not None:
            f &= Num("created_at") >= lo.timestamp()
        if hi is not None:
            f &= Num("created_at") <= hi.timestamp()
        return f

    async def count_changes(self, docs: Sequence[Mapping[str, Any]], sign: int) -> None:
        """Keep the per-workspace and per-tag memory counts the query planner reads."""
        if not docs:
            return
        client = await self._backend.client()
        stats = self._keys.deep_stats()
        async with client.pipeline(transaction=False) as pipe:
            pipe.hincrby(stats, "n", sign * len(docs))
            pipe.hincrby(Keys.deep_total(self.settings.prefix), "n", sign * len(docs))
            for doc in docs:
                tags = doc.get("tags") or ""
                for tag in tags.split(TAG_SEPARATOR) if tags else []:
                    pipe.hincrby(stats, f"t:{tag}", sign)
            await pipe.execute()

    async def vector_policy(
        self, tags: list[str] | None, match_all_tags: bool, narrowed: bool, depth: int
    ) -> str | None:
        """``BATCHES`` when the filter keeps a wide share of the index, else Redis decides."""
        if narrowed:
            return None
        tags = tags or []
        client = await self._backend.client()
        async with client.pipeline(transaction=False) as pipe:
            pipe.hmget(self._keys.deep_stats(), ["n", *(f"t:{t}" for t in tags)])
            pipe.hget(Keys.deep_total(self.settings.prefix), "n")
            counts, total = await pipe.execute()
        return knn_policy(
            workspace_count=int(counts[0] or 0),
            tag_counts=[int(c or 0) for c in counts[1:]],
            match_all_tags=match_all_tags,
            total=int(total or 0),
            depth=depth,
        )

    async def deep_queries(
        self,
        query: str,
        limit: int,
        f: FilterExpression,
        mode: str,
        *,
        policy: str | None = None,
        max_terms: int = MAX_TEXT_TERMS,
    ) -> tuple[AsyncSearchIndex, list[Any]]:
        """The redisvl queries a search sends (one per ranking), sharing one filter.

        Args:
            query: The query text (empty: newest first).
            limit: Results wanted.
            f: The filter.
            mode: ``hybrid``, ``vector`` or ``text``.
            policy: KNN hybrid policy (see :meth:`vector_policy`).
            max_terms: BM25 keeps the last this many distinct terms of the query.

        Returns:
            The index and the queries to send together.
        """
        index = await self._backend.deep_index(self.embedder)
        # BM25 cost grows with the number of OR'ed terms; the latest ones carry the intent.
        words = " ".join(text_terms(query, max_terms))
        if not query.strip():
            q = FilterQuery(filter_expression=f, return_fields=RANK_FIELDS, num_results=limit)
            q.sort_by("created_at", asc=False)
            q.dialect(SORTED_DIALECT)
            return index, [q]
        depth = search_depth(limit, mode)
        queries: list[Any] = []
        if mode in ("hybrid", "vector"):
            st = await self._backend.state()
            vector = await self.embedder.embed(query, st.embedding_cache)
            queries.append(
                VectorQuery(
                    vector=vector,
                    vector_field_name="embedding",
                    filter_expression=f,
                    return_fields=RANK_FIELDS,
                    num_results=depth,
                    dtype="float32",
                    hybrid_policy=policy,
                )
            )
        if mode in ("hybrid", "text") and words:
            # A query of stopwords only leaves nothing for BM25 to match: redisvl would send
            # an empty "@text:()" clause, which Redis rejects as a syntax error.
            with contextlib.suppress(ValueError):
                text_query = TextQuery(
                    text=words,
                    text_field_name="text",
                    filter_expression=f,
                    return_fields=RANK_FIELDS,
                    num_results=depth,
                )
                if any(w.lower() not in text_query.stopwords for w in words.split()):
                    queries.append(text_query)
        return index, queries

    @staticmethod
    def rankings(results: list[list[dict[str, Any]]], queries: list[Any]) -> list[Ranking]:
        """Each query's rows as a ranking of ``(memory_id, score)``, higher scores better."""
        out: list[Ranking] = []
        for q, rows in zip(queries, results, strict=True):
            if isinstance(q, VectorQuery):
                out.append(
                    [(r["memory_id"], 1.0 - float(r.get("vector_distance", 1.0))) for r in rows]
                )
            else:
                out.append(
                    [(r["memory_id"], float(r["score"]) if "score" in r else None) for r in rows]
                )
        return out

    async def hydrate(self, ranked: list[tuple[str, float | None]]) -> list[DeepMemory]:
        """Load the ranked memories in one round trip (ones deleted meanwhile are skipped)."""
        if not ranked:
            return []
        client = await self._backend.client()
        async with client.pipeline(transaction=False) as pipe:
            for memory_id, _ in ranked:
                pipe.hmget(self._keys.deep(memory_id), [*DEEP_FIELDS, "workspace"])
            rows = await pipe.execute()
        return [
            decode_memory(row, score)
            for (_, score), row in zip(ranked, map(_row, rows), strict=True)
            if row is not None and self._readable(row)
        ]

    def _readable(self, row: Mapping[str, Any]) -> bool:
        """Whether a stored row belongs to this workspace and is visible to this user."""
        return row.get("workspace") == self.workspace and (
            row.get("visibility") != "private" or row.get("author") == self.user_id
        )

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
    ) -> list[DeepMemory]:
        """Search long-term memories.

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

        Returns:
            The memories, best first, each with its ``score``.
        """
        check_text("query", query, allow_empty=True)
        check_positive("limit", limit)
        if limit > MAX_LIMIT:
            raise InvalidInputError(f"limit must be at most {MAX_LIMIT}, got {limit}")
        mode = check_choice("search_mode", search_mode, SEARCH_MODES)
        f = self.deep_filter(
            tags,
            match_all_tags=match_all_tags,
            memory_type=memory_type,
            author=author,
            session_id=session_id,
            since=since,
            until=until,
        )
        narrowed = any(x is not None for x in (memory_type, author, session_id, since, until))
        return await self.ranked(
            query, limit, f, mode, tags=tags, match_all_tags=match_all_tags, narrowed=narrowed
        )

    async def ranked(
        self,
        query: str,
        limit: int,
        f: FilterExpression,
        mode: str,
        *,
        tags: list[str] | None = None,
        match_all_tags: bool = False,
        narrowed: bool = False,
        max_terms: int = MAX_TEXT_TERMS,
    ) -> list[DeepMemory]:
        """Run the queries of a search in one round trip and fuse their rankings.

        Args:
            query: The query text.
            limit: Results wanted.
            f: The filter (built by :meth:`deep_filter` from ``tags`` and the other narrowings).
            mode: ``hybrid``, ``vector`` or ``text``.
            tags: The filter's tags, for the query planner.
            match_all_tags: Whether the filter requires all tags.
            narrowed: Whether the filter narrows by anything but workspace and tags.
            max_terms: BM25 keeps the last this many distinct terms of the query.

        Returns:
            The memories, best first.
        """
        policy = None
        if query.strip() and mode != "text":
            depth = search_depth(limit, mode)
            policy = await self.vector_policy(tags, match_all_tags, narrowed, depth)
        index, queries = await self.deep_queries(
            query, limit, f, mode, policy=policy, max_terms=max_terms
        )
        if not queries:
            return []
        results = (
            await index.batch_query(queries)
            if len(queries) > 1
            else [await index.query(queries[0])]
        )
        return await self.hydrate(fuse(self.rankings(results, queries), limit))

    async def _fetch(self, memory_id: str) -> dict[str, Any]:
        check_id("memory_id", memory_id)
        client = await self._backend.client()
        row = _row(await client.hmget(self._keys.deep(memory_id), [*DEEP_FIELDS, "workspace"]))
        if row is None or not self._readable(row):
            raise NotFoundError(f"no deep memory {memory_id!r} in workspace {self.workspace!r}")
        return row

    @guarded
    async def get_deep_memory(self, memory_id: str) -> DeepMemory:
        """Return one memory by id (``NotFoundError`` if absent or not visible)."""
        return decode_memory(await self._fetch(memory_id))

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
        """Change a memory; a new text is re-embedded. Unspecified fields are kept.

        Returns:
            The updated memory.
        """
        row = await self._fetch(memory_id)
        now = repr(time.time())
        changes: dict[str, Any] = {"updated_at": now, "updated": now}
        if text is not None:
            changes["text"] = check_text("text", text)
            changes["content_hash"] = _hash(text)
        if tags is not None:
            changes["tags"] = TAG_SEPARATOR.join(check_tags(tags))
        if metadata is not None:
            changes["metadata"] = json.dumps(check_metadata(metadata), ensure_ascii=False)
        if memory_type is not None:
            changes["memory_type"] = check_id("memory_type", memory_type)
        index = await self._backend.deep_index(self.embedder)
        if text is not None:
            st = await self._backend.state()
            changes["embedding"] = await self.embedder.embed(text, st.embedding_cache)
        client = index.client
        assert client is not None
        await client.hset(self._keys.deep(memory_id), mapping=changes)
        if "tags" in changes:
            await self.count_changes([row], -1)
            await self.count_changes([changes], +1)
        changes.pop("embedding", None)
        return decode_memory({**row, **changes})

    @guarded
    async def delete_deep_memory(self, memory_id: str) -> None:
        """Delete a memory (``NotFoundError`` if absent or not visible)."""
        row = await self._fetch(memory_id)
        await (await self._backend.client()).delete(self._keys.deep(memory_id))
        await self.count_changes([row], -1)


def _row(values: list[Any]) -> dict[str, Any] | None:
    fields = [*DEEP_FIELDS, "workspace"]
    if all(v is None for v in values):
        return None
    return {
        k: (v.decode() if isinstance(v, bytes) else v)
        for k, v in zip(fields, values, strict=False)
        if v is not None
    }
