"""The partition layout (pure functions): every key and index of a partition in one slot,
workspaces never sharing a key, the re-check of rows read from a shared index."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from redis.crc import key_slot
from tta_memory.partitions import (
    INDEX_KINDS,
    Partition,
    PartitionLayout,
    admits,
    admitted,
    bucket_of,
    dedup_hash,
    escape,
    parse_dedicated,
    unescape,
)

# Hostile names: braces end hash tags, ':' separates key parts, spaces and backticks once
# leaked data across tenants.
hostile = st.text(
    alphabet=st.sampled_from(list("ab{}:` %\\,|*-_.\u00e9\u4e2d")), min_size=1, max_size=12
)


def test_bucket_is_stable_and_in_range() -> None:
    assert bucket_of("acme", 16) == bucket_of("acme", 16)
    assert all(0 <= bucket_of(f"ws-{i}", 7) < 7 for i in range(200))
    with pytest.raises(ValueError):
        bucket_of("acme", 0)


def test_buckets_fill_evenly() -> None:
    counts = Counter(bucket_of(f"tenant-{i}", 16) for i in range(16_000))
    assert len(counts) == 16
    # 1,000 expected per bucket; a skewed hash (e.g. on the first byte only) would miss this.
    assert max(counts.values()) < 1_150 and min(counts.values()) > 850


def test_dedicated_workspace_gets_its_own_partition() -> None:
    layout = PartitionLayout(buckets=4, dedicated=frozenset({"big"}))
    big = layout.partition_for("big")
    small = layout.partition_for("small")
    assert big.dedicated and big.tag == "w.big"
    assert not small.dedicated and small.tag.startswith("b.")
    assert big.index_name("tta", "deep") != small.index_name("tta", "deep")
    assert layout.partition_for("small") == small  # same answer every time


@given(workspace=hostile, doc_id=hostile, dedicated=st.booleans())
def test_a_partition_lives_in_one_slot(workspace: str, doc_id: str, dedicated: bool) -> None:
    layout = PartitionLayout(dedicated=frozenset({workspace} if dedicated else set()))
    p = layout.partition_for(workspace)
    slot = key_slot(p.hashtag.encode())
    names = [p.index_name("tta", k) for k in INDEX_KINDS]
    names += [p.doc_key("tta", k, workspace, doc_id) for k in INDEX_KINDS]
    names += [p.key("tta", "sess", workspace, doc_id, "seq"), p.key("tta", "paf", workspace)]
    assert {key_slot(n.encode()) for n in names} == {slot}
    # The hash tag is the first {...} of every name, and holds no brace of the user's.
    for n in names:
        assert n[n.index("{") : n.index("}") + 1] == p.hashtag


@given(a=st.tuples(hostile, hostile), b=st.tuples(hostile, hostile))
def test_two_workspaces_never_share_a_key(a: tuple[str, str], b: tuple[str, str]) -> None:
    p = Partition(tag="b.0", dedicated=False)  # the worst case: both in one shared bucket
    ka = p.doc_key("tta", "deep", *a)
    kb = p.doc_key("tta", "deep", *b)
    assert (ka == kb) == (a == b)
    assert (p.key("tta", "sess", *a) == p.key("tta", "sess", *b)) == (a == b)


def test_index_prefix_covers_only_its_partition() -> None:
    one, ten = Partition(tag="b.1", dedicated=False), Partition(tag="b.10", dedicated=False)
    key_of_ten = ten.doc_key("tta", "deep", "acme", "m1")
    assert not key_of_ten.startswith(one.doc_prefix("tta", "deep"))
    assert key_of_ten.startswith(ten.doc_prefix("tta", "deep"))


def test_indexed_kinds_are_not_used_for_plain_keys() -> None:
    p = Partition(tag="b.0", dedicated=False)
    with pytest.raises(ValueError):
        p.key("tta", "deep", "acme")
    with pytest.raises(ValueError):
        p.index_name("tta", "sessions")


def test_layout_settings_are_checked() -> None:
    with pytest.raises(ValidationError):
        PartitionLayout(buckets=0)
    with pytest.raises(ValidationError):
        PartitionLayout(buckets=20_000)
    assert parse_dedicated(" big, huge ,,") == frozenset({"big", "huge"})
    assert parse_dedicated(None) == frozenset()
    assert parse_dedicated(["a"]) == frozenset({"a"})


@pytest.mark.parametrize(
    ("row", "allowed"),
    [
        ({"workspace": "acme", "visibility": "shared", "author": "bob"}, True),
        ({"workspace": "acme", "visibility": "private", "author": "alice"}, True),
        ({"workspace": "acme", "visibility": "private", "author": "bob"}, False),
        ({"workspace": "acme ", "visibility": "shared", "author": "alice"}, False),
        ({"workspace": "acme`", "visibility": "shared", "author": "alice"}, False),
        ({"workspace": "ACME", "visibility": "shared", "author": "alice"}, False),
        ({"workspace": b"acme", "visibility": b"private", "author": b"alice"}, True),
        ({"visibility": "shared", "author": "alice"}, False),  # no workspace: never
        ({"workspace": "acme", "visibility": "private", "author": "alice "}, False),
    ],
)
def test_rows_are_checked_exactly(row: dict[str, object], allowed: bool) -> None:
    assert admits(row, workspace="acme", user_id="alice") is allowed


def test_cache_rows_check_their_author_field() -> None:
    rows = [
        {"workspace": "acme", "user_id": "alice", "visibility": "private"},
        {"workspace": "acme", "user_id": "bob", "visibility": "private"},
        {"workspace": "other", "user_id": "alice"},
        {"workspace": "acme", "user_id": "bob"},
    ]
    kept = admitted(rows, workspace="acme", user_id="alice", author_field="user_id")
    assert kept == [rows[0], rows[3]]


def test_dedup_hash_is_scoped_by_workspace() -> None:
    assert dedup_hash("acme", "launch is May 3") == dedup_hash("acme", "launch is May 3")
    assert dedup_hash("acme", "launch is May 3") != dedup_hash("acme ", "launch is May 3")
    assert dedup_hash("acme", "launch is May 3") != dedup_hash("other", "launch is May 3")
    # The separator keeps (workspace, text) pairs apart: "ab"+"c" is not "a"+"bc".
    assert dedup_hash("ab", "c") != dedup_hash("a", "bc")


@given(st.text())
def test_unescape_gives_back_every_escaped_name(name):
    assert unescape(escape(name)) == name
