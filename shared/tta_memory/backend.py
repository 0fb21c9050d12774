"""The connection to Redis: URL resolution, one client per event loop, index set-up, the
Query Engine check, and the translation of Redis failures into typed errors."""

from __future__ import annotations

import asyncio
import functools
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, ParamSpec, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry  # the async client needs the async Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redisvl.exceptions import RedisVLError
from redisvl.extensions.cache.embeddings import EmbeddingsCache
from redisvl.index import AsyncSearchIndex

from tta_memory.config import Settings, check_redis_url, configured_url
from tta_memory.embeddings import Embedder
from tta_memory.errors import (
    BackendFullError,
    BackendUnavailableError,
    EmbeddingMismatchError,
    QueryEngineMissingError,
    TTAMemoryError,
)
from tta_memory.keys import Keys
from tta_memory.schema import TAG_SEPARATOR, cache_schema, deep_schema, group_schema

P = ParamSpec("P")
MAX_CONNECTIONS = 50  # per event loop
T = TypeVar("T")

QUERY_ENGINE_HELP = (
    "tta-memory needs the Redis Query Engine (RediSearch >= 2.6). Use Redis 8+, Redis Stack 7.2+, "
    "Redis Cloud or Redis Software, or unset the URL to use the embedded server "
    "(pip install 'tta-memory[embedded]')."
)


class _LoopState:
    """The client and the redisvl objects bound to one event loop."""

    def __init__(self, client: aioredis.Redis, backend: Backend) -> None:
        self.client = client
        prefix = backend.settings.prefix
        self.cache_index = AsyncSearchIndex(cache_schema(prefix), redis_client=client)
        self.group_index = AsyncSearchIndex(group_schema(prefix), redis_client=client)
        self.embedding_cache = EmbeddingsCache(
            name=Keys.embedding_cache(prefix),
            async_redis_client=client,
            ttl=backend.settings.embedding_cache_ttl,
        )
        self.deep_indexes: dict[int, AsyncSearchIndex] = {}


class Backend:
    """One Redis deployment and key prefix, shared by every primitive that uses them.

    Args:
        url: A Redis URL (``redis://``, ``rediss://``, ``unix://``), or ``None`` for the
            configured one (``TTA_MEMORY_REDIS_URL``, ``REDIS_URL``) or the embedded server.
        settings: Engine settings.
    """

    _registry: ClassVar[dict[tuple[str | None, str], Backend]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, url: str | None, settings: Settings) -> None:
        self._url = check_redis_url(url) if url else None
        self.settings = settings
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )
        self._setup_done = False
        self._deep_checked: set[tuple[str, int]] = set()

    @classmethod
    def shared(cls, url: str | None, settings: Settings | None = None) -> Backend:
        """Return the backend for ``url`` and the settings' prefix, creating it once."""
        settings = settings or Settings()
        if url is None:  # read the environment now, so a changed variable is seen
            url, _ = configured_url()
        key = (url, settings.prefix)
        with cls._registry_lock:
            backend = cls._registry.get(key)
            if backend is None:
                backend = cls._registry[key] = Backend(url, settings)
            return backend

    @property
    def url(self) -> str:
        """The resolved Redis URL (starting the embedded server if nothing is configured)."""
        if self._url is None:
            from tta_memory.server import ensure_server

            self._url = ensure_server()
        return self._url

    def _new_client(self) -> aioredis.Redis:
        s = self.settings
        # A blocking pool: when every connection is busy (many concurrent calls), a call waits
        # for a free one (up to socket_timeout) instead of failing with "Too many connections".
        pool = aioredis.BlockingConnectionPool.from_url(
            self.url,
            max_connections=MAX_CONNECTIONS,
            timeout=s.socket_timeout,
            socket_timeout=s.socket_timeout,
            socket_connect_timeout=s.connect_timeout,
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), s.retries),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            health_check_interval=30,
        )
        return aioredis.Redis.from_pool(pool)

    async def state(self) -> _LoopState:
        """The client and indexes for the running event loop; sets Redis up on first use."""
        loop = asyncio.get_running_loop()
        st = self._loops.get(loop)
        if st is None:
            st = self._loops[loop] = _LoopState(self._new_client(), self)
        if not self._setup_done:
            await self._setup(st)
        return st

    async def aclose(self) -> None:
        """Close the connections of the running event loop (others close with their loop)."""
        st = self._loops.pop(asyncio.get_running_loop(), None)
        if st is not None:
            await st.client.aclose()

    async def client(self) -> aioredis.Redis:
        """The Redis client bound to the running event loop."""
        return (await self.state()).client

    async def _setup(self, st: _LoopState) -> None:
        try:
            existing = {_s(n) for n in await st.client.execute_command("FT._LIST")}
        except ResponseError as exc:
            raise QueryEngineMissingError(f"{QUERY_ENGINE_HELP} (server said: {exc})") from exc
        for index in (st.cache_index, st.group_index):
            if index.name not in existing:
                await _create(index)
        self._setup_done = True

    async def deep_index(self, embedder: Embedder) -> AsyncSearchIndex:
        """The deep-memory index for ``embedder``'s dimension; checks the recorded model."""
        st = await self.state()
        dims = embedder.dims
        key = (embedder.model_name, dims)
        if key not in self._deep_checked:
            meta_key = Keys.meta(self.settings.prefix)
            meta = {_s(k): _s(v) for k, v in (await st.client.hgetall(meta_key)).items()}
            if not meta:
                await st.client.hset(
                    meta_key, mapping={"embedding_model": embedder.model_name, "dims": dims}
                )
            elif meta.get("embedding_model") != embedder.model_name or int(meta["dims"]) != dims:
                raise EmbeddingMismatchError(
                    f"the deep-memory index under prefix {self.settings.prefix!r} holds embeddings "
                    f"of {meta.get('embedding_model')} ({meta.get('dims')} dims), but this process "
                    f"embeds with {embedder.model_name} ({dims} dims). Use the same model, use "
                    "another prefix (TTA_MEMORY_PREFIX), or re-embed: `tta-memory export -o "
                    "ws.jsonl`, drop the index, then `tta-memory import ws.jsonl` with the new "
                    "model."
                )
            self._deep_checked.add(key)
        index = st.deep_indexes.get(dims)
        if index is None:
            index = AsyncSearchIndex(
                deep_schema(self.settings.prefix, dims), redis_client=st.client
            )
            existing = {_s(n) for n in await st.client.execute_command("FT._LIST")}
            if index.name not in existing:
                await _create(index)
            else:
                await _add_missing_fields(st.client, index)
            st.deep_indexes[dims] = index
        return index


# Fields added after the first release: an index created before them gains them in place
# (FT.ALTER indexes new writes; older memories simply have no context and are never superseded).
_ADDED_DEEP_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("search_text", ("TEXT",)),
    ("superseded", ("TAG", "SEPARATOR", TAG_SEPARATOR, "CASESENSITIVE")),
)


async def _add_missing_fields(client: Any, index: AsyncSearchIndex) -> None:
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


async def _create(index: AsyncSearchIndex) -> None:
    try:
        await index.create(overwrite=False)
    except (RedisVLError, ResponseError) as exc:
        # Another process may have created it between our check and our create.
        if "already exists" not in str(exc).lower() and "exists" not in str(exc).lower():
            raise


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def translate(exc: BaseException) -> TTAMemoryError | None:
    """Map a Redis/redisvl failure to the typed error a caller should see (or ``None``)."""
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(chain) < 8:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    for err in chain:
        text = str(err)
        if isinstance(
            err,
            RedisConnectionError
            | RedisTimeoutError
            | asyncio.TimeoutError
            | ConnectionRefusedError
            | FileNotFoundError,
        ):
            return BackendUnavailableError(
                f"Redis is unreachable or did not answer in time ({type(err).__name__}: {text}). "
                "Check that the server is running (`tta-memory server status`) and the URL."
            )
        if isinstance(err, ResponseError):
            if text.startswith("OOM") or "maxmemory" in text:
                return BackendFullError(f"Redis is out of memory and refused the write: {text}")
            if text.startswith("LOADING"):
                return BackendUnavailableError(f"Redis is restarting (loading its data): {text}")
            if "unknown command" in text.lower() and "FT." in text.upper():
                return QueryEngineMissingError(f"{QUERY_ENGINE_HELP} (server said: {text})")
    return None


def guarded(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Decorate a public coroutine so that Redis failures surface as typed errors."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except TTAMemoryError:
            raise
        except Exception as exc:
            typed = translate(exc)
            if typed is None:
                raise
            raise typed from exc

    return wrapper
