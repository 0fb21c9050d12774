"""``TTAChatStore``: LlamaIndex's ``AsyncDBChatStore`` over the tta_memory session layer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.storage.chat_store.base_db import AsyncDBChatStore, MessageStatus
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.errors import InvalidInputError
from tta_memory.models import SessionMessage

from tta_memory_llamaindex._messages import (
    from_engine_message,
    from_engine_messages,
    to_engine_messages,
)
from tta_memory_llamaindex._scope import Scope, resolve_scope

# list_sessions reads a per-workspace registry (no scan); this bound only means "all of them".

_STATUSES = ", ".join(s.value for s in MessageStatus)


def _status(value: Any) -> MessageStatus | None:
    """Return ``value`` as a ``MessageStatus`` (its string value is accepted); ``None`` passes."""
    if value is None:
        return None
    try:
        return MessageStatus(getattr(value, "value", value))
    except ValueError:
        raise InvalidInputError(f"unknown status {value!r}; valid: {_STATUSES}") from None


def _archived(value: Any) -> bool:
    """Whether a write goes to the archive; a write needs a status (``None`` is refused)."""
    status = _status(value)
    if status is None:
        raise InvalidInputError(f"status is required; valid: {_STATUSES}")
    return status is MessageStatus.ARCHIVED


def _window(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"{name} must be a non-negative integer or None, got {value!r}")
    return value


def _count(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InvalidInputError(f"n must be a non-negative integer, got {n!r}")
    return n


class TTAChatStore(AsyncDBChatStore, Scope):
    """A LlamaIndex chat store whose messages live in the tta_memory session layer (Redis).

    A chat store ``key`` is an engine session id, so ``Memory(session_id=...)`` and the
    engine's stage-aware loading see the same conversation. Active messages are the session's
    active messages; archived ones are the messages ``Memory`` flushed out of its short-term
    window (kept, but not in the context). A new process that opens the same workspace sees
    the same messages.

    Every call maps to one or a few engine calls addressed by session; nothing scans the
    database. Bad input raises the engine's typed errors (``InvalidInputError``,
    ``NotFoundError``) before anything is written.

    Serialisable: ``model_dump()`` holds the server URL (without its password), workspace,
    user and key prefix, and ``TTAChatStore.model_validate(dump)`` (or ``TTAChatStore(**dump)``)
    reaches the same memory. A password dropped from the dump is taken again from
    ``TTA_MEMORY_REDIS_URL`` / ``REDIS_URL`` (same server) or ``TTA_MEMORY_REDIS_PASSWORD``.

    Example:
        >>> store = TTAChatStore(memory=MemoryWorkflowPrimitive(user_id="alice"))
        >>> mem = Memory.from_defaults(session_id="s1", chat_store=store)
    """

    _memory: MemoryWorkflowPrimitive | None = PrivateAttr(default=None)

    def __init__(
        self,
        memory: MemoryWorkflowPrimitive | None = None,
        *,
        redis_url: str | None = None,
        user_id: str | None = None,
        workspace: str | None = None,
        prefix: str | None = None,
    ) -> None:
        """Create the store.

        Args:
            memory: An engine client; its server, workspace and user scope every message.
            redis_url: Without ``memory``: the Redis URL (``None``: the engine's configured or
                embedded server, resolved again when a dump is loaded).
            user_id: Without ``memory``: the acting user.
            workspace: Without ``memory``: the tenant.
            prefix: Without ``memory``: the engine's key prefix (default: its settings').

        Raises:
            InvalidInputError: ``memory`` is not an engine client, or is given with a scope;
                a malformed workspace or user.
        """
        scope = {"redis_url": redis_url, "workspace": workspace, "user_id": user_id}
        engine, fields = resolve_scope(memory, {**scope, "prefix": prefix})
        super().__init__(**fields)
        self._memory = engine

    @classmethod
    def class_name(cls) -> str:
        """Return the class name."""
        return "TTAChatStore"

    @property
    def memory(self) -> MemoryWorkflowPrimitive:
        """The engine client this store writes through (built on first use after a load)."""
        if self._memory is None:
            self._memory = self.build_engine()
        return self._memory

    async def _read(self, key: str, status: MessageStatus | None) -> list[SessionMessage]:
        if status is not None:
            return await self.memory.get_session_context(
                key, limit=None, archived=status is MessageStatus.ARCHIVED
            )
        archived, active = await asyncio.gather(
            self.memory.get_session_context(key, limit=None, archived=True),
            self.memory.get_session_context(key, limit=None, archived=False),
        )
        # Archived messages may be added after active ones: the session sequence is the order.
        return sorted([*archived, *active], key=lambda m: m.seq)

    async def get_messages(
        self,
        key: str,
        status: MessageStatus | None = MessageStatus.ACTIVE,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[ChatMessage]:
        """Return the messages of session ``key``, oldest first.

        Args:
            key: The session id.
            status: ``ACTIVE`` (default), ``ARCHIVED``, or ``None`` for both, in session order.
            limit: At most this many messages (from the oldest, after ``offset``).
            offset: Skip this many of the oldest messages.

        Returns:
            The stored ``ChatMessage`` objects; an unknown session has none.
        """
        st = _status(status)
        lim, off = _window(limit, "limit"), _window(offset, "offset") or 0
        messages = await self._read(key, st)
        end = None if lim is None else off + lim
        return from_engine_messages(messages[off:end])

    async def count_messages(
        self,
        key: str,
        status: MessageStatus | None = MessageStatus.ACTIVE,
    ) -> int:
        """Count the messages of session ``key``.

        Args:
            key: The session id.
            status: ``ACTIVE`` (default), ``ARCHIVED``, or ``None`` for both.

        Returns:
            The number of messages (0 for an unknown session).
        """
        st = _status(status)
        if st is not None:
            return await self.memory.count_session_messages(key, archived=_archived(st))
        counts = await asyncio.gather(
            self.memory.count_session_messages(key, archived=True),
            self.memory.count_session_messages(key, archived=False),
        )
        return sum(counts)

    async def add_message(
        self,
        key: str,
        message: ChatMessage,
        status: MessageStatus = MessageStatus.ACTIVE,
    ) -> None:
        """Append ``message`` to session ``key``.

        Args:
            key: The session id.
            message: A LlamaIndex chat message, stored exactly.
            status: ``ACTIVE`` (default) or ``ARCHIVED``.
        """
        await self.add_messages(key, [message], status=status)

    async def add_messages(
        self,
        key: str,
        messages: list[ChatMessage],
        status: MessageStatus = MessageStatus.ACTIVE,
    ) -> None:
        """Append ``messages`` to session ``key`` in one round trip.

        Args:
            key: The session id.
            messages: LlamaIndex chat messages, stored exactly (blocks, kwargs, role).
            status: ``ACTIVE`` (default) or ``ARCHIVED``.

        Raises:
            InvalidInputError: A message is not a ``ChatMessage`` or the status is unknown;
                nothing is written.
        """
        archived = _archived(status)
        items = to_engine_messages(messages)
        if items:
            await self.memory.add_session_messages(key, items, archived=archived)

    async def set_messages(
        self,
        key: str,
        messages: list[ChatMessage],
        status: MessageStatus = MessageStatus.ACTIVE,
    ) -> None:
        """Replace every message of session ``key`` by ``messages``.

        Like LlamaIndex's reference store, messages of the other status are removed too: the
        session then holds exactly ``messages``.

        Args:
            key: The session id.
            messages: The new messages (an empty list empties the session).
            status: The status they get: ``ACTIVE`` (default) or ``ARCHIVED``.

        Raises:
            InvalidInputError: A bad message, key or status; the session is unchanged.
        """
        archived = _archived(status)
        items = to_engine_messages(messages)
        # The list being written goes first: if it is refused, nothing has changed.
        await self.memory.replace_session_messages(key, items, archived=archived)
        await self.memory.replace_session_messages(key, [], archived=not archived)

    async def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Delete the active message at position ``idx`` of session ``key`` and return it.

        Args:
            key: The session id.
            idx: 0-based position among the active messages, oldest first; negative counts
                from the newest (``-1`` is the latest).

        Returns:
            The deleted message.

        Raises:
            NotFoundError: No active message at that position (also a ``KeyError``).
            InvalidInputError: ``idx`` is not an integer.
        """
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise InvalidInputError(f"idx must be an integer position, got {idx!r}")
        deleted = await self.memory.delete_session_message(key, position=idx)
        return from_engine_message(deleted)

    async def delete_messages(self, key: str, status: MessageStatus | None = None) -> None:
        """Delete messages of session ``key``.

        Args:
            key: The session id.
            status: ``ACTIVE``, ``ARCHIVED``, or ``None`` (default) for the whole session.
        """
        st = _status(status)
        if st is None:
            await self.memory.clear_session(key)
        else:
            await self.memory.replace_session_messages(key, [], archived=_archived(st))

    @staticmethod
    async def _oldest(
        take: Callable[[str, int], Awaitable[list[SessionMessage]]], key: str, n: Any
    ) -> list[ChatMessage]:
        """Apply ``take`` (trim or archive) to the oldest ``n`` active messages of ``key``."""
        n = _count(n)
        if n == 0:
            return []
        return from_engine_messages(await take(key, n))

    async def delete_oldest_messages(self, key: str, n: int) -> list[ChatMessage]:
        """Delete the oldest ``n`` active messages of session ``key``.

        Args:
            key: The session id.
            n: How many (fewer are deleted if the session has fewer).

        Returns:
            The deleted messages, oldest first.
        """
        return await self._oldest(self.memory.trim_session_messages, key, n)

    async def archive_oldest_messages(self, key: str, n: int) -> list[ChatMessage]:
        """Move the oldest ``n`` active messages of session ``key`` to its archive.

        ``Memory`` calls this when it flushes its short-term window.

        Args:
            key: The session id.
            n: How many (fewer are moved if the session has fewer).

        Returns:
            The archived messages, oldest first.
        """
        return await self._oldest(self.memory.archive_session_messages, key, n)

    async def get_keys(self) -> list[str]:
        """List the sessions of the store's workspace.

        Returns:
            Session ids, most recently active first (from the engine's session registry).
        """
        return list(await self.memory.list_sessions(limit=None))

    def __repr__(self) -> str:
        return f"TTAChatStore(workspace={self.memory.workspace!r})"


__all__ = ["TTAChatStore"]
