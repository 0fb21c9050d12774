"""Pure planning of a deep-memory search: BM25 terms, the KNN policy, and rank fusion.

No Redis here: the search module (:mod:`tta_memory.stores.deep.search`) feeds these functions
what it read and sends what they decide.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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
# A bound on BM25's OR'ed terms (its cost grows with them); questions fit well within it.
MAX_TEXT_TERMS = 24
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
        and estimate >= max(5 * depth, BATCHES_MIN_ROWS)
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
