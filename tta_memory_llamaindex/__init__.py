"""LlamaIndex adapters for tta_memory.

- :class:`PAFMemoryBlock`, :class:`StageMemoryBlock`, :class:`DeepMemoryBlock`: memory blocks
  for ``llama_index.core.memory.Memory.from_defaults(memory_blocks=[...])``.
- :class:`TTAChatStore`: an ``AsyncDBChatStore`` so ``Memory`` keeps its short-term messages in
  the tta_memory session layer.
- :class:`TTAMemoryRetriever`: a ``BaseRetriever`` over deep memory returning ``NodeWithScore``.

Install with ``pip install "tta-memory[llamaindex]"``.
"""

from tta_memory_llamaindex._filters import FILTER_KEYS
from tta_memory_llamaindex.chat_store import TTAChatStore
from tta_memory_llamaindex.deep_block import DeepMemoryBlock
from tta_memory_llamaindex.paf_block import PAFMemoryBlock
from tta_memory_llamaindex.retriever import TTAMemoryRetriever
from tta_memory_llamaindex.stage_block import StageMemoryBlock

__all__ = [
    "FILTER_KEYS",
    "DeepMemoryBlock",
    "PAFMemoryBlock",
    "StageMemoryBlock",
    "TTAChatStore",
    "TTAMemoryRetriever",
]
