"""Create-time deduplication: which memories of a batch are already stored, and under which id
the new ones go.

Same text in the same scope (shared, or private to one author) is the same memory: it is found
by content hash (even when it was written under another id or updated into that text), and a
repeat inside the batch shares the first one's memory. A new memory's id is a hash of workspace,
scope and text, so two writers that race past the lookup still write one key.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redisvl.query import FilterQuery

from tta_memory.models import DeepMemory
from tta_memory.names import Tag
from tta_memory.stores.deep.records import DEEP_FIELDS, content_hash, decode_memory, scope_of

MAX_DEDUP = 10_000


@dataclass
class CreatePlan:
    """What a batch of create requests needs: the found memories and the new ones' ids.

    Attributes:
        docs: The requests' hash fields (without id and embedding), in input order.
        scopes: Each request's dedup scope.
        ids: Each request's memory id (for a new memory, the id it is written under).
        found: Input position -> the stored memory it repeats.
        new: Input positions of the memories to write (the first of each repeat).
        first: (content hash, scope) -> the position written for it.
    """

    docs: list[dict[str, Any]]
    scopes: list[str]
    ids: list[str]
    found: dict[int, DeepMemory]
    new: list[int]
    first: dict[tuple[str, str], int]

    @property
    def texts(self) -> list[str]:
        """The texts to embed (the new memories')."""
        return [self.docs[i]["text"] for i in self.new]

    def payload(self, own: Sequence[bytes]) -> list[dict[str, Any]]:
        """The new memories' hash fields with their ids and embeddings."""
        return [
            {**self.docs[i], "memory_id": self.ids[i], "embedding": vec}
            for i, vec in zip(self.new, own, strict=True)
        ]

    def source(self, i: int) -> int:
        """The position whose memory request ``i`` gets (``i`` itself unless it repeats a text
        of the batch)."""
        return self.first.get((self.docs[i]["content_hash"], self.scopes[i]), i)

    def without(self, dropped: set[int]) -> CreatePlan:
        """The plan of the other requests (``dropped``: new memories' positions that failed
        before anything was written; their repeats go with them)."""
        keep = [i for i in range(len(self.docs)) if self.source(i) not in dropped]
        at = {old: new for new, old in enumerate(keep)}
        return CreatePlan(
            docs=[self.docs[i] for i in keep],
            scopes=[self.scopes[i] for i in keep],
            ids=[self.ids[i] for i in keep],
            found={at[i]: m for i, m in self.found.items() if i in at},
            new=[at[i] for i in self.new if i in at],
            first={k: at[i] for k, i in self.first.items() if i in at},
        )

    def results(self, payload: Sequence[Mapping[str, Any]]) -> list[DeepMemory]:
        """Every request's memory, in input order, once ``payload`` is stored."""
        result = dict(self.found)
        for i, p in zip(self.new, payload, strict=True):
            result[i] = decode_memory(p)
        return [result[i] if i in result else result[self.source(i)] for i in range(len(self.docs))]


async def plan_create(
    index: Any, client: Any, workspace: str, deep_key: Any, docs: list[dict[str, Any]]
) -> CreatePlan:
    """Look a batch up (one ``FT.SEARCH`` by content hash, one pipeline of ``EXISTS``).

    Args:
        index: The workspace's deep index.
        client: The async Redis client.
        workspace: The workspace the docs belong to.
        deep_key: ``memory_id -> hash key``.
        docs: The requests' hash fields, in input order.

    Returns:
        The plan.
    """
    scopes = [scope_of(d) for d in docs]
    ids = [content_hash(workspace, s, d["text"]) for s, d in zip(scopes, docs, strict=True)]
    hashes = sorted({d["content_hash"] for d in docs})
    lookup = FilterQuery(
        filter_expression=(Tag("workspace") == workspace) & (Tag("content_hash") == hashes),
        return_fields=DEEP_FIELDS,
        num_results=MAX_DEDUP,
    )

    async def taken() -> list[Any]:
        async with client.pipeline(transaction=False) as pipe:
            for memory_id in ids:
                pipe.exists(deep_key(memory_id))
            return list(await pipe.execute())

    rows, exists = await asyncio.gather(index.query(lookup), taken())
    stored = {
        (row["content_hash"], scope_of(row)): row
        for row in rows
        # Dedup never returns another workspace's memory, whatever the tag matching does.
        if "content_hash" in row and row.get("workspace") == workspace
    }
    found: dict[int, DeepMemory] = {}
    new: list[int] = []
    first: dict[tuple[str, str], int] = {}
    for i, (doc, scope) in enumerate(zip(docs, scopes, strict=True)):
        key = (doc["content_hash"], scope)
        if key in stored:
            found[i] = decode_memory(stored[key])
        elif key not in first:
            if exists[i]:  # the id's original text was since updated into another text
                ids[i] = uuid.uuid4().hex
            first[key] = i
            new.append(i)
    return CreatePlan(docs, scopes, ids, found, new, first)
