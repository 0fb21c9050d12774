"""Deep-search planning without Redis: BM25 terms, the KNN policy and rank fusion."""

from __future__ import annotations

import pytest
from tta_memory.stores.deep.planning import (
    RRF_K,
    fuse,
    knn_policy,
    search_depth,
    selective_terms,
    text_terms,
)


def test_fusion_adds_every_rankings_contribution():
    # "both" is second in each ranking; "vec" and "txt" are first in one ranking only.
    vector = [("vec", 0.9), ("both", 0.8), ("v3", 0.1)]
    text = [("txt", 7.0), ("both", 5.0), ("t3", 1.0)]
    fused = dict(fuse([vector, text], limit=10))
    assert fused["both"] == pytest.approx(2 / (RRF_K + 2))
    assert fused["vec"] == pytest.approx(1 / (RRF_K + 1))
    assert fused["txt"] == pytest.approx(1 / (RRF_K + 1))
    # liked by both rankings beats liked by one (an overwrite instead of a sum fails here)
    assert next(iter(fuse([vector, text], limit=10)))[0] == "both"


def test_fusion_keeps_what_only_the_full_text_ranking_found():
    vector = [(f"v{i}", 1.0 - i / 100) for i in range(30)]
    text = [("keyword-hit", 12.0)]
    top = [m for m, _ in fuse([vector, text], limit=3)]
    assert "keyword-hit" in top
    # and symmetrically, what only the vector ranking found
    top = [m for m, _ in fuse([text, vector], limit=3)]
    assert "v0" in top and "keyword-hit" in top


def test_fusion_order_follows_summed_reciprocal_ranks():
    a = [("x", None), ("y", None), ("z", None)]
    b = [("z", None), ("y", None), ("x", None)]
    c = [("y", None)]
    assert next(m for m, _ in fuse([a, b, c], limit=3)) == "y"


def test_one_ranking_keeps_its_own_scores_and_limit():
    ranking = [("a", 0.9), ("b", 0.5), ("c", None)]
    assert fuse([ranking], limit=2) == [("a", 0.9), ("b", 0.5)]
    assert fuse([], limit=2) == []


def test_text_terms_drop_syntax_and_keep_the_latest():
    assert text_terms('say "hello" | @tags:{x} -world*') == ["say", "hello", "tags", "x", "world"]
    assert text_terms("a b c a d", max_terms=2) == ["c", "d"]
    assert text_terms("!!! ???") == []


def test_search_depth_looks_deeper_for_hybrid():
    assert search_depth(5, "hybrid") == 30
    assert search_depth(20, "hybrid") == 60
    assert search_depth(5, "vector") == 5


@pytest.mark.parametrize(
    ("counts", "tags", "all_tags", "total", "expected"),
    [
        (10_000, [], False, 100_000, "BATCHES"),  # a large workspace, no tags: wide
        (100, [], False, 100_000, "ADHOC_BF"),  # a small workspace: brute force
        (10_000, [50, 60], False, 100_000, "ADHOC_BF"),  # rare tags
        (20_000, [19_000, 18_000], True, 100_000, "BATCHES"),  # common tags, all required
        (9_000, [], False, 10_000, "ADHOC_BF"),  # most of a small partition: exact brute force
        # 6.7 % of 100k (the context benchmark's focused search): brute force took 6.8 ms of
        # server CPU, HNSW batches 10.7 ms (planning.py)
        (10_000, [3_400, 3_300], False, 100_000, "ADHOC_BF"),
        (40_000, [1_500, 1_500], False, 40_000, "ADHOC_BF"),  # a mid-size index: brute force
        (10_000, [2_000, 2_000], False, 100_000, "ADHOC_BF"),  # under 5 % of a large index
        (10_000, [9_000, 10], True, 100_000, "ADHOC_BF"),  # one rare tag, all required
        (0, [], False, 0, None),  # empty index (or counts not read): RediSearch decides
    ],
)
def test_knn_policy(counts, tags, all_tags, total, expected):
    got = knn_policy(
        workspace_count=counts, tag_counts=tags, match_all_tags=all_tags, total=total, depth=30
    )
    assert got == expected


@pytest.mark.parametrize(
    ("rows", "total", "expected"),
    [
        (6_700, 100_000, "ADHOC_BF"),  # measured: 6.8 ms brute force, 10.7 ms batches
        (13_400, 100_000, "BATCHES"),  # measured: 12.9 ms brute force, 8.1 ms batches
        (20_000, 1_000_000, "ADHOC_BF"),  # 2 % of 1M: a batch would be ~3,000 wide
        (67_000, 1_000_000, "BATCHES"),  # 6.7 % of 1M: brute force over 67k rows
    ],
)
def test_knn_policy_picks_the_cheaper_way_for_the_filter_size(rows, total, expected):
    got = knn_policy(
        workspace_count=total, tag_counts=[rows], match_all_tags=False, total=total, depth=60
    )
    assert got == expected


def test_selective_terms_keeps_rarest_within_budget_in_query_order() -> None:
    df = {"a": 900, "b": 10, "c": 500, "d": 0}
    assert selective_terms(["a", "b", "c", "d"], df, budget=600) == ["b", "c", "d"]
    assert selective_terms(["c", "a", "b"], df, budget=600) == ["c", "b"]


def test_selective_terms_keeps_every_term_when_all_fit() -> None:
    df = {"a": 900, "b": 10, "c": 500}
    assert selective_terms(["a", "b", "c"], df, budget=1410) == ["a", "b", "c"]


def test_selective_terms_drops_common_terms_unless_one_is_required() -> None:
    df = {"the": 90_000, "api": 50_000}
    assert selective_terms(["the", "api"], df, budget=1000) == []
    assert selective_terms(["the", "api"], df, budget=1000, at_least=1) == ["api"]


def test_a_term_in_no_document_does_not_count_as_the_required_match() -> None:
    # "of" is a stopword (no postings): text search must still keep a term that matches.
    df = {"of": 0, "auth": 30_000, "token": 40_000}
    assert selective_terms(["of", "auth", "token"], df, budget=100, at_least=1) == ["of", "auth"]


def test_selective_terms_keeps_terms_of_unknown_frequency() -> None:
    assert selective_terms(["x", "y"], {"y": 10**6}, budget=100) == ["x"]


def test_selective_terms_breaks_ties_towards_the_latest_term() -> None:
    df = {"a": 60, "b": 60, "c": 60}
    assert selective_terms(["a", "b", "c"], df, budget=130) == ["b", "c"]
