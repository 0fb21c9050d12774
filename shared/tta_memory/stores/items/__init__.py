"""Keyed items (the engine side of the LangGraph store): JSON values stored by ``(namespace,
key)``, with an optional TTL and hybrid (BM25 + vector) search over the texts the caller chose
to index. Storage, search, value filters and the pure records (checks, paths, schema, fusion).

The deep layer does not fit a key-value store: a deep memory is identified by its text, has
no key and no TTL, and always one text to embed.
"""

from __future__ import annotations

from tta_memory.stores.items.records import ItemWrite, StoredItem
from tta_memory.stores.items.search import ITEM_SEARCH_MODES, ItemSearchMode, ItemStore

__all__ = ["ITEM_SEARCH_MODES", "ItemSearchMode", "ItemStore", "ItemWrite", "StoredItem"]
