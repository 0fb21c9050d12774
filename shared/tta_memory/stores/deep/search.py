"""Deep-memory search: filters, the redisvl queries of each ranking, and their execution.

Hybrid search sends a BM25 query and a KNN query in one pipeline and fuses the two rankings
with reciprocal rank fusion (the embedded Redis 8.2 has no server-side FT.HYBRID); the
planning and the fusion are the pure functions of :mod:`.planning`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from redis.exceptions import ResponseError
from redisvl.index import AsyncSearchIndex
from redisvl.query import FilterQuery, TextQuery, VectorQuery
from redisvl.query.filter import FilterExpression

from tta_memory import recency, replies, vectors
from tta_memory.context import ReadSpec, Store
from tta_memory.errors import InternalError, InvalidInputError
from tta_memory.literals import SEARCH_MODES, SearchMode
from tta_memory.models import DeepMemory
from tta_memory.names import check_name, check_tags
from tta_memory.schema import QUERY_DIALECT
from tta_memory.scripts import HMGET_MANY, run
from tta_memory.stores.deep.planning import (
    MAX_TEXT_TERMS,
    Ranking,
    fuse,
    search_depth,
    selective_terms,
    text_terms,
)
from tta_memory.stores.deep.rankings import ranking
from tta_memory.stores.deep.records import DEEP_FIELDS, Stored, memories, stored_row
from tta_memory.stores.deep.scope import FULL_SCOPE, DeepFilter, Scope, knn_scope
from tta_memory.stores.deep.stats import Plan, forget_counts, read_plan
from tta_memory.validation import check_choice, check_datetime, check_positive, check_text

# Rankings carry ids only; the winners' fields are read afterwards (less for Redis to load).
RANK_FIELDS = ["memory_id"]
MAX_LIMIT = 1000


class Alongside:
    """A batched read sent in the pipeline of a search's rankings, sent at most once; its
    decoded result lands in ``result`` and ``landed`` is set (``done``). The context loader
    sends the cache read of the group's sessions so: one round trip fewer per load (5 -> 3 with
    round 1's merge)."""

    def __init__(self, spec: ReadSpec[Any]) -> None:
        self.spec: ReadSpec[Any] | None = spec
        self.result: Any = None
        self.landed = asyncio.Event()

    @property
    def done(self) -> bool:
        """Whether the read rode in a rankings pipeline and its result landed."""
        return self.landed.is_set()


# The read riding with the rankings of the search running in this task (see :func:`carrying`):
# a context variable, so that concurrent searches of one store never carry each other's.
_ALONGSIDE: ContextVar[Alongside | None] = ContextVar("tta_memory_alongside", default=None)


@contextlib.contextmanager
def carrying(alongside: Alongside) -> Iterator[None]:
    """Within the block, the rankings pipeline of this task's next search carries
    ``alongside``; a search that sends no ranking (or whose pipeline failed) leaves it not
    ``done``, and the caller reads it on its own."""
    token = _ALONGSIDE.set(alongside)
    try:
        yield
    finally:
        _ALONGSIDE.reset(token)


class DeepSearch(Store):
    """Hybrid, vector and full-text search over the deep memories of one workspace."""

    def where(
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
    ) -> DeepFilter:
        """The filter of a search, validated: visible memories of this workspace, narrowed."""
        ctx = self._ctx
        types = None
        if memory_type is not None:
            raw = [memory_type] if isinstance(memory_type, str) else list(memory_type)
            types = tuple(check_name("memory_type", t) for t in raw)
        lo, hi = check_datetime("since", since), check_datetime("until", until)
        return DeepFilter(
            workspace=ctx.workspace,
            user_id=ctx.user_id,
            tags=tuple(check_tags(tags) or ()),
            match_all_tags=match_all_tags,
            memory_types=types,
            author=None if author is None else check_name("author", author),
            session_id=None if session_id is None else check_name("session_id", session_id),
            since=None if lo is None else lo.timestamp(),
            until=None if hi is None else hi.timestamp(),
            include_superseded=include_superseded,
        )

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
        """The RediSearch filter of :meth:`where`, with every scope clause."""
        where = self.where(
            tags,
            match_all_tags=match_all_tags,
            memory_type=memory_type,
            author=author,
            session_id=session_id,
            since=since,
            until=until,
            include_superseded=include_superseded,
        )
        f = where.expression()
        if f is None:  # the full scope always has the workspace clause
            raise InternalError("a scoped filter came out empty")
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
        f = self.where(
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
        return await self.ranked(
            query, limit, f, mode, recency_half_life_days=recency_half_life_days
        )

    async def ranked(
        self,
        query: str,
        limit: int,
        f: DeepFilter | FilterExpression,
        mode: str = "hybrid",
        *,
        tags: Sequence[str] | None = None,
        match_all_tags: bool = False,
        narrowed: bool = False,
        max_terms: int = MAX_TEXT_TERMS,
        recency_half_life_days: float | None = None,
    ) -> list[DeepMemory]:
        """Run a search: its rankings in one round trip, fused, then the winners read in one
        more.

        Args:
            query: The query text (empty: newest first).
            limit: Results wanted.
            f: The filter: a :meth:`where` (scope clauses that cannot exclude anything are
                left out, see :mod:`.scope`) or a :meth:`filter` expression (sent as is).
            mode: ``hybrid``, ``vector`` or ``text``.
            tags: An expression filter's tags, for the query planner.
            match_all_tags: Whether an expression filter requires all tags.
            narrowed: Whether an expression filter narrows by anything but workspace and tags.
            max_terms: BM25 keeps the last this many distinct terms of the query.
            recency_half_life_days: Decay scores with age (``recency.py``); None = off.
        """
        if isinstance(f, DeepFilter):
            tags, match_all_tags, narrowed = f.tags, f.match_all_tags, f.narrowed
        terms = text_terms(query, max_terms) if mode in ("hybrid", "text") else []
        with_policy = bool(query.strip()) and mode != "text" and not narrowed
        plan = await read_plan(
            self._ctx,
            tags or [],
            match_all_tags,
            search_depth(limit, mode),
            with_policy,
            terms,
            isinstance(f, DeepFilter),
        )
        # Text-only search must match something: it keeps at least its rarest term.
        words = selective_terms(terms, plan.doc_freq, at_least=1 if mode == "text" else 0)
        scope = plan.scope if isinstance(f, DeepFilter) else FULL_SCOPE
        found = await self._run(query, limit, f, scope, mode, plan, words, recency_half_life_days)
        if found is None:  # the lean filter let a row through that the full one excludes
            forget_counts(self._ctx)
            found = await self._run(
                query, limit, f, FULL_SCOPE, mode, plan, words, recency_half_life_days
            )
        return found or []

    async def _run(
        self,
        query: str,
        limit: int,
        f: DeepFilter | FilterExpression,
        scope: Scope,
        mode: str,
        plan: Plan,
        words: Sequence[str],
        half_life: float | None,
    ) -> list[DeepMemory] | None:
        """One execution of a planned search (``None``: a row failed the scope check)."""
        expr = f.expression(scope) if isinstance(f, DeepFilter) else f
        knn_expr = expr
        if isinstance(f, DeepFilter) and expr is None:
            knn = knn_scope(scope, empty=True, partition_count=plan.partition_count)
            knn_expr = f.expression(knn)
        include_superseded = isinstance(f, DeepFilter) and f.include_superseded
        index, queries = await self._queries(query, limit, expr, mode, plan.policy, words, knn_expr)
        if not queries:
            return []
        rankings = await self._rankings(index, queries)
        wanted = limit if not half_life else MAX_LIMIT
        ranked = fuse(rankings, wanted)
        found = await self._hydrate(ranked, scope, include_superseded)
        if found is None or not half_life:
            return found
        # Recency re-ranks every fused candidate, then keeps the best ``limit``.
        times = [m.event_time or m.created_at for m in found]
        scores = recency.reweight([m.score or 0.0 for m in found], times, half_life)
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

    async def _queries(
        self,
        query: str,
        limit: int,
        f: FilterExpression | None,
        mode: str,
        policy: str | None,
        terms: Sequence[str],
        knn_f: FilterExpression | None,
    ) -> tuple[AsyncSearchIndex, list[Any]]:
        ctx = self._ctx
        index = await ctx.backend.deep_index(ctx.embedder, ctx.keys.partition)
        if not query.strip():
            q = FilterQuery(filter_expression=f, return_fields=RANK_FIELDS, num_results=limit)
            q.sort_by("created_at", asc=False)
            q.dialect(QUERY_DIALECT)
            return index, [q]
        depth = search_depth(limit, mode)
        queries: list[Any] = []
        if mode in ("hybrid", "vector"):
            st = await ctx.backend.state()
            vector = await ctx.embedder.embed(query, st.embedding_cache)
            queries.append(
                VectorQuery(
                    vector=vectors.encode(vector, ctx.backend.vector_dtype),
                    vector_field_name="embedding",
                    filter_expression=knn_f,
                    return_fields=RANK_FIELDS,
                    num_results=depth,
                    dtype=ctx.backend.vector_dtype,
                    # No filter, no hybrid query: RediSearch refuses a policy for plain KNN.
                    hybrid_policy=policy if knn_f is not None else None,
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
                    filter_expression=None if f is None else f"({f})=>{{$weight: 0.0}}",
                    return_fields=RANK_FIELDS,
                    num_results=depth,
                )
                if any(w.lower() not in text_query.stopwords for w in words.split()):
                    queries.append(text_query)
        if len(queries) > 1:
            # Fusion reads ranks only: the rankings return their keys, no fields (the ids are
            # in the keys, rankings.keyed_ranking). 100k notes, the context benchmark's focused
            # KNN: server CPU 7.12 -> 6.81 ms; each reply ~11 KB -> ~3 KB, and reading a
            # ranking took the client ~106-112 µs from fields, ~34-74 µs from keys.
            for q in queries:
                q.no_content()
        return index, queries

    async def _rankings(self, index: AsyncSearchIndex, queries: list[Any]) -> list[Ranking]:
        """Each query's ``(memory_id, score)`` pairs, in one round trip (see rankings.py)."""
        try:
            replies = await self._send(index.name, queries)
        except ResponseError as exc:
            if not await self._ctx.backend.recover(index, exc):
                raise
            replies = await self._send(index.name, queries)
        prefix = self._ctx.keys.deep("")
        return [ranking(q, reply, prefix) for q, reply in zip(queries, replies, strict=True)]

    async def _send(self, index_name: str, queries: list[Any]) -> list[Any]:
        client = await self._ctx.client()
        along = _ALONGSIDE.get()
        spec = along.spec if along is not None else None
        if len(queries) == 1 and spec is None:  # one command: no pipeline (less client time)
            return [
                await client.execute_command(
                    "FT.SEARCH", *replies.search_args(index_name, queries[0])
                )
            ]
        async with client.pipeline(transaction=False) as pipe:
            for q in queries:
                pipe.execute_command("FT.SEARCH", *replies.search_args(index_name, q))
            if along is not None and spec is not None:
                along.spec = None  # at most once, even if this pipeline fails
                spec.queue(pipe)
            out = list(await pipe.execute())
        if along is not None and spec is not None:
            along.result = spec.decode(out[len(queries) :])
            along.landed.set()
        return out[: len(queries)]

    async def _hydrate(
        self, ranked: list[tuple[str, float | None]], scope: Scope, include_superseded: bool
    ) -> list[DeepMemory] | None:
        """Load the ranked memories in one round trip.

        A memory deleted meanwhile is skipped. Under a lean ``scope`` a row the full filter
        would have excluded (another workspace's, someone's private one, a superseded one)
        returns ``None``: the caller runs the search again with every clause.
        """
        if not ranked:
            return []
        ctx = self._ctx
        client = await ctx.client()
        keys = [ctx.keys.deep(memory_id) for memory_id, _ in ranked]
        rows = await run(client, HMGET_MANY, keys, DEEP_FIELDS, read_only=True)
        out: list[tuple[Stored, float | None]] = []
        for (_, score), values in zip(ranked, rows, strict=True):
            stored = stored_row(values)
            if stored is None:
                # Keys are built under this workspace: another workspace's hit reads as absent.
                if not scope.workspace:
                    return None
                continue
            row = stored.row
            if not ctx.readable(row.get("workspace"), row.get("visibility"), row.get("author")):
                if not (scope.workspace and scope.visibility):
                    return None
                continue
            if row.get("superseded_by") and not (scope.superseded or include_superseded):
                return None
            out.append((stored, score))
        return memories(out)
