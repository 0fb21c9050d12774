"""Pure planning of a deep-memory search: BM25 terms, the KNN policy, and rank fusion.

No Redis here: the search module (:mod:`tta_memory.stores.deep.search`) feeds these functions
what it read and sends what they decide.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

# Hybrid fuses the KNN and BM25 rankings by reciprocal rank with a small constant, so each
# ranking's top hits dominate: with the usual k=60 the long tails of two deep lists drown
# them. LoCoMo recall@10 (1,982 questions): KNN 46.6, BM25 53.5, fused at k=60 47.8, at k=2
# 61.4 (adding RediSearch's classic BM25 as a third ranking: 60.1).
RRF_K = 2
# Filters matching at least this share of the index run KNN over HNSW in batches; narrower
# ones are brute-forced over the matches (RediSearch's own choice misjudges wide filters).
BATCHES_MIN_SHARE = 0.05
# ...and only filters this wide: below it, brute force over the matches is exact and cheap
# (ADHOC_BF over a 100k workspace took 14.4 ms, so ~1.4 ms at 10k), while HNSW batches over a
# small shared partition (other workspaces' rows in the graph) can miss the true nearest.
BATCHES_MIN_ROWS = 10_000
# ...or any filter of at least that share in an index this large: there brute force costs more
# than it is worth and batches lose nothing. 100k notes, a two-tag filter of 6.7k rows (6.7 %):
# ADHOC_BF 8-11 ms, BATCHES ~4 ms, and BATCHES' top 20 equal the exact top 20 (20 queries;
# top 60: 0.999 overlap).
BATCHES_MIN_TOTAL = 50_000
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
    """``"BATCHES"`` when the filter keeps a wide share of the index, else ``None``.

    Args:
        workspace_count: Memories of the workspace.
        tag_counts: Memories per filter tag (empty when the filter has no tags).
        match_all_tags: Whether every tag is required.
        total: Memories in the whole index.
        depth: Candidates the KNN ranking fetches.
    """
    estimate = workspace_count
    if tag_counts:
        estimate = min(tag_counts) if match_all_tags else min(workspace_count, sum(tag_counts))
    wide = (
        total > 0
        and estimate >= BATCHES_MIN_SHARE * total
        and estimate >= 5 * depth
        and (estimate >= BATCHES_MIN_ROWS or total >= BATCHES_MIN_TOTAL)
    )
    return "BATCHES" if wide else None


def fuse(rankings: Sequence[Ranking], limit: int, k: int = RRF_K) -> list[tuple[str, float | None]]:
    """Merge rankings: one ranking keeps its own scores; several are fused by reciprocal rank.

    Each memory's fused score is the sum over the rankings that hold it of ``1 / (k + rank)``
    (rank from 1), so a memory both rankings like beats one only a single ranking likes.

    Returns:
        ``(memory_id, score)`` pairs, best first, at most ``limit``.
    """
    if len(rankings) == 1:
        return list(rankings[0][:limit])
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, (memory_id, _) in enumerate(ranking, start=1):
            fused[memory_id] = fused.get(memory_id, 0.0) + 1.0 / (k + rank)
    best = sorted(fused, key=fused.__getitem__, reverse=True)[:limit]
    return [(m, fused[m]) for m in best]
