"""The Redis client the engine uses: every round trip bounded in time, every acknowledged write
as durable as the settings ask.

**Bounded failure.** redis-py nests its retries: a command retries, each attempt may reconnect
(retrying the connect), each connect runs a handshake, and a health check pings with retries
of its own. With the server stalled (SIGSTOP) the attempts multiply: measured on redis-py 8.1
with 3 retries, a 5 s socket timeout and a 30 s health check, one ``ZRANGE`` was still waiting
after 200 s. Here the health check is off (a dead connection fails its command, which is
retried once on a fresh connection) and each round trip — waiting for a pooled connection,
connecting, the command and its retries — runs under one deadline,
:attr:`Settings.failure_bound <tta_memory.config.Settings.failure_bound>`. A round trip cut by
the deadline drops the pool's connections, since a half-read reply must never be taken as the
answer to the next command.

**Durability.** After a round trip that wrote, the same connection sends ``WAITAOF 1 0`` (strict)
or ``WAIT 1`` (replicated) before the write is acknowledged to the caller, so every store gets
the setting without knowing about it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.connection import ConnectionPool
from redis.backoff import ExponentialBackoff
from redis.connection import HiredisRespSerializer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.utils import HIREDIS_AVAILABLE

from tta_memory.config import Settings
from tta_memory.durability import Barrier, any_write, is_write
from tta_memory.observability import LoggedRetry  # the async Retry, logging each retry

MAX_CONNECTIONS = 50  # per event loop

# Set while a bounded round trip runs, so that nested redis-py calls share its deadline.
_in_round_trip: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "tta_memory_round_trip", default=False
)


@asynccontextmanager
async def bounded(
    settings: Settings,
    drop: Callable[[], Awaitable[None]] | None = None,
    *,
    until: float | None = None,
) -> AsyncIterator[None]:
    """Run one round trip under :attr:`Settings.failure_bound` (or until the loop time
    ``until``, a deadline shared by several steps); past it, call ``drop`` (close the
    connections that may hold a half-read reply) and raise redis-py's ``TimeoutError``.
    A round trip nested in another one shares the outer deadline."""
    if _in_round_trip.get():
        yield
        return
    bound = settings.failure_bound
    when = asyncio.get_running_loop().time() + bound if until is None else until
    token = _in_round_trip.set(True)
    try:
        async with asyncio.timeout_at(when):
            yield
    except TimeoutError as exc:
        if drop is not None:
            await drop()
        raise RedisTimeoutError(
            f"no answer from Redis within {bound:.1f}s (Settings.failure_bound)"
        ) from exc
    finally:
        _in_round_trip.reset(token)


class PipelineDeadline:
    """One deadline for a whole pipeline or transaction: ``WATCH``, the reads under it,
    ``EXEC`` and the ``UNWATCH`` of its reset share one :attr:`Settings.failure_bound`
    (bounded one by one they added up: measured 2.33 s for a 2.0 s bound on a paused
    cluster primary). The deadline starts at the first step and ends with the reset."""

    settings: Settings
    _deadline_at: float | None = None

    def _step(
        self, drop: Callable[[], Awaitable[None]] | None = None
    ) -> contextlib.AbstractAsyncContextManager[None]:
        if self._deadline_at is None:
            self._deadline_at = asyncio.get_running_loop().time() + self.settings.failure_bound
        return bounded(self.settings, drop, until=self._deadline_at)

    @asynccontextmanager
    async def _last_step(
        self, drop: Callable[[], Awaitable[None]] | None = None
    ) -> AsyncIterator[None]:
        try:
            async with self._step(drop):
                yield
        finally:
            self._deadline_at = None


class _Durable:
    """The durability barrier and the round-trip deadline, shared by client and pipeline."""

    settings: Settings
    barrier: Barrier | None  # Barrier.of(settings), built once per client
    connection_pool: ConnectionPool

    def _bounded(self) -> contextlib.AbstractAsyncContextManager[None]:
        return bounded(self.settings, self._drop_connections)

    async def _drop_connections(self) -> None:
        # A connection cut mid-reply would hand its late reply to the next command: close
        # them all without waiting for the (stalled) peer, which pool.disconnect() would do
        # for up to connect_timeout more (measured: 2.09 s for a 1.5 s bound).
        pool = self.connection_pool
        for conn in (*pool._available_connections, *pool._in_use_connections):
            await conn.disconnect(nowait=True)

    async def _barrier(self, conn: Any) -> None:
        """Wait until this connection's writes are fsynced (strict) or replicated."""
        if self.barrier is not None:
            await self.barrier.on(conn)


class EngineRedis(_Durable, aioredis.Redis):  # type: ignore[misc]
    """``redis.asyncio.Redis`` with bounded round trips and the durability barrier."""

    settings: Settings

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        async with self._bounded():
            return await super().execute_command(*args, **options)

    async def _send_command_parse_response(
        self, conn: Any, command_name: Any, *args: Any, **options: Any
    ) -> Any:
        result = await super()._send_command_parse_response(conn, command_name, *args, **options)
        if is_write(command_name):
            await self._barrier(conn)
        return result

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> EnginePipeline:
        pipe = EnginePipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )
        pipe.settings, pipe.barrier = self.settings, self.barrier
        return pipe


class EnginePipeline(PipelineDeadline, _Durable, Pipeline):  # type: ignore[misc]
    """A pipeline (or ``MULTI``/``EXEC`` transaction) with the same deadline and barrier."""

    settings: Settings

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        async with self._step(self._drop_connections):
            return await super().execute(raise_on_error)

    async def immediate_execute_command(self, *args: Any, **options: Any) -> Any:
        async with self._step(self._drop_connections):
            return await super().immediate_execute_command(*args, **options)

    async def reset(self) -> None:  # type: ignore[override]
        # Under WATCH, reset sends UNWATCH (also on leaving ``async with``, after execute),
        # maybe to a stalled server: within the pipeline's deadline.
        async with self._last_step(self._drop_connections):
            await super().reset()

    async def _execute_pipeline(self, connection: Any, commands: Any, raise_on_error: bool) -> Any:
        response = await super()._execute_pipeline(connection, commands, raise_on_error)
        if any_write(args for args, _ in commands):
            await self._barrier(connection)
        return response

    async def _execute_transaction(
        self, connection: Any, commands: Any, raise_on_error: bool
    ) -> Any:
        response = await super()._execute_transaction(connection, commands, raise_on_error)
        if any_write(args for args, _ in commands):
            await self._barrier(connection)
        return response


async def fsync_always(conn: Any) -> None:
    """Connection set-up under ``strict``: the usual handshake, then ask the server to fsync
    every write. Under ``appendfsync everysec`` a ``WAITAOF`` waits for the next once-a-second
    fsync (measured: 1,016 ms per append instead of 1.5 ms); with ``always`` it costs 6.8 ms.
    Done on every new connection, so a restarted server (back to its configured policy) is
    asked again; a server that refuses ``CONFIG`` keeps the guarantee at the slower pace."""
    await conn.on_connect()
    await conn.send_command("CONFIG", "SET", "appendfsync", "always")
    with contextlib.suppress(ResponseError):
        await conn.read_response()


class HiredisPacking:
    """Commands packed by hiredis (C), as redis-py's blocking client packs them; its asyncio
    connection packs them in Python, which was ~25 % of an append's client time (cProfile of
    2,000 appends: 0.10 of 0.44 ms) and the gap to langchain-redis's blocking client. The bytes
    are the same (checked for str, bytes, int, float, inf, -0.0, memoryview)."""

    _packer = HiredisRespSerializer()

    def pack_command(self, *args: Any) -> list[bytes]:
        return self._packer.pack(*args)


_PACKING: dict[type, type] = {}


def hiredis_packing(connection_class: type) -> type:
    """``connection_class`` packing commands with hiredis (itself without hiredis 3)."""
    if not HIREDIS_AVAILABLE:
        return connection_class
    fast = _PACKING.get(connection_class)
    if fast is None:
        name = f"Hiredis{connection_class.__name__}"
        fast = _PACKING[connection_class] = type(name, (HiredisPacking, connection_class), {})
    return fast


def make_client(url: str, settings: Settings) -> EngineRedis:
    """A client for ``url`` with the settings' timeouts, retries and durability.

    Args:
        url: A ``redis://``, ``rediss://`` or ``unix://`` URL.
        settings: Engine settings.

    Returns:
        The client (its pool blocks for a free connection rather than failing when all
        :data:`MAX_CONNECTIONS` are busy; that wait counts towards the round trip's deadline).
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=settings.failure_bound,
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=settings.connect_timeout,
        retry=LoggedRetry(ExponentialBackoff(cap=0.5, base=0.05), settings.retries),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        # No PING health checks: they ran with retries of their own inside each command's
        # retries; a dead connection fails its command, which is retried on a new one.
        health_check_interval=0,
        redis_connect_func=fsync_always if settings.durability == "strict" else None,
    )
    pool.connection_class = hiredis_packing(pool.connection_class)
    client = EngineRedis(connection_pool=pool)
    client.auto_close_connection_pool = True  # the client owns its pool (as from_pool does)
    client.settings, client.barrier = settings, Barrier.of(settings)
    return client
