"""Window reads of the cache (stores/cache.py) ask for keys and read only rows they have not
read before: a context load in a group sees every entry that is in its window, newest first,
and a load whose rows are all known does not receive them again."""

from __future__ import annotations

import asyncio

import pytest
import redis
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.errors import InvalidInputError
from tta_memory.stores.cache import Window

CTX = {"session_id": "day3", "workflow_id": "w1"}


async def _group_cache(memory) -> list[str]:
    # understand / AUGSTER reads the cache across the session's groups (group mode).
    loaded = await memory.load_context(CTX, "understand", "augster_rigorous")
    return [e.content for e in loaded.cache_memory]


async def _setup(memory, groups) -> str:
    gid = await groups.create_group("Auth", tags=["auth"])
    for sid in ("day1", "day2", "day3"):
        await groups.add_session_to_group(gid, sid)
    return gid


async def test_a_load_sees_entries_added_after_the_last_one(memory, groups):
    await _setup(memory, groups)
    await memory.add_session_message("day1", "user", "research JWT")
    assert await _group_cache(memory) == ["research JWT"]

    await memory.add_session_message("day2", "user", "implement JWT")
    await memory.add_cache_entry("remember the refresh tokens", session_id="day2")
    assert await _group_cache(memory) == [
        "remember the refresh tokens",
        "implement JWT",
        "research JWT",
    ]
    # The session's own messages come through the session layer, not the cache.
    await memory.add_session_message("day3", "user", "where were we?")
    assert "where were we?" not in await _group_cache(memory)


async def test_gone_entries_leave_the_window(memory, groups, redis_url):
    await _setup(memory, groups)
    note = await memory.add_cache_entry("short-lived", session_id="day1", ttl_seconds=1)
    await memory.add_session_message("day2", "user", "implement JWT")
    assert await _group_cache(memory) == ["implement JWT", "short-lived"]
    # Redis removes an expired key when something touches it or when its active expiry gets
    # there, seconds later on a server with many expiring keys (it failed so in CI). Keep the
    # key as if that had not happened yet: the window must still end at the entry's time.
    raw = redis.Redis.from_url(redis_url)
    try:
        assert raw.persist(memory._ctx.keys.cache_entry(note.id))
    finally:
        raw.close()
    # Poll (not a timing assert): the expired note must leave the window within seconds.
    for _ in range(50):
        if await _group_cache(memory) == ["implement JWT"]:
            break
        await asyncio.sleep(0.1)
    assert await _group_cache(memory) == ["implement JWT"]
    await memory.clear_session("day2")
    assert await _group_cache(memory) == []


def _sent_bytes(redis_url: str) -> int:
    raw = redis.Redis.from_url(redis_url)
    try:
        return int(raw.info("stats")["total_net_output_bytes"])
    finally:
        raw.close()


async def test_rows_read_once_are_not_sent_again(memory, groups, redis_url):
    """What a user sees in Redis's own counters: the second of two identical loads receives
    a fraction of the first one's bytes (the 40 notes of 1,000 characters are not resent)."""
    await _setup(memory, groups)
    for i in range(40):
        await memory.add_cache_entry(f"note {i:02d} " + "x" * 1000, session_id="day1")
    before = _sent_bytes(redis_url)
    first = await _group_cache(memory)
    middle = _sent_bytes(redis_url)
    again = await _group_cache(memory)
    after = _sent_bytes(redis_url)
    assert first == again and len(first) == 40
    assert middle - before > 40_000
    assert after - middle < 10_000


async def test_a_full_row_memory_never_costs_a_window_its_known_rows(memory, groups, monkeypatch):
    """The rows read before are forgotten when too many are held; a window that reads a new
    row at that moment still returns every entry it names."""
    from tta_memory.stores import cache as cache_module

    monkeypatch.setattr(cache_module, "MAX_KNOWN", 3)
    await _setup(memory, groups)
    for i in range(4):
        await memory.add_session_message("day1", "user", f"message {i}")
    assert len(await _group_cache(memory)) == 4
    await memory.add_session_message("day2", "user", "one more")
    assert await _group_cache(memory) == [
        "one more",
        "message 3",
        "message 2",
        "message 1",
        "message 0",
    ]


async def test_a_caller_editing_an_entrys_metadata_changes_no_later_read(memory):
    await memory.add_cache_entry("deploy window", session_id="s1", metadata={"a": {"b": 1}})
    [first] = await memory.get_cache_memory(session_id="s1")
    first.metadata["a"]["b"] = 2
    [again] = await memory.get_cache_memory(session_id="s1")
    assert again.metadata == {"a": {"b": 1}}


@pytest.mark.parametrize("bad", ["not a window", None, ["a-key"]])
async def test_finish_takes_only_a_window(memory, bad):
    with pytest.raises(InvalidInputError):
        await memory.cache.finish(bad)


async def test_a_string_is_not_a_list_of_sessions(memory):
    await memory.add_session_message("s1", "user", "hello")
    with pytest.raises(InvalidInputError):
        await memory.cache.window(session_ids="s1")
    with pytest.raises(InvalidInputError):
        await memory.cache.recent(session_ids="s1")


async def test_another_workspaces_keys_give_none_of_its_rows(memory, redis_url):
    other = MemoryWorkflowPrimitive(redis_url, workspace=f"{memory.workspace}-other")
    note = await other.add_cache_entry("the other team's secret")
    window = Window([other._ctx.keys.cache_entry(note.id)])
    assert await memory.cache.finish(window) == []


async def test_bytes_another_client_wrote_that_are_not_utf8_do_not_fail_a_load(
    memory, groups, redis_url
):
    await _setup(memory, groups)
    note = await memory.add_cache_entry("retry the webhook", session_id="day1")
    raw = redis.Redis.from_url(redis_url)
    try:
        raw.hset(memory._ctx.keys.cache_entry(note.id), "content", b"retry the \xff webhook")
    finally:
        raw.close()
    assert await _group_cache(memory) == ["retry the \ufffd webhook"]
