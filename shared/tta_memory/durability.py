"""The durability barrier: what follows a write, on the connection that wrote it, before the
write is acknowledged — shared by the single-node client (:mod:`tta_memory.connection`) and
the cluster client (:mod:`tta_memory.cluster_barrier`), so both keep the same promise.

- ``durability="strict"``: ``WAITAOF 1 0`` (the write is fsynced to the primary's AOF).
- ``durability="replicated"`` or ``wait_replicas=n``: ``WAIT n`` (``n`` replicas have it;
  ``replicated`` means at least one).

``WAIT`` and ``WAITAOF`` only cover the writes of the connection they are sent on, so each
barrier goes on the connection that carried the write (after a ``MULTI``/``EXEC`` too).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from tta_memory.config import Settings
from tta_memory.errors import DurabilityError, NotReplicatedError
from tta_memory.replies import text

# Commands after which no barrier is needed: reads, connection and server commands, and index
# definitions (the engine re-creates a lost index by itself). Anything else, including a
# command this list does not know, is treated as a write (an extra WAIT is harmless, a missing
# one would weaken the guarantee).
NO_BARRIER = frozenset(
    {
        "PING", "ECHO", "INFO", "HELLO", "AUTH", "CLIENT", "COMMAND", "CONFIG", "MODULE",
        "SCRIPT", "SELECT", "TIME", "DBSIZE", "MEMORY", "OBJECT", "TYPE", "TTL", "PTTL",
        "EXISTS", "GET", "MGET", "STRLEN", "HGET", "HMGET", "HGETALL", "HEXISTS", "HLEN",
        "HKEYS", "HVALS", "HSCAN", "SCAN", "SMEMBERS", "SISMEMBER", "SCARD", "SSCAN",
        "LRANGE", "LLEN", "ZRANGE", "ZREVRANGE", "ZRANGEBYSCORE", "ZREVRANGEBYSCORE", "ZCARD",
        "ZSCORE", "ZMSCORE", "ZCOUNT", "ZRANK", "ZREVRANK", "ZSCAN", "WATCH", "UNWATCH",
        "MULTI", "EXEC", "DISCARD", "WAIT", "WAITAOF", "EVALSHA_RO", "EVAL_RO", "FT.SEARCH",
        "FT.AGGREGATE", "FT._LIST", "FT.INFO", "FT.EXPLAIN", "FT.PROFILE", "FT.TAGVALS",
        "FT.CURSOR", "FT.CREATE", "FT.ALTER", "FT.DROPINDEX", "JSON.GET", "JSON.MGET",
        "JSON.TYPE", "CLUSTER", "ASKING", "READONLY", "READWRITE",
    }
)  # fmt: skip


def command_name(command: Any) -> str:
    """The upper-case name of a command (``"SCRIPT LOAD"``-style names give ``SCRIPT``)."""
    return text(command).split(" ", 1)[0].upper()


def is_write(command: Any) -> bool:
    """Whether a command (its name) may change data."""
    return command_name(command) not in NO_BARRIER


def any_write(commands: Iterable[Sequence[Any]]) -> bool:
    """Whether any of ``commands`` (argument tuples) may change data."""
    return any(args and is_write(args[0]) for args in commands)


@dataclass(frozen=True)
class Barrier:
    """The commands that make a connection's writes as durable as the settings ask."""

    commands: tuple[tuple[Any, ...], ...]
    mode: str
    replicas: int
    timeout_ms: int

    @classmethod
    def of(cls, settings: Settings) -> Barrier | None:
        """The barrier of ``settings`` (``None``: acknowledge on the primary's answer).

        Each wait ends before the read of its answer would time out (0.8 x
        ``socket_timeout``); ``WAIT`` also within ``wait_timeout_ms``. ``WAITAOF`` keeps the
        whole 0.8 x: on a server that refused ``appendfsync always`` it waits for the next
        once-a-second fsync.
        """
        replicas = max(settings.wait_replicas, 1 if settings.durability == "replicated" else 0)
        read_ms = max(1, int(settings.socket_timeout * 800))
        timeout_ms = max(1, min(settings.wait_timeout_ms, read_ms))
        commands: list[tuple[Any, ...]] = []
        if settings.durability == "strict":
            commands.append(("WAITAOF", 1, 0, read_ms))
        if replicas:
            commands.append(("WAIT", replicas, timeout_ms))
        if not commands:
            return None
        return cls(tuple(commands), settings.durability, replicas, timeout_ms)

    def check(self, replies: Sequence[Any]) -> None:
        """Raise unless every reply (one per command, maybe an exception) confirms it.

        Raises:
            DurabilityError: Not fsynced in time, or the server lacks ``WAITAOF``.
            NotReplicatedError: Fewer replicas than asked confirmed the write in time.
        """
        for command, reply in zip(self.commands, replies, strict=True):
            if isinstance(reply, BaseException):
                raise DurabilityError(
                    f"durability={self.mode!r} needs a server that supports {command[0]} "
                    f"(strict: Redis >= 7.2 with appendonly yes): {reply}"
                ) from reply
            if command[0] == "WAITAOF":
                if int(reply[0]) < 1:
                    raise DurabilityError(
                        f"the write was applied but not fsynced to the AOF within "
                        f"{command[-1]} ms (durability={self.mode!r}); it may be lost if "
                        "the server crashes now"
                    )
            elif int(reply) < self.replicas:
                raise NotReplicatedError(
                    f"the write was applied but acknowledged by {int(reply)} of the "
                    f"{self.replicas} replica(s) asked for within {self.timeout_ms} ms "
                    f"(durability={self.mode!r}, wait_replicas); it may not survive a "
                    "failover or a crash of the primary. Retry it or lower the setting."
                )

    async def on(self, conn: Any) -> None:
        """Send the barrier on ``conn`` (the connection that wrote) and check the replies."""
        replies: list[Any] = []
        for command in self.commands:
            await conn.send_command(*command)
            try:
                replies.append(await conn.read_response())
            except ResponseError as exc:  # the server lacks the command
                replies.append(exc)
        self.check(replies)
