"""Counts the deep-search planner reads, cached in the process for a short time.

A search needs a few counts to plan (the KNN policy's filter size, BM25's term document
frequencies). Reading them cost one round trip of a search's four; they only steer *how* the
same results are found, so a count a few seconds old costs at most a little speed or ranking
quality for that long, never a wrong or foreign result.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from tta_memory.stores.deep.planning import knn_policy
from tta_memory.stores.deep.scope import FULL_SCOPE, Scope, needed_scope

if TYPE_CHECKING:
    from tta_memory.backend import Backend
    from tta_memory.context import EngineContext

# A term's document frequency is read once and reused this long (it only steers which terms
# BM25 walks).
DOC_FREQ_TTL = 60.0
# ...and a common term's this long: counting a term walks its postings, 0.83 ms of server CPU
# per term at 100k notes (the 82 terms of the context benchmark's queries, ~3-5k documents
# each), so ~8 ms for a load's 10 candidate terms once they lapse, as much as its KNN (README,
# "Issue 13: the focused KNN at 100k, session 5"); while a frequency in the thousands moves by
# a few % per thousand new memories. A rare term is cheap to count and moves fastest in
# relative terms (a young workspace's words), so it keeps the short life.
COMMON_TERM_DOCS = 1_000
COMMON_DOC_FREQ_TTL = 600.0
# The counts behind the KNN policy and the scope clauses are reused this long. They only choose
# between two ways of running the same KNN and which clauses can be left out: every row is
# rechecked, and a lean search that finds a row its scope should have excluded drops the counts
# and runs again (search.py). An agent loads its context once a turn, seconds to a minute
# apart: at the former 5 s nearly every such load waited for a fourth round trip of counts.
POLICY_STATS_TTL = 60.0
CACHE_SIZE = 10_000
# The cache's clock (a test moves it forward).
clock = time.monotonic


class StatsCache:
    """A small TTL cache (monotonic clock) of one backend's counts, grouped by partition so
    that one partition's counts can be dropped alone; emptied whole past ``size`` entries."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._count = 0
        self._groups: dict[Hashable, dict[Hashable, tuple[Any, float]]] = {}

    def get(self, group: Hashable, key: Hashable) -> Any | None:
        """The cached value, or ``None`` when absent or expired."""
        hit = self._groups.get(group, {}).get(key)
        if hit is None or hit[1] <= clock():
            return None
        return hit[0]

    def put(self, group: Hashable, key: Hashable, value: Any, ttl: float) -> None:
        if self._count >= self._size:
            self.clear()
        items = self._groups.setdefault(group, {})
        self._count += key not in items
        items[key] = (value, clock() + ttl)

    def drop(self, group: Hashable) -> None:
        """Forget one group's entries (the others stay)."""
        self._count -= len(self._groups.pop(group, {}))

    def clear(self) -> None:
        self._groups.clear()
        self._count = 0


class PlannerStats:
    """The planner's counts per backend object.

    Weakly keyed by the backend itself, not by ``id(backend)``: Python reuses the id of a
    collected object, and a new backend (another server, say) would then have read the old
    one's counts.
    """

    def __init__(self) -> None:
        self._caches: weakref.WeakKeyDictionary[Backend, StatsCache] = weakref.WeakKeyDictionary()

    def of(self, backend: Backend) -> StatsCache:
        """The counts cached for ``backend``."""
        cache = self._caches.get(backend)
        if cache is None:
            cache = self._caches[backend] = StatsCache()
        return cache

    def clear(self) -> None:
        """Forget every backend's counts."""
        self._caches.clear()


# One registry per process: every primitive on the same backend and partition shares the counts.
STATS = PlannerStats()


def counts_group(ctx: EngineContext) -> tuple[str, str]:
    """The cache group of a partition's counts (scope clauses and KNN policy)."""
    return ("p", ctx.keys.deep_stats())


def forget_counts(ctx: EngineContext) -> None:
    """Drop the cached counts of ``ctx``'s partition (a lean search found a row its scope
    should have excluded): its next search reads them again; other partitions keep theirs."""
    STATS.of(ctx.backend).drop(counts_group(ctx))


def result_total(reply: Any) -> int:
    """The result count of an ``FT.SEARCH … LIMIT 0 0`` reply (RESP2 or RESP3); 0 on error
    (a stopword-only query, say: BM25 drops such terms anyway)."""
    if isinstance(reply, list | tuple) and reply:
        return int(reply[0])
    if isinstance(reply, dict):
        total = reply.get(b"total_results", reply.get("total_results"))
        return int(total or 0)
    return 0


def doc_freq_ttl(df: int) -> float:
    """How long a term's document frequency is reused: longer for common terms (dearer to
    count, slower to move in relative terms)."""
    return COMMON_DOC_FREQ_TTL if df >= COMMON_TERM_DOCS else DOC_FREQ_TTL


class Plan(NamedTuple):
    """How to run one search: the KNN policy, BM25's term frequencies, the scope clauses."""

    policy: str | None
    doc_freq: dict[str, int]
    scope: Scope
    partition_count: int  # deep memories in the partition (0: not read)


async def read_plan(
    ctx: EngineContext,
    tags: Sequence[str],
    match_all: bool,
    depth: int,
    with_policy: bool,
    terms: Sequence[str],
    with_scope: bool,
) -> Plan:
    """The KNN policy, the BM25 terms' document frequencies and the scope clauses a
    search needs, from counts read in one round trip (none when all are cached).

    Frequencies are counted in the partition's index (every workspace it holds): BM25
    walks those posting lists whole, whatever the filter.
    """
    cache = STATS.of(ctx.backend)
    index_name = ctx.keys.index_name("deep")
    terms_group = ("t", index_name)
    doc_freq: dict[str, int] = {}
    missing: list[str] = []
    for term in terms:
        df = cache.get(terms_group, term)
        if df is None:
            missing.append(term)
        else:
            doc_freq[term] = df
    group, counts_key = counts_group(ctx), tuple(tags)
    counts = cache.get(group, counts_key) if (with_policy or with_scope) else None
    read_counts = (with_policy or with_scope) and counts is None
    if read_counts or missing:
        client = await ctx.client()
        await ctx.backend.deep_index(ctx.embedder, ctx.keys.partition)  # exists before counts
        async with client.pipeline(transaction=False) as pipe:
            if read_counts:
                pipe.hmget(ctx.keys.deep_stats(), ["n", *(f"t:{t}" for t in tags)])
                pipe.hget(ctx.keys.deep_total(), "n")
                for clause in ("@visibility:{private}", "@superseded:{1}"):
                    pipe.execute_command("FT.SEARCH", index_name, clause, "LIMIT", 0, 0)
            for term in missing:
                pipe.execute_command(
                    "FT.SEARCH", index_name, f"@search_text:({term})", "LIMIT", 0, 0
                )
            replies = await pipe.execute(raise_on_error=False)
        if read_counts:
            head, replies = replies[:4], replies[4:]
            for r in head[:2]:
                if isinstance(r, Exception):
                    raise r
            # An index that cannot count (an error) keeps every clause.
            private, superseded = (
                1 if isinstance(r, Exception) else result_total(r) for r in head[2:]
            )
            counts = (
                [int(c or 0) for c in head[0]],
                int(head[1] or 0),
                private,
                superseded,
            )
            cache.put(group, counts_key, counts, POLICY_STATS_TTL)
        for term, reply in zip(missing, replies, strict=True):
            df = doc_freq[term] = result_total(reply)
            cache.put(terms_group, term, df, doc_freq_ttl(df))
    if counts is None:
        return Plan(None, doc_freq, FULL_SCOPE, 0)
    stats, total, private, superseded = counts
    policy = None
    if with_policy:
        policy = knn_policy(
            workspace_count=stats[0],
            tag_counts=stats[1:],
            match_all_tags=match_all,
            total=total,
            depth=depth,
        )
    scope = needed_scope(
        dedicated=ctx.keys.partition.dedicated,
        workspace_count=stats[0],
        partition_count=total,
        private_count=private,
        superseded_count=superseded,
    )
    return Plan(policy, doc_freq, scope, total)
