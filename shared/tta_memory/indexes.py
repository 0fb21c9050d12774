"""Partition indexes: their creation and the in-place migration of older ones.

Re-creating a lost index is :meth:`tta_memory.backend.Backend.recover` (after the one check,
:func:`tta_memory.cluster.is_missing_index`), which every reader calls: redisvl's query path
(:class:`RecoveringIndex`) and the raw ``FT.SEARCH`` readers of the cache and deep stores alike.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from redis.exceptions import ResponseError
from redisvl.exceptions import RedisVLError
from redisvl.index import AsyncSearchIndex

from tta_memory.cluster import create_index
from tta_memory.schema import TAG_SEPARATOR

if TYPE_CHECKING:
    from tta_memory.backend import Backend

logger = logging.getLogger("tta_memory.backend")


class RecoveringIndex(AsyncSearchIndex):
    """A redisvl index whose queries re-create it when the server lost it.

    A server that came back without its data (a new machine, a wiped volume, ``FLUSHALL``)
    answers every query with "no such index"; the engine would otherwise fail until the
    process restarts, since it remembers having created its indexes. The query is retried once
    after :meth:`Backend.recover`.
    """

    def __init__(self, schema: Any, client: Any, backend: Backend) -> None:
        super().__init__(schema, redis_client=client)
        self.backend = backend

    async def query(self, query: Any) -> list[dict[str, Any]]:
        try:
            return await super().query(query)
        except (RedisVLError, ResponseError) as exc:
            if not await self.backend.recover(self, exc):
                raise
        return await super().query(query)

    async def aggregate(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().aggregate(*args, **kwargs)
        except (RedisVLError, ResponseError) as exc:
            if not await self.backend.recover(self, exc):
                raise
        return await super().aggregate(*args, **kwargs)

    async def batch_query(self, queries: Any, batch_size: int = 10) -> list[list[dict[str, Any]]]:
        try:
            return await super().batch_query(queries, batch_size=batch_size)
        except (RedisVLError, ResponseError) as exc:
            if not await self.backend.recover(self, exc):
                raise
        return await super().batch_query(queries, batch_size=batch_size)


async def create(index: AsyncSearchIndex) -> bool:
    """``FT.CREATE`` of ``index``; ``False`` if it already existed (one round trip)."""
    try:
        created = await create_index(index.client, index)
    except (RedisVLError, ResponseError) as exc:
        # Another process may have created it between our check and our create.
        if "exists" not in str(exc).lower():
            raise
        return False
    if created:
        logger.info("created index %s", index.name)
    return created


# Fields added after the first release: an index created before them gains them in place
# (FT.ALTER indexes new writes; older memories simply have no context and are never superseded).
_ADDED_DEEP_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("search_text", ("TEXT",)),
    ("superseded", ("TAG", "SEPARATOR", TAG_SEPARATOR, "CASESENSITIVE")),
)


async def add_missing_fields(client: Any, index: AsyncSearchIndex) -> None:
    """Give a deep index created by an older release the fields added since."""
    info = str(await client.execute_command("FT.INFO", index.name))
    for field, spec in _ADDED_DEEP_FIELDS:
        if f"'{field}'" in info:
            continue
        try:
            await client.execute_command("FT.ALTER", index.name, "SCHEMA", "ADD", field, *spec)
        except ResponseError as exc:  # another process added it first
            if "duplicate" not in str(exc).lower():
                raise
            continue
        if field == "search_text":  # memories written before it: BM25 searches their text
            await _backfill_search_text(client, index.schema.index.prefix)


async def _backfill_search_text(client: Any, prefix: str) -> None:
    """Copy ``text`` into ``search_text`` where it is missing (a one-time migration)."""
    async for keys in _scan_chunks(client, f"{prefix}*"):
        async with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(key, ["text", "search_text"])
            rows = await pipe.execute()
        async with client.pipeline(transaction=False) as pipe:
            for key, (text, current) in zip(keys, rows, strict=True):
                if text is not None and current is None:
                    pipe.hset(key, "search_text", text)
            await pipe.execute()


async def _scan_chunks(client: Any, match: str, count: int = 1000) -> Any:
    cursor = 0
    while True:
        cursor, keys = await client.scan(cursor, match=match, count=count)
        if keys:
            yield keys
        if not cursor:
            return
