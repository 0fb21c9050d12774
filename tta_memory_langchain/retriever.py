"""LangChain retriever over the engine's deep memory (hybrid BM25 + vector search)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from tta_memory import SearchMode
from tta_memory.errors import InvalidInputError

from tta_memory_langchain._documents import deep_memory_document
from tta_memory_langchain._fields import EngineFields

# Retriever field (also a per-call keyword argument) -> search_deep_memory keyword argument.
_SEARCH_ARGS: dict[str, str] = {
    "k": "limit",
    "filter_tags": "tags",
    "match_all_tags": "match_all_tags",
    "memory_type": "memory_type",
    "author": "author",
    "session_id": "session_id",
    "since": "since",
    "until": "until",
    "search_mode": "search_mode",
}
# Passed to every retriever by BaseRetriever.invoke itself; not a search filter.
_RUNNABLE_ARGS = frozenset({"verbose"})
# Per-call aliases. ``tags`` cannot be the field's name: BaseRetriever.tags are the run's
# callback tags (tracing), and a tracing tag must never silently become a search filter.
_CALL_ALIASES = {"tags": "filter_tags"}


class TTAMemoryRetriever(EngineFields, BaseRetriever):
    """Retriever over tta-memory deep memory.

    Runs the engine's hybrid search (BM25 and vector KNN, rank-fused) with the filters set
    on the retriever; every filter can be overridden per call as a keyword argument
    (``retriever.invoke("jwt", k=3, tags=["auth"])``; the tag filter field is
    ``filter_tags`` because ``tags`` is LangChain's tracing tags). An empty query lists memories
    newest first.

    Each ``Document`` has the memory's text as ``page_content``, ``id`` set to the memory
    id, and ``metadata`` with ``id``, ``layer`` (``"deep"``), ``score``, ``tags``,
    ``memory_type``, ``author``, ``session_id``, ``private``, ``created_at``,
    ``updated_at``, ``event_time`` (ISO 8601) and the memory's own ``memory_metadata``.

    Example:
        ```python
        from tta_memory_langchain import TTAMemoryRetriever

        retriever = TTAMemoryRetriever(memory=memory, k=5, filter_tags=["auth"])
        docs = retriever.invoke("how do we sign tokens?")
        ```
    """

    k: int = 4
    """Number of documents to return."""
    filter_tags: list[str] | None = None
    """Only memories with any of these tags (all of them with ``match_all_tags``); per call
    as ``tags=`` or ``filter_tags=``."""
    match_all_tags: bool = False
    """Require every tag in ``filter_tags`` instead of any."""
    memory_type: str | None = None
    """Only memories of this type (``observation``, ``pattern``, ``decision``, …)."""
    author: str | None = None
    """Only memories written by this user."""
    session_id: str | None = None
    """Only memories recorded from this session."""
    since: datetime | None = None
    """Only memories created at or after this time."""
    until: datetime | None = None
    """Only memories created at or before this time."""
    search_mode: SearchMode = "hybrid"
    """``hybrid`` (default), ``vector`` or ``text`` (BM25 only)."""

    def _search_kwargs(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """Merge constructor filters with per-call overrides into engine arguments."""
        overrides = {_CALL_ALIASES.get(name, name): value for name, value in overrides.items()}
        unknown = set(overrides) - set(_SEARCH_ARGS) - _RUNNABLE_ARGS
        if unknown:
            raise InvalidInputError(
                f"unknown retriever argument(s) {sorted(unknown)}; "
                f"valid ones are {sorted({*_SEARCH_ARGS, *_CALL_ALIASES})}"
            )
        return {
            engine_name: overrides.get(name, getattr(self, name))
            for name, engine_name in _SEARCH_ARGS.items()
        }

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        """Search deep memory.

        Args:
            query: The search text; empty lists the newest memories.
            run_manager: LangChain callback manager.
            **kwargs: Per-call overrides of ``k``, ``tags`` (``filter_tags``), ``match_all_tags``,
                ``memory_type``, ``author``, ``session_id``, ``since``, ``until``,
                ``search_mode``.

        Returns:
            The matching memories as documents, best first.

        Raises:
            InvalidInputError: An unknown argument or a bad filter value.
        """
        found = self.memory.sync.search_deep_memory(query, **self._search_kwargs(kwargs))
        return [deep_memory_document(memory) for memory in found]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        """Search deep memory without blocking the event loop.

        Args:
            query: The search text; empty lists the newest memories.
            run_manager: LangChain callback manager.
            **kwargs: Per-call overrides, as for the sync call.

        Returns:
            The matching memories as documents, best first.

        Raises:
            InvalidInputError: An unknown argument or a bad filter value.
        """
        found = await self.memory.search_deep_memory(query, **self._search_kwargs(kwargs))
        return [deep_memory_document(memory) for memory in found]
