"""Decoded PAFs are reused across loads (stores/pafs.py), but never stale and never shared
with a caller: a PAF changed by another client is seen by the next load, and editing a loaded
PAF does not change what the next load returns."""

from __future__ import annotations

import json

import redis
from tta_memory import MemoryWorkflowPrimitive

CTX = {"session_id": "s1", "workflow_id": "w1"}


async def _loaded_pafs(memory: MemoryWorkflowPrimitive) -> dict[str, str]:
    loaded = await memory.load_context(CTX, "understand", "augster_rigorous")
    return {p.id: p.description for p in loaded.pafs}


async def test_a_paf_changed_by_another_client_is_seen_by_the_next_load(
    memory, redis_url, workspace
):
    await memory.paf_primitive.add_paf("AUTH", "001", "Tokens expire after one hour")
    await memory.paf_primitive.add_paf("DB", "001", "Postgres is the system of record")
    assert (await _loaded_pafs(memory))["AUTH-001"] == "Tokens expire after one hour"

    # Another engine (another user) changes one PAF through the API ...
    other = MemoryWorkflowPrimitive(redis_url, user_id="someone-else", workspace=workspace)
    await other.paf_primitive.update_paf("AUTH-001", description="Tokens expire after 15 min")
    assert (await _loaded_pafs(memory))["AUTH-001"] == "Tokens expire after 15 min"

    # ... and a plain Redis client (another process, an older engine) rewrites the other one.
    key = memory._ctx.keys.pafs()
    raw = redis.Redis.from_url(redis_url)
    try:
        stored = json.loads(raw.hget(key, "DB-001"))
        stored["description"] = "SQLite is the system of record"
        raw.hset(key, "DB-001", json.dumps(stored))
        assert (await _loaded_pafs(memory))["DB-001"] == "SQLite is the system of record"
        raw.hdel(key, "DB-001")
    finally:
        raw.close()
    assert set(await _loaded_pafs(memory)) == {"AUTH-001"}
    assert [p.id for p in await memory.paf_primitive.list_pafs()] == ["AUTH-001"]


async def test_editing_a_loaded_paf_does_not_change_the_next_load(memory):
    await memory.paf_primitive.add_paf("API", "001", "Every endpoint is versioned")
    await memory.paf_primitive.update_paf("API-001", rationale="Clients pin versions")
    first = (await memory.load_context(CTX, "understand", "augster_rigorous")).pafs[0]
    first.description = "edited by the caller"
    first.history.clear()
    listed = (await memory.paf_primitive.list_pafs())[0]
    listed.history.append(listed.history[0])

    again = (await memory.load_context(CTX, "understand", "augster_rigorous")).pafs[0]
    assert again.description == "Every endpoint is versioned"
    assert len(again.history) == 1 and again.history[0].version == 1
    assert again == await memory.paf_primitive.get_paf("API-001")
