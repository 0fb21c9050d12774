"""Conversions between LlamaIndex ``ChatMessage`` objects and tta_memory session messages.

The engine keeps four roles (user, assistant, system, tool) and a plain-text ``content``; a
LlamaIndex message has eight roles, content blocks and ``additional_kwargs``. The exact message
is kept in the session message's metadata under :data:`LI_MESSAGE_KEY`, so reading it back gives
the same ``ChatMessage`` (role, blocks, tool calls, kwargs) while the engine's own views (stage
context, cache, LangChain history) still see a readable role and text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, TextBlock
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError
from tta_memory.errors import InvalidInputError
from tta_memory.literals import to_role
from tta_memory.models import SessionMessage

LI_MESSAGE_KEY = "li_message"


def message_text(message: ChatMessage) -> str:
    """Return the text blocks of ``message`` joined by newlines ("" when it has none)."""
    return "\n".join(b.text for b in message.blocks if isinstance(b, TextBlock))


def _engine_content(message: ChatMessage) -> str:
    """Readable content for the engine, which refuses empty content.

    A message without text (a tool call, an image) is stored as a short description of its
    blocks; the blocks themselves are in the stored message.
    """
    text = message_text(message)
    if text.strip():
        return text
    kinds = [getattr(b, "block_type", type(b).__name__) for b in message.blocks]
    return "[" + ", ".join(kinds) + "]" if kinds else "[empty message]"


def to_engine_message(message: ChatMessage) -> dict[str, Any]:
    """Return the ``add_session_messages`` item that stores ``message`` exactly.

    Args:
        message: A LlamaIndex chat message.

    Returns:
        A dict with ``role``, ``content`` and ``metadata`` (holding the serialised message).

    Raises:
        InvalidInputError: ``message`` is not a ``ChatMessage`` or does not serialise to JSON.
    """
    if not isinstance(message, ChatMessage):
        raise InvalidInputError(f"expected a llama_index ChatMessage, got {type(message).__name__}")
    role = getattr(message.role, "value", message.role)
    try:
        dumped = message.model_dump(mode="json")
    except (PydanticSerializationError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"chat message does not serialise to JSON: {exc}") from exc
    return {
        # Roles the engine does not know go under the nearest engine role; the original role
        # survives in the stored message.
        "role": to_role(str(role)),
        "content": _engine_content(message),
        "metadata": {LI_MESSAGE_KEY: dumped},
    }


def to_engine_messages(messages: Iterable[ChatMessage]) -> list[dict[str, Any]]:
    """Convert every message first, so a bad one fails the call before anything is written."""
    if isinstance(messages, ChatMessage | str | bytes) or not isinstance(messages, Iterable):
        raise InvalidInputError("messages must be a list of ChatMessage objects")
    return [to_engine_message(m) for m in messages]


def from_engine_message(message: SessionMessage) -> ChatMessage:
    """Return the ``ChatMessage`` stored in ``message``.

    Messages written by other clients (the engine API, the LangChain adapter) carry no stored
    LlamaIndex message; they become a text message with the engine's role and content.
    """
    stored = message.metadata.get(LI_MESSAGE_KEY) if message.metadata else None
    if isinstance(stored, dict):
        try:
            return ChatMessage.model_validate(stored)
        except ValidationError:
            pass  # written by something else under our key: fall back to the plain text
    return ChatMessage(role=message.role, content=message.content)


def from_engine_messages(messages: Sequence[SessionMessage]) -> list[ChatMessage]:
    """Convert a list of session messages, keeping their order."""
    return [from_engine_message(m) for m in messages]
