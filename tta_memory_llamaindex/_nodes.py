"""Deep memories as LlamaIndex nodes."""

from __future__ import annotations

from typing import Any

from llama_index.core.schema import NodeWithScore, TextNode
from tta_memory import DeepMemory

# Bookkeeping the LLM gains nothing from; kept on the node for filtering and display.
_HIDDEN_FROM_LLM = [
    "memory_id",
    "layer",
    "author",
    "session_id",
    "private",
    "updated_at",
    "metadata",
]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def memory_to_node(memory: DeepMemory) -> NodeWithScore:
    """Return ``memory`` as a ``NodeWithScore`` whose node id is the memory id.

    Args:
        memory: A deep memory, usually a search result (``score`` set).

    Returns:
        A node with the memory's text and metadata: ``memory_id``, ``layer`` ("deep"),
        ``tags``, ``memory_type``, ``author``, ``session_id``, ``private``, ``created_at``,
        ``updated_at``, ``event_time`` (ISO-8601 strings) and the memory's own ``metadata``.
    """
    node = TextNode(
        id_=memory.id,
        text=memory.text,
        metadata={
            "memory_id": memory.id,
            "layer": "deep",
            "tags": list(memory.tags),
            "memory_type": memory.memory_type,
            "author": memory.author,
            "session_id": memory.session_id,
            "private": memory.private,
            "created_at": _iso(memory.created_at),
            "updated_at": _iso(memory.updated_at),
            "event_time": _iso(memory.event_time),
            "metadata": dict(memory.metadata),
        },
        excluded_llm_metadata_keys=list(_HIDDEN_FROM_LLM),
        excluded_embed_metadata_keys=list(_HIDDEN_FROM_LLM),
    )
    return NodeWithScore(node=node, score=memory.score)
