"""Layer 2 — the cache: recent messages and TTL'd notes, newest first, by window/session/group."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.errors import InvalidInputError, NotFoundError


async def test_note_round_trips(memory):
    before = datetime.now(UTC)
    entry = await memory.add_cache_entry(
        "Flaky test in auth suite, retry later",
        session_id="s1",
        tags=["flaky", "c++"],
        importance=0.9,
        ttl_seconds=600,
        metadata={"ticket": 42},
    )

    [got] = await memory.get_cache_memory(session_id="s1")

    assert got == entry

    assert got.id == entry.id and got.kind == "note" and got.role is None
    assert got.content == "Flaky test in auth suite, retry later"
    assert got.tags == ["flaky", "c++"] and got.importance == 0.9
    assert got.metadata == {"ticket": 42} and got.session_id == "s1"
    assert got.user_id == "test-user"
    assert before - timedelta(seconds=1) <= got.created_at <= datetime.now(UTC)
    assert got.expires_at is not None
    assert timedelta(seconds=599) <= got.expires_at - got.created_at <= timedelta(seconds=601)


async def test_session_messages_appear_in_cache_newest_first(memory):
    await memory.add_session_message("s1", "user", "question")
    await memory.add_session_message("s1", "assistant", "answer")
    await memory.add_cache_entry("a note", session_id="s1")

    entries = await memory.get_cache_memory(session_id="s1", time_window_hours=1)

    assert [(e.kind, e.content) for e in entries] == [
        ("note", "a note"),
        ("message", "answer"),
        ("message", "question"),
    ]
    assert entries[1].role == "assistant" and entries[1].session_id == "s1"


async def test_session_filter_narrows_and_none_means_all_my_sessions(memory):
    await memory.add_session_message("s1", "user", "in s1")
    await memory.add_session_message("s2", "user", "in s2")
    await memory.add_cache_entry("loose note")

    assert [e.content for e in await memory.get_cache_memory(session_id="s1")] == ["in s1"]
    assert {
        e.content for e in await memory.get_cache_memory(session_id=None, time_window_hours=24)
    } == {"in s1", "in s2", "loose note"}


async def test_all_sessions_view_is_the_callers_own(memory, redis_url, workspace):
    other = MemoryWorkflowPrimitive(redis_url, user_id="someone-else", workspace=workspace)
    await other.add_session_message("theirs", "user", "their message")
    await other.add_cache_entry("their note")
    await memory.add_session_message("mine", "user", "my message")

    assert [e.content for e in await memory.get_cache_memory()] == ["my message"]
    # asking for their session by id still works: the session is shared team context
    assert [e.content for e in await memory.get_cache_memory(session_id="theirs")] == [
        "their message"
    ]


async def test_time_window_excludes_older_entries(memory):
    await memory.add_cache_entry("older")
    await asyncio.sleep(2.0)
    await memory.add_cache_entry("newer")

    recent = await memory.get_cache_memory(time_window_hours=1.5 / 3600)  # 1.5 seconds
    assert [e.content for e in recent] == ["newer"]
    assert [e.content for e in await memory.get_cache_memory(time_window_hours=1)] == [
        "newer",
        "older",
    ]


async def test_limit(memory):
    await memory.add_session_messages("s", [{"role": "user", "content": f"m{i}"} for i in range(5)])
    got = await memory.get_cache_memory(session_id="s", limit=2)
    assert len(got) == 2 and {e.content for e in got} <= {f"m{i}" for i in range(5)}


async def test_note_expires_after_its_ttl(memory):
    await memory.add_cache_entry("short-lived", ttl_seconds=1)
    await memory.add_cache_entry("long-lived", ttl_seconds=3600)
    # Poll (not a timing assert): the note must disappear within a few seconds.
    for _ in range(50):
        if len(await memory.get_cache_memory()) == 1:
            break
        await asyncio.sleep(0.1)
    assert [e.content for e in await memory.get_cache_memory()] == ["long-lived"]


async def test_group_reads_across_member_sessions(memory, groups):
    gid = await groups.create_group("Auth", tags=["auth"])
    await groups.add_session_to_group(gid, "day1")
    await groups.add_session_to_group(gid, "day2")
    await memory.add_session_message("day1", "user", "research JWT")
    await memory.add_session_message("day2", "user", "implement JWT")
    await memory.add_session_message("unrelated", "user", "lunch plans")

    got = await memory.get_cache_memory(group_id=gid)
    assert [e.content for e in got] == ["implement JWT", "research JWT"]

    empty = await groups.create_group("Nothing yet")
    assert await memory.get_cache_memory(group_id=empty) == []
    with pytest.raises(NotFoundError):
        await memory.get_cache_memory(group_id="grp-does-not-exist")


async def test_promote_copies_the_entry_into_deep_memory(memory):
    entry = await memory.add_cache_entry(
        "Clock skew breaks JWT validation; add 60s leeway",
        session_id="bug-1",
        tags=["jwt", "clock-skew"],
        metadata={"severity": "high"},
    )

    deep = await memory.promote_cache_entry(entry.id, memory_type="bug-resolution")

    assert deep.text == entry.content and deep.tags == ["jwt", "clock-skew"]
    assert deep.memory_type == "bug-resolution" and deep.session_id == "bug-1"
    assert deep.metadata == {"severity": "high", "promoted_from": entry.id}
    found = await memory.search_deep_memory("JWT clock skew leeway", tags=["clock-skew"])
    assert [m.id for m in found] == [deep.id]


async def test_promote_with_new_tags(memory):
    entry = await memory.add_cache_entry("Use connection pooling for Postgres", tags=["db"])
    deep = await memory.promote_cache_entry(entry.id, tags=["database", "performance"])
    assert deep.tags == ["database", "performance"] and deep.memory_type == "observation"


async def test_promote_unknown_entry_is_not_found(memory):
    with pytest.raises(NotFoundError):
        await memory.promote_cache_entry("0123456789abcdef")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"importance": 1.5},
        {"importance": -0.1},
        {"ttl_seconds": 0},
        {"tags": "auth"},
        {"metadata": {"x": object()}},
    ],
)
async def test_bad_note_is_refused_and_nothing_stored(memory, kwargs):
    with pytest.raises(InvalidInputError):
        await memory.add_cache_entry("note", **kwargs)
    assert await memory.get_cache_memory() == []


@pytest.mark.parametrize("window", [0, -1, "24"])
async def test_bad_time_window_is_refused(memory, window):
    with pytest.raises(InvalidInputError):
        await memory.get_cache_memory(time_window_hours=window)
