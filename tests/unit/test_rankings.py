"""Reading ids and scores from raw FT.SEARCH replies (RESP2 and RESP3), as Redis sends them."""

from __future__ import annotations

import pytest
from redisvl.query import TextQuery, VectorQuery
from tta_memory.errors import InternalError
from tta_memory.replies import documents, search_args
from tta_memory.stores.deep.rankings import keyed_ranking, ranking

VQ = VectorQuery(
    vector=[0.1, 0.2], vector_field_name="embedding", return_fields=["memory_id"], dtype="float32"
)
TQ = TextQuery(text="clock skew", text_field_name="search_text", return_fields=["memory_id"])


def test_resp3_vector_hits_score_one_minus_distance_and_skip_deleted_documents():
    reply = {
        b"total_results": 3,
        b"results": [
            {b"id": b"k:a", b"extra_attributes": {b"memory_id": b"a", b"vector_distance": b"0.25"}},
            {b"id": b"k:gone", b"extra_attributes": {}},  # deleted while the query ran
            {b"id": b"k:b", b"extra_attributes": {b"memory_id": b"b", b"vector_distance": b"0.5"}},
        ],
    }
    assert ranking(VQ, reply) == [("a", 0.75), ("b", 0.5)]


def test_resp3_text_hits_keep_their_bm25_score():
    reply = {
        b"results": [
            {b"id": b"k:x", b"score": 4.2, b"extra_attributes": {b"memory_id": b"x"}},
            {b"id": b"k:y", b"score": 1.5, b"extra_attributes": {b"memory_id": b"y"}},
        ]
    }
    assert ranking(TQ, reply) == [("x", 4.2), ("y", 1.5)]


def test_resp2_replies_with_and_without_scores():
    text = [2, b"k:x", b"4.2", [b"memory_id", b"x"], b"k:y", b"1.5", [b"memory_id", b"y"]]
    assert ranking(TQ, text) == [("x", 4.2), ("y", 1.5)]
    vec = [2, b"k:a", [b"memory_id", b"a", b"vector_distance", b"0.1"], b"k:gone", None]
    assert ranking(VQ, vec) == [("a", 0.9)]


def test_search_args_carry_the_query_and_its_parameters():
    args = search_args("idx", VQ)
    assert args[0] == "idx" and "PARAMS" in args
    assert args[args.index("PARAMS") + 2] == "vector"
    assert "KNN" in args[1]


def test_documents_decode_rows_and_keep_vanished_hits_empty():
    resp3 = {
        b"results": [
            {b"id": b"k1", b"extra_attributes": {b"entry_id": b"e1", b"content": "h\xe9".encode()}},
            {b"id": b"k2", b"extra_attributes": {}},
        ]
    }
    assert documents(resp3) == [{"entry_id": "e1", "content": "h\xe9"}, {}]
    resp2 = [2, b"k1", [b"entry_id", b"e1"], b"k2", []]
    assert documents(resp2) == [{"entry_id": "e1"}, {}]


PREFIX = "tta:deep:{b.9}:lab:"


def test_keys_only_replies_give_ids_from_keys_in_rank_order():
    # What Redis sends for a hybrid search's rankings (NOCONTENT): keys, best first.
    q = VectorQuery(vector=[0.1, 0.2], vector_field_name="embedding", return_fields=["memory_id"])
    q.no_content()
    resp2 = [2, f"{PREFIX}b2".encode(), f"{PREFIX}a1".encode()]
    assert ranking(q, resp2, PREFIX) == [("b2", None), ("a1", None)]
    resp3 = {b"results": [{b"id": f"{PREFIX}b2".encode(), b"values": []}]}
    assert ranking(q, resp3, PREFIX) == [("b2", None)]


def test_keys_only_text_replies_keep_their_scores():
    q = TextQuery(text="clock skew", text_field_name="search_text", return_fields=["memory_id"])
    q.no_content()
    resp2 = [2, f"{PREFIX}x".encode(), b"4.2", f"{PREFIX}y".encode(), b"1.5"]
    assert ranking(q, resp2, PREFIX) == [("x", 4.2), ("y", 1.5)]
    resp3 = {b"results": [{b"id": f"{PREFIX}x".encode(), b"score": 4.2, b"values": []}]}
    assert ranking(q, resp3, PREFIX) == [("x", 4.2)]


def test_a_key_of_another_workspace_never_reads_as_one_of_ours():
    # "lab2" shares the partition; its memory "x" must not become our memory "x".
    foreign = "tta:deep:{b.9}:lab2:x"
    got = keyed_ranking([2, foreign.encode(), f"{PREFIX}x%3Ay".encode()], PREFIX)
    assert got == [(foreign, None), ("x:y", None)]  # our escaped id comes back unescaped
    with pytest.raises(InternalError):
        keyed_ranking([1, foreign.encode()], "")
