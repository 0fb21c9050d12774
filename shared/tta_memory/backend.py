"""The connection to Redis: URL resolution, one client per event loop, index set-up, the
Query Engine check, and the translation of Redis failures into typed errors."""

from __future__ import annotations

import asyncio
import functools
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, ParamSpec, TypeVar, cast

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redisvl.index import AsyncSearchIndex
from redisvl.schema import IndexSchema

from tta_memory import replies
from tta_memory.cluster import (
    is_cluster_url,
    is_missing_index,
    make_cluster_client,
    translate_cluster_error,
    wait_indexed,
)
from tta_memory.config import Settings, check_redis_url, configured_url
from tta_memory.connection import MAX_CONNECTIONS, EngineRedis, make_client
from tta_memory.embeddings import Embedder, QueryVectorCache
from tta_memory.errors import (
    BackendFullError,
    BackendUnavailableError,
    EmbeddingMismatchError,
    InternalError,
    InvalidInputError,
    LayoutMismatchError,
    QueryEngineMissingError,
    TTAMemoryError,
    causes,
)
from tta_memory.indexes import RecoveringIndex, add_missing_fields, create
from tta_memory.keys import Keys
from tta_memory.partitions import Partition
from tta_memory.schema import cache_schema, deep_schema, group_schema
from tta_memory.vectors import DEFAULT_VECTOR_DTYPE, VectorDtype

P = ParamSpec("P")
T = TypeVar("T")

QUERY_ENGINE_HELP = (
    "tta-memory needs the Redis Query Engine (RediSearch >= 2.6). Use Redis 8+, Redis Stack 7.2+, "
    "Redis Cloud or Redis Software, or unset the URL to use the embedded server "
    "(pip install 'tta-memory[embedded]')."
)


class _LoopState:
    """The client and the redisvl objects bound to one event loop."""

    def __init__(self, client: EngineRedis, backend: Backend) -> None:
        self.client = client
        self.embedding_cache = QueryVectorCache(
            client,
            Keys.embedding_cache(backend.settings.prefix),
            ttl=backend.settings.embedding_cache_ttl,
            slots=backend.settings.embedding_cache_size,
        )
        # Index objects of the partitions used so far, by index name; each was created (or
        # found) in Redis when first built. A partition's indexes appear on first use.
        self.indexes: dict[str, RecoveringIndex] = {}


class Backend:
    """One Redis deployment and key prefix, shared by every primitive that uses them.

    Args:
        url: A Redis URL (``redis://``, ``rediss://``, ``unix://``), or ``None`` for the
            configured one (``TTA_MEMORY_REDIS_URL``, ``REDIS_URL``) or the embedded server.
        settings: Engine settings.
    """

    _registry: ClassVar[dict[tuple[Any, ...], Backend]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, url: str | None, settings: Settings) -> None:
        self._url = check_redis_url(url) if url else None
        self.settings = settings
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )
        self._setup_done = False
        self._deep_checked: set[tuple[str, int]] = set()
        self._vector_dtype: VectorDtype | None = None

    @classmethod
    def shared(cls, url: str | None, settings: Settings | None = None) -> Backend:
        """Return the backend for ``url`` and the settings' prefix, creating it once.

        Engines whose settings shape the connection differently (timeouts, retries,
        durability) get backends of their own.
        """
        settings = settings or Settings()
        if url is None:  # read the environment now, so a changed variable is seen
            url, _ = configured_url()
        s = settings
        # Settings that shape the client (bounds, durability, replicas) get a backend of their own.
        key = (
            url,
            s.prefix,
            s.socket_timeout,
            s.connect_timeout,
            s.retries,
            s.durability,
            s.wait_replicas,
            s.wait_timeout_ms,
            # Its layout check is this backend's: another bucket count on the same prefix
            # shared the first one's backend and was never checked.
            s.partition_buckets,
            s.vector_dtype,  # likewise: an explicit type is checked against the prefix's record
        )
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

    def _new_client(self) -> EngineRedis:
        s = self.settings
        if is_cluster_url(self.url):  # redis://node:port?cluster=true: see tta_memory.cluster
            # Same round-trip deadline and durability barrier as the single-node client.
            client: Any = make_cluster_client(self.url, s, max_connections=MAX_CONNECTIONS)
            return cast(EngineRedis, client)
        # Bounded round trips and the durability barrier: see tta_memory.connection.
        return make_client(self.url, s)

    def forget_setup(self) -> None:
        """Forget that the layout record and the model record exist (the server lost its data)."""
        self._setup_done = False
        self._deep_checked.clear()

    async def recover(self, index: AsyncSearchIndex, exc: BaseException) -> bool:
        """Re-create ``index`` if ``exc`` says the server lost it; ``True``: retry the read once.

        Every reader of an index calls this on a failed read (:class:`RecoveringIndex` and the
        raw ``FT.SEARCH`` readers alike). The re-created index covers the documents that were
        kept (a wiped server, ``FT.DROPINDEX``), but RediSearch indexes them in the background:
        the retry waits for that scan, or it would miss them (300 memories: the retry found
        none without the wait). The layout and model records are written again on next use.
        """
        if not is_missing_index(exc):
            return False
        await create(index)
        await wait_indexed(index.client, index.name, self.settings.socket_timeout)
        self.forget_setup()
        return True

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

    async def client(self) -> EngineRedis:
        """The Redis client bound to the running event loop."""
        return (await self.state()).client

    async def _setup(self, st: _LoopState) -> None:
        try:
            await st.client.execute_command("FT._LIST")
        except ResponseError as exc:
            raise QueryEngineMissingError(f"{QUERY_ENGINE_HELP} (server said: {exc})") from exc
        await self._check_layout(st)
        self._setup_done = True

    async def _check_layout(self, st: _LoopState) -> None:
        """Record the bucket count on first use; refuse another one (it would move every
        shared workspace to another partition, where its data is not)."""
        buckets = self.settings.partition_buckets
        meta_key = Keys.meta(self.settings.prefix)
        recorded = await self.record_once(st.client, meta_key, {"partition_buckets": str(buckets)})
        if recorded["partition_buckets"] != str(buckets):
            raise LayoutMismatchError(
                f"the data under prefix {self.settings.prefix!r} is laid out in "
                f"{recorded['partition_buckets']} "
                f"shared partitions, but this process is configured with {buckets} "
                "(TTA_MEMORY_PARTITION_BUCKETS). Use the recorded value, or move the data: "
                "`tta-memory export`, then import under a new prefix."
            )

    @staticmethod
    async def record_once(
        client: EngineRedis,
        key: str,
        fields: dict[str, str],
        legacy: dict[str, str] | None = None,
    ) -> dict[str, str]:
        """Record ``fields`` in the hash ``key`` where absent, in one transaction, and return
        what is recorded: ours, or what whoever came first recorded — the one way the engine
        records what its data is laid out with (bucket count, embedding models). (Read, then
        write if absent, let two processes starting at once with different models both pass.)

        ``legacy`` gives the value of a field that records written before it existed mean: it
        is recorded instead of ours where the hash already held the other fields.
        """
        async with client.pipeline(transaction=True) as pipe:
            for name, value in fields.items():
                pipe.hsetnx(key, name, value)
            pipe.hmget(key, list(fields))
            *added, values = await pipe.execute()
        recorded = {name: replies.text(v) for name, v in zip(fields, values, strict=True)}
        new = {name for name, flag in zip(fields, added, strict=True) if flag}
        older = {name: v for name, v in (legacy or {}).items() if name in new}
        if older and new != set(fields) and any(recorded[n] != v for n, v in older.items()):
            await client.hset(key, mapping=cast(Any, older))
            recorded.update(older)
        return recorded

    async def _index(
        self, partition: Partition, kind: str, schema: Callable[[], IndexSchema]
    ) -> RecoveringIndex:
        st = await self.state()
        name = partition.index_name(self.settings.prefix, kind)
        index = st.indexes.get(name)
        if index is None:  # first use in this event loop: build the schema only now
            index = RecoveringIndex(schema(), st.client, self)
            # One FT.CREATE (~0.25 ms); "already exists" is fine. An index created over keys
            # written before it (a session's cache entries, groups) indexes them in the
            # background, maybe by another caller right now: wait until that scan is done, or
            # the first read would miss them (one FT.INFO per index and event loop).
            if not await create(index) and kind == "deep":
                await add_missing_fields(st.client, index)
            await wait_indexed(st.client, name, self.settings.socket_timeout)
            st.indexes[name] = index
        return index

    async def cache_index(self, partition: Partition) -> RecoveringIndex:
        """The cache-layer index of ``partition`` (created on first use, with its group index)."""
        prefix = self.settings.prefix
        index = await self._index(partition, "cache", lambda: cache_schema(prefix, partition))
        await self._index(partition, "group", lambda: group_schema(prefix, partition))
        return index

    async def group_index(self, partition: Partition) -> RecoveringIndex:
        """The session-group index of ``partition`` (created on first use, with its cache index).

        The two are created together, at a partition's first session append or group: an
        ``FT.CREATE`` scans the node's whole keyspace (~1.4 s at ~1.5M keys here), which then
        happens on that first write rather than on a later first read.
        """
        prefix = self.settings.prefix
        await self._index(partition, "cache", lambda: cache_schema(prefix, partition))
        return await self._index(partition, "group", lambda: group_schema(prefix, partition))

    async def deep_index(self, embedder: Embedder, partition: Partition) -> RecoveringIndex:
        """The deep-memory index of ``partition``; checks the recorded embedding model and
        vector type (both recorded once per prefix, by its first deep-memory call)."""
        st = await self.state()
        dims = embedder.dims
        key = (embedder.model_name, dims)
        if key not in self._deep_checked:
            wanted = self.settings.vector_dtype
            ours = {
                "embedding_model": embedder.model_name,
                "dims": str(dims),
                "vector_dtype": wanted or DEFAULT_VECTOR_DTYPE,
            }
            # A prefix recorded before vector types were recorded holds float32 indexes.
            meta = await self.record_once(
                st.client, Keys.meta(self.settings.prefix), ours, legacy={"vector_dtype": "float32"}
            )
            if (meta["embedding_model"], meta["dims"]) != (ours["embedding_model"], ours["dims"]):
                raise EmbeddingMismatchError(
                    f"the deep-memory index under prefix {self.settings.prefix!r} holds embeddings "
                    f"of {meta.get('embedding_model')} ({meta.get('dims')} dims), but this process "
                    f"embeds with {embedder.model_name} ({dims} dims). Use the same model, use "
                    "another prefix (TTA_MEMORY_PREFIX), or re-embed: `tta-memory export -o "
                    "ws.jsonl`, drop the index, then `tta-memory import ws.jsonl` with the new "
                    "model."
                )
            recorded = cast(VectorDtype, meta["vector_dtype"])
            if wanted is not None and wanted != recorded:
                raise EmbeddingMismatchError(
                    f"the deep-memory index under prefix {self.settings.prefix!r} stores "
                    f"{recorded} vectors, but vector_dtype={wanted!r} was asked for "
                    "(TTA_MEMORY_VECTOR_DTYPE). Leave it unset to use the recorded type, use "
                    "another prefix, or move the data: `tta-memory export -o ws.jsonl`, then "
                    "`tta-memory import ws.jsonl` under a new prefix."
                )
            self._vector_dtype = recorded
            self._deep_checked.add(key)
        dtype = self.vector_dtype
        prefix = self.settings.prefix
        return await self._index(
            partition, "deep", lambda: deep_schema(prefix, partition, dims, dtype)
        )

    @property
    def vector_dtype(self) -> VectorDtype:
        """The element type of this prefix's stored vectors (known once :meth:`deep_index` has
        checked the prefix's record, which every deep-memory call does first)."""
        if self._vector_dtype is None:
            raise RuntimeError("vector_dtype is known after the first deep_index() call")
        return self._vector_dtype


def translate(exc: BaseException) -> TTAMemoryError | None:
    """Map a Redis/redisvl failure to the typed error a caller should see (or ``None``)."""
    for err in causes(exc):
        text = str(err)
        if isinstance(err, TTAMemoryError):  # raised below a library call that wrapped it
            return type(err)(*err.args)
        cluster_error = translate_cluster_error(err)
        if cluster_error is not None:
            return cluster_error
        lowered = text.lower()
        if isinstance(err, RedisConnectionError | ResponseError) and (
            "authenticat" in lowered or "noauth" in lowered or "wrongpass" in lowered
        ):
            return BackendUnavailableError(
                f"Redis refused the connection: a password is required or wrong ({text}). "
                "Put it in the URL (redis://:password@host:6379 or unix:///path.sock?password=…); "
                "the embedded server's URL carries its own (`tta-memory server status`)."
            )
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
            if text.startswith(("LOADING", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN")):
                return BackendUnavailableError(f"Redis is not ready: {text}")
            if text.startswith("READONLY"):
                return BackendUnavailableError(
                    f"Redis refused a write as a read-only replica: {text}"
                )
            if "unknown command" in text.lower() and "FT." in text.upper():
                return QueryEngineMissingError(f"{QUERY_ENGINE_HELP} (server said: {text})")
        if isinstance(err, UnicodeError):
            return InvalidInputError(
                f"a string argument cannot be stored as UTF-8 (a lone surrogate?): {text}"
            )
    return None


def guarded(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Decorate a public coroutine so that every failure surfaces as a typed error.

    Redis failures become :class:`BackendUnavailableError` (and subclasses); anything else
    that escapes the engine's own checks is a bug, raised as :class:`InternalError` with the
    original chained (the property tests count those).
    """

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except TTAMemoryError:
            raise
        except Exception as exc:
            typed = translate(exc)
            if typed is None:
                typed = InternalError(f"{type(exc).__name__}: {exc}")
            raise typed from exc

    return wrapper
