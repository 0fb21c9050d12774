"""Conversation turns into deep memories: one memory per turn (a user message and the replies
that follow), so a recalled memory holds a question with its answer."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

Message = tuple[str, str, str | None]
"""``(role, text, session_id or None)``."""


def group_turns(messages: Iterable[Message]) -> list[list[Message]]:
    """Group messages into turns; messages without text (tool calls, images) are skipped."""
    turns: list[list[Message]] = []
    for message in messages:
        role, text, _ = message
        if not text.strip():
            continue
        if role == "user" or not turns:
            turns.append([message])
        else:
            turns[-1].append(message)
    return turns


def turn_memories(
    messages: Iterable[Message],
    *,
    tags: Sequence[str] = ("conversation",),
    memory_type: str = "conversation",
    source: str | None = None,
    private: bool = False,
) -> list[dict[str, Any]]:
    """The ``create_deep_memories`` items of a conversation, one per turn.

    Args:
        messages: ``(role, text, session_id or None)`` triples, oldest first.
        tags: Tags of every memory.
        memory_type: Type of every memory.
        source: Recorded as ``metadata["source"]`` (e.g. the adapter's name).
        private: Write the memories as private to the caller.

    Returns:
        Items with ``text`` (``role: text`` lines), ``tags``, ``memory_type``, ``metadata``
        (``source``, ``roles``), ``session_id`` (the turn's first one) and ``private``.
    """
    items: list[dict[str, Any]] = []
    for turn in group_turns(messages):
        metadata: dict[str, Any] = {"roles": [r for r, _, _ in turn]}
        if source is not None:
            metadata = {"source": source, **metadata}
        items.append(
            {
                "text": "\n".join(f"{r}: {t}" for r, t, _ in turn),
                "tags": list(tags),
                "memory_type": memory_type,
                "metadata": metadata,
                "session_id": next((s for _, _, s in turn if s), None),
                "private": private,
            }
        )
    return items
