"""LangChain chat message history over the engine's session layer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import BaseMessage
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.validation import check_id

from tta_memory_langchain._convert import from_session_messages, to_session_item

# Arguments of langchain-redis' RedisChatMessageHistory that name its own key layout and
# index; the engine owns both, so they are accepted (drop-in use) and have no effect.
_LANGCHAIN_REDIS_LAYOUT_ARGS = frozenset({"key_prefix", "index_name", "overwrite_index"})


class TTAChatMessageHistory(BaseChatMessageHistory):
    """Chat history of one session, stored in the tta-memory session layer.

    Each LangChain message becomes one session message (``human`` → ``user``, ``ai`` →
    ``assistant``, ``system`` → ``system``, ``tool`` → ``tool``) whose metadata carries the
    exact LangChain message, so tool calls, content blocks, ids and metadata round-trip.
    Order is the engine's per-session sequence, so concurrent writers never interleave
    out of order.

    Works as the history of ``RunnableWithMessageHistory`` and as a drop-in replacement
    for ``langchain_redis.RedisChatMessageHistory`` (same ``session_id``, ``redis_url`` and
    ``ttl`` arguments).

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
        **kwargs: Any,
    ) -> None:
        """Create the history of one session.

        Args:
            session_id: The session whose messages this history reads and writes.
            redis_url: Redis URL when no ``memory`` is given; ``None`` lets the engine
                choose its configured or embedded server.
            memory: An existing engine instance to share connections with (not together
                with ``redis_url``, ``user_id`` or ``workspace``).
            user_id: The acting user recorded on written messages (when building a new
                engine).
            workspace: The tenant (when building a new engine).
            ttl: Retention in seconds applied to the session on every write; ``None``
                keeps messages until cleared.
            limit: Read at most this many most recent messages; ``None`` reads all.
            **kwargs: ``key_prefix``, ``index_name`` and ``overwrite_index`` are accepted
                for compatibility with ``RedisChatMessageHistory`` and ignored.

        Raises:
            InvalidInputError: ``session_id`` is empty, too long or has control characters;
                ``memory`` is not an engine instance, or is given with a scope.
            TypeError: An unknown keyword argument was given.
        """
        unknown = set(kwargs) - _LANGCHAIN_REDIS_LAYOUT_ARGS
        if unknown:
            raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
        super().__init__()
        # Fail at construction, like RedisChatMessageHistory, with the engine's own check.
        self.session_id = check_id("session_id", session_id)
        self.ttl = ttl
        self.limit = limit
        self.memory = MemoryWorkflowPrimitive.resolve(
            memory, redis_url=redis_url, user_id=user_id, workspace=workspace
        )

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
            messages: The messages, in order. Nothing is written when any of them is
                rejected.

        Raises:
            InvalidInputError: No messages, a message with empty or oversized text, or
                metadata that is not JSON-serialisable.
        """
        items = [to_session_item(message) for message in messages]
        self.memory.sync.add_session_messages(self.session_id, items, ttl_seconds=self.ttl)

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append messages to the session in one round trip, natively async.

        Args:
            messages: The messages, in order. Nothing is written when any of them is
                rejected.

        Raises:
            InvalidInputError: No messages, a message with empty or oversized text, or
                metadata that is not JSON-serialisable.
        """
        items = [to_session_item(message) for message in messages]
        await self.memory.add_session_messages(self.session_id, items, ttl_seconds=self.ttl)

    def clear(self) -> None:
        """Delete the session's messages (active and archived)."""
        self.memory.sync.clear_session(self.session_id)

    async def aclear(self) -> None:
        """Delete the session's messages (active and archived), natively async."""
        await self.memory.clear_session(self.session_id)

    def __len__(self) -> int:
        """Number of active messages in the session."""
        return int(self.memory.sync.count_session_messages(self.session_id))
