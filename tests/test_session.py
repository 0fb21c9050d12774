"""Layer 1 — session messages: order, round-trips, delete/archive/replace/clear, listing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from tta_memory import MemoryWorkflowPrimitive, SessionMessage
from tta_memory.errors import InvalidInputError, NotFoundError


async def _add(memory: MemoryWorkflowPrimitive, session: str, *texts: str) -> list[SessionMessage]:
    return [await memory.add_session_message(session, "user", t) for t in texts]


async def test_messages_come_back_oldest_first_with_increasing_seq(memory):
    before = datetime.now(UTC)
    stored = await memory.add_session_message("s1", "user", "Implement JWT auth")
    await memory.add_session_message("s1", "assistant", "Planning the token flow")
    await memory.add_session_message("s1", "system", "be brief")
    await memory.add_session_message("s1", "tool", '{"ok": true}')

    msgs = await memory.get_session_context("s1")

    assert [m.content for m in msgs] == [
        "Implement JWT auth",
        "Planning the token flow",
        "be brief",
        '{"ok": true}',
    ]
    assert [m.role for m in msgs] == ["user", "assistant", "system", "tool"]
    assert [m.seq for m in msgs] == [1, 2, 3, 4]
    assert msgs[0].id == stored.id and msgs[0].seq == stored.seq == 1
    assert all(m.session_id == "s1" and m.user_id == "test-user" for m in msgs)
    assert before - timedelta(seconds=1) <= msgs[0].created_at <= datetime.now(UTC)
    assert msgs[0].created_at.tzinfo is not None
    # subscriptable like the guide's results
    assert msgs[0]["content"] == "Implement JWT auth" and msgs[0].get("role") == "user"


async def test_metadata_round_trips_exactly(memory):
    meta = {
        "n": 1,
        "f": 0.25,
        "nested": {"list": [1, "two", None, True]},
        "ünï": "😀",
        "empty": {},
        "quote": 'a"b\\c',
    }
    await memory.add_session_message("s", "user", "hello", metadata=meta)
    assert (await memory.get_session_context("s"))[0].metadata == meta


async def test_limit_returns_latest_messages_and_none_returns_all(memory):
    await memory.add_session_messages("s", [{"role": "user", "content": f"m{i}"} for i in range(8)])

    assert [m.content for m in await memory.get_session_context("s", limit=3)] == ["m5", "m6", "m7"]
    assert len(await memory.get_session_context("s", limit=None)) == 8
    assert await memory.count_session_messages("s") == 8


async def test_batch_append_keeps_order_and_seq(memory):
    await memory.add_session_message("s", "user", "first")
    batch = await memory.add_session_messages(
        "s",
        [
            {"role": "user", "content": "a", "metadata": {"i": 0}},
            {"role": "assistant", "content": "b"},
        ],
    )
    assert [m.seq for m in batch] == [2, 3]
    assert [(m.content, m.metadata) for m in await memory.get_session_context("s")] == [
        ("first", {}),
        ("a", {"i": 0}),
        ("b", {}),
    ]


async def test_unknown_session_is_empty(memory):
    assert await memory.get_session_context("never-written") == []
    assert await memory.count_session_messages("never-written") == 0


async def test_sessions_do_not_mix(memory):
    await memory.add_session_message("a", "user", "in a")
    await memory.add_session_message("b", "user", "in b")
    assert [m.content for m in await memory.get_session_context("a")] == ["in a"]
    assert [m.content for m in await memory.get_session_context("b")] == ["in b"]


async def test_delete_by_position_and_by_id(memory):
    msgs = await _add(memory, "s", "zero", "one", "two", "three")

    assert (await memory.delete_session_message("s", position=0)).content == "zero"
    assert (await memory.delete_session_message("s", position=-1)).content == "three"
    deleted = await memory.delete_session_message("s", message_id=msgs[2].id)
    assert deleted.id == msgs[2].id and deleted.seq == 3

    assert [m.content for m in await memory.get_session_context("s")] == ["one"]


async def test_deleted_message_leaves_the_cache_too(memory):
    keep, gone = await _add(memory, "s", "keep", "secret pasted by mistake")
    await memory.delete_session_message("s", message_id=gone.id)
    await memory.add_session_message("s", "user", "last")
    await memory.delete_session_message("s", position=-1)
    assert [e.id for e in await memory.get_cache_memory(session_id="s")] == [keep.id]


async def test_delete_missing_message_is_not_found_and_keeps_the_rest(memory):
    await _add(memory, "s", "keep")
    with pytest.raises(NotFoundError):
        await memory.delete_session_message("s", position=5)
    with pytest.raises(NotFoundError):
        await memory.delete_session_message("s", message_id="no-such-id")
    with pytest.raises(InvalidInputError):
        await memory.delete_session_message("s")
    assert [m.content for m in await memory.get_session_context("s")] == ["keep"]


async def test_archive_moves_oldest_out_of_context_but_keeps_them(memory):
    await _add(memory, "s", "m1", "m2", "m3", "m4")

    moved = await memory.archive_session_messages("s", 3)
    assert [m.content for m in moved] == ["m1", "m2", "m3"]

    assert [m.content for m in await memory.get_session_context("s")] == ["m4"]
    archived = await memory.get_session_context("s", archived=True)
    assert [(m.content, m.seq) for m in archived] == [("m1", 1), ("m2", 2), ("m3", 3)]
    assert await memory.count_session_messages("s", archived=True) == 3
    # more than there are: only what is left moves
    assert len(await memory.archive_session_messages("s", 10)) == 1
    assert await memory.get_session_context("s") == []


async def test_new_messages_after_archive_keep_counting(memory):
    await _add(memory, "s", "m1", "m2")
    await memory.archive_session_messages("s", 2)
    new = await memory.add_session_message("s", "user", "m3")
    assert new.seq == 3


async def test_replace_swaps_active_messages_with_higher_seq(memory):
    await _add(memory, "s", "old1", "old2")
    new = await memory.replace_session_messages(
        "s",
        [
            {"role": "system", "content": "summary of old1 and old2"},
            {"role": "user", "content": "continue"},
        ],
    )
    msgs = await memory.get_session_context("s")
    assert [m.content for m in msgs] == ["summary of old1 and old2", "continue"]
    assert [m.seq for m in msgs] == [m.seq for m in new] and msgs[0].seq > 2
    assert (await memory.add_session_message("s", "user", "next")).seq == msgs[-1].seq + 1


async def test_replace_with_nothing_empties_the_session(memory):
    await _add(memory, "s", "x", "y")
    assert await memory.replace_session_messages("s", []) == []
    assert await memory.count_session_messages("s") == 0


async def test_replace_archived_leaves_active_alone(memory):
    await _add(memory, "s", "a1", "a2", "a3")
    await memory.archive_session_messages("s", 2)
    await memory.replace_session_messages(
        "s", [{"role": "system", "content": "old summary"}], archived=True
    )
    assert [m.content for m in await memory.get_session_context("s", archived=True)] == [
        "old summary"
    ]
    assert [m.content for m in await memory.get_session_context("s")] == ["a3"]


async def test_clear_session_deletes_active_archived_and_its_cache(memory):
    await _add(memory, "s", "a", "b", "c")
    await memory.archive_session_messages("s", 1)
    await _add(memory, "other", "stays")

    assert await memory.clear_session("s") == 3

    assert await memory.get_session_context("s") == []
    assert await memory.get_session_context("s", archived=True) == []
    assert await memory.get_cache_memory(session_id="s") == []
    assert "s" not in await memory.list_sessions()
    assert [m.content for m in await memory.get_session_context("other")] == ["stays"]


async def test_list_sessions_most_recent_first(memory):
    await _add(memory, "first", "x")
    await _add(memory, "second", "x")
    await _add(memory, "first", "y")  # touches "first" again
    assert await memory.list_sessions() == ["first", "second"]
    assert await memory.list_sessions(limit=1) == ["first"]


async def test_session_ttl_expires_the_session(memory):
    await memory.add_session_message("short", "user", "gone soon", ttl_seconds=1)
    await memory.add_session_message("kept", "user", "stays")
    # Poll (not a timing assert): the session must be gone well within a few seconds.
    for _ in range(50):
        if not await memory.get_session_context("short"):
            break
        await asyncio.sleep(0.1)
    assert await memory.get_session_context("short") == []
    assert [m.content for m in await memory.get_session_context("kept")] == ["stays"]


async def test_trim_deletes_the_oldest_and_their_cache_entries(memory):
    await _add(memory, "s", "t1", "t2", "t3")

    removed = await memory.trim_session_messages("s", 2)

    assert [m.content for m in removed] == ["t1", "t2"]
    assert [m.content for m in await memory.get_session_context("s")] == ["t3"]
    assert await memory.get_session_context("s", archived=True) == []
    assert [e.content for e in await memory.get_cache_memory("s")] == ["t3"]
    assert await memory.trim_session_messages("s", 5) != []
    assert await memory.trim_session_messages("s", 5) == []
