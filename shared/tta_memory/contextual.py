"""Contextual indexing: a memory is found through its conversational neighbourhood.

A conversational turn often means little alone ("Yes, last Tuesday!") and answers the turn
before it; what it is about, and when, lives around it. With contextual indexing the deep store
indexes, beside each memory's own text, a ``context`` text field for BM25 (the previous and the
next memory of the same session and the event date) and stores a vector that mixes in the
previous memory's stored vector (``own + vector_mix × previous``, normalised: a chain, so no
extra model work). The memory returned keeps its own text.

Neighbours are memories of the same session *and* the same visibility scope (shared, or private
to one author): a private memory never lends its words to a shared one. "Previous" is input
order within one ``create_deep_memories`` call, then the session's newest stored memory (its id
is kept per session in one hash); when a later call continues a session, the stored tail gets
the new memory as its "next" (one HSET of its ``context``). RediSearch re-indexes the whole
stored memory on that HSET, vector included: with one memory per call (chat stores) it is the
largest engine cost beside the model (write path alone, 16 coalesced writers at 5-9k memories:
Redis CPU 2.3-3.1 ms per memory, 1.2-1.3 with ``next=False``; benchmarks/README.md, issue 13
session 4). Keeping "next" where no vector is re-indexed needs another document layout.

Measured on LoCoMo's tuning split (conversations 0-4, 997 questions; ``python -m
benchmarks.locomo_lab``), hybrid R@5 / R@10 / R@25: turn text only 51.6 / 61.2 / 72.6; with
contextual indexing 57.3 / 67.3 / 76.9. See benchmarks/README.md for every variant tried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tta_memory import replies, vectors

#: Separates a scope from a session id in the tails hash (refused in ids, as in tags).
_SEP = "\x1f"


class ContextualIndexing(BaseModel):
    """What a deep memory is indexed with besides its own text (``Settings.contextual``).

    Args:
        previous: Index the previous memory of the same session (BM25 context).
        next: Index the next memory of the same session (BM25 context; a stored memory gets it
            when its successor arrives).
        date: Index the event date ("8 May 2023") in the BM25 context.
        vector_mix: Weight of the previous memory's vector in this memory's vector (0 = the
            memory's own embedding only).
        max_chars: Cap on each neighbour's text in the context.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    previous: bool = True
    next: bool = True
    date: bool = True
    vector_mix: float = Field(default=0.5, ge=0.0, le=4.0)
    max_chars: int = Field(default=600, ge=1)

    @property
    def neighbours(self) -> bool:
        """Whether the session's neighbours are looked up at all."""
        return self.previous or self.next or self.vector_mix > 0

    @property
    def enabled(self) -> bool:
        """Whether anything beyond the memory's own text is indexed."""
        return self.neighbours or self.date


#: Indexing of the memory's own text only.
PLAIN = ContextualIndexing(previous=False, next=False, date=False, vector_mix=0.0)


def format_date(when: datetime | None) -> str:
    """The date words indexed with a memory ("8 May 2023"), or "" without an event time."""
    if when is None:
        return ""
    return f"{when.day} {when.strftime('%B %Y')}"


def chain_key(scope: str, session_id: str) -> str:
    """The tails-hash field of a (visibility scope, session)."""
    return f"{scope}{_SEP}{session_id}"


def mix(own: np.ndarray, previous: np.ndarray | None, weight: float) -> np.ndarray:
    """``own + weight × previous``, normalised (``own`` when there is no previous)."""
    if previous is None or weight <= 0 or previous.shape != own.shape:
        return own
    out = own + weight * previous
    norm = float(np.linalg.norm(out))
    return out / norm if norm else own


@dataclass
class Neighbour:
    """A session's newest stored memory (the tail a new memory continues)."""

    memory_id: str
    key: str
    text: str
    search_text: str
    vector: np.ndarray | None


@dataclass
class Plan:
    """What contextual indexing adds to one batch of new memories."""

    contexts: list[str]
    vectors: list[np.ndarray]
    #: Stored tails whose ``search_text`` gains their successor's text: key -> new text.
    tail_contexts: dict[str, str] = field(default_factory=dict)
    #: New tail per chain key: chain key -> memory id.
    tails: dict[str, str] = field(default_factory=dict)


def plan(
    texts: Sequence[str],
    chains: Sequence[str | None],
    ids: Sequence[str],
    event_times: Sequence[datetime | None],
    vectors: Sequence[np.ndarray],
    spec: ContextualIndexing,
    stored: Mapping[str, Neighbour] | None = None,
) -> Plan:
    """Contexts and vectors of new memories, in input order (pure).

    Args:
        texts: The new memories' texts, in conversation order.
        chains: Each memory's chain key (:func:`chain_key`), ``None`` without a session.
        ids: Their memory ids.
        event_times: Their event times (``None``: no date).
        vectors: Their own embeddings (normalised).
        spec: What to index.
        stored: Per chain key, the session's newest stored memory.

    Returns:
        The plan: each memory's context and vector, stored tails' new contexts, new tails.
    """
    stored = stored or {}
    out = Plan(contexts=[], vectors=[])
    last: dict[str, int] = {}  # chain -> position of its latest memory in this batch
    parts: list[list[str]] = []
    for i, (text, chain, when) in enumerate(zip(texts, chains, event_times, strict=True)):
        mine: list[str] = []
        previous_vector: np.ndarray | None = None
        if chain is not None and spec.neighbours:
            if chain in last:
                j = last[chain]
                if spec.previous:
                    mine.append(texts[j][: spec.max_chars])
                if spec.next:
                    parts[j].append(text[: spec.max_chars])
                previous_vector = out.vectors[j]
            elif chain in stored:
                tail = stored[chain]
                if spec.previous:
                    mine.append(tail.text[: spec.max_chars])
                if spec.next:
                    extra = text[: spec.max_chars]
                    base = out.tail_contexts.get(tail.key, tail.search_text or tail.text)
                    out.tail_contexts[tail.key] = f"{base}\n{extra}" if base else extra
                previous_vector = tail.vector
            last[chain] = i
            out.tails[chain] = ids[i]
        if spec.date and when is not None:
            mine.append(format_date(when.astimezone(UTC)))
        parts.append(mine)
        out.vectors.append(mix(np.asarray(vectors[i]), previous_vector, spec.vector_mix))
    out.contexts = ["\n".join(p for p in mine if p) for mine in parts]
    return out


def indexed_text(text: str, context: str) -> str:
    """What BM25 indexes (``search_text``): the memory, then its context."""
    return f"{text}\n{context}" if context else text


def decode_neighbour(memory_id: str, key: str, row: Sequence[Any], dims: int) -> Neighbour | None:
    """A stored tail from ``HMGET key text search_text embedding`` (``None`` if it is gone)."""
    text, context, embedding = row
    if text is None:
        return None
    vector = vectors.decode(embedding, dims)

    return Neighbour(
        memory_id, key, replies.text(text), replies.text(context) if context else "", vector
    )


async def prepare(
    client: Any,
    tails_key: str,
    deep_key: Any,
    docs: Sequence[Mapping[str, Any]],
    scopes: Sequence[str],
    ids: Sequence[str],
    vectors: Sequence[bytes],
    spec: ContextualIndexing,
) -> Plan:
    """Read the sessions' stored tails (two pipelined reads) and :func:`plan` a batch.

    Args:
        client: The async Redis client (bytes replies).
        tails_key: The hash of chain key -> newest memory id, for this workspace.
        deep_key: ``memory_id -> hash key``.
        docs: The new memories' hash fields (``text``, ``session_id``, optional ``event``),
            in input order.
        scopes: Their visibility scopes (``records.scope_of``): neighbours share one.
        ids: Their memory ids.
        vectors: Their own embeddings (float32 buffers).
        spec: What to index.

    Returns:
        The plan (its vectors are float32 arrays).
    """
    chains = [
        chain_key(scope, doc["session_id"]) if doc.get("session_id") else None
        for doc, scope in zip(docs, scopes, strict=True)
    ]
    wanted = sorted({c for c in chains if c is not None}) if spec.neighbours else []
    stored: dict[str, Neighbour] = {}
    if wanted:
        tail_ids = await client.hmget(tails_key, wanted)
        found = [(c, replies.text(t)) for c, t in zip(wanted, tail_ids, strict=True) if t]
        if found:
            async with client.pipeline(transaction=False) as pipe:
                for _, memory_id in found:
                    pipe.hmget(deep_key(memory_id), ["text", "search_text", "embedding"])
                rows = await pipe.execute()
            dims = len(vectors[0]) // 4 if vectors else 0
            for (chain, memory_id), row in zip(found, rows, strict=True):
                tail = decode_neighbour(memory_id, deep_key(memory_id), row, dims)
                if tail is not None:
                    stored[chain] = tail
    own = [np.frombuffer(v, dtype=np.float32) for v in vectors]
    own = [v / n if (n := float(np.linalg.norm(v))) else v for v in own]
    times = [
        datetime.fromtimestamp(float(d["event"]), UTC) if d.get("event") else None for d in docs
    ]
    return plan([d["text"] for d in docs], chains, ids, times, own, spec, stored)
