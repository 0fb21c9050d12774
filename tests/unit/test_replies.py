"""The engine's one reading of raw replies, in both protocols (RESP2 flat lists, RESP3 maps),
with bytes (a client without decode_responses) or text."""

from __future__ import annotations

from tta_memory import replies


def test_text_decodes_bytes_and_never_fails_on_foreign_ones() -> None:
    assert replies.text(b"caf\xc3\xa9") == "café"
    assert replies.text(b"\xff") == "\ufffd"  # written by another client: not UTF-8
    assert replies.text(7) == "7"


def test_pairs_of_a_flat_list_and_of_a_map() -> None:
    assert replies.pairs([b"name", b"search", b"ver", 21005]) == {"name": b"search", "ver": 21005}
    assert replies.pairs({b"name": "search", "ver": 21005}) == {"name": "search", "ver": 21005}


def test_search_totals_and_ids() -> None:
    resp2 = [2, b"k:1", b"k:2"]
    resp3 = {b"total_results": 2, b"results": [{b"id": b"k:1"}, {b"id": b"k:2"}]}
    assert replies.total(resp2) == replies.total(resp3) == 2
    assert replies.ids(resp2) == replies.ids(resp3) == ["k:1", "k:2"]
    assert replies.ids([0]) == replies.ids({"total_results": 0, "results": []}) == []


def test_aggregate_rows() -> None:
    resp2 = [2, [b"workspace", b"a", b"n", b"3"], [b"workspace", b"b", b"n", b"1"]]
    resp3 = {
        "total_results": 2,
        "results": [
            {"extra_attributes": {b"workspace": b"a", b"n": b"3"}, "values": []},
            {"extra_attributes": {"workspace": "b", "n": "1"}, "values": []},
        ],
    }
    expected = [{"workspace": "a", "n": "3"}, {"workspace": "b", "n": "1"}]
    assert replies.aggregate_rows(resp2) == replies.aggregate_rows(resp3) == expected
