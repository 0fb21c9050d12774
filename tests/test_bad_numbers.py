"""The bad numbers issue 8 named: refused before anything is stored, and a stored value that
does not decode never breaks a later read."""

from __future__ import annotations

import math

import pytest
import redis
from tta_memory import InvalidInputError, MemoryWorkflowPrimitive


async def test_a_refused_session_ttl_stores_nothing(memory: MemoryWorkflowPrimitive) -> None:
    await memory.add_session_message("s", "user", "kept")
    for ttl in (10**20, math.inf, math.nan, -1, 0, 1.5, True):
        with pytest.raises(InvalidInputError, match="ttl_seconds"):
            await memory.add_session_message("s", "user", "refused", ttl_seconds=ttl)
    assert [m.content for m in await memory.get_session_context("s")] == ["kept"]
    assert [e.content for e in await memory.get_cache_memory("s")] == ["kept"]


async def test_refused_numbers_of_the_cache_layer(memory: MemoryWorkflowPrimitive) -> None:
    for kwargs in ({"ttl_seconds": 10**20}, {"importance": math.nan}, {"importance": 10**30}):
        with pytest.raises(InvalidInputError):
            await memory.add_cache_entry("note", **kwargs)
    for hours in (math.nan, math.inf, -1, 0, 10**30):
        with pytest.raises(InvalidInputError, match="time_window_hours"):
            await memory.get_cache_memory(time_window_hours=hours)
    assert await memory.get_cache_memory() == []


async def test_a_poisoned_stored_note_never_breaks_later_reads(
    memory: MemoryWorkflowPrimitive, redis_url: str
) -> None:
    """A note written with out-of-range fields (an older version, or by hand) is read with
    clamped or default values; every read of the user keeps working."""
    good = await memory.add_cache_entry("good note", session_id="s")
    bad = await memory.add_cache_entry("bad note", session_id="s")
    client = redis.Redis.from_url(redis_url)
    key = next(
        k
        for k in client.scan_iter(f"{memory.settings.prefix}:*{bad.id}*", count=10_000)
        if b"cache" in k
    )
    client.hset(key, mapping={"expires_at": "1e300", "importance": "nan", "metadata": "{oops"})
    client.close()
    entries = {e.id: e for e in await memory.get_cache_memory("s")}
    assert set(entries) == {good.id, bad.id}
    assert entries[bad.id].expires_at is not None and entries[bad.id].expires_at.year == 9999
    assert entries[bad.id].metadata == {}
    context = await memory.load_workflow_context({"workflow_id": "w", "session_id": "x"}, "plan")
    assert bad.id in [e.id for e in context.metadata["cache_memory"]]


async def test_a_negative_or_huge_policy_is_refused(memory: MemoryWorkflowPrimitive) -> None:
    ctx = {"workflow_id": "w", "session_id": "s"}
    for policy in ({"deep_k": -1}, {"messages": -5}, {"cache_hours": math.nan}, {"deep_k": 10**9}):
        with pytest.raises(InvalidInputError, match="policy"):
            await memory.load_workflow_context(ctx, "plan", policy=policy)
