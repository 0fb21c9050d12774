"""Deep memories as LlamaIndex nodes."""

from __future__ import annotations

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
            **memory.flat_metadata(),
            "metadata": dict(memory.metadata),
        },
        excluded_llm_metadata_keys=list(_HIDDEN_FROM_LLM),
        excluded_embed_metadata_keys=list(_HIDDEN_FROM_LLM),
    )
    return NodeWithScore(node=node, score=memory.score)
