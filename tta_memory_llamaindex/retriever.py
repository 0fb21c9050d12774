"""``TTAMemoryRetriever``: a LlamaIndex retriever over tta_memory deep memory."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import MetadataFilters
from tta_memory import MemoryWorkflowPrimitive, SearchMode
from tta_memory.errors import InvalidInputError

from tta_memory_llamaindex._filters import filters_to_kwargs
from tta_memory_llamaindex._nodes import memory_to_node
from tta_memory_llamaindex._scope import SCOPE_KEYS, Scope, resolve_scope


class TTAMemoryRetriever(BaseRetriever):
    """Retrieve deep memories (hybrid BM25 + vector search) as ``NodeWithScore``.

    Node ids are memory ids, so the same memory is the same node across calls; node metadata
    holds ``tags``, ``memory_type``, ``author``, ``session_id``, times and ``layer``.
    ``aretrieve`` awaits the engine's async search (it never blocks the event loop);
    ``retrieve`` goes through the engine's blocking proxy. Filters come from the constructor
    arguments and/or LlamaIndex ``MetadataFilters`` (see ``FILTER_KEYS``); the engine validates
    and escapes every value, so no filter string can widen a search.

    Example:
        >>> retriever = TTAMemoryRetriever(memory=engine, similarity_top_k=5, tags=["auth"])
        >>> engine = RetrieverQueryEngine.from_args(retriever, llm=MockLLM())
    """

    def __init__(
        self,
        memory: MemoryWorkflowPrimitive | None = None,
        *,
        redis_url: str | None = None,
        user_id: str | None = None,
        workspace: str | None = None,
        prefix: str | None = None,
        similarity_top_k: int = 10,
        tags: Sequence[str] | None = None,
        match_all_tags: bool = False,
        memory_type: str | Sequence[str] | None = None,
        author: str | None = None,
        session_id: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        filters: MetadataFilters | None = None,
        search_mode: SearchMode = "hybrid",
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        """Create the retriever.

        Args:
            memory: An engine client; its workspace scopes every search.
            redis_url: Without ``memory``: the Redis URL (``None``: the engine's configured or
                embedded server).
            user_id: Without ``memory``: the acting user (private memories are its own).
            workspace: Without ``memory``: the tenant.
            prefix: Without ``memory``: the engine's key prefix (default: its settings').
            similarity_top_k: How many memories to return.
            tags: Only memories with any of these tags (all of them with ``match_all_tags``).
            match_all_tags: Require every tag in ``tags``.
            memory_type: Only memories of this type ("decision", "pattern", ...) or types.
            author: Only memories written by this user id.
            session_id: Only memories written from this session.
            since: Only memories created at or after this time.
            until: Only memories created at or before this time.
            filters: LlamaIndex metadata filters on the same keys (combined with AND).
            search_mode: "hybrid" (default), "vector" or "text".
            callback_manager: LlamaIndex callback manager.
            verbose: LlamaIndex verbose flag.

        Raises:
            InvalidInputError: An unsupported filter, or a filter set twice; ``memory`` is not
                an engine client, or is given with a scope.
        """
        super().__init__(callback_manager=callback_manager, verbose=verbose)
        if (
            isinstance(similarity_top_k, bool)
            or not isinstance(similarity_top_k, int)
            or similarity_top_k < 1
        ):
            raise InvalidInputError(
                f"similarity_top_k must be a positive integer, got {similarity_top_k!r}"
            )
        scope = {"redis_url": redis_url, "workspace": workspace, "user_id": user_id}
        self._memory, fields = resolve_scope(memory, {**scope, "prefix": prefix})
        self._scope = Scope.model_validate(fields)  # redacted: what to_dict() holds
        self.similarity_top_k = similarity_top_k
        self.search_mode = search_mode
        explicit: dict[str, Any] = {
            "tags": _listed("tags", tags),
            "match_all_tags": match_all_tags,
            "memory_type": (
                memory_type if isinstance(memory_type, str) else _listed("memory_type", memory_type)
            ),
            "author": author,
            "session_id": session_id,
            "since": since,
            "until": until,
        }
        from_filters = filters_to_kwargs(filters)
        for key, value in from_filters.items():
            if key != "match_all_tags" and explicit.get(key) is not None:
                raise InvalidInputError(f"{key!r} is set both as an argument and in filters")
            explicit[key] = value
        self._search_kwargs = {k: v for k, v in explicit.items() if v is not None}

    @property
    def memory(self) -> MemoryWorkflowPrimitive:
        """The engine client this retriever searches through."""
        return self._memory

    def to_dict(self) -> dict[str, Any]:
        """The retriever's configuration, JSON-ready and without secrets.

        Its scope (server URL without its password, workspace, user, key prefix), the number
        of results, the search mode and the filters; :meth:`from_dict` builds a retriever on
        the same memory from it (a password comes back from the environment, see
        :mod:`tta_memory_llamaindex._scope`).
        """
        filters = {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in self._search_kwargs.items()
        }
        return {
            **self._scope.model_dump(),
            "similarity_top_k": self.similarity_top_k,
            "search_mode": self.search_mode,
            **filters,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TTAMemoryRetriever:
        """Build a retriever from :meth:`to_dict` output.

        Raises:
            InvalidInputError: A bad scope or filter.
        """
        config = dict(data)
        scope = Scope.model_validate({key: config.pop(key, None) for key in SCOPE_KEYS})
        return cls(memory=scope.build_engine(), **config)

    @property
    def search_kwargs(self) -> dict[str, Any]:
        """The filters every search applies (a copy)."""
        return dict(self._search_kwargs)

    def _call_kwargs(self, query_bundle: QueryBundle) -> dict[str, Any]:
        return {
            "query": query_bundle.query_str,
            "limit": self.similarity_top_k,
            "search_mode": self.search_mode,
            **self._search_kwargs,
        }

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        """Search deep memory (blocking, through the engine's sync proxy)."""
        found = self._memory.sync.search_deep_memory(**self._call_kwargs(query_bundle))
        return [memory_to_node(m) for m in found]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        """Search deep memory without blocking the event loop."""
        found = await self._memory.search_deep_memory(**self._call_kwargs(query_bundle))
        return [memory_to_node(m) for m in found]


def _listed(name: str, value: Any) -> list[Any] | None:
    """``value`` (a sequence of strings) as a list; ``None`` passes. The engine checks the items."""
    if value is None:
        return None
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InvalidInputError(f"{name} must be a list of strings, got {value!r:.80}")
    return list(value)
