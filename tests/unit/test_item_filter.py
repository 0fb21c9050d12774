"""Item value filters and namespace paths (pure functions, no Redis)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redisvl.query import TextQuery, VectorQuery
from tta_memory.errors import InvalidInputError
from tta_memory.fusion import RRF_K
from tta_memory.stores.items.filters import check_filter, matches
from tta_memory.stores.items.records import decode_path, encode_path, fuse, namespace_matches

VALUE = {"n": 3, "s": "x", "tags": ["a", "b"], "meta": {"k": "v", "d": {"z": 1}}, "none": None}


@pytest.mark.parametrize(
    "filter,expected",
    [
        ({"n": 3}, True),
        ({"n": 4}, False),
        ({"n": {"$eq": 3}}, True),
        ({"n": {"$ne": 3}}, False),
        ({"n": {"$gt": 2, "$lte": 3}}, True),
        ({"n": {"$gt": 3}}, False),
        ({"n": {"$gte": 3, "$lt": 3}}, False),
        ({"s": {"$gt": 1}}, False),  # not a number: no match (never an exception)
        ({"missing": {"$lt": 10}}, False),
        ({"missing": None}, True),
        ({"none": None}, True),
        ({"tags": ["a", "b"]}, True),
        ({"tags": ["b", "a"]}, False),
        ({"tags": ["a"]}, False),
        ({"meta": {"k": "v"}}, True),
        ({"meta": {"d": {"z": {"$gte": 1}}}}, True),
        ({"meta": {"k": "w"}}, False),
        ({"s": {"k": "v"}}, False),
        ({"n": 3, "s": "y"}, False),
        ({}, True),
    ],
)
def test_matches(filter: dict[str, Any], expected: bool) -> None:
    assert matches(VALUE, check_filter(filter)) is expected


@pytest.mark.parametrize(
    "bad",
    [{"n": {"$regex": "x"}}, {"meta": {"d": {"$in": [1]}}}, {"n": {"$gt": "abc"}}, ["n"]],
)
def test_bad_filters_are_refused(bad: Any) -> None:
    with pytest.raises(InvalidInputError):
        check_filter(bad)


labels = st.lists(st.text(min_size=1).filter(lambda s: "\x00" not in s), max_size=5)


@given(labels)
def test_paths_round_trip(ns: list[str]) -> None:
    assert decode_path(encode_path(ns)) == tuple(ns)


@given(labels, labels)
def test_a_prefix_path_is_a_path_prefix_only_for_label_prefixes(a: list[str], b: list[str]) -> None:
    # The index matches namespace prefixes as exact tags of encoded prefixes: two namespaces
    # share an encoded prefix exactly when they share the labels.
    assert (encode_path(a) == encode_path(b)) == (a == b)


def test_namespace_matching_with_wildcards() -> None:
    ns = ("docs", "bob", "drafts")
    assert namespace_matches(ns, ("docs",))
    assert namespace_matches(ns, ("*", "bob"))
    assert namespace_matches(ns, None, ("drafts",))
    assert namespace_matches(ns, ("docs", "*", "drafts"), ("bob", "*"))
    assert not namespace_matches(ns, ("bob",))
    assert not namespace_matches(ns, None, ("bob",))
    assert not namespace_matches(("docs",), ("docs", "*"))


def test_fuse_keeps_each_items_best_text_and_fuses_by_reciprocal_rank() -> None:
    vq = VectorQuery(vector=[0.1, 0.2], vector_field_name="embedding", dtype="float32")
    tq = TextQuery(text="hello", text_field_name="text")
    knn = [
        {"item": "A", "ver": "1", "workspace": "w", "vector_distance": "0.1"},
        {"item": "B", "ver": "1", "workspace": "w", "vector_distance": "0.2"},
        {"item": "A", "ver": "1", "workspace": "w", "vector_distance": "0.3"},  # A's 2nd text
    ]
    bm25 = [{"item": "B", "ver": "1", "workspace": "w", "score": "3.0"}]
    alone = fuse([knn], [vq])
    assert [(i, round(s or 0, 6)) for i, _, s in alone] == [("A", 0.9), ("B", 0.8)]
    both = fuse([knn, bm25], [vq, tq])
    assert [i for i, _, _ in both] == ["B", "A"]  # 1/(k+2) + 1/(k+1) beats 1/(k+1)
    assert both[0][2] == 1 / (RRF_K + 2) + 1 / (RRF_K + 1)
