"""A search's rankings read straight from the raw replies of its queries (see replies.py)."""

from __future__ import annotations

from typing import Any

from redisvl.query import VectorQuery

from tta_memory.replies import hits, text
from tta_memory.stores.deep.planning import Ranking

ID_FIELD = "memory_id"
DISTANCE_FIELD = "vector_distance"


def ranking(query: Any, reply: Any) -> Ranking:
    """``(memory_id, score)`` pairs of one reply, best first, higher scores better.

    Vector hits score ``1 - distance``; text hits their BM25 score (``None`` without
    ``WITHSCORES``). A hit without its id (a document deleted while the query ran) is skipped.
    """
    vector = isinstance(query, VectorQuery)
    with_scores = not vector and bool(getattr(query, "_with_scores", False))
    out: list[tuple[str, float | None]] = []
    for score, fields in hits(reply, with_scores=with_scores):
        memory_id = fields.get(ID_FIELD)
        if memory_id is None:
            continue
        if vector:
            distance = fields.get(DISTANCE_FIELD)
            score = 1.0 - float(1.0 if distance is None else distance)
        out.append((text(memory_id), score))
    return out
