"""LangChain integration for tta-memory.

- :class:`TTAChatMessageHistory` — ``BaseChatMessageHistory`` over the session layer.
- :class:`TTAMemoryRetriever` — ``BaseRetriever`` over deep memory (hybrid search).
- :class:`TTALayeredRetriever` — the stage-aware layered context as documents, PAFs first.
- :class:`TTAMemoryMiddleware` — ``middleware | prompt | model`` injects memory and records
  the exchange (builds a :class:`TTAMemoryChain`).
- :class:`TTAAgentMiddleware` — ``create_agent`` middleware: stage-aware memory injected
  within a token budget before the model, the exchange recorded after the agent.
- :class:`TTAStore` — LangGraph ``BaseStore`` (namespaces, semantic search, filters, TTL).
- :class:`TTAMemoryToolkit` / :func:`create_memory_tools` — ``save_memory``,
  ``search_memory`` and ``get_constraints`` agent tools.
"""

from tta_memory_langchain.chat_message_history import TTAChatMessageHistory
from tta_memory_langchain.layered_retriever import TTALayeredRetriever
from tta_memory_langchain.memory_chain import TTAMemoryChain
from tta_memory_langchain.middleware import TTAMemoryMiddleware
from tta_memory_langchain.retriever import TTAMemoryRetriever
from tta_memory_langchain.tools import TTAMemoryToolkit, create_memory_tools

# LangGraph (the ``langgraph`` extra): imported on first use.
_LAZY = {
    "TTAStore": "tta_memory_langchain.store",
    "TTAAgentMiddleware": "tta_memory_langchain.agent_middleware",
    "TTAMemoryContext": "tta_memory_langchain.agent_middleware",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)


__all__ = [
    "TTAAgentMiddleware",
    "TTAChatMessageHistory",
    "TTALayeredRetriever",
    "TTAMemoryChain",
    "TTAMemoryContext",
    "TTAMemoryMiddleware",
    "TTAMemoryRetriever",
    "TTAMemoryToolkit",
    "TTAStore",
    "create_memory_tools",
]
