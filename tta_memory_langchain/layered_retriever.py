"""LangChain retriever returning the engine's stage-aware layered context."""

from __future__ import annotations

from typing import Any, ClassVar

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig
from tta_memory import Layer, LoadedContext, WorkflowContext
from tta_memory.errors import InvalidInputError
from tta_memory.literals import LAYERS
from typing_extensions import override

from tta_memory_langchain._documents import (
    cache_entry_document,
    deep_memory_document,
    paf_document,
    session_message_document,
)
from tta_memory_langchain._fields import StageFields

# Per-call keyword arguments; also read from ``config["configurable"]``.
_CALL_ARGS = ("session_id", "stage", "mode", "workflow_id")
_RUNNABLE_ARGS = frozenset({"verbose"})


class TTALayeredRetriever(StageFields, BaseRetriever):
    """Retriever returning the stage-aware context of a session as documents.

    Calls the engine's ``load_workflow_context`` for the configured stage and mode, with
    the query as the deep-search query, and returns what it loaded in a fixed order: PAFs
    first (never truncated), then deep memories (best first), then cache entries (newest
    first), then session messages (oldest first). Each document's ``metadata["layer"]``
    names its layer.

    ``session_id``, ``stage``, ``mode`` and ``workflow_id`` are taken, in order, from the
    call's keyword arguments, from ``config["configurable"]``, then from the retriever.

    Example:
        ```python
        from tta_memory_langchain import TTALayeredRetriever

        retriever = TTALayeredRetriever(memory=memory, stage="implement", mode="standard")
        docs = retriever.invoke(
            "token refresh", config={"configurable": {"session_id": "auth-impl-1"}}
        )
        ```
    """

    _SESSION_HINT: ClassVar[str] = (
        "set session_id on the retriever, "
        "pass session_id=... or config={'configurable': {'session_id': ...}}"
    )

    layers: tuple[Layer, ...] = LAYERS
    """Layers to return, in the fixed order paf, deep, cache, session."""

    @override
    def invoke(
        self, input: str, config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[Document]:
        return super().invoke(input, config, **self._with_configurable(config, kwargs))

    @override
    async def ainvoke(
        self, input: str, config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[Document]:
        return await super().ainvoke(input, config, **self._with_configurable(config, kwargs))

    @staticmethod
    def _with_configurable(config: RunnableConfig | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Fill call arguments the caller did not give from ``config["configurable"]``."""
        configurable = (config or {}).get("configurable") or {}
        merged = dict(kwargs)
        for name in _CALL_ARGS:
            if merged.get(name) is None and configurable.get(name) is not None:
                merged[name] = configurable[name]
        return merged

    def _call_args(self, query: str, overrides: dict[str, Any]) -> dict[str, Any]:
        """Build ``load_workflow_context`` arguments from fields and per-call overrides."""
        unknown = set(overrides) - set(_CALL_ARGS) - _RUNNABLE_ARGS
        if unknown:
            raise InvalidInputError(
                f"unknown retriever argument(s) {sorted(unknown)}; "
                f"valid ones are {sorted(_CALL_ARGS)}"
            )
        return self._load_args(self._session(overrides), query or None, overrides)

    def _documents(self, enriched: WorkflowContext) -> list[Document]:
        """Translate the loaded layers into documents, in the engine's layer order."""
        loaded = LoadedContext.from_metadata(enriched.metadata)
        by_layer: dict[str, list[Document]] = {
            "paf": [paf_document(p) for p in loaded.pafs],
            "deep": [deep_memory_document(m) for m in loaded.deep_memory],
            "cache": [cache_entry_document(e) for e in loaded.cache_memory],
            "session": [session_message_document(m) for m in loaded.session_context],
        }
        return [doc for layer in LAYERS if layer in self.layers for doc in by_layer[layer]]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        """Load the stage-aware context.

        Args:
            query: Deep-search query; empty lets the engine derive one from the session.
            run_manager: LangChain callback manager.
            **kwargs: Per-call ``session_id``, ``stage``, ``mode``, ``workflow_id``.

        Returns:
            PAF, deep, cache and session documents, in that order.

        Raises:
            InvalidInputError: No session id, or an unknown stage, mode or argument.
        """
        enriched = self.memory.sync.load_workflow_context(**self._call_args(query, kwargs))
        return self._documents(enriched)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        """Load the stage-aware context without blocking the event loop.

        Args:
            query: Deep-search query; empty lets the engine derive one from the session.
            run_manager: LangChain callback manager.
            **kwargs: Per-call ``session_id``, ``stage``, ``mode``, ``workflow_id``.

        Returns:
            PAF, deep, cache and session documents, in that order.

        Raises:
            InvalidInputError: No session id, or an unknown stage, mode or argument.
        """
        enriched = await self.memory.load_workflow_context(**self._call_args(query, kwargs))
        return self._documents(enriched)
