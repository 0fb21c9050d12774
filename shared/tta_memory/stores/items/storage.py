"""Keyed items: storage (put, overwrite, delete, get, TTL refresh) and the items index.

Layout (one RediSearch index per key prefix and embedding dimension, shared by workspaces):

- ``{prefix}:item{dims}:{workspace}:{digest}``: one hash per item (namespace, key, JSON value,
  times, TTL, author, a version id and how many texts were embedded);
- ``...:{digest}:v{i}``: one hash per indexed text (its BM25 text and its vector), carrying the
  item's version id: a text left over from an older version of the item is never returned.

Every row read back is re-checked against the workspace.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
import weakref
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from redis.exceptions import WatchError
from redisvl.query.filter import FilterExpression

from tta_memory import replies
from tta_memory.context import MAX_WATCH_ATTEMPTS, EngineContext, Store
from tta_memory.embeddings import Embedder
from tta_memory.errors import ConflictError, EmbeddingMismatchError
from tta_memory.indexes import RecoveringIndex, create
from tta_memory.names import Tag
from tta_memory.stores.items.records import (
    ItemWrite,
    StoredItem,
    check_key,
    check_namespace,
    check_write,
    decode_path,
    encode_path,
    encode_value,
    items_schema,
    prefixes,
)

ITEM_FIELDS = ["workspace", "ns", "key", "value", "created", "updated", "ttl", "nvec", "ver"]
VEC_FIELDS = ["workspace", "item", "ver"]


def _ts(value: Any) -> datetime:
    return datetime.fromtimestamp(float(value), UTC)


class ItemStorage(Store):
    """Put, overwrite, delete and read the keyed items of one workspace.

    Args:
        ctx: The engine context (workspace, user, connections, settings).
        embedder: Embedding model of the indexed texts; ``None`` for the context's.
    """

    def __init__(self, ctx: EngineContext, embedder: Embedder | None = None) -> None:
        super().__init__(ctx)
        self._embedder = embedder
        self._indexes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RecoveringIndex] = (
            weakref.WeakKeyDictionary()
        )
        self._checked = False

    @property
    def workspace(self) -> str:
        """The tenant."""
        return self._ctx.workspace

    @property
    def user_id(self) -> str:
        """The actor, recorded as author of every item written."""
        return self._ctx.user_id

    @property
    def embedder(self) -> Embedder:
        """The embedding model of the indexed texts."""
        return self._embedder or self._ctx.embedder

    # --- keys and index --------------------------------------------------------------

    def item_key(self, namespace: Sequence[str], key: str) -> str:
        """The Redis key of an item."""
        digest = hashlib.sha256(f"{encode_path(namespace)}\x00{key}".encode()).hexdigest()[:32]
        ws = quote(self.workspace, safe="")
        return f"{self._ctx.settings.prefix}:item{self.embedder.dims}:{ws}:{digest}"

    async def index(self) -> RecoveringIndex:
        """The items index for this loop (created, and its model checked, on first use)."""
        loop = asyncio.get_running_loop()
        found = self._indexes.get(loop)
        if found is not None:
            return found
        client = await self._ctx.client()
        dims = self.embedder.dims
        if not self._checked:
            meta = f"{self._ctx.settings.prefix}:meta:items{dims}"
            model = self.embedder.model_name
            record = {"embedding_model": model}
            recorded = (await self._ctx.backend.record_once(client, meta, record))[
                "embedding_model"
            ]
            if recorded != model:
                raise EmbeddingMismatchError(
                    f"the items index of {dims}-dimension vectors under prefix "
                    f"{self._ctx.settings.prefix!r} holds embeddings of {recorded}, but this store "
                    f"embeds with {model}. Use the same model or another prefix "
                    "(TTA_MEMORY_PREFIX)."
                )
            self._checked = True
        # Re-created by its next query if the server loses it (Backend.recover).
        index = RecoveringIndex(
            items_schema(self._ctx.settings.prefix, dims), client, self._ctx.backend
        )
        await create(index)
        self._indexes[loop] = index
        return index

    def _scope(self, prefix: Sequence[str], doc: str) -> FilterExpression:
        f = (Tag("workspace") == self.workspace) & (Tag("doc") == doc)
        if prefix:
            f &= Tag("nsp") == encode_path(prefix)
        return f

    # --- writes ------------------------------------------------------------------------

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
        client = await self._ctx.client()
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
            for _ in range(MAX_WATCH_ATTEMPTS):
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
            f"the items were rewritten concurrently {MAX_WATCH_ATTEMPTS} times in a row; retry"
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
        keep_created = created is not None and replies.text(ws) == self.workspace
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
                "created": replies.text(created) if keep_created else repr(now),
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
        client = await self._ctx.client()
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
        client = await self._ctx.client()
        async with client.pipeline(transaction=False) as pipe:
            for k in keys:
                pipe.hmget(k, ITEM_FIELDS)
            raw = await pipe.execute()
        rows: list[dict[str, Any] | None] = []
        for k, values in zip(keys, raw, strict=True):
            row = {
                f: replies.text(v)
                for f, v in zip(ITEM_FIELDS, values, strict=True)
                if v is not None
            }
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
