"""PAFs (layer 4): the store (writes under a version token, checks) and the reads that send the
PAF list again only when that token changed."""

from __future__ import annotations

from tta_memory.stores.pafs.store import PAFStore

__all__ = ["PAFStore"]
