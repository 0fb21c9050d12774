"""Conversions between LangChain messages and the engine's session messages.

A LangChain message is stored as one session message: the engine needs a role and a
non-empty text, and the exact LangChain message (``message_to_dict``) travels in
``metadata["lc_message"]`` so that tool calls, content blocks, ids and metadata come back
unchanged. Session messages written by other clients (no ``lc_message``) are rebuilt from
their role and content.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    BaseMessageChunk,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    message_chunk_to_message,
    message_to_dict,
    messages_from_dict,
)
from tta_memory.literals import to_role

LC_MESSAGE_KEY = "lc_message"
"""Session-message metadata key that holds the serialised LangChain message."""


def role_for(message: BaseMessage) -> str:
    """Return the engine role for a LangChain message.

    Args:
        message: Any LangChain message (chunks included).

    Returns:
        One of ``"user"``, ``"assistant"``, ``"system"``, ``"tool"``. A ``ChatMessage`` with a
        custom role is stored as ``"user"``; its exact role survives in ``lc_message``.
    """
    if isinstance(message, ChatMessage):
        return to_role(message.role)
    # Chunks report types like "AIMessageChunk"; normalise to the base type.
    kind = message.type.removesuffix("MessageChunk").lower()
    return to_role(kind)


def text_for(message: BaseMessage) -> str:
    """Return the session-layer text of a LangChain message.

    The text parts of the content, joined. A message whose content has no text but which
    carries tool calls or non-text blocks gets a compact textual stand-in, because the
    engine stores only non-empty text; a truly empty message is returned as ``""`` so that
    the engine rejects it with its own typed error.

    Args:
        message: The LangChain message.

    Returns:
        The text to store as the session message's ``content``.
    """
    text = str(message.text)
    if text.strip():
        return text
    stand_ins: list[str] = []
    for call in getattr(message, "tool_calls", None) or []:
        args = json.dumps(call.get("args", {}), ensure_ascii=False, sort_keys=True)
        stand_ins.append(f"[tool call: {call.get('name', '?')}({args})]")
    if isinstance(message.content, list):
        for block in message.content:
            if isinstance(block, Mapping) and block.get("type") not in (None, "text"):
                stand_ins.append(f"[{block['type']}]")
    return " ".join(stand_ins) if stand_ins else text


def to_session_item(message: BaseMessage) -> dict[str, Any]:
    """Build the ``add_session_messages`` item for one LangChain message.

    Args:
        message: The LangChain message.

    Returns:
        A dict with ``role``, ``content`` and ``metadata`` (holding ``lc_message``).
    """
    return {
        "role": role_for(message),
        "content": text_for(message),
        "metadata": {LC_MESSAGE_KEY: message_to_dict(message)},
    }


def from_session_message(record: Any) -> BaseMessage:
    """Rebuild a LangChain message from an engine ``SessionMessage``.

    Args:
        record: A ``SessionMessage`` (or any mapping with ``role``, ``content``,
            ``metadata``, ``id``).

    Returns:
        The exact stored LangChain message when the record holds one, otherwise a message of
        the type matching the record's role, with the record's id.
    """
    metadata = record["metadata"] or {}
    stored = metadata.get(LC_MESSAGE_KEY)
    if isinstance(stored, Mapping) and "type" in stored and "data" in stored:
        return messages_from_dict([dict(stored)])[0]
    role, content, msg_id = record["role"], record["content"], record["id"]
    if role == "assistant":
        return AIMessage(content=content, id=msg_id)
    if role == "system":
        return SystemMessage(content=content, id=msg_id)
    if role == "tool":
        return ToolMessage(
            content=content, id=msg_id, tool_call_id=str(metadata.get("tool_call_id", ""))
        )
    return HumanMessage(content=content, id=msg_id)


def from_session_messages(records: list[Any]) -> list[BaseMessage]:
    """Rebuild LangChain messages from engine ``SessionMessage`` records, keeping order.

    Args:
        records: Session messages, oldest first.

    Returns:
        The LangChain messages, oldest first.
    """
    return [from_session_message(record) for record in records]


def output_to_message(output: Any) -> BaseMessage:
    """Turn a chain's final output into the assistant message to record.

    Args:
        output: A message, message chunk, string or any other value.

    Returns:
        The message itself (chunks converted to full messages) or an ``AIMessage`` holding
        the output's text.
    """
    if isinstance(output, BaseMessageChunk):
        return message_chunk_to_message(output)
    if isinstance(output, BaseMessage):
        return output
    if isinstance(output, str):
        return AIMessage(content=output)
    if output is None:
        # Nothing was produced; the engine rejects the empty answer with its typed error.
        return AIMessage(content="")
    return AIMessage(content=json.dumps(output, ensure_ascii=False, default=str))
