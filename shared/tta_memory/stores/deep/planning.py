"""Pure planning of a deep-memory search: BM25 terms, the KNN policy, and fusing its rankings.

No Redis here: the search module (:mod:`tta_memory.stores.deep.search`) feeds these functions
what it read and sends what they decide.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from tta_memory.fusion import RRF_K, reciprocal_rank

# The KNN of a filtered search runs one of two ways, whose costs move in opposite directions
# with the filter's size (server CPU per query, 100k notes all with model vectors, K 60, the
# 20 benchmark sessions' query vectors, this 2-core machine; session 5, branch knn5):
#   filter rows        3.4k  6.7k  13.4k  27k
#   ADHOC_BF (ms)      4.6   6.8   12.9   22.0   ~0.7-1.3 µs per row whatever the query
#                                                 (300 rows: 0.77 ms)
#   BATCHES (ms)       19.9  10.7  8.1    4.1    ~2 + 10 µs per K·N/rows (one HNSW batch is
#                                                 ~K·N/rows wide), more when the query's
#                                                 neighbours are not in the filter
# so brute force wins while rows² < ~14·K·N (at 100k and K 60: under ~9.2k rows; at 1M: under
# ~29k). BATCHES is also heavy-tailed: at 6.7k rows one query took 4 ms and another 52 ms
# (wall p95 31 ms against ADHOC_BF's 14), while brute force is exact (benchmarks/knn_lab.py
# measures both per filter size). Session 4 had measured BATCHES ~4 ms at 6.7k rows on a lab
# whose notes past 10k had random vectors, which made the neighbours of every query the same
# 10k real notes (there: BATCHES 5.2 ms, ADHOC_BF 6.3, wall p95 18.4 against 16.4).
BATCHES_COST_RATIO = 14
# ...and never below this many rows: brute force over the matches is exact and cheap there,
# while HNSW batches over a small shared partition (other workspaces' rows in the graph) can
# miss the true nearest.
BATCHES_MIN_ROWS = 10_000
# A bound on BM25's OR'ed terms (its cost grows with them); questions fit well within it.
MAX_TEXT_TERMS = 24
# BM25's cost grows with the postings it walks: at 100k notes from a ~300-word vocabulary, 10
# OR'ed terms (~80k postings) took 5.8 ms and 24 terms 15.7 ms (branch perf, old layout). Terms
# are kept rarest first while their document frequencies add up to at most this many postings:
# a term in most documents carries almost no BM25 weight anyway.
MAX_TEXT_POSTINGS = 20_000
_NON_WORD = re.compile(r"[^\w\s]+")

Ranking = Sequence[tuple[str, float | None]]
"""One ranking: ``(memory_id, that ranking's own score)`` pairs, best first."""


def text_terms(query: str, max_terms: int = MAX_TEXT_TERMS) -> list[str]:
    """The distinct words of ``query`` for BM25, keeping the latest ``max_terms``.

    Punctuation is dropped (no query syntax reaches RediSearch); the latest words carry the
    intent of a long conversation-derived query.
    """
    terms = list(dict.fromkeys(_NON_WORD.sub(" ", query).split()))
    return terms[-max_terms:] if max_terms > 0 else []


def selective_terms(
    terms: Sequence[str],
    doc_freq: Mapping[str, int],
    budget: int = MAX_TEXT_POSTINGS,
    *,
    at_least: int = 0,
) -> list[str]:
    """The terms BM25 should match: rarest first while their document frequencies fit in
    ``budget`` postings, returned in query order.

    Args:
        terms: Candidate terms (distinct), in query order.
        doc_freq: Documents of the index holding each term (absent: unknown, kept).
        budget: Most postings the kept terms may add up to.
        at_least: Keep at least this many (the rarest) whatever they cost: a text-only
            search must match something, while hybrid search still has its KNN ranking.
    """
    if sum(doc_freq.get(t, 0) for t in terms) <= budget:
        return list(terms)
    kept: set[str] = set()
    spent = matching = 0
    # Rarest first; ties keep the later query term (the latest words carry the intent). A
    # term in no document (a stopword, a typo) costs nothing and does not count as a match.
    order = sorted(range(len(terms)), key=lambda i: (doc_freq.get(terms[i], 0), -i))
    for i in order:
        df = doc_freq.get(terms[i], 0)
        if spent + df > budget and matching >= at_least:
            break
        kept.add(terms[i])
        spent += df
        matching += df > 0
    return [t for t in terms if t in kept]


def search_depth(limit: int, mode: str) -> int:
    """How many candidates each ranking fetches: hybrid looks deeper to have something to fuse."""
    return max(limit * 3, 30) if mode == "hybrid" else limit


def knn_policy(
    *,
    workspace_count: int,
    tag_counts: Sequence[int],
    match_all_tags: bool,
    total: int,
    depth: int,
) -> str | None:
    """The cheaper way to run a filtered KNN: ``"BATCHES"`` (HNSW in batches) when the filter
    keeps many rows of a large index, else ``"ADHOC_BF"`` (brute force over the matches);
    ``None`` (RediSearch decides) when the index is empty or its counts were not read.

    Args:
        workspace_count: Memories of the workspace.
        tag_counts: Memories per filter tag (empty when the filter has no tags).
        match_all_tags: Whether every tag is required.
        total: Memories in the whole index.
        depth: Candidates the KNN ranking fetches.
    """
    if total <= 0:
        return None
    estimate = workspace_count
    if tag_counts:
        estimate = min(tag_counts) if match_all_tags else min(workspace_count, sum(tag_counts))
    wide = estimate >= BATCHES_MIN_ROWS and estimate**2 >= BATCHES_COST_RATIO * depth * total
    return "BATCHES" if wide else "ADHOC_BF"


def fuse(rankings: Sequence[Ranking], limit: int, k: int = RRF_K) -> list[tuple[str, float | None]]:
    """Merge rankings: one ranking keeps its own scores; several are fused by reciprocal rank
    (:mod:`tta_memory.fusion`).

    Returns:
        ``(memory_id, score)`` pairs, best first, at most ``limit``.
    """
    if len(rankings) == 1:
        return list(rankings[0][:limit])
    fused = reciprocal_rank(([m for m, _ in r] for r in rankings), k)
    return [(m, score) for m, score in list(fused.items())[:limit]]
