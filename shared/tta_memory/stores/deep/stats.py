"""Counts the deep-search planner reads, cached in the process for a short time.

A search needs a few counts to plan (the KNN policy's filter size, BM25's term document
frequencies). Reading them cost one round trip of a search's four; they only steer *how* the
same results are found, so a count a few seconds old costs at most a little speed or ranking
quality for that long, never a wrong or foreign result.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Any

# A term's document frequency is read once and reused this long (it only steers which terms
# BM25 walks).
DOC_FREQ_TTL = 60.0
# The counts behind the KNN policy are reused this long: they only choose between two ways of
# running the same KNN.
POLICY_STATS_TTL = 5.0
CACHE_SIZE = 10_000


class StatsCache:
    """A small TTL cache (monotonic clock), emptied whole when it grows past ``size``."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._items: dict[Hashable, tuple[Any, float]] = {}

    def get(self, key: Hashable) -> Any | None:
        """The cached value, or ``None`` when absent or expired."""
        hit = self._items.get(key)
        if hit is None or hit[1] <= time.monotonic():
            return None
        return hit[0]

    def put(self, key: Hashable, value: Any, ttl: float) -> None:
        if len(self._items) >= self._size:
            self._items.clear()
        self._items[key] = (value, time.monotonic() + ttl)

    def clear(self) -> None:
        self._items.clear()


# One cache per process: every primitive on the same server and partition shares the counts.
STATS = StatsCache()


def result_total(reply: Any) -> int:
    """The result count of an ``FT.SEARCH … LIMIT 0 0`` reply (RESP2 or RESP3); 0 on error
    (a stopword-only query, say: BM25 drops such terms anyway)."""
    if isinstance(reply, list | tuple) and reply:
        return int(reply[0])
    if isinstance(reply, dict):
        total = reply.get(b"total_results", reply.get("total_results"))
        return int(total or 0)
    return 0
