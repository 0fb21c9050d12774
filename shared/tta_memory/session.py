"""Layer 1 — session messages, in strict per-session order (a Redis sequence, not wall time).

Each session is a sorted set scored by its sequence number (``INCR``), written by a Lua script
that also writes the message's cache-layer entry, so one append is one round trip.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from tta_memory.backend import guarded
from tta_memory.base import ScopedPrimitive
from tta_memory.errors import InvalidInputError, NotFoundError
from tta_memory.models import ROLES, SessionMessage
from tta_memory.scripts import APPEND, POP_AT, POP_ID, POP_OLDEST, execute
from tta_memory.validation import (
    check_choice,
    check_id,
    check_metadata,
    check_positive,
    check_text,
)

MAX_BATCH = 10_000


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def decode_message(session_id: str, member: bytes | str, score: float) -> SessionMessage:
    """Rebuild a :class:`SessionMessage` from its stored form."""
    d = json.loads(member)
    return SessionMessage(
        id=d["id"],
        session_id=session_id,
        seq=int(score),
        role=d["role"],
        content=d["content"],
        metadata=d.get("metadata") or {},
        user_id=d["user_id"],
        created_at=datetime.fromtimestamp(d["created_at"], UTC),
    )


class SessionLayer(ScopedPrimitive):
    """Session-layer calls of :class:`~tta_memory.MemoryWorkflowPrimitive`."""

    def _prepare(
        self, session_id: str, messages: Iterable[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        now = time.time()
        out = []
        for m in messages:
            if not isinstance(m, Mapping):
                raise InvalidInputError(f"each message must be a dict, got {type(m).__name__}")
            out.append(
                {
                    "id": uuid.uuid4().hex,
                    "role": check_choice("role", m.get("role"), ROLES),
                    "content": check_text("content", m.get("content")),
                    "metadata": check_metadata(m.get("metadata")),
                    "user_id": self.user_id,
                    "created_at": now,
                }
            )
        if not out:
            raise InvalidInputError("messages must not be empty")
        if len(out) > MAX_BATCH:
            raise InvalidInputError(f"at most {MAX_BATCH} messages per call")
        return out

    async def _write(
        self,
        session_id: str,
        prepared: list[dict[str, Any]],
        *,
        ttl: int | None,
        replace: bool = False,
        archived: bool = False,
    ) -> list[SessionMessage]:
        k = self._keys
        target = k.session_archived(session_id) if archived else k.session_active(session_id)
        other = k.session_active(session_id) if archived else k.session_archived(session_id)
        with_cache = not (replace or archived)
        cache_keys = [k.cache_entry(m["id"], session_id) for m in prepared] if with_cache else []
        args: list[Any] = [
            ttl or 0,
            self.settings.cache_retention_seconds if with_cache else 0,
            1 if replace else 0,
            self.workspace,
            self.user_id,
            session_id,
        ]
        for m in prepared:
            created = repr(m["created_at"])
            args += [_dumps(m), m["id"], m["role"], m["content"], _dumps(m["metadata"]), created]
        client = await self._backend.client()

        def build(pipe: Any) -> None:
            APPEND.queue(pipe, [k.session_seq(session_id), target, other, *cache_keys], args)
            pipe.zadd(k.sessions_registry(), {session_id: prepared[-1]["created_at"]})

        results = await execute(client, build, [APPEND])
        return [
            SessionMessage.model_construct(
                **{**m, "created_at": datetime.fromtimestamp(m["created_at"], UTC)},
                session_id=session_id,
                seq=seq,
            )
            for m, seq in zip(prepared, results[0], strict=True)
        ]

    @guarded
    async def add_session_message(
        self,
        session_id: str,
        role: str,
        content: str,
        metadata: dict[str, Any] | None = None,
        ttl_seconds: int | None = None,
    ) -> SessionMessage:
        """Append a message to a session (layer 1) and to the cache layer.

        Args:
            session_id: The session.
            role: ``user``, ``assistant``, ``system`` or ``tool``.
            content: Non-empty text (up to 1,000,000 characters).
            metadata: JSON-serialisable data kept with the message, returned exactly.
            ttl_seconds: Optional retention of the whole session, renewed by each write.

        Returns:
            The stored message with its sequence number.
        """
        check_id("session_id", session_id)
        ttl = check_positive("ttl_seconds", ttl_seconds) if ttl_seconds is not None else None
        prepared = self._prepare(
            session_id, [{"role": role, "content": content, "metadata": metadata}]
        )
        return (await self._write(session_id, prepared, ttl=ttl))[0]

    @guarded
    async def add_session_messages(
        self,
        session_id: str,
        messages: Iterable[Mapping[str, Any]],
        ttl_seconds: int | None = None,
        *,
        archived: bool = False,
    ) -> list[SessionMessage]:
        """Append several messages atomically, in order, in one round trip.

        Args:
            session_id: The session.
            messages: Dicts with ``role``, ``content`` and optional ``metadata``.
            ttl_seconds: Optional retention of the session.
            archived: Append to the session's archive instead (no cache entries).

        Returns:
            The stored messages.
        """
        check_id("session_id", session_id)
        ttl = check_positive("ttl_seconds", ttl_seconds) if ttl_seconds is not None else None
        prepared = self._prepare(session_id, messages)
        return await self._write(session_id, prepared, ttl=ttl, archived=archived)

    @guarded
    async def get_session_context(
        self, session_id: str, limit: int | None = 50, *, archived: bool = False
    ) -> list[SessionMessage]:
        """The latest messages of a session, oldest first.

        Args:
            session_id: The session (an unknown session has no messages).
            limit: How many of the latest messages; ``None`` for all.
            archived: Read the archived messages instead of the active ones.

        Returns:
            The messages in sequence order.
        """
        check_id("session_id", session_id)
        start = 0 if limit is None else -check_positive("limit", limit)
        key = (self._keys.session_archived if archived else self._keys.session_active)(session_id)
        client = await self._backend.client()
        rows = cast(
            "list[tuple[bytes, float]]", await client.zrange(key, start, -1, withscores=True)
        )
        return [decode_message(session_id, m, s) for m, s in rows]

    @guarded
    async def count_session_messages(self, session_id: str, *, archived: bool = False) -> int:
        """How many active (or archived) messages the session holds."""
        check_id("session_id", session_id)
        key = (self._keys.session_archived if archived else self._keys.session_active)(session_id)
        return int(await (await self._backend.client()).zcard(key))

    @guarded
    async def delete_session_message(
        self, session_id: str, *, message_id: str | None = None, position: int | None = None
    ) -> SessionMessage:
        """Delete one active message, by id or by 0-based position (negative counts from the end).

        Returns:
            The deleted message.

        Raises:
            NotFoundError: No such message or position.
        """
        check_id("session_id", session_id)
        if (message_id is None) == (position is None):
            raise InvalidInputError("pass exactly one of message_id or position")
        key = self._keys.session_active(session_id)
        client = await self._backend.client()
        if message_id is not None:
            check_id("message_id", message_id)
            if '"' in message_id or "\\" in message_id:
                raise NotFoundError(f"no message {message_id!r} in session {session_id!r}")
            script, arg = POP_ID, message_id
        else:
            if isinstance(position, bool) or not isinstance(position, int):
                raise InvalidInputError(f"position must be an integer, got {position!r}")
            script, arg = POP_AT, str(position)
        results = await execute(client, lambda pipe: script.queue(pipe, [key], [arg]), [script])
        if not results[0]:
            what = f"message {message_id!r}" if message_id is not None else f"position {position}"
            raise NotFoundError(f"no {what} in session {session_id!r}")
        member, score = results[0]
        message = decode_message(session_id, member, float(score))
        # Its copy in the cache layer goes too: a deleted message is no recent activity.
        await client.delete(self._keys.cache_entry(message.id, session_id))
        return message

    async def _pop_oldest(self, session_id: str, n: int, *, archive: bool) -> list[SessionMessage]:
        check_id("session_id", session_id)
        check_positive("n", n)
        k = self._keys
        client = await self._backend.client()
        keys = [k.session_active(session_id), k.session_archived(session_id)]
        args = [n, 1 if archive else 0]
        results = await execute(
            client, lambda pipe: POP_OLDEST.queue(pipe, keys, args), [POP_OLDEST]
        )
        flat = results[0]
        return [
            decode_message(session_id, flat[i], float(flat[i + 1])) for i in range(0, len(flat), 2)
        ]

    @guarded
    async def archive_session_messages(self, session_id: str, n: int) -> list[SessionMessage]:
        """Move the ``n`` oldest active messages to the session's archive (kept, out of context).

        Args:
            session_id: The session.
            n: How many (fewer if the session holds fewer).

        Returns:
            The moved messages, oldest first (atomic: no concurrent write is lost or moved).
        """
        return await self._pop_oldest(session_id, n, archive=True)

    @guarded
    async def trim_session_messages(self, session_id: str, n: int) -> list[SessionMessage]:
        """Delete the ``n`` oldest active messages (and their cache entries) atomically.

        Args:
            session_id: The session.
            n: How many (fewer if the session holds fewer).

        Returns:
            The deleted messages, oldest first.
        """
        removed = await self._pop_oldest(session_id, n, archive=False)
        if removed:
            client = await self._backend.client()
            await client.delete(*[self._keys.cache_entry(m.id, session_id) for m in removed])
        return removed

    @guarded
    async def replace_session_messages(
        self, session_id: str, messages: Iterable[Mapping[str, Any]], *, archived: bool = False
    ) -> list[SessionMessage]:
        """Replace the active (or archived) messages of a session atomically.

        Returns:
            The stored messages (new sequence numbers, still increasing).
        """
        check_id("session_id", session_id)
        items = list(messages)
        if not items:
            key = (self._keys.session_archived if archived else self._keys.session_active)(
                session_id
            )
            await (await self._backend.client()).delete(key)
            return []
        return await self._write(
            session_id, self._prepare(session_id, items), ttl=None, replace=True, archived=archived
        )

    @guarded
    async def clear_session(self, session_id: str) -> int:
        """Delete every message of a session (active and archived) and its cache entries.

        Returns:
            How many messages were deleted.
        """
        check_id("session_id", session_id)
        k = self._keys
        client = await self._backend.client()
        async with client.pipeline(transaction=True) as pipe:
            pipe.zcard(k.session_active(session_id))
            pipe.zcard(k.session_archived(session_id))
            pipe.delete(k.session_active(session_id), k.session_archived(session_id))
            counts = await pipe.execute()
        await client.zrem(k.sessions_registry(), session_id)
        await self._drop_session_cache(session_id)
        return int(counts[0]) + int(counts[1])

    async def _drop_session_cache(self, session_id: str) -> None:
        """Overridden by the cache layer."""

    @guarded
    async def list_sessions(self, limit: int | None = 1000) -> list[str]:
        """Sessions of this workspace, most recently active first (``limit=None``: all)."""
        stop = -1 if limit is None else check_positive("limit", limit) - 1
        client = await self._backend.client()
        rows = cast("list[bytes]", await client.zrevrange(self._keys.sessions_registry(), 0, stop))
        return [r.decode() for r in rows]
