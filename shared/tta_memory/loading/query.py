"""How the engine derives a deep-search query when the caller gives none.

In order: the latest user messages of the conversation; the workflow's metadata (feature,
description) and its groups' descriptions; the workflow id. Every adapter that searches on a
conversation's behalf (memory blocks, middleware, retrievers) uses these functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# The latest user turns carry a conversation's current topic; older ones dilute the vector.
QUERY_MESSAGES = 3
QUERY_CHARS = 1000
# The conversation-derived query is long; its BM25 part keeps the latest terms (the vector
# part reads it all): 24 OR'ed terms over 100k notes cost ~3x the time of 10.
CONTEXT_TERMS = 10


def conversation_query(
    turns: Iterable[tuple[str, str]],
    *,
    window: int = QUERY_MESSAGES,
    roles: Sequence[str] | None = ("user",),
) -> str:
    """The query of a conversation: its latest ``window`` non-blank turns of ``roles``.

    Args:
        turns: ``(role, text)`` pairs, oldest first.
        window: How many of the latest turns.
        roles: Roles that count (``None``: every role).

    Returns:
        The turns joined by newlines, at most :data:`QUERY_CHARS` (the latest); "" if none.
    """
    texts = [t for r, t in turns if (roles is None or r in roles) and t.strip()]
    return "\n".join(texts[-window:])[-QUERY_CHARS:] if window > 0 else ""


def context_query(
    users: Sequence[str],
    metadata: Mapping[str, Any],
    group_descriptions: Iterable[str],
    workflow_id: str,
) -> str:
    """The stage loader's query: conversation, then metadata and groups, then the workflow id.

    Args:
        users: The session's latest :data:`QUERY_MESSAGES` user messages, oldest first.
    """
    if users:
        return " ".join(users)[-QUERY_CHARS:]
    parts = [
        str(metadata[k]) for k in ("feature", "description") if isinstance(metadata.get(k), str)
    ]
    parts += [d for d in group_descriptions if d]
    return " ".join(parts)[:QUERY_CHARS] or workflow_id
