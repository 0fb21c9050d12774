"""Keyed items: JSON values stored by ``(namespace, key)``, with an optional time to live and
hybrid (BM25 + vector) search over the texts the caller chose to index.

The engine side of the LangGraph ``BaseStore`` (``tta_memory_langchain.TTAStore``); the deep
layer does not fit it (a deep memory is identified by its text, has no key, no TTL and always
one text to embed).

Layout (one RediSearch index per key prefix and embedding dimension, shared by workspaces):

- ``{prefix}:item{dims}:{workspace}:{digest}``: one hash per item (namespace, key, JSON value,
  times, TTL, author, a version id and how many texts were embedded);
- ``...:{digest}:v{i}``: one hash per indexed text (its BM25 text and its vector), carrying the
  item's version id: a text left over from an older version of the item is never returned.

Every row read back is re-checked against the workspace. A namespace is a tuple of labels;
each label is percent-encoded and the path joined with ``/``, and every prefix of the path is
a TAG value, so a search under ``("a", "b")`` is one exact tag match.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import time
import uuid
import weakref
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from redis.commands.search.aggregation import AggregateRequest
from redis.exceptions import WatchError
from redisvl.index import AsyncSearchIndex
from redisvl.query import FilterQuery, TextQuery, VectorQuery
from redisvl.query.filter import FilterExpression, Tag

from tta_memory.backend import _create, guarded
from tta_memory.base import ScopedPrimitive
from tta_memory.errors import ConflictError, EmbeddingMismatchError, InvalidInputError
from tta_memory.item_filter import check_filter, matches
from tta_memory.item_model import (
    ItemWrite,
    StoredItem,
    check_key,
    check_namespace,
    check_write,
    decode_path,
    encode_path,
    encode_value,
    fuse,
    items_schema,
    namespace_matches,
    prefixes,
)
from tta_memory.schema import SORTED_DIALECT
from tta_memory.validation import check_choice, check_positive

ItemSearchMode = Literal["hybrid", "vector", "text"]
ITEM_SEARCH_MODES = ("hybrid", "vector", "text")
ITEM_FIELDS = ["workspace", "ns", "key", "value", "created", "updated", "ttl", "nvec", "ver"]
VEC_FIELDS = ["workspace", "item", "ver"]
# Same fusion constant as the deep layer (LoCoMo recall@10: k=2 61.4 vs k=60 47.8).
RRF_K = 2
# Filters run on the values read back: pages of this many rows are read until enough match.
PAGE = 200
MAX_DEPTH = 10_000
MAX_NAMESPACES = 100_000
WRITE_ATTEMPTS = 20
_NON_WORD = re.compile(r"[^\w\s]+")
_MAX_TERMS = 24


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _ts(value: Any) -> datetime:
    return datetime.fromtimestamp(float(value), UTC)


class ItemStore(ScopedPrimitive):
    """Keyed JSON items of one workspace, with TTL and hybrid search (see the module notes).

    Args:
        redis_url: Redis URL, or ``None`` for the configured one or the embedded server.
        user_id: The actor.
        workspace: The tenant; no call sees another workspace's items.
        vectorizer: Embedding model of the indexed texts; ``None`` for the offline default.
        settings: Engine settings.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._indexes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncSearchIndex] = (
            weakref.WeakKeyDictionary()
        )
        self._checked = False

    @classmethod
    def of(cls, engine: ScopedPrimitive, vectorizer: Any = None) -> ItemStore:
        """An item store of ``engine``'s workspace and user, sharing its connections."""
        store = cls(
            user_id=engine.user_id,
            workspace=engine.workspace,
            settings=engine.settings,
            vectorizer=vectorizer if vectorizer is not None else engine._vectorizer_arg,
        )
        store._backend = engine._backend
        return store

    # --- keys and index --------------------------------------------------------------

    def item_key(self, namespace: Sequence[str], key: str) -> str:
        """The Redis key of an item."""
        digest = hashlib.sha256(f"{encode_path(namespace)}\x00{key}".encode()).hexdigest()[:32]
        ws = quote(self.workspace, safe="")
        return f"{self.settings.prefix}:item{self.embedder.dims}:{ws}:{digest}"

    async def index(self) -> AsyncSearchIndex:
        """The items index for this loop (created, and its model checked, on first use)."""
        loop = asyncio.get_running_loop()
        found = self._indexes.get(loop)
        if found is not None:
            return found
        client = await self._backend.client()
        dims = self.embedder.dims
        if not self._checked:
            meta = f"{self.settings.prefix}:meta:items{dims}"
            model = self.embedder.model_name
            await client.hsetnx(meta, "embedding_model", model)
            recorded = _s(await client.hget(meta, "embedding_model"))
            if recorded != model:
                raise EmbeddingMismatchError(
                    f"the items index of {dims}-dimension vectors under prefix "
                    f"{self.settings.prefix!r} holds embeddings of {recorded}, but this store "
                    f"embeds with {model}. Use the same model or another prefix "
                    "(TTA_MEMORY_PREFIX)."
                )
            self._checked = True
        index = AsyncSearchIndex(items_schema(self.settings.prefix, dims), redis_client=client)
        if not await index.exists():
            await _create(index)
        self._indexes[loop] = index
        return index

    def _scope(self, prefix: Sequence[str], doc: str) -> FilterExpression:
        f = (Tag("workspace") == self.workspace) & (Tag("doc") == doc)
        if prefix:
            f &= Tag("nsp") == encode_path(prefix)
        return f

    # --- writes ------------------------------------------------------------------------

    @guarded
    async def put_items(self, writes: Iterable[ItemWrite | Mapping[str, Any]]) -> None:
        """Store, overwrite or delete items; the last write of a ``(namespace, key)`` wins.

        An overwrite keeps the item's creation time and replaces its value, indexed texts and
        TTL in one transaction. Nothing is written if any write is invalid.

        Args:
            writes: :class:`ItemWrite` objects (or dicts of their fields).
        """
        latest: dict[tuple[tuple[str, ...], str], ItemWrite] = {}
        encoded: dict[tuple[tuple[str, ...], str], str | None] = {}
        for raw in writes:
            w = check_write(raw)
            latest[(w.namespace, w.key)] = w
            encoded[(w.namespace, w.key)] = None if w.value is None else encode_value(w.value)
        if not latest:
            return
        await self.index()
        client = await self._backend.client()
        texts = [t for w in latest.values() if w.value is not None for t in w.texts]
        flat = iter(await self.embedder.embed_many(texts, None) if texts else [])
        vectors = {
            ref: [next(flat) for _ in w.texts] if w.value is not None else []
            for ref, w in latest.items()
        }
        keys = {ref: self.item_key(*ref) for ref in latest}
        # Optimistic transaction: a concurrent write of the same item between our read of its
        # old text count and our write retries, so no indexed text of a replaced version is
        # left behind.
        async with client.pipeline(transaction=True) as pipe:
            for _ in range(WRITE_ATTEMPTS):
                try:
                    await pipe.watch(*keys.values())
                    old = [
                        await pipe.hmget(keys[ref], ["created", "nvec", "workspace"])
                        for ref in latest
                    ]
                    pipe.multi()
                    now = time.time()
                    for (ref, w), prior in zip(latest.items(), old, strict=True):
                        self._queue_write(
                            pipe, keys[ref], w, encoded[ref], vectors[ref], prior, now
                        )
                    await pipe.execute()
                    return
                except WatchError:
                    await pipe.reset()
        raise ConflictError(
            f"the items were rewritten concurrently {WRITE_ATTEMPTS} times in a row; retry"
        )

    def _queue_write(
        self,
        pipe: Any,
        base: str,
        w: ItemWrite,
        value: str | None,
        vectors: list[bytes],
        prior: list[Any],
        now: float,
    ) -> None:
        """Queue the replacement of one item (and of its indexed texts) in a transaction."""
        created, nvec, ws = prior
        pipe.delete(base, *(f"{base}:v{i}" for i in range(int(nvec or 0))))
        if w.value is None:
            return
        keep_created = created is not None and _s(ws) == self.workspace
        ver = uuid.uuid4().hex
        # Fields both the item and its texts carry, for the namespace filters.
        scope: dict[Any, Any] = {
            "workspace": self.workspace,
            "ns": encode_path(w.namespace),
            "nsp": prefixes(w.namespace),
        }
        pipe.hset(
            base,
            mapping={
                **scope,
                "doc": "item",
                "key": w.key,
                "value": value or "{}",
                "created": _s(created) if keep_created else repr(now),
                "updated": repr(now),
                "updated_at": repr(now),
                "ttl": repr(w.ttl_seconds) if w.ttl_seconds else "",
                "nvec": len(w.texts),
                "embedded": "1" if w.texts else "0",
                "ver": ver,
                "author": self.user_id,
            },
        )
        for i, (text, vector) in enumerate(zip(w.texts, vectors, strict=True)):
            pipe.hset(
                f"{base}:v{i}",
                mapping={
                    **scope,
                    "doc": "vec",
                    "item": base,
                    "ver": ver,
                    "text": text,
                    "embedding": vector,
                },
            )
        if w.ttl_seconds:
            ms = max(1, round(w.ttl_seconds * 1000))
            for k in (base, *(f"{base}:v{i}" for i in range(len(w.texts)))):
                pipe.pexpire(k, ms)

    async def _refresh(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Restart the TTL clock of items read (and of their indexed texts)."""
        timed = [r for r in rows if r.get("ttl")]
        if not timed:
            return
        client = await self._backend.client()
        async with client.pipeline(transaction=False) as pipe:
            for row in timed:
                base, ms = row["_key"], max(1, round(float(row["ttl"]) * 1000))
                for k in (base, *(f"{base}:v{i}" for i in range(int(row.get("nvec") or 0)))):
                    pipe.pexpire(k, ms)
            await pipe.execute()

    # --- reads -------------------------------------------------------------------------

    async def _read(self, keys: Sequence[str]) -> list[dict[str, Any] | None]:
        if not keys:
            return []
        client = await self._backend.client()
        async with client.pipeline(transaction=False) as pipe:
            for k in keys:
                pipe.hmget(k, ITEM_FIELDS)
            raw = await pipe.execute()
        rows: list[dict[str, Any] | None] = []
        for k, values in zip(keys, raw, strict=True):
            row = {f: _s(v) for f, v in zip(ITEM_FIELDS, values, strict=True) if v is not None}
            # The key layout isolates workspaces; the re-check guards against anything else.
            rows.append({**row, "_key": k} if row.get("workspace") == self.workspace else None)
        return rows

    @staticmethod
    def _decode(row: Mapping[str, Any], score: float | None = None) -> StoredItem:
        ttl = row.get("ttl")
        return StoredItem(
            namespace=decode_path(row["ns"]),
            key=row["key"],
            value=json.loads(row["value"]),
            created_at=_ts(row["created"]),
            updated_at=_ts(row["updated"]),
            ttl_seconds=float(ttl) if ttl else None,
            score=score,
        )

    @guarded
    async def get_items(
        self, refs: Iterable[tuple[Sequence[str], str]], *, refresh_ttl: bool = True
    ) -> list[StoredItem | None]:
        """Read items by ``(namespace, key)`` in one round trip (``None`` where absent).

        Args:
            refs: ``(namespace, key)`` pairs.
            refresh_ttl: Restart the TTL of the items found.

        Returns:
            One item or ``None`` per ref, in order.
        """
        pairs = [(check_namespace(ns), check_key(k)) for ns, k in refs]
        if not pairs:
            return []
        rows = await self._read([self.item_key(ns, k) for ns, k in pairs])
        found = [r for r in rows if r is not None]
        if refresh_ttl:
            await self._refresh(found)
        return [None if r is None else self._decode(r) for r in rows]

    @guarded
    async def search_items(
        self,
        namespace_prefix: Sequence[str] = (),
        *,
        query: str | None = None,
        filter: Mapping[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool = True,
        mode: ItemSearchMode = "hybrid",
    ) -> list[StoredItem]:
        """Items under a namespace prefix: ranked by ``query``, else most recently updated first.

        Args:
            namespace_prefix: Only items whose namespace starts with these labels.
            query: Hybrid (BM25 + vector, fused by reciprocal rank) search over the indexed
                texts; items with no indexed text follow the ranked ones (score ``None``).
            filter: Conditions on the value's fields (see :mod:`tta_memory.item_filter`).
            limit: At most this many items.
            offset: Skip this many matching items first.
            refresh_ttl: Restart the TTL of the items returned.
            mode: ``hybrid``, ``vector`` (score: cosine similarity) or ``text`` (BM25).

        Returns:
            The items, best (or newest) first, with ``score`` when ranked.
        """
        prefix = check_namespace(namespace_prefix, allow_empty=True)
        check_positive("limit", limit)
        check_positive("offset", offset, allow_zero=True)
        if limit + offset > MAX_DEPTH:
            raise InvalidInputError(f"limit + offset must be at most {MAX_DEPTH}")
        mode_name = check_choice("mode", mode, ITEM_SEARCH_MODES)
        if query is not None and not isinstance(query, str):
            raise InvalidInputError(f"query must be a string, got {type(query).__name__}")
        if filter is not None:
            check_filter(filter)
        want = offset + limit
        rows: list[tuple[dict[str, Any], float | None]] = []
        if query and query.strip():
            rows = await self._ranked(prefix, query, filter, want, mode_name)
        if len(rows) < want:
            seen = {r["_key"] for r, _ in rows}
            only_unembedded = bool(query and query.strip())
            listed = await self._listed(prefix, filter, want, only_unembedded)
            rows += [(r, None) for r in listed if r["_key"] not in seen][: want - len(rows)]
        page = rows[offset:want]
        if refresh_ttl:
            await self._refresh([r for r, _ in page])
        return [self._decode(r, score) for r, score in page]

    async def _listed(
        self,
        prefix: tuple[str, ...],
        filter: Mapping[str, Any] | None,
        want: int,
        only_unembedded: bool,
    ) -> list[dict[str, Any]]:
        index = await self.index()
        f = self._scope(prefix, "item")
        if only_unembedded:
            f &= Tag("embedded") == "0"
        out: list[dict[str, Any]] = []
        start = 0
        size = want if not filter else max(PAGE, want)
        while len(out) < want:
            q = FilterQuery(filter_expression=f, return_fields=ITEM_FIELDS, num_results=size)
            q.sort_by("updated_at", asc=False)
            q.paging(start, size)
            q.dialect(SORTED_DIALECT)
            found = await index.query(q)
            for doc in found:
                row = {k: _s(v) for k, v in doc.items() if k in ITEM_FIELDS}
                if row.get("workspace") != self.workspace or "value" not in row:
                    continue
                row["_key"] = _s(doc["id"])
                if not filter or matches(json.loads(row["value"]), filter):
                    out.append(row)
            if len(found) < size:
                break
            start += size
        return out[:want]

    async def _ranked(
        self,
        prefix: tuple[str, ...],
        query: str,
        filter: Mapping[str, Any] | None,
        want: int,
        mode: str,
    ) -> list[tuple[dict[str, Any], float | None]]:
        index = await self.index()
        f = self._scope(prefix, "vec")
        vector = None
        if mode in ("hybrid", "vector"):
            st = await self._backend.state()
            vector = await self.embedder.embed(query, st.embedding_cache)
        terms = list(dict.fromkeys(_NON_WORD.sub(" ", query).split()))[-_MAX_TERMS:]
        depth = max(want * 3, 30)
        while True:
            queries: list[Any] = []
            if vector is not None:
                queries.append(
                    VectorQuery(
                        vector=vector,
                        vector_field_name="embedding",
                        filter_expression=f,
                        return_fields=VEC_FIELDS,
                        num_results=depth,
                        dtype="float32",
                    )
                )
            if mode in ("hybrid", "text") and terms:
                with contextlib.suppress(ValueError):  # stopwords only: nothing for BM25
                    tq = TextQuery(
                        text=" ".join(terms),
                        text_field_name="text",
                        filter_expression=f,
                        return_fields=VEC_FIELDS,
                        num_results=depth,
                    )
                    if any(w.lower() not in tq.stopwords for w in terms):
                        queries.append(tq)
            if not queries:
                return []
            results = (
                await index.batch_query(queries)
                if len(queries) > 1
                else [await index.query(queries[0])]
            )
            ranked = fuse(results, queries)
            rows = await self._read([k for k, _, _ in ranked])
            out: list[tuple[dict[str, Any], float | None]] = []
            for (_, ver, score), row in zip(ranked, rows, strict=True):
                if row is None or row.get("ver") != ver:
                    continue  # deleted meanwhile, or a text of an older version
                if filter and not matches(json.loads(row["value"]), filter):
                    continue
                out.append((row, score))
            exhausted = all(len(r) < depth for r in results)
            if len(out) >= want or exhausted or depth >= MAX_DEPTH:
                return out[:want]
            depth = min(depth * 4, MAX_DEPTH)

    @guarded
    async def list_item_namespaces(
        self,
        *,
        prefix: Sequence[str] | None = None,
        suffix: Sequence[str] | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[str, ...]]:
        """The namespaces holding items, sorted, optionally matched and truncated.

        Args:
            prefix: Namespaces starting with these labels (``"*"`` matches any label).
            suffix: Namespaces ending with these labels (``"*"`` matches any label).
            max_depth: Truncate namespaces to this many labels (then de-duplicate).
            limit: At most this many namespaces.
            offset: Skip this many first.

        Returns:
            The namespaces, in sorted order.
        """
        pre = check_namespace(prefix or (), allow_empty=True)
        suf = check_namespace(suffix or (), allow_empty=True)
        if max_depth is not None:
            check_positive("max_depth", max_depth)
        check_positive("limit", limit)
        check_positive("offset", offset, allow_zero=True)
        fixed = []  # the literal head of the prefix narrows in Redis; wildcards after it
        for label in pre:
            if label == "*":
                break
            fixed.append(label)
        index = await self.index()
        request = (
            AggregateRequest(str(self._scope(fixed, "item")))
            .group_by("@ns")
            .limit(0, MAX_NAMESPACES)
            .dialect(2)
        )
        result = await index.aggregate(request)
        names = {decode_path(_s(row[1])) for row in result.rows if len(row) >= 2}
        found = [n for n in names if namespace_matches(n, pre, suf)]
        if max_depth is not None:
            found = list({n[:max_depth] for n in found})
        return sorted(found)[offset : offset + limit]
