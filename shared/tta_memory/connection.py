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
from redis.client import EMPTY_RESPONSE, NEVER_DECODE
from redis.connection import HiredisRespSerializer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.observability.providers import get_observability_instance
from redis.utils import HIREDIS_AVAILABLE

if HIREDIS_AVAILABLE:
    from hiredis import pack_command as hiredis_pack

from tta_memory.config import Settings
from tta_memory.deadlines import Deadlines
from tta_memory.durability import Barrier, any_write, is_write
from tta_memory.observability import LoggedRetry  # the async Retry, logging each retry

MAX_CONNECTIONS = 50  # per event loop
_redis_metrics = get_observability_instance()  # redis-py's own OpenTelemetry metrics

# Set while a bounded round trip runs, so that nested redis-py calls share its deadline.
_in_round_trip: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "tta_memory_round_trip", default=False
)


class bounded:  # lower case: used as ``async with bounded(settings)``, like a function
    """Run one round trip under :attr:`Settings.failure_bound` (or until the loop time
    ``until``, a deadline shared by several steps); past it, call ``drop`` (close the
    connections that may hold a half-read reply) and raise redis-py's ``TimeoutError``.
    A round trip nested in another one shares the outer deadline.

    A class rather than an ``@asynccontextmanager``: the generator and its wrapper were ~4 us
    of a ~200 us append (the lab of ``benchmarks/append_lab.py``)."""

    __slots__ = ("_drop", "_settings", "_timeout", "_token", "_until")

    def __init__(
        self,
        settings: Settings,
        drop: Callable[[], Awaitable[None]] | None = None,
        *,
        until: float | None = None,
    ) -> None:
        self._settings, self._drop, self._until = settings, drop, until
        self._timeout: asyncio.Timeout | None = None
        self._token: contextvars.Token[bool] | None = None

    async def __aenter__(self) -> None:
        if _in_round_trip.get():
            return
        until = self._until
        if until is None:
            until = asyncio.get_running_loop().time() + self._settings.failure_bound
        self._token = _in_round_trip.set(True)
        self._timeout = asyncio.timeout_at(until)
        await self._timeout.__aenter__()

    async def __aexit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        timeout, token = self._timeout, self._token
        if timeout is None or token is None:
            return False
        self._timeout = self._token = None
        try:
            await timeout.__aexit__(kind, exc, tb)
        except TimeoutError as cut:
            await self._cut(cut)
        else:
            if isinstance(exc, TimeoutError):  # an asyncio timeout inside the round trip
                await self._cut(exc)
        finally:
            _in_round_trip.reset(token)
        return False

    async def _cut(self, cause: BaseException) -> None:
        if self._drop is not None:
            await self._drop()
        raise past_the_bound(self._settings) from cause


def past_the_bound(settings: Settings) -> RedisTimeoutError:
    """The error of a round trip cut by :attr:`Settings.failure_bound`."""
    return RedisTimeoutError(
        f"no answer from Redis within {settings.failure_bound:.1f}s (Settings.failure_bound)"
    )


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
    """``redis.asyncio.Redis`` with bounded round trips and the durability barrier.

    **The direct path.** A single command finding an idle connection in an
    :class:`EnginePool` is sent on it directly: the same steps as redis-py's
    ``execute_command`` (the connection checked, the command and its retries under
    ``Connection.retry``, the reply read under ``socket_timeout`` and parsed by the client's
    response callback, the connection given back) without what costs time and does nothing
    here: the pool's condition and locks when nobody waits for a connection, redis-py's own
    metrics calls (taken only while ``redis.observability`` is off) and the write timeout's
    task (:class:`DirectWrite`); its deadline is kept without a timer per command
    (:mod:`tta_memory.deadlines`). With the session store's own cuts, an append went from
    1.3-1.8x langchain-redis's p50 to 0.96x (``benchmarks/append_lab.py``). Anything
    else (no idle connection, options the client treats specially, a single-connection
    client, redis-py's metrics on) takes redis-py's own path.
    """

    settings: Settings
    _deadlines: Deadlines | None = None

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        pool = self.connection_pool
        if (
            type(pool) is EnginePool
            and self.connection is None
            and NEVER_DECODE not in options
            and EMPTY_RESPONSE not in options
            and not _redis_metrics.is_enabled()
        ):
            conn = pool.take_idle()
            if conn is not None:
                if _in_round_trip.get():  # inside another round trip: under its deadline
                    return await self._direct(pool, conn, args, options)
                return await self._direct_bounded(pool, conn, args, options)
        async with self._bounded():
            return await super().execute_command(*args, **options)

    async def _direct_bounded(self, pool: EnginePool, conn: Any, args: Any, options: Any) -> Any:
        """:meth:`_direct` under :attr:`Settings.failure_bound`, kept by the loop's
        :class:`~tta_memory.deadlines.Deadlines` (no timer of its own: see that module)."""
        loop = asyncio.get_running_loop()
        deadlines = self._deadlines
        if deadlines is None or deadlines.loop is not loop:
            deadlines = self._deadlines = Deadlines(loop)
        task: Any = asyncio.current_task()
        deadlines.start(task, loop.time() + self.settings.failure_bound)
        try:
            return await self._direct(pool, conn, args, options)
        except asyncio.CancelledError as exc:
            if not deadlines.expired(task):
                raise
            await self._drop_connections()
            raise past_the_bound(self.settings) from exc
        finally:
            deadlines.finish(task)

    async def _direct(self, pool: EnginePool, conn: Any, args: Any, options: Any) -> Any:
        """One command on ``conn`` (taken from ``pool``), retried as redis-py retries it."""
        name = args[0]
        try:
            await pool.ensure_connection(conn)
            return await conn.retry.call_with_retry(
                lambda: self._send_command_parse_response(conn, name, *args, **options),
                lambda error, failures: self._close_connection(conn, error, failures, 0.0, name),
                with_failure_count=True,
            )
        finally:
            if not pool.give_back(conn):
                await pool.release(conn)

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


class EnginePool(aioredis.BlockingConnectionPool):
    """redis-py's blocking pool, plus a lock-free way to take and give back an idle connection
    for the client's direct path (:class:`EngineRedis`).

    The event loop runs one task at a time and neither method awaits, so nothing can change
    the pool between the check and the move. Both step aside (``None`` / ``False``: use
    ``get_connection`` / ``release``) while a task waits for a connection, so waiters are
    woken in order as before; in maintenance; and with a credential provider, whose
    re-authentication listens to the pool's release events."""

    def take_idle(self) -> Any:
        """An idle connection, moved to the in-use set, or ``None``."""
        if (
            not self._available_connections
            or self._in_maintenance
            or getattr(self._condition, "_waiters", True)
            or self.connection_kwargs.get("credential_provider") is not None
        ):
            return None
        conn = self._available_connections.pop()
        self._in_use_connections.add(conn)
        return conn

    def give_back(self, conn: Any) -> bool:
        """Put ``conn`` back among the idle connections; ``False``: call ``release`` instead."""
        if (
            self._in_maintenance
            or getattr(self._condition, "_waiters", True)
            or conn.should_reconnect()
        ):
            return False
        self._in_use_connections.remove(conn)
        self._available_connections.append(conn)
        return True


class DirectWrite:
    """A command written without a task: redis-py's asyncio connection wraps every write in
    ``asyncio.wait_for`` (a task and two more event-loop turns on Python 3.11) to bound it by
    ``socket_timeout``, though a write only waits when the socket's buffer is full. Here the
    bytes go to the transport at once and the timeout applies only then; errors close the
    connection and raise redis-py's errors, as its own write does."""

    _writer: Any
    socket_timeout: float | None
    is_connected: bool
    disconnect: Callable[..., Awaitable[None]]

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if not self.is_connected or isinstance(command, bytes | str) or not self.socket_timeout:
            await super().send_packed_command(command, check_health)  # type: ignore[misc]
            return
        if check_health:
            await self.check_health()  # type: ignore[attr-defined]
        writer = self._writer
        try:
            writer.writelines(command)
            if writer.transport.get_write_buffer_size():  # the socket took less than all
                async with asyncio.timeout(self.socket_timeout):
                    await writer.drain()
            else:  # not paused: returns at once (raising if the connection was lost)
                await writer.drain()
        except TimeoutError:
            await self.disconnect(nowait=True)
            raise RedisTimeoutError("Timeout writing to socket") from None
        except OSError as exc:
            await self.disconnect(nowait=True)
            raise RedisConnectionError(f"Error while writing to socket: {exc}") from exc
        except BaseException:
            await self.disconnect(nowait=True)
            raise


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
        name = args[0]
        if " " not in name if isinstance(name, str) else b" " not in name:
            # Straight to hiredis: redis-py's serializer first copies every argument through
            # a generator (for bytearray and memoryview: those come back here as TypeError).
            try:
                return [hiredis_pack(args)]
            except TypeError:
                pass
        return self._packer.pack(*args)  # splits "CONFIG SET", converts buffers, DataError


_PACKING: dict[type, type] = {}


def hiredis_packing(connection_class: type) -> type:
    """``connection_class`` writing directly (:class:`DirectWrite`) and packing commands
    with hiredis (with the Python packer when hiredis is missing)."""
    fast = _PACKING.get(connection_class)
    if fast is None:
        bases = (HiredisPacking,) if HIREDIS_AVAILABLE else ()
        name = f"Engine{connection_class.__name__}"
        fast = type(name, (DirectWrite, *bases, connection_class), {})
        _PACKING[connection_class] = fast
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
    pool = EnginePool.from_url(
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
        # RESP2: a keys-only FT.SEARCH is one flat list there, a map per hit (3 containers)
        # under RESP3, redis-py 8's default; ZRANGE WITHSCORES likewise. The 10k understand /
        # AUGSTER load: 21.56 -> 19.68 M client instructions (callgrind, 30 loads), fewer
        # young objects for the collector. Every reply reader here accepts both shapes.
        protocol=2,
    )
    pool.connection_class = hiredis_packing(pool.connection_class)
    client = EngineRedis(connection_pool=pool)
    client.auto_close_connection_pool = True  # the client owns its pool (as from_pool does)
    client.settings, client.barrier = settings, Barrier.of(settings)
    return client
