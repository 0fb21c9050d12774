"""Deep-memory search: filters, the redisvl queries of each ranking, and their execution.

Hybrid search sends a BM25 query and a KNN query in one pipeline and fuses the two rankings
with reciprocal rank fusion (the embedded Redis 8.2 has no server-side FT.HYBRID); the
planning and the fusion are the pure functions of :mod:`.planning`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from redisvl.index import AsyncSearchIndex
from redisvl.query import FilterQuery, TextQuery, VectorQuery
from redisvl.query.filter import FilterExpression, Num

from tta_memory import recency
from tta_memory.context import ReadSpec, Store
from tta_memory.errors import InvalidInputError
from tta_memory.literals import SEARCH_MODES, SearchMode
from tta_memory.models import DeepMemory
from tta_memory.names import Tag, check_name, check_tags
from tta_memory.schema import SORTED_DIALECT
from tta_memory.stores.deep.planning import (
    MAX_TEXT_TERMS,
    Ranking,
    fuse,
    knn_policy,
    search_depth,
    selective_terms,
    text_terms,
)
from tta_memory.stores.deep.records import DEEP_FIELDS, decode_memory, decode_row
from tta_memory.stores.deep.stats import DOC_FREQ_TTL, POLICY_STATS_TTL, STATS, result_total
from tta_memory.validation import check_choice, check_datetime, check_positive, check_text

# Rankings carry ids only; the winners' fields are read afterwards (less for Redis to load).
RANK_FIELDS = ["memory_id"]
MAX_LIMIT = 1000


class DeepSearch(Store):
    """Hybrid, vector and full-text search over the deep memories of one workspace."""

    def filter(
        self,
        tags: Sequence[str] | None = None,
        *,
        match_all_tags: bool = False,
        memory_type: str | Sequence[str] | None = None,
        author: str | None = None,
        session_id: str | None = None,
        since: Any = None,
        until: Any = None,
        include_superseded: bool = False,
    ) -> FilterExpression:
        """The filter of a search: visible memories of this workspace, narrowed."""
        ctx = self._ctx
        f = (Tag("workspace") == ctx.workspace) & (
            (Tag("visibility") == "shared") | (Tag("author") == ctx.user_id)
        )
        if not include_superseded:  # hygiene.py: superseded memories are history
            f &= Tag("superseded") != "1"
        tag_list = check_tags(tags)
        if tag_list:
            if match_all_tags:
                for tag in tag_list:
                    f &= Tag("tags") == tag
            else:
                f &= Tag("tags") == tag_list
        if memory_type is not None:
            types = [memory_type] if isinstance(memory_type, str) else list(memory_type)
            f &= Tag("memory_type") == [check_name("memory_type", t) for t in types]
        if author is not None:
            f &= Tag("author") == check_name("author", author)
        if session_id is not None:
            f &= Tag("session_id") == check_name("session_id", session_id)
        lo, hi = check_datetime("since", since), check_datetime("until", until)
        if lo is not None:
            f &= Num("created_at") >= lo.timestamp()
        if hi is not None:
            f &= Num("created_at") <= hi.timestamp()
        return f

    async def search(
        self,
        query: str = "",
        limit: int = 10,
        tags: list[str] | None = None,
        *,
        match_all_tags: bool = False,
        memory_type: str | list[str] | None = None,
        author: str | None = None,
        session_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        search_mode: SearchMode = "hybrid",
        include_superseded: bool = False,
        recency_half_life_days: float | None = None,
    ) -> list[DeepMemory]:
        """Search (see ``MemoryWorkflowPrimitive.search_deep_memory``)."""
        check_text("query", query, allow_empty=True)
        check_positive("limit", limit)
        if limit > MAX_LIMIT:
            raise InvalidInputError(f"limit must be at most {MAX_LIMIT}, got {limit}")
        mode = check_choice("search_mode", search_mode, SEARCH_MODES)
        f = self.filter(
            tags,
            match_all_tags=match_all_tags,
            memory_type=memory_type,
            author=author,
            session_id=session_id,
            since=since,
            until=until,
            include_superseded=include_superseded,
        )
        if recency_half_life_days is not None and not (
            isinstance(recency_half_life_days, int | float)
            and not isinstance(recency_half_life_days, bool)
            and recency_half_life_days > 0
        ):
            raise InvalidInputError(
                f"recency_half_life_days must be a positive number, got {recency_half_life_days!r}"
            )
        narrowed = any(x is not None for x in (memory_type, author, session_id, since, until))
        return await self.ranked(
            query,
            limit,
            f,
            mode,
            tags=tags,
            match_all_tags=match_all_tags,
            narrowed=narrowed,
            recency_half_life_days=recency_half_life_days,
        )

    async def ranked(
        self,
        query: str,
        limit: int,
        f: FilterExpression,
        mode: str = "hybrid",
        *,
        tags: Sequence[str] | None = None,
        match_all_tags: bool = False,
        narrowed: bool = False,
        max_terms: int = MAX_TEXT_TERMS,
        recency_half_life_days: float | None = None,
    ) -> list[DeepMemory]:
        """Run a search with a filter built by :meth:`filter`: its rankings in one round trip,
        fused, then the winners read in one more.

        Args:
            query: The query text (empty: newest first).
            limit: Results wanted.
            f: The filter.
            mode: ``hybrid``, ``vector`` or ``text``.
            tags: The filter's tags, for the query planner.
            match_all_tags: Whether the filter requires all tags.
            narrowed: Whether the filter narrows by anything but workspace and tags.
            max_terms: BM25 keeps the last this many distinct terms of the query.
            recency_half_life_days: Decay scores with age (``recency.py``); None = off.
        """
        terms = text_terms(query, max_terms) if mode in ("hybrid", "text") else []
        with_policy = bool(query.strip()) and mode != "text" and not narrowed
        policy, doc_freq = await self._stats(
            tags or [], match_all_tags, search_depth(limit, mode), with_policy, terms
        )
        # Text-only search must match something: it keeps at least its rarest term.
        words = selective_terms(terms, doc_freq, at_least=1 if mode == "text" else 0)
        index, queries = await self._queries(query, limit, f, mode, policy, words)
        if not queries:
            return []
        if len(queries) > 1:
            results = await index.batch_query(queries)
        else:
            results = [await index.query(queries[0])]
        if not recency_half_life_days:
            return await self._hydrate(fuse(_rankings(results, queries), limit))
        # Recency re-ranks every fused candidate, then keeps the best ``limit``.
        found = await self._hydrate(fuse(_rankings(results, queries), MAX_LIMIT))
        times = [m.event_time or m.created_at for m in found]
        scores = recency.reweight([m.score or 0.0 for m in found], times, recency_half_life_days)
        order = sorted(range(len(found)), key=lambda i: -scores[i])[:limit]
        return [found[i].model_copy(update={"score": scores[i]}) for i in order]

    def superseded_spec(self) -> ReadSpec[int]:
        """How many memories of the workspace newer ones superseded (search hides them)."""
        key = self._ctx.keys.deep_stats()
        return ReadSpec(
            queue=lambda pipe: pipe.hget(key, "superseded"),
            commands=1,
            decode=lambda replies: int(replies[0] or 0),
        )

    async def _stats(
        self,
        tags: Sequence[str],
        match_all: bool,
        depth: int,
        with_policy: bool,
        terms: Sequence[str],
    ) -> tuple[str | None, dict[str, int]]:
        """The KNN policy and the BM25 terms' document frequencies, in one round trip (none
        when the policy is not wanted or cached, and every frequency is cached).

        Frequencies are counted in the partition's index (every workspace it holds): BM25
        walks those posting lists whole, whatever the filter.
        """
        ctx = self._ctx
        backend = id(ctx.backend)
        index_name = ctx.keys.index_name("deep")
        doc_freq: dict[str, int] = {}
        missing: list[str] = []
        for term in terms:
            df = STATS.get((backend, index_name, "t", term))
            if df is None:
                missing.append(term)
            else:
                doc_freq[term] = df
        policy_key = (backend, ctx.keys.deep_stats(), "p", *tags)
        stats = STATS.get(policy_key) if with_policy else None
        read_policy = with_policy and stats is None
        if read_policy or missing:
            client = await ctx.client()
            await ctx.backend.deep_index(ctx.embedder, ctx.keys.partition)  # exists before counts
            async with client.pipeline(transaction=False) as pipe:
                if read_policy:
                    pipe.hmget(ctx.keys.deep_stats(), ["n", *(f"t:{t}" for t in tags)])
                    pipe.hget(ctx.keys.deep_total(), "n")
                for term in missing:
                    pipe.execute_command(
                        "FT.SEARCH", index_name, f"@search_text:({term})", "LIMIT", 0, 0
                    )
                replies = await pipe.execute(raise_on_error=False)
            if read_policy:
                for r in replies[:2]:
                    if isinstance(r, Exception):
                        raise r
                stats = (replies[0], replies[1])
                STATS.put(policy_key, stats, POLICY_STATS_TTL)
            for term, reply in zip(missing, replies[2 if read_policy else 0 :], strict=True):
                df = doc_freq[term] = result_total(reply)
                STATS.put((backend, index_name, "t", term), df, DOC_FREQ_TTL)
        if not with_policy or stats is None:
            return None, doc_freq
        counts, total = stats
        policy = knn_policy(
            workspace_count=int(counts[0] or 0),
            tag_counts=[int(c or 0) for c in counts[1:]],
            match_all_tags=match_all,
            total=int(total or 0),
            depth=depth,
        )
        return policy, doc_freq

    async def _queries(
        self,
        query: str,
        limit: int,
        f: FilterExpression,
        mode: str,
        policy: str | None,
        terms: Sequence[str],
    ) -> tuple[AsyncSearchIndex, list[Any]]:
        ctx = self._ctx
        index = await ctx.backend.deep_index(ctx.embedder, ctx.keys.partition)
        if not query.strip():
            q = FilterQuery(filter_expression=f, return_fields=RANK_FIELDS, num_results=limit)
            q.sort_by("created_at", asc=False)
            q.dialect(SORTED_DIALECT)
            return index, [q]
        depth = search_depth(limit, mode)
        queries: list[Any] = []
        if mode in ("hybrid", "vector"):
            st = await ctx.backend.state()
            vector = await ctx.embedder.embed(query, st.embedding_cache)
            queries.append(
                VectorQuery(
                    vector=vector,
                    vector_field_name="embedding",
                    filter_expression=f,
                    return_fields=RANK_FIELDS,
                    num_results=depth,
                    dtype="float32",
                    hybrid_policy=policy,
                )
            )
        words = " ".join(terms)
        if mode in ("hybrid", "text") and words:
            # A query of stopwords only leaves nothing for BM25 to match: redisvl would send
            # an empty "@text:()" clause, which Redis rejects as a syntax error.
            with contextlib.suppress(ValueError):
                text_query = TextQuery(
                    text=words,
                    # The memory with its context (contextual.py). A field list "text|context"
                    # was tried first: RediSearch 2.10 then scored every term with one inflated
                    # IDF (38.3) and LoCoMo text R@10 fell to 40.1; one field behaves.
                    text_field_name="search_text",
                    # RediSearch scores the filter's tag clauses too, with an IDF that explodes
                    # for tags every memory carries (visibility, author: IDF ~40 vs ~2 for
                    # words), so the filter ranked by document length; weight 0 makes it a pure
                    # filter. LoCoMo (conversations 0-2) text R@10: 42.6 -> 74.6 with contextual
                    # indexing, 56.9 -> 56.6 without.
                    filter_expression=f"({f})=>{{$weight: 0.0}}",
                    return_fields=RANK_FIELDS,
                    num_results=depth,
                )
                if any(w.lower() not in text_query.stopwords for w in words.split()):
                    queries.append(text_query)
        return index, queries

    async def _hydrate(self, ranked: list[tuple[str, float | None]]) -> list[DeepMemory]:
        """Load the ranked memories in one round trip (ones deleted meanwhile are skipped)."""
        if not ranked:
            return []
        ctx = self._ctx
        client = await ctx.client()
        async with client.pipeline(transaction=False) as pipe:
            for memory_id, _ in ranked:
                pipe.hmget(ctx.keys.deep(memory_id), DEEP_FIELDS)
            rows = await pipe.execute()
        out = []
        for (_, score), values in zip(ranked, rows, strict=True):
            row = decode_row(values)
            if row is not None and ctx.readable(
                row.get("workspace"), row.get("visibility"), row.get("author")
            ):
                out.append(decode_memory(row, score))
        return out


def _rankings(results: list[list[dict[str, Any]]], queries: list[Any]) -> list[Ranking]:
    """Each query's rows as ``(memory_id, score)`` pairs, higher scores better."""
    out: list[Ranking] = []
    for q, rows in zip(queries, results, strict=True):
        if isinstance(q, VectorQuery):
            out.append([(r["memory_id"], 1.0 - float(r.get("vector_distance", 1.0))) for r in rows])
        else:
            out.append(
                [(r["memory_id"], float(r["score"]) if "score" in r else None) for r in rows]
            )
    return out
