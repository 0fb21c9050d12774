"""Layer 1 — session messages, in strict per-session order (a Redis sequence, not wall time).

Each session is a sorted set scored by its sequence number (``INCR``), written by a Lua script
that also writes the message's mirror entry of the cache layer (one append = one round trip;
the cache store reads and expires those entries).
"""

from __future__ import annotations

import json
import os
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, cast

from tta_memory.context import ReadSpec, Store
from tta_memory.errors import InvalidInputError, NotFoundError
from tta_memory.limits import MAX_COUNT, check_int, read_time
from tta_memory.literals import ROLES
from tta_memory.models import SessionMessage
from tta_memory.names import check_name
from tta_memory.scripts import APPEND, POP_AT, POP_ID, POP_OLDEST, execute, run
from tta_memory.validation import (
    check_choice,
    check_metadata,
    check_positive,
    check_text,
    check_ttl,
)

MAX_BATCH = 10_000
SESSION_KEYS_CACHE = 10_000  # sessions whose key names a store keeps built


# json.dumps builds a new encoder on every call that passes options (~3 us of an append). No
# circular-reference check: metadata was already encoded once by check_metadata.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def dumps(obj: Any) -> str:
    """Compact JSON, as messages are stored."""
    return "{}" if obj == {} else _ENCODER.encode(obj)


def new_id() -> str:
    """A message id: ``uuid.uuid4().hex`` (version 4, RFC 4122 variant), without building a
    ``UUID`` object (7.7 -> 3.0 us at load ~5)."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40
    raw[8] = raw[8] & 0x3F | 0x80
    return raw.hex()


def decode_message(session_id: str, member: bytes | str, score: float) -> SessionMessage:
    """Rebuild a :class:`SessionMessage` from its stored form."""
    return _message(session_id, json.loads(member), score)


def _message(session_id: str, d: Mapping[str, Any], score: float) -> SessionMessage:
    return SessionMessage(
        id=d["id"],
        session_id=session_id,
        seq=int(score),
        role=d["role"],
        content=d["content"],
        metadata=d.get("metadata") or {},
        user_id=d["user_id"],
        created_at=read_time(d.get("created_at")) or datetime.fromtimestamp(0, UTC),
    )


class MessageRows:
    """A session read not decoded yet: the context loader takes its query from the latest user
    turns, sends its next round trip, and decodes the messages while Redis runs that one (50
    messages: ~0.5 ms of a load's client time)."""

    __slots__ = ("_parsed", "rows", "session_id")

    def __init__(self, session_id: str, rows: Sequence[tuple[bytes | str, float]]) -> None:
        self.session_id = session_id
        self.rows = rows
        self._parsed: dict[int, Any] = {}  # JSON parsed by latest(), reused by decode()

    def __len__(self) -> int:
        return len(self.rows)

    def _fields(self, i: int) -> Any:
        d = self._parsed.get(i)
        if d is None:
            d = self._parsed[i] = json.loads(self.rows[i][0])
        return d

    def latest(self, role: str, n: int) -> list[str]:
        """The contents of the latest ``n`` messages of ``role``, oldest first."""
        out: list[str] = []
        for i in range(len(self.rows) - 1, -1, -1):
            if len(out) >= n:
                break
            d = self._fields(i)
            if d["role"] == role:
                out.append(d["content"])
        return out[::-1]

    def decode(self) -> list[SessionMessage]:
        """The messages, oldest first."""
        sid = self.session_id
        return [_message(sid, self._fields(i), score) for i, (_, score) in enumerate(self.rows)]


def _ttl(ttl_seconds: Any) -> int | None:
    return check_ttl(ttl_seconds) if ttl_seconds is not None else None


def _mirrored(replace: bool, archived: bool) -> bool:
    """Whether an append writes cache entries: new active messages do; a session rewritten
    whole (``replace``) or archived history does not."""
    return not (replace or archived)


def _message_list(messages: Any) -> Iterable[Any]:
    if isinstance(messages, str | bytes | Mapping) or not isinstance(messages, Iterable):
        raise InvalidInputError(f"messages must be a list of dicts, got {type(messages).__name__}")
    return messages


class SessionStore(Store):
    """The session layer of one workspace (``memory.sessions``)."""

    def _session_keys(self, session_id: str) -> tuple[str, str, str]:
        """The session's sequence, active and archived keys, built once per session: escaping
        them took ~10 % of an append's client time (2,000 appends, cProfile). The session id
        is checked when they are built (``check_name`` walks every character: ~4 us)."""
        cache: dict[str, tuple[str, str, str]] = self.__dict__.setdefault("_keys_cache", {})
        keys = cache.get(session_id) if type(session_id) is str else None
        if keys is None:
            check_name("session_id", session_id)
            if len(cache) >= SESSION_KEYS_CACHE:
                cache.clear()
            k = self._ctx.keys
            keys = cache[session_id] = (
                k.session_seq(session_id),
                k.session_active(session_id),
                k.session_archived(session_id),
            )
        return keys

    @cached_property
    def _registry(self) -> str:
        return self._ctx.keys.sessions_registry()

    @cached_property
    def _cache_key_prefix(self) -> str:
        # A message's cache entry key is this prefix and its id (32 hex digits, which the
        # key escaping leaves as they are): one concatenation instead of ~3 us of escaping.
        return self._ctx.keys.cache_entry("")

    async def _client_with_cache_index(self) -> Any:
        """The client, once the partition's cache index exists for it (one check per client:
        the backend's own look-up was ~4 us of every append)."""
        ctx = self._ctx
        ready: weakref.WeakSet[Any] = self.__dict__.setdefault("_cache_ready", weakref.WeakSet())
        client = await ctx.backend.client()
        if client in ready:  # the index exists and ctx.client() registered the workspace
            return client
        # The partition's cache index exists before its first entry, so it indexes entries as
        # they come instead of scanning them all at the first read (seconds under load).
        await ctx.backend.cache_index(ctx.keys.partition)
        client = await ctx.client()
        ready.add(client)
        return client

    def _zset(self, session_id: str, archived: bool) -> str:
        return self._session_keys(session_id)[2 if archived else 1]

    def _message(self, role: Any, content: Any, metadata: Any, now: float) -> dict[str, Any]:
        """One message to store, checked."""
        return {
            "id": new_id(),
            "role": check_choice("role", role, ROLES),
            "content": check_text("content", content),
            "metadata": check_metadata(metadata),
            "user_id": self._ctx.user_id,
            "created_at": now,
        }

    def _prepare(self, messages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        now = time.time()
        out = []
        for m in _message_list(messages):
            if not isinstance(m, Mapping):
                raise InvalidInputError(f"each message must be a dict, got {type(m).__name__}")
            out.append(self._message(m.get("role"), m.get("content"), m.get("metadata"), now))
        if not out:
            raise InvalidInputError("messages must not be empty")
        if len(out) > MAX_BATCH:
            raise InvalidInputError(f"at most {MAX_BATCH} messages per call")
        return out

    def _append_command(
        self,
        session_id: str,
        prepared: list[dict[str, Any]],
        *,
        ttl: int | None,
        replace: bool = False,
        archived: bool = False,
    ) -> tuple[list[str], list[Any]]:
        """The keys and arguments of the append script for ``prepared`` messages (the
        append benchmark sends the same command on bare clients)."""
        ctx = self._ctx
        with_cache = _mirrored(replace, archived)
        cache_keys = [self._cache_key_prefix + m["id"] for m in prepared] if with_cache else []
        args: list[Any] = [
            ttl or 0,
            ctx.settings.cache_retention_seconds if with_cache else 0,
            1 if replace else 0,
            ctx.workspace,
            ctx.user_id,
            session_id,
        ]
        for m in prepared:
            created = repr(m["created_at"])
            args += [dumps(m), m["id"], m["role"], m["content"], dumps(m["metadata"]), created]
        keys = [
            self._session_keys(session_id)[0],
            self._zset(session_id, archived),
            self._zset(session_id, not archived),
            self._registry,
            *cache_keys,
        ]
        return keys, args

    async def _write(
        self,
        session_id: str,
        prepared: list[dict[str, Any]],
        *,
        ttl: int | None,
        replace: bool = False,
        archived: bool = False,
    ) -> list[SessionMessage]:
        keys, args = self._append_command(
            session_id, prepared, ttl=ttl, replace=replace, archived=archived
        )
        cached = _mirrored(replace, archived)
        client = await (self._client_with_cache_index() if cached else self._ctx.client())
        # One script (the sequence, the sorted set, the cache entries and the registry: one
        # partition, one hash tag), sent as a single command.
        seqs = await run(client, APPEND, keys, args)
        return [
            # Validated, not model_construct: pydantic 2.14 validates this model in ~2.7 us
            # and model_construct takes ~9.8 us (its Python path is the slow one).
            SessionMessage(
                **{**m, "created_at": datetime.fromtimestamp(m["created_at"], UTC)},
                session_id=session_id,
                seq=seq,
            )
            for m, seq in zip(prepared, seqs, strict=True)
        ]

    async def add(
        self,
        session_id: str,
        role: str,
        content: str,
        metadata: dict[str, Any] | None = None,
        ttl_seconds: int | None = None,
    ) -> SessionMessage:
        """Append one message (see ``MemoryWorkflowPrimitive.add_session_message``)."""
        self._session_keys(session_id)  # checks the session id
        ttl = _ttl(ttl_seconds)
        prepared = [self._message(role, content, metadata, time.time())]
        return (await self._write(session_id, prepared, ttl=ttl))[0]

    async def add_many(
        self,
        session_id: str,
        messages: Iterable[Mapping[str, Any]],
        ttl_seconds: int | None = None,
        *,
        archived: bool = False,
    ) -> list[SessionMessage]:
        """Append several messages atomically, in order, in one round trip."""
        check_name("session_id", session_id)
        ttl = _ttl(ttl_seconds)
        return await self._write(session_id, self._prepare(messages), ttl=ttl, archived=archived)

    def recent_spec(
        self, session_id: str, limit: int | None, *, archived: bool = False
    ) -> ReadSpec[list[SessionMessage]]:
        """The latest ``limit`` messages (``None``: all), oldest first, as a batched read."""
        rows = self.recent_rows_spec(session_id, limit, archived=archived)
        return ReadSpec(rows.queue, 1, lambda replies: rows.decode(replies).decode())

    def recent_rows_spec(
        self, session_id: str, limit: int | None, *, archived: bool = False
    ) -> ReadSpec[MessageRows]:
        """:meth:`recent_spec`, its messages left to decode (:class:`MessageRows`)."""
        check_name("session_id", session_id)
        start = 0 if limit is None else -check_positive("limit", limit)
        key = self._zset(session_id, archived)

        def decode(replies: Sequence[Any]) -> MessageRows:
            return MessageRows(session_id, cast("list[tuple[bytes, float]]", replies[0]))

        return ReadSpec(lambda pipe: pipe.zrange(key, start, -1, withscores=True), 1, decode)

    def recent_many_spec(
        self, session_ids: Sequence[str], limit: int
    ) -> ReadSpec[dict[str, list[SessionMessage]]]:
        """The latest ``limit`` active messages of each session, as one batched read."""
        specs = [self.recent_spec(sid, limit) for sid in session_ids]

        def queue(pipe: Any) -> None:
            for spec in specs:
                spec.queue(pipe)

        def decode(replies: Sequence[Any]) -> dict[str, list[SessionMessage]]:
            return {
                sid: spec.decode([r])
                for sid, spec, r in zip(session_ids, specs, replies, strict=True)
            }

        return ReadSpec(queue, len(specs), decode)

    def counts_spec(self, session_ids: Sequence[str]) -> ReadSpec[dict[str, int]]:
        """How many active messages each session holds, as one batched read."""
        keys = [self._zset(sid, False) for sid in session_ids]

        def queue(pipe: Any) -> None:
            for key in keys:
                pipe.zcard(key)

        return ReadSpec(
            queue,
            len(keys),
            lambda replies: dict(zip(session_ids, map(int, replies), strict=True)),
        )

    async def get(
        self, session_id: str, limit: int | None = 50, *, archived: bool = False
    ) -> list[SessionMessage]:
        """The latest messages of a session, oldest first (``limit=None``: all)."""
        spec = self.recent_spec(session_id, limit, archived=archived)
        # One command: sent directly (a pipeline of one costs more client time).
        start = 0 if limit is None else -limit
        client = await self._ctx.client()
        rows = await client.zrange(self._zset(session_id, archived), start, -1, withscores=True)
        return spec.decode([rows])

    async def count(self, session_id: str, *, archived: bool = False) -> int:
        """How many active (or archived) messages the session holds."""
        check_name("session_id", session_id)
        return int(await (await self._ctx.client()).zcard(self._zset(session_id, archived)))

    async def delete(
        self, session_id: str, *, message_id: str | None = None, position: int | None = None
    ) -> SessionMessage:
        """Delete one active message by id or 0-based position; return it.

        Raises:
            NotFoundError: No such message or position.
        """
        check_name("session_id", session_id)
        if (message_id is None) == (position is None):
            raise InvalidInputError("pass exactly one of message_id or position")
        key = self._zset(session_id, False)
        if message_id is not None:
            check_name("message_id", message_id)
            if '"' in message_id or "\\" in message_id:
                raise NotFoundError(f"no message {message_id!r} in session {session_id!r}")
            script, arg = POP_ID, message_id
        else:
            # Negative counts from the end; beyond int64 ZRANGE refuses the rank (untyped before).
            check_int("position", position, low=-MAX_COUNT, high=MAX_COUNT)
            script, arg = POP_AT, str(position)
        client = await self._ctx.client()
        results = await execute(client, lambda pipe: script.queue(pipe, [key], [arg]), [script])
        if not results[0]:
            what = f"message {message_id!r}" if message_id is not None else f"position {position}"
            raise NotFoundError(f"no {what} in session {session_id!r}")
        member, score = results[0]
        return decode_message(session_id, member, float(score))

    async def pop_oldest(self, session_id: str, n: int, *, archive: bool) -> list[SessionMessage]:
        """Move (``archive``) or delete the ``n`` oldest active messages atomically."""
        check_name("session_id", session_id)
        check_positive("n", n)
        keys = [self._zset(session_id, False), self._zset(session_id, True)]
        args = [n, 1 if archive else 0]
        client = await self._ctx.client()
        results = await execute(
            client, lambda pipe: POP_OLDEST.queue(pipe, keys, args), [POP_OLDEST]
        )
        flat = results[0]
        return [
            decode_message(session_id, flat[i], float(flat[i + 1])) for i in range(0, len(flat), 2)
        ]

    async def replace(
        self, session_id: str, messages: Iterable[Mapping[str, Any]], *, archived: bool = False
    ) -> list[SessionMessage]:
        """Replace the active (or archived) messages atomically."""
        check_name("session_id", session_id)
        items = list(_message_list(messages))
        if not items:
            await (await self._ctx.client()).delete(self._zset(session_id, archived))
            return []
        return await self._write(
            session_id, self._prepare(items), ttl=None, replace=True, archived=archived
        )

    async def clear(self, session_id: str) -> int:
        """Delete every message (active and archived) and the session's registry entry."""
        check_name("session_id", session_id)
        active, archived = self._zset(session_id, False), self._zset(session_id, True)
        client = await self._ctx.client()
        async with client.pipeline(transaction=True) as pipe:
            pipe.zcard(active)
            pipe.zcard(archived)
            pipe.delete(active, archived)
            pipe.zrem(self._ctx.keys.sessions_registry(), session_id)
            counts = await pipe.execute()
        return int(counts[0]) + int(counts[1])

    async def list_sessions(self, limit: int | None = 1000) -> list[str]:
        """Sessions of this workspace, most recently active first (``limit=None``: all)."""
        stop = -1 if limit is None else check_positive("limit", limit) - 1
        client = await self._ctx.client()
        key = self._ctx.keys.sessions_registry()
        rows = cast("list[bytes]", await client.zrevrange(key, 0, stop))
        return [r.decode() for r in rows]

    async def restore(self, messages: Sequence[tuple[SessionMessage, bool]]) -> None:
        """Write exported messages back with their ids, sequence numbers and times (import)."""
        k = self._ctx.keys
        client = await self._ctx.client()
        async with client.pipeline(transaction=False) as pipe:
            for m, archived in messages:
                payload = {
                    "id": m.id,
                    "role": m.role,
                    "content": m.content,
                    "metadata": m.metadata,
                    "user_id": m.user_id,
                    "created_at": m.created_at.timestamp(),
                }
                pipe.zadd(self._zset(m.session_id, archived), {dumps(payload): m.seq})
                # Keep the sequence ahead of every imported message.
                pipe.eval(
                    "local c = tonumber(redis.call('GET', KEYS[1]) or '0') "
                    "if c < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end",
                    1,
                    k.session_seq(m.session_id),
                    m.seq,
                )
                pipe.zadd(k.sessions_registry(), {m.session_id: m.created_at.timestamp()}, gt=True)
            await pipe.execute()
