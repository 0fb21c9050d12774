"""Memory hygiene without an LLM: does a new memory restate or update one already stored?

Pure functions: the deep store finds the nearest stored memories in the same scope (KNN) and asks
:func:`relate` about each; a memory that restates or updates another supersedes it (the old one
gets ``superseded_by`` and ``valid_until``, search hides it unless asked for history).

The rule, measured on ``benchmarks/data/hygiene_pairs.jsonl`` (``python -m benchmarks hygiene``):
a pair is the same fact when the vectors are close (cosine ≥ ``min_cosine``) and the texts share
most content words (overlap ≥ ``min_overlap``), unless they differ in a name-like word (a
capitalised word or code identifier present in one text only): distinct look-alike facts usually
differ in *who* or *which* (Alice/Frank, payments/notifications is caught by the overlap),
while updates change a value (a number, a date, a setting). A pair whose differing content words
include a value (a token with a digit) is an ``updates``; otherwise ``restates``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from redisvl.query import VectorQuery
from redisvl.query.filter import FilterExpression

from tta_memory import vectors
from tta_memory.names import Tag
from tta_memory.vectors import VectorDtype

Relation = Literal["distinct", "restates", "updates"]

_WORD = re.compile(r"[A-Za-z][\w'.-]*[\w]|[A-Za-z]|\d[\w:.,-]*")
# Words that carry no fact: function words and a few verbs of attribution.
_STOP = frozenset(
    re.findall(
        r"\S+",
        """a an the and or but if of to in on at by for with from as is are was were be been being
        it its this that these those there here we our us you your i my me he his him she her
        they their them not no than then so such very too also just only now still any all each
        every can could should would will shall may might must do does did done has have had
        having into onto over under about after before while when where which who whom what why
        how rather""",
    )
)
# Capitalised but values, not names: a changed weekday or month is an update of a schedule.
_CALENDAR = frozenset(
    re.findall(
        r"\S+",
        """monday tuesday wednesday thursday friday saturday sunday mondays tuesdays wednesdays
        thursdays fridays saturdays sundays january february march april may june july august
        september october november december""",
    )
)


class HygieneThresholds(BaseModel):
    """When two memories of the same scope count as one fact.

    Args:
        min_cosine: Embedding cosine similarity at or above which a pair is a candidate.
        min_overlap: Share of the shorter text's content words found in the other.
        strong_cosine: At or above this cosine a pair is the same fact even with a low word
            overlap (a paraphrase in other words), still unless names differ.
        candidates: Nearest stored memories examined per new memory.
        link_updates: Also supersede on ``updates`` (a value changed). Off by default: a
            number is as often an identifier ("invoice 1001" / "invoice 1002") as a value.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_cosine: float = Field(default=0.80, ge=0.0, le=1.0)
    min_overlap: float = Field(default=0.6, ge=0.0, le=1.0)
    strong_cosine: float = Field(default=0.92, ge=0.0, le=1.0)
    candidates: int = Field(default=3, ge=1, le=50)
    link_updates: bool = False

    def links(self, relation: Relation) -> bool:
        """Whether a pair so related makes the new memory supersede the old one."""
        return relation == "restates" or (relation == "updates" and self.link_updates)


DEFAULT_THRESHOLDS = HygieneThresholds()


def content_words(text: str) -> set[str]:
    """Lower-cased content words (stop words dropped, a trailing plural ``s`` folded)."""
    out = set()
    for token in _WORD.findall(text):
        word = token.lower().rstrip(".,")
        if word in _STOP:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.add(word)
    return out


def _is_value(word: str) -> bool:
    """A number, time, version or amount: digits and punctuation only (``2.4.0``, ``03:30``)."""
    return any(ch.isdigit() for ch in word) and not any(ch.isalpha() for ch in word)


def _names(text: str) -> set[str]:
    """Name-like words: capitalised past a sentence start (weekdays and months excepted),
    identifiers with ``_`` or an inner ``.``, and codes mixing letters and digits (``Q3``)."""
    names = set()
    tokens = _WORD.findall(text)
    for i, token in enumerate(tokens):
        word = token.lower().rstrip(".,")
        if _is_value(word) or word in _CALENDAR:
            continue
        coded = any(ch.isdigit() for ch in word) or "_" in word or "." in word
        capitalised = token[0].isupper() and (i > 0 or (token.isupper() and len(token) > 1))
        if coded or capitalised:
            names.add(word)
    return names


def overlap(a: str, b: str) -> float:
    """Share of the smaller content-word set found in the other (0 when either is empty)."""
    wa, wb = content_words(a), content_words(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / min(len(wa), len(wb))


def relate(
    new: str, old: str, cosine: float, thresholds: HygieneThresholds = DEFAULT_THRESHOLDS
) -> Relation:
    """How a new memory relates to a stored one of the same scope.

    Args:
        new: The new memory's text.
        old: The stored memory's text.
        cosine: Cosine similarity of their embeddings.
        thresholds: The decision thresholds.

    Returns:
        ``restates`` (same fact, same values), ``updates`` (same fact, a value changed) or
        ``distinct``.
    """
    if cosine < thresholds.min_cosine:
        return "distinct"
    names_new, names_old = _names(new), _names(old)
    if names_new ^ names_old and not (names_new <= names_old or names_old <= names_new):
        return "distinct"  # each names something the other does not: another subject
    if overlap(new, old) < thresholds.min_overlap and cosine < thresholds.strong_cosine:
        return "distinct"
    wn, wo = content_words(new), content_words(old)
    changed = wn ^ wo
    if any(_is_value(w) or w in _CALENDAR for w in changed):
        return "updates"
    return "restates"


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(a @ b) / (na * nb) if na and nb and a.shape == b.shape else 0.0


def _or_empty(vector: np.ndarray | None) -> np.ndarray:
    return vector if vector is not None else np.zeros(0)


def _scope(doc: Mapping[str, Any]) -> FilterExpression:
    f = (Tag("workspace") == doc["workspace"]) & (Tag("superseded") != "1")
    if doc.get("visibility") == "private":
        return f & (Tag("visibility") == "private") & (Tag("author") == doc["author"])
    return f & (Tag("visibility") == "shared")


def _link(new: dict[str, Any], old_id: str, old: dict[str, Any] | None) -> dict[str, Any]:
    """Record that ``new`` supersedes ``old_id``; return the old memory's fields."""
    new["supersedes"] = old_id
    fields = {
        "superseded": "1",
        "superseded_by": new["memory_id"],
        "valid_until": new["valid_from"],
    }
    if old is not None:
        old.update(fields)
    return fields


async def supersede(
    index: Any,
    client: Any,
    deep_key: Callable[[str], str],
    payload: list[dict[str, Any]],
    own: Sequence[bytes],
    thresholds: HygieneThresholds,
    dtype: VectorDtype = "float32",
) -> list[tuple[str, dict[str, Any]]]:
    """Link new memories to the stored (or earlier in the batch) ones they restate or update.

    A new memory supersedes at most one older memory of the same scope: the most similar one
    that :func:`relate` does not call distinct. The new memory's hash gets ``supersedes``
    (``payload`` is edited in place); earlier memories of the batch get ``superseded``,
    ``superseded_by`` and ``valid_until`` in place too.

    Args:
        index: The deep index (KNN over stored vectors, in one pipeline).
        client: The async Redis client (bytes replies).
        deep_key: ``memory_id -> hash key``.
        payload: The new memories' hash fields, in input order.
        own: Their own embeddings (float32 buffers).
        thresholds: When a pair is the same fact.
        dtype: The index's vector type.

    Returns:
        ``(key, fields)`` writes for stored memories that are now superseded.
    """
    queries = [
        VectorQuery(
            vector=vectors.encode(vec, dtype),
            vector_field_name="embedding",
            filter_expression=_scope(doc),
            return_fields=["memory_id", "text"],
            num_results=thresholds.candidates,
            dtype=dtype,
        )
        for doc, vec in zip(payload, own, strict=True)
    ]
    results = await index.batch_query(queries) if queries else []
    dims = len(own[0]) // 4 if own else 0  # the embedder's float32 buffers
    # Stored vectors may mix in a neighbour (contextual.py): compare the memories' own vectors.
    slack = 0.2
    wanted = sorted(
        {
            r["memory_id"]
            for rows in results
            for r in rows
            if 1.0 - float(r.get("vector_distance", 1.0)) >= thresholds.min_cosine - slack
        }
    )
    stored: dict[str, tuple[str, np.ndarray]] = {}
    if wanted:
        async with client.pipeline(transaction=False) as pipe:
            for memory_id in wanted:
                pipe.hmget(deep_key(memory_id), ["text", "own_embedding", "embedding"])
            for memory_id, (text, mine, vec) in zip(wanted, await pipe.execute(), strict=True):
                if text is not None:
                    found = vectors.decode(mine, dims)
                    if found is None:
                        found = vectors.decode(vec, dims)
                    stored[memory_id] = (text.decode(), _or_empty(found))
    new = [_or_empty(vectors.decode(v, dims)) for v in own]
    writes: list[tuple[str, dict[str, Any]]] = []
    taken: set[str] = set()
    for i, doc in enumerate(payload):
        # (cosine, old id, old payload when it is in this batch)
        pairs: list[tuple[float, str, dict[str, Any] | None]] = []
        for r in results[i]:
            memory_id = r["memory_id"]
            if memory_id in stored and memory_id not in taken:
                text, vec = stored[memory_id]
                pairs.append((_cos(new[i], vec), memory_id, None))
        for j in range(i):  # earlier memories of the batch (one author: same scope if same
            other = payload[j]  # visibility)
            if other.get("visibility") == doc.get("visibility") and not other.get("superseded"):
                pairs.append((_cos(new[i], new[j]), other["memory_id"], other))
        best = None
        for cos, old_id, old in sorted(pairs, key=lambda p: -p[0]):
            old_text = old["text"] if old is not None else stored[old_id][0]
            if thresholds.links(relate(doc["text"], old_text, cos, thresholds)):
                best = (cos, old_id, old)
                break
        if best is not None:
            _, old_id, old = best
            taken.add(old_id)
            fields = _link(doc, old_id, old)
            if old is None:
                writes.append((deep_key(old_id), fields))
    return writes
