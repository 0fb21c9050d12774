"""Deep memory (layer 3): storage (CRUD, dedup, counters), search (filters, queries) and pure
planning (terms, KNN policy, fusion)."""

from __future__ import annotations

from tta_memory.stores.deep.search import DeepSearch
from tta_memory.stores.deep.storage import DeepStorage


class DeepStore(DeepStorage, DeepSearch):
    """The deep-memory layer of one workspace (``memory.deep``): storage plus search."""


__all__ = ["DeepSearch", "DeepStorage", "DeepStore"]
