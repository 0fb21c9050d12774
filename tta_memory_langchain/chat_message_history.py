"""LangChain chat message history over the engine's session layer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import Any

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import BaseMessage, message_to_dict
from tta_memory import MemoryWorkflowPrimitive, run_sync
from tta_memory.errors import InvalidInputError
from tta_memory.validation import check_id

from tta_memory_langchain._client_url import client_url
from tta_memory_langchain._convert import from_session_messages, text_for, to_session_item
from tta_memory_langchain._text_match import rank

# Arguments of langchain-redis' RedisChatMessageHistory that name its own key layout and
# index; the engine owns both, so they are accepted (drop-in use) and have no effect.
_LANGCHAIN_REDIS_LAYOUT_ARGS = frozenset({"key_prefix", "index_name", "overwrite_index"})
# The session layer stores non-empty text; an empty message (a model sometimes returns an
# empty reply) is stored under this stand-in and comes back exactly as it was sent.
EMPTY_STAND_IN = "[empty message]"
# delete() clears this many sessions concurrently.
_DELETE_BATCH = 32


def _check_ttl(ttl: Any) -> int | None:
    """``None`` or ``0``: no expiry (as in ``RedisChatMessageHistory``); else whole seconds."""
    if ttl is None or (ttl == 0 and not isinstance(ttl, bool)):
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0:
        raise InvalidInputError(f"ttl must be a non-negative integer or None, got {ttl!r}")
    return ttl


def _items(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    if not isinstance(messages, Iterable):
        raise InvalidInputError(
            f"messages must be a sequence of BaseMessage, got {type(messages).__name__}"
        )
    items = []
    for message in messages:
        if not isinstance(message, BaseMessage):
            raise InvalidInputError(
                f"each message must be a LangChain BaseMessage, got {type(message).__name__}"
            )
        item = to_session_item(message)
        if not item["content"].strip():
            item["content"] = EMPTY_STAND_IN
        items.append(item)
    return items


class TTAChatMessageHistory(BaseChatMessageHistory):
    """Chat history of one session, stored in the tta-memory session layer.

    Each LangChain message becomes one session message (``human`` → ``user``, ``ai`` →
    ``assistant``, ``system`` → ``system``, ``tool`` → ``tool``) whose metadata carries the
    exact LangChain message, so tool calls, content blocks, ids and metadata round-trip.
    Order is the engine's per-session sequence, so concurrent writers never interleave
    out of order.

    Works as the history of ``RunnableWithMessageHistory`` and as a drop-in replacement
    for ``langchain_redis.RedisChatMessageHistory``: the same arguments (``session_id``,
    ``redis_url``, ``ttl``, ``redis_client``; ``key_prefix``, ``index_name`` and
    ``overwrite_index`` are accepted and ignored) and every method of it (``messages``,
    ``add_message(s)``, ``clear``, ``delete``, ``search_messages``, ``id``, ``len()``), with
    its semantics: ``ttl=0`` means no expiry, empty messages are stored, ``add_messages([])``
    does nothing.

    Example:
        ```python
        from tta_memory_langchain import TTAChatMessageHistory

        history = TTAChatMessageHistory("chat-42", user_id="dev-alice")
        history.add_user_message("Hello")
        history.messages
        ```
    """

    def __init__(
        self,
        session_id: str,
        redis_url: str | None = None,
        *,
        memory: MemoryWorkflowPrimitive | None = None,
        user_id: str | None = None,
        workspace: str | None = None,
        ttl: int | None = None,
        limit: int | None = None,
        redis_client: Any = None,
        **kwargs: Any,
    ) -> None:
        """Create the history of one session.

        Args:
            session_id: The session whose messages this history reads and writes.
            redis_url: Redis URL when no ``memory`` is given; ``None`` lets the engine
                choose its configured or embedded server.
            memory: An existing engine instance to share connections with (not together
                with ``redis_url``, ``redis_client``, ``user_id`` or ``workspace``).
            user_id: The acting user recorded on written messages (when building a new
                engine).
            workspace: The tenant (when building a new engine).
            ttl: Retention in seconds applied to the session on every write; ``None`` or
                ``0`` keeps messages until cleared.
            limit: Read at most this many most recent messages; ``None`` reads all.
            redis_client: An existing ``redis.Redis`` (or ``redis.asyncio.Redis``) client
                whose server, database and credentials to use; ``redis_url`` is then
                ignored, as in ``RedisChatMessageHistory``.
            **kwargs: ``key_prefix``, ``index_name`` and ``overwrite_index`` are accepted
                for compatibility with ``RedisChatMessageHistory`` and ignored.

        Raises:
            InvalidInputError: ``session_id`` is empty, too long or has control characters;
                ``ttl`` is negative; ``redis_client`` is not a redis-py client; ``memory``
                is not an engine instance, or is given with a scope or a client.
            TypeError: An unknown keyword argument was given.
        """
        unknown = set(kwargs) - _LANGCHAIN_REDIS_LAYOUT_ARGS
        if unknown:
            raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
        super().__init__()
        # Fail at construction, like RedisChatMessageHistory, with the engine's own check.
        self.session_id = check_id("session_id", session_id)
        self.ttl = _check_ttl(ttl)
        self.limit = limit
        if redis_client is not None:
            if memory is not None:
                raise InvalidInputError("pass either memory= or redis_client=, not both")
            redis_url = client_url(redis_client)
            self.__dict__["redis_client"] = redis_client
        self.memory = MemoryWorkflowPrimitive.resolve(
            memory, redis_url=redis_url, user_id=user_id, workspace=workspace
        )

    @cached_property
    def redis_client(self) -> Any:
        """A synchronous ``redis.Redis`` client of the engine's server (the one passed in,
        if any), like ``RedisChatMessageHistory.redis_client``."""
        from redis import Redis

        return Redis.from_url(self.memory.redis_url)

    @property
    def id(self) -> str:
        """The session id (same attribute as ``RedisChatMessageHistory.id``)."""
        return self.session_id

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """The session's messages, oldest first.

        Returns:
            The stored LangChain messages.
        """
        records = self.memory.sync.get_session_context(self.session_id, limit=self.limit)
        return from_session_messages(records)

    async def aget_messages(self) -> list[BaseMessage]:
        """Read the session's messages, oldest first, without blocking the event loop.

        Returns:
            The stored LangChain messages.
        """
        records = await self.memory.get_session_context(self.session_id, limit=self.limit)
        return from_session_messages(records)

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append messages to the session in one round trip.

        Args:
            messages: The messages, in order (none: nothing happens). Nothing is written
                when any of them is rejected.

        Raises:
            InvalidInputError: An item that is not a message, a message with oversized
                text, or metadata that is not JSON-serialisable.
        """
        items = _items(messages)
        if items:
            self.memory.sync.add_session_messages(self.session_id, items, ttl_seconds=self.ttl)

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append messages to the session in one round trip, natively async.

        Args:
            messages: The messages, in order (none: nothing happens). Nothing is written
                when any of them is rejected.

        Raises:
            InvalidInputError: An item that is not a message, a message with oversized
                text, or metadata that is not JSON-serialisable.
        """
        items = _items(messages)
        if items:
            await self.memory.add_session_messages(self.session_id, items, ttl_seconds=self.ttl)

    def clear(self) -> None:
        """Delete the session's messages (active and archived)."""
        self.memory.sync.clear_session(self.session_id)

    async def aclear(self) -> None:
        """Delete the session's messages (active and archived), natively async."""
        await self.memory.clear_session(self.session_id)

    def delete(self) -> None:
        """Delete every chat session of the workspace, like ``RedisChatMessageHistory.delete``.

        The peer drops all sessions under its key prefix; here that is every session of
        this workspace (messages, archive and their recent-activity entries). Deep
        memories, PAFs and session groups are kept, and other workspaces are untouched.
        Use :meth:`clear` to delete this session only.
        """
        run_sync(self.adelete())

    async def adelete(self) -> None:
        """Delete every chat session of the workspace, natively async (see :meth:`delete`)."""
        sessions = await self.memory.list_sessions(limit=None)
        if self.session_id not in sessions:
            sessions.append(self.session_id)  # written with a TTL that lapsed from the registry
        for start in range(0, len(sessions), _DELETE_BATCH):
            batch = sessions[start : start + _DELETE_BATCH]
            await asyncio.gather(*(self.memory.clear_session(s) for s in batch))

    def search_messages(self, query: str, limit: int = 10) -> list[dict[str, Any]]:
        """Find this session's messages that contain any word of ``query``.

        As in ``RedisChatMessageHistory``: case-insensitive words with English endings
        folded, best matches first, each result the message's data (``content``, ``type``,
        ``additional_kwargs``, …).

        Args:
            query: The search words; an empty or non-string query finds nothing.
            limit: At most this many results.

        Returns:
            The matching messages as dicts.
        """
        return run_sync(self.asearch_messages(query, limit))

    async def asearch_messages(self, query: str, limit: int = 10) -> list[dict[str, Any]]:
        """Natively async :meth:`search_messages`."""
        if not query or not isinstance(query, str):
            return []
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise InvalidInputError(f"limit must be an integer, got {limit!r}")
        records = await self.memory.get_session_context(self.session_id, limit=None)
        messages = from_session_messages(records)
        hits = rank(query, [text_for(m) for m in messages], limit)
        return [dict(message_to_dict(messages[i])["data"]) for i in hits]

    def __len__(self) -> int:
        """Number of active messages in the session."""
        return int(self.memory.sync.count_session_messages(self.session_id))
