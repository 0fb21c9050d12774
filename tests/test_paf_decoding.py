"""PAF reads (stores/pafs/reads.py): the list is sent again only when its version token changed,
yet every change made through the engine is seen by the next load, a PAF written around the
engine is seen within the held list's age, and editing a loaded PAF never changes what the next
load returns."""

from __future__ import annotations

import json

import pytest
import redis
from tta_memory import MemoryWorkflowPrimitive, workspaces
from tta_memory.stores.pafs import reads as paf_reads
from tta_memory.workspaces import delete_workspace

CTX = {"session_id": "s1", "workflow_id": "w1"}


async def _loaded_pafs(memory: MemoryWorkflowPrimitive) -> dict[str, str]:
    loaded = await memory.load_context(CTX, "understand", "augster_rigorous")
    return {p.id: p.description for p in loaded.pafs}


def _rewrite(redis_url: str, key: str, paf_id: str, description: str) -> None:
    """Change a PAF the way a plain Redis client would: no new version token."""
    raw = redis.Redis.from_url(redis_url)
    try:
        stored = json.loads(raw.hget(key, paf_id))
        stored["description"] = description
        raw.hset(key, paf_id, json.dumps(stored))
    finally:
        raw.close()


async def test_every_change_through_the_engine_is_seen_by_the_next_load(
    memory, redis_url, workspace
):
    await memory.paf_primitive.add_paf("AUTH", "001", "Tokens expire after one hour")
    await memory.paf_primitive.add_paf("DB", "001", "Postgres is the system of record")
    assert (await _loaded_pafs(memory))["AUTH-001"] == "Tokens expire after one hour"

    # Another engine (another user, another process) changes, deprecates and deletes PAFs.
    other = MemoryWorkflowPrimitive(redis_url, user_id="someone-else", workspace=workspace)
    await other.paf_primitive.update_paf("AUTH-001", description="Tokens expire after 15 min")
    assert (await _loaded_pafs(memory))["AUTH-001"] == "Tokens expire after 15 min"
    await other.paf_primitive.add_paf("API", "001", "Every endpoint is versioned")
    assert set(await _loaded_pafs(memory)) == {"API-001", "AUTH-001", "DB-001"}
    await other.paf_primitive.deprecate_paf("DB-001", "moved to SQLite")
    assert set(await _loaded_pafs(memory)) == {"API-001", "AUTH-001"}  # active ones only
    await other.pafs.delete("API-001")
    assert set(await _loaded_pafs(memory)) == {"AUTH-001"}
    assert [p.id for p in await memory.paf_primitive.list_pafs()] == ["AUTH-001", "DB-001"]

    # An import (restore) is a change like any other.
    restored = (await memory.paf_primitive.list_pafs())[0].model_copy(
        update={"description": "Tokens expire after 5 min"}
    )
    await other.pafs.restore([restored])
    assert (await _loaded_pafs(memory))["AUTH-001"] == "Tokens expire after 5 min"


async def test_an_unchanged_list_is_not_sent_again(memory, redis_url):
    """Between two loads a plain client rewrites a PAF without a new token: the second load
    answers from the held list (which is what spares the 94 KB reply), until the token
    changes."""
    await memory.paf_primitive.add_paf("AUTH", "001", "Tokens expire after one hour")
    await memory.paf_primitive.add_paf("DB", "001", "Postgres is the system of record")
    assert (await _loaded_pafs(memory))["DB-001"] == "Postgres is the system of record"

    _rewrite(redis_url, memory._ctx.keys.pafs(), "DB-001", "SQLite is the system of record")
    assert (await _loaded_pafs(memory))["DB-001"] == "Postgres is the system of record"

    # Any write through the engine names the hash's contents anew: both changes are seen.
    await memory.paf_primitive.update_paf("AUTH-001", description="Tokens expire after 15 min")
    assert await _loaded_pafs(memory) == {
        "AUTH-001": "Tokens expire after 15 min",
        "DB-001": "SQLite is the system of record",
    }


async def test_a_paf_written_around_the_engine_is_seen_once_the_held_list_is_old(
    memory, redis_url, monkeypatch
):
    await memory.paf_primitive.add_paf("DB", "001", "Postgres is the system of record")
    assert (await _loaded_pafs(memory))["DB-001"] == "Postgres is the system of record"
    _rewrite(redis_url, memory._ctx.keys.pafs(), "DB-001", "SQLite is the system of record")
    monkeypatch.setattr(paf_reads, "MAX_AGE_S", 0.0)
    assert (await _loaded_pafs(memory))["DB-001"] == "SQLite is the system of record"


async def test_pafs_written_before_versions_get_one_on_first_use(redis_url, workspace):
    """A workspace whose PAF hash has no version key (an older engine wrote it) is read whole
    the first time, then answered from the held list like any other."""
    first = MemoryWorkflowPrimitive(redis_url, workspace=workspace)
    await first.paf_primitive.add_paf("DB", "001", "Postgres is the system of record")
    raw = redis.Redis.from_url(redis_url)
    try:
        raw.delete(first._ctx.keys.paf_version())
        paf_reads._HELD.clear()
        # The registry is per process: forget this workspace so that the next engine is "new".
        workspaces._registered.clear()
        later = MemoryWorkflowPrimitive(redis_url, workspace=workspace)
        assert (await _loaded_pafs(later))["DB-001"] == "Postgres is the system of record"
        assert raw.exists(first._ctx.keys.paf_version())
    finally:
        raw.close()
    _rewrite(redis_url, first._ctx.keys.pafs(), "DB-001", "SQLite is the system of record")
    assert (await _loaded_pafs(later))["DB-001"] == "Postgres is the system of record"


async def test_a_recreated_workspace_never_shows_the_old_pafs(redis_url, workspace):
    memory = MemoryWorkflowPrimitive(redis_url, workspace=workspace)
    await memory.paf_primitive.add_paf("DB", "001", "Postgres is the system of record")
    assert set(await _loaded_pafs(memory)) == {"DB-001"}
    await delete_workspace(memory)
    assert await _loaded_pafs(memory) == {}
    await memory.paf_primitive.add_paf("API", "001", "Every endpoint is versioned")
    assert set(await _loaded_pafs(memory)) == {"API-001"}


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


@pytest.mark.parametrize("held", [True, False])
async def test_a_lost_script_cache_is_reloaded(memory, redis_url, held):
    """A server that forgot its scripts (restart, SCRIPT FLUSH) answers NOSCRIPT: the load
    sends the script and goes on."""
    await memory.paf_primitive.add_paf("API", "001", "Every endpoint is versioned")
    if held:
        assert set(await _loaded_pafs(memory)) == {"API-001"}
    raw = redis.Redis.from_url(redis_url)
    try:
        raw.script_flush()
    finally:
        raw.close()
    assert set(await _loaded_pafs(memory)) == {"API-001"}
