"""A search's rankings read straight from the raw replies of its queries (see replies.py)."""

from __future__ import annotations

from typing import Any

from redisvl.query import VectorQuery

from tta_memory.errors import InternalError
from tta_memory.partitions import unescape
from tta_memory.replies import get, hits, text
from tta_memory.stores.deep.planning import Ranking

ID_FIELD = "memory_id"
DISTANCE_FIELD = "vector_distance"


def ranking(query: Any, reply: Any, key_prefix: str = "") -> Ranking:
    """``(memory_id, score)`` pairs of one reply, best first, higher scores better.

    Vector hits score ``1 - distance``; text hits their BM25 score (``None`` without
    ``WITHSCORES``). A hit without its id (a document deleted while the query ran) is skipped.
    A ``NOCONTENT`` query's ids come from its keys (see :func:`keyed_ranking`).
    """
    vector = isinstance(query, VectorQuery)
    # The query's flags as it sends them (its public arguments; the first is the query string).
    flags = set(query.get_args()[1:])
    with_scores = not vector and "WITHSCORES" in flags
    if "NOCONTENT" in flags:
        return keyed_ranking(reply, key_prefix, with_scores=with_scores)
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


def keyed_ranking(reply: Any, key_prefix: str, *, with_scores: bool = False) -> Ranking:
    """The ranking of a ``NOCONTENT`` reply: each hit's memory id read from its key (the key
    is ``key_prefix`` + the escaped id, see ``Partition.doc_key``), scores as sent.

    A key outside ``key_prefix`` (another workspace's memory, under a filter without the
    workspace clause) is kept whole: memory ids are hex digests, so no memory of this
    workspace has that id and hydration reads it as absent, exactly as it reads another
    workspace's ``memory_id`` field (``DeepSearch._hydrate`` then runs the full filter).
    """
    if not key_prefix:
        raise InternalError("a keys-only ranking needs the workspace's key prefix")
    if isinstance(reply, dict):  # RESP3
        rows = get(reply, "results") or []
        keys = [get(hit, "id") for hit in rows]
        scores = [get(hit, "score") for hit in rows] if with_scores else [None] * len(keys)
    else:  # RESP2: the total, then each key (and its score under WITHSCORES)
        rows = reply[1:] if reply else []
        keys = rows[0::2] if with_scores else rows
        scores = rows[1::2] if with_scores else [None] * len(keys)
    prefix, cut = key_prefix.encode(), len(key_prefix.encode())
    out: list[tuple[str, float | None]] = []
    for key, score in zip(keys, scores, strict=False):
        raw = key if isinstance(key, bytes) else str(key).encode()
        if raw.startswith(prefix):
            part = raw[cut:].decode()
            memory_id = unescape(part)  # ids are escaped in keys
        else:
            memory_id = text(raw)
        out.append((memory_id, None if score is None else float(score)))
    return out
