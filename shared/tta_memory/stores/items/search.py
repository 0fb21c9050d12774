"""Keyed items: search (hybrid ranking over the indexed texts, listing, value filters) and
the namespace listing."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from redis.commands.search.aggregation import AggregateRequest
from redisvl.query import FilterQuery, TextQuery, VectorQuery

from tta_memory import replies
from tta_memory.errors import InvalidInputError
from tta_memory.names import Tag
from tta_memory.schema import QUERY_DIALECT
from tta_memory.stores.items.filters import check_filter, matches
from tta_memory.stores.items.records import (
    StoredItem,
    check_namespace,
    decode_path,
    fuse,
    namespace_matches,
)
from tta_memory.stores.items.storage import ITEM_FIELDS, VEC_FIELDS, ItemStorage
from tta_memory.validation import check_choice, check_positive

ItemSearchMode = Literal["hybrid", "vector", "text"]
ITEM_SEARCH_MODES = ("hybrid", "vector", "text")
# Filters run on the values read back: pages of this many rows are read until enough match.
PAGE = 200
MAX_DEPTH = 10_000
MAX_NAMESPACES = 100_000
_NON_WORD = re.compile(r"[^\w\s]+")
_MAX_TERMS = 24


class ItemStore(ItemStorage):
    """Keyed JSON items of one workspace: storage, TTL, hybrid search and namespace listing
    (``tta_memory.stores.items``).

    Args:
        ctx: The engine context (workspace, user, connections, settings).
        embedder: Embedding model of the indexed texts; ``None`` for the context's.
    """

    async def search_items(
        self,
        namespace_prefix: Sequence[str] = (),
        *,
        query: str | None = None,
        filter: Mapping[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool = True,
        mode: ItemSearchMode = "hybrid",
    ) -> list[StoredItem]:
        """Items under a namespace prefix: ranked by ``query``, else most recently updated first.

        Args:
            namespace_prefix: Only items whose namespace starts with these labels.
            query: Hybrid (BM25 + vector, fused by reciprocal rank) search over the indexed
                texts; items with no indexed text follow the ranked ones (score ``None``).
            filter: Conditions on the value's fields (see :mod:`tta_memory.stores.items.filters`).
            limit: At most this many items.
            offset: Skip this many matching items first.
            refresh_ttl: Restart the TTL of the items returned.
            mode: ``hybrid``, ``vector`` (score: cosine similarity) or ``text`` (BM25).

        Returns:
            The items, best (or newest) first, with ``score`` when ranked.
        """
        prefix = check_namespace(namespace_prefix, allow_empty=True)
        check_positive("limit", limit)
        check_positive("offset", offset, allow_zero=True)
        if limit + offset > MAX_DEPTH:
            raise InvalidInputError(f"limit + offset must be at most {MAX_DEPTH}")
        mode_name = check_choice("mode", mode, ITEM_SEARCH_MODES)
        if query is not None and not isinstance(query, str):
            raise InvalidInputError(f"query must be a string, got {type(query).__name__}")
        if filter is not None:
            check_filter(filter)
        want = offset + limit
        rows: list[tuple[dict[str, Any], float | None]] = []
        if query and query.strip():
            rows = await self._ranked(prefix, query, filter, want, mode_name)
        if len(rows) < want:
            seen = {r["_key"] for r, _ in rows}
            only_unembedded = bool(query and query.strip())
            listed = await self._listed(prefix, filter, want, only_unembedded)
            rows += [(r, None) for r in listed if r["_key"] not in seen][: want - len(rows)]
        page = rows[offset:want]
        if refresh_ttl:
            await self._refresh([r for r, _ in page])
        return [self._decode(r, score) for r, score in page]

    async def _listed(
        self,
        prefix: tuple[str, ...],
        filter: Mapping[str, Any] | None,
        want: int,
        only_unembedded: bool,
    ) -> list[dict[str, Any]]:
        index = await self.index()
        f = self._scope(prefix, "item")
        if only_unembedded:
            f &= Tag("embedded") == "0"
        out: list[dict[str, Any]] = []
        start = 0
        size = want if not filter else max(PAGE, want)
        while len(out) < want:
            q = FilterQuery(filter_expression=f, return_fields=ITEM_FIELDS, num_results=size)
            q.sort_by("updated_at", asc=False)
            q.paging(start, size)
            q.dialect(QUERY_DIALECT)
            found = await index.query(q)
            for doc in found:
                row = {k: replies.text(v) for k, v in doc.items() if k in ITEM_FIELDS}
                if row.get("workspace") != self.workspace or "value" not in row:
                    continue
                row["_key"] = replies.text(doc["id"])
                if not filter or matches(json.loads(row["value"]), filter):
                    out.append(row)
            if len(found) < size:
                break
            start += size
        return out[:want]

    async def _ranked(
        self,
        prefix: tuple[str, ...],
        query: str,
        filter: Mapping[str, Any] | None,
        want: int,
        mode: str,
    ) -> list[tuple[dict[str, Any], float | None]]:
        index = await self.index()
        f = self._scope(prefix, "vec")
        vector = None
        if mode in ("hybrid", "vector"):
            st = await self._ctx.backend.state()
            vector = await self.embedder.embed(query, st.embedding_cache)
        terms = list(dict.fromkeys(_NON_WORD.sub(" ", query).split()))[-_MAX_TERMS:]
        depth = max(want * 3, 30)
        while True:
            queries: list[Any] = []
            if vector is not None:
                queries.append(
                    VectorQuery(
                        vector=vector,
                        vector_field_name="embedding",
                        filter_expression=f,
                        return_fields=VEC_FIELDS,
                        num_results=depth,
                        dtype="float32",
                    )
                )
            if mode in ("hybrid", "text") and terms:
                with contextlib.suppress(ValueError):  # stopwords only: nothing for BM25
                    tq = TextQuery(
                        text=" ".join(terms),
                        text_field_name="text",
                        filter_expression=f,
                        return_fields=VEC_FIELDS,
                        num_results=depth,
                    )
                    if any(w.lower() not in tq.stopwords for w in terms):
                        queries.append(tq)
            if not queries:
                return []
            results = (
                await index.batch_query(queries)
                if len(queries) > 1
                else [await index.query(queries[0])]
            )
            ranked = fuse(results, queries)
            rows = await self._read([k for k, _, _ in ranked])
            out: list[tuple[dict[str, Any], float | None]] = []
            for (_, ver, score), row in zip(ranked, rows, strict=True):
                if row is None or row.get("ver") != ver:
                    continue  # deleted meanwhile, or a text of an older version
                if filter and not matches(json.loads(row["value"]), filter):
                    continue
                out.append((row, score))
            exhausted = all(len(r) < depth for r in results)
            if len(out) >= want or exhausted or depth >= MAX_DEPTH:
                return out[:want]
            depth = min(depth * 4, MAX_DEPTH)

    async def list_item_namespaces(
        self,
        *,
        prefix: Sequence[str] | None = None,
        suffix: Sequence[str] | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[str, ...]]:
        """The namespaces holding items, sorted, optionally matched and truncated.

        Args:
            prefix: Namespaces starting with these labels (``"*"`` matches any label).
            suffix: Namespaces ending with these labels (``"*"`` matches any label).
            max_depth: Truncate namespaces to this many labels (then de-duplicate).
            limit: At most this many namespaces.
            offset: Skip this many first.

        Returns:
            The namespaces, in sorted order.
        """
        pre = check_namespace(prefix or (), allow_empty=True)
        suf = check_namespace(suffix or (), allow_empty=True)
        if max_depth is not None:
            check_positive("max_depth", max_depth)
        check_positive("limit", limit)
        check_positive("offset", offset, allow_zero=True)
        fixed = []  # the literal head of the prefix narrows in Redis; wildcards after it
        for label in pre:
            if label == "*":
                break
            fixed.append(label)
        index = await self.index()
        request = (
            AggregateRequest(str(self._scope(fixed, "item")))
            .group_by("@ns")
            .limit(0, MAX_NAMESPACES)
            .dialect(2)
        )
        result = await index.aggregate(request)
        names = {decode_path(replies.text(row[1])) for row in result.rows if len(row) >= 2}
        found = [n for n in names if namespace_matches(n, pre, suf)]
        if max_depth is not None:
            found = list({n[:max_depth] for n in found})
        return sorted(found)[offset : offset + limit]
