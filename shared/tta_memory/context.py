"""The engine context every store takes: scope, keys, backend, settings and embedder.

Also the two small contracts the stores share with the layers above them: a batched read
(:class:`ReadSpec`, queued into someone else's pipeline) and a bounded optimistic update
(:func:`watched`).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Generic, TypeVar

from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from tta_memory.backend import Backend, guarded
from tta_memory.config import Settings
from tta_memory.embeddings import Embedder, make_embedder
from tta_memory.errors import ConflictError
from tta_memory.keys import Keys
from tta_memory.names import check_name
from tta_memory.partitions import PartitionLayout
from tta_memory.scripts import LuaScript, execute
from tta_memory.sync import SyncProxy
from tta_memory.workspaces import ensure_registered

DEFAULT_WORKSPACE = "default"
# Optimistic (WATCH) updates retry on a concurrent change; 20 concurrent updates of one PAF
# settle in under 20 attempts, so 64 only fails under a pathological write storm.
MAX_WATCH_ATTEMPTS = 64
T = TypeVar("T")


class EngineContext:
    """One user's view of one workspace on one Redis deployment.

    Args:
        redis_url: Redis URL, or ``None`` for ``TTA_MEMORY_REDIS_URL`` / ``REDIS_URL`` or the
            embedded server.
        user_id: The actor, recorded as author of everything written.
        workspace: The tenant (default ``TTA_MEMORY_WORKSPACE`` or ``"default"``).
        vectorizer: Embedding model; ``None`` for the offline default.
        settings: Engine settings.
    """

    def __init__(
        self,
        redis_url: str | None = None,
        user_id: str = "default",
        *,
        workspace: str | None = None,
        vectorizer: Any = None,
        settings: Settings | None = None,
    ) -> None:
        self.user_id = check_name("user_id", user_id)
        self.workspace = check_name(
            "workspace", workspace or os.environ.get("TTA_MEMORY_WORKSPACE") or DEFAULT_WORKSPACE
        )
        self.settings = settings or Settings()
        self.backend = Backend.shared(redis_url, self.settings)
        layout = PartitionLayout(
            buckets=self.settings.partition_buckets,
            dedicated=self.settings.dedicated_workspaces,
        )
        self.keys = Keys(self.settings.prefix, self.workspace, layout)
        self._vectorizer = vectorizer

    @cached_property
    def embedder(self) -> Embedder:
        """The embedding model (loaded on first use)."""
        return make_embedder(self._vectorizer)

    async def client(self) -> Any:
        """The Redis client of the running event loop."""
        client = await self.backend.client()
        await ensure_registered(self, client)  # the workspace registry (once per process)
        return client

    def readable(self, workspace: Any, visibility: Any = "shared", author: Any = None) -> bool:
        """Whether a row read back belongs to this workspace and is visible to this user."""
        return workspace == self.workspace and (visibility != "private" or author == self.user_id)


@dataclass(frozen=True)
class ReadSpec(Generic[T]):
    """A read a store offers for batching: queue its commands, then decode their replies.

    The loader queues the specs of several stores into one pipeline and hands each spec back
    exactly the replies of the commands it queued, so no layer above a store needs its keys.
    """

    queue: Callable[[Pipeline], object]
    commands: int
    decode: Callable[[Sequence[Any]], T]
    #: Lua scripts the commands run by EVALSHA: loaded when the server answers NOSCRIPT.
    scripts: tuple[LuaScript, ...] = ()


async def run_specs(ctx: EngineContext, specs: Sequence[ReadSpec[Any]]) -> list[Any]:
    """Send ``specs`` in one pipeline (one round trip) and return each one's decoded result."""
    if not specs:
        return []
    client = await ctx.client()

    def queue(pipe: Pipeline) -> None:
        for spec in specs:
            spec.queue(pipe)

    used = {s.sha: s for spec in specs for s in spec.scripts}
    replies = await execute(client, queue, list(used.values()))
    out: list[Any] = []
    pos = 0
    for spec in specs:
        out.append(spec.decode(replies[pos : pos + spec.commands]))
        pos += spec.commands
    return out


async def watched(
    ctx: EngineContext,
    key: str,
    read: Callable[[Pipeline], Awaitable[T]],
    write: Callable[[Pipeline, T], Any],
) -> Any:
    """An optimistic transaction on ``key``: read under WATCH, then write in MULTI/EXEC.

    ``write(pipe, current)`` queues the changes and returns what the caller should get. A
    concurrent change retries, at most :data:`MAX_WATCH_ATTEMPTS` times.

    Raises:
        ConflictError: The key kept changing under every attempt.
    """
    client = await ctx.client()
    async with client.pipeline(transaction=True) as pipe:
        for _ in range(MAX_WATCH_ATTEMPTS):
            try:
                await pipe.watch(key)
                current = await read(pipe)
                pipe.multi()
                result = write(pipe, current)
                await pipe.execute()
                return result
            except WatchError:
                continue
    raise ConflictError(
        f"{key!r} changed under {MAX_WATCH_ATTEMPTS} concurrent updates in a row; retry later"
    )


class Store:
    """Base of the sibling stores: one engine context, typed errors, and ``.sync`` twins.

    Every public coroutine method of a subclass is wrapped with ``guarded``, so a Redis
    failure surfaces as a :class:`~tta_memory.errors.TTAMemoryError` whichever way the store
    is reached (``memory.deep.search(...)`` as well as the facade).
    """

    def __init__(self, ctx: EngineContext) -> None:
        self._ctx = ctx

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, attr in list(vars(cls).items()):
            if not name.startswith("_") and inspect.iscoroutinefunction(attr):
                setattr(cls, name, guarded(attr))

    @cached_property
    def sync(self) -> Any:
        """Blocking twins of the store's coroutine methods (typed through the facade's
        ``memory.sync.<store>``, see :mod:`tta_memory.sync_api`)."""
        return SyncProxy(self)
