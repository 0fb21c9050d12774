"""``DeepMemoryBlock``: flushed short-term messages go to deep memory and come back by relevance."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from tta_memory import SearchMode
from tta_memory.loading.ingest import turn_memories
from tta_memory.loading.query import conversation_query
from tta_memory.loading.render import dated_deep_line

from tta_memory_llamaindex._block import EngineMemoryBlock, Renders
from tta_memory_llamaindex._budget import chars_for_tokens
from tta_memory_llamaindex._messages import message_text


class DeepMemoryBlock(EngineMemoryBlock):
    """A memory block backed by tta_memory deep memory (hybrid BM25 + vector search).

    ``aput`` receives the messages ``Memory`` flushes out of its short-term window and writes
    them to deep memory through the engine's turn ingestion (one memory per conversation
    turn), tagged with ``tags`` and with the session they came from. ``aget`` searches deep
    memory with the engine's query of the latest messages and renders the most relevant
    memories, best first. By default the search covers the whole workspace, so what one
    session learnt comes back in the next; ``session_only=True`` restricts it to the Memory's
    session (the ``session_id`` Memory passes in ``block_kwargs``).

    Example:
        >>> block = DeepMemoryBlock(memory=engine, similarity_top_k=5, tags=["chat"])
    """

    name: str = Field(default="DeepMemories", description="The name of the memory block.")
    description: str | None = Field(
        default="Long-term memories relevant to the conversation.",
        description="A description of the memory block.",
    )
    priority: int = Field(
        default=2,
        description="Memory truncates blocks in ascending priority (0: never): targeted "
        "recall outlasts the stage context (priority 1).",
    )
    similarity_top_k: int = Field(default=5, ge=1, description="Memories to retrieve.")
    retrieval_context_window: int = Field(
        default=3, ge=1, description="Latest messages used as the search query."
    )
    tags: list[str] = Field(
        default_factory=lambda: ["conversation"],
        description="Tags written on flushed messages.",
    )
    memory_type: str = Field(default="conversation", description="Type of flushed memories.")
    filter_tags: list[str] | None = Field(
        default=None, description="Only retrieve memories with one of these tags."
    )
    session_only: bool = Field(
        default=False, description="Only retrieve memories written by the Memory's session."
    )
    search_mode: SearchMode = Field(default="hybrid")
    private: bool = Field(default=False, description="Write flushed memories as private.")

    _renders: Renders[list[str]] = PrivateAttr(default_factory=Renders)

    async def _aput(self, messages: list[ChatMessage]) -> None:
        """Write flushed messages to deep memory, one memory per turn, in one batch."""
        items = turn_memories(
            [
                (m.role.value, message_text(m), m.additional_kwargs.get("session_id") or None)
                for m in messages
            ],
            tags=self.tags,
            memory_type=self.memory_type,
            source="llamaindex",
            private=self.private,
        )
        if items:
            await self.memory.create_deep_memories(items)

    def _query(self, messages: list[ChatMessage] | None) -> str:
        turns = [(m.role.value, message_text(m)) for m in messages or []]
        return conversation_query(turns, window=self.retrieval_context_window, roles=None)

    async def _aget(
        self,
        messages: list[ChatMessage] | None = None,
        session_id: str | None = None,
        **block_kwargs: Any,
    ) -> str:
        """Return the memories relevant to the latest messages, best first.

        Args:
            messages: The Memory's short-term messages (and the new input, if any).
            session_id: The Memory's session id; used when ``session_only`` is set.
            **block_kwargs: Other ``Memory.aget`` keyword arguments (ignored).

        Returns:
            One memory per line ("" when nothing relevant is stored or there is no query).
        """
        query = self._query(messages)
        if not query:
            return ""
        found = await self.memory.search_deep_memory(
            query,
            limit=self.similarity_top_k,
            tags=self.filter_tags,
            session_id=session_id if self.session_only else None,
            search_mode=self.search_mode,
        )
        lines = [dated_deep_line(m) for m in found]
        text = "\n".join(lines)
        self._renders.add(text, lines)
        return text

    async def atruncate(self, content: str, tokens_to_truncate: int) -> str | None:
        """Drop the least relevant memories (the last lines) until about enough is removed.

        Args:
            content: What ``aget`` returned.
            tokens_to_truncate: How many tokens ``Memory`` wants back.

        Returns:
            The remaining memories, or ``None`` when none is left.
        """
        if tokens_to_truncate <= 0:
            return content
        lines = list(self._renders.get(content) or content.split("\n"))
        to_remove = chars_for_tokens(content, tokens_to_truncate)
        while lines and to_remove > 0:
            to_remove -= len(lines.pop()) + 1
        return "\n".join(lines) or None
