"""A server that restarts — with its data, or empty — is used again by the same engine
objects without a process restart: indexes are re-created, scripts re-loaded."""

from __future__ import annotations

from calls import engines, public_calls, seed, unserved
from redis_proc import RedisProcess


async def test_restart_without_data_recovers_every_call(server: RedisProcess) -> None:
    memory, groups = engines(server.url, "restart")
    calls = public_calls(memory, groups, await seed(memory, groups))
    server.kill()
    server.wipe()
    server.start()

    # Reads of an empty server answer empty (never "no such index"), writes work again.
    assert await memory.search_deep_memory("redis") == []
    assert await memory.get_cache_memory() == []
    assert await groups.list_groups() == []
    assert await memory.get_session_context("s1") == []
    assert await unserved(calls) == {}
    created = await memory.create_deep_memory("Indexes come back after a wipe", tags=["ops"])
    found = await memory.search_deep_memory("indexes wipe", tags=["ops"])
    assert created.id in [m.id for m in found]
    note = await memory.add_cache_entry("fresh note", session_id="s1")
    assert note.id in [e.id for e in await memory.get_cache_memory("s1")]
    group_id = await groups.create_group("again", tags=["ops"])
    assert group_id in [g.id for g in await groups.list_groups(tags=["ops"])]


async def test_restart_with_data_keeps_serving(server: RedisProcess) -> None:
    # strict: what was acknowledged before the kill -9 is on disk (everysec may lose it).
    memory, groups = engines(server.url, "restart", durability="strict")
    ids = await seed(memory, groups)
    server.kill()  # kill -9: the connections in the pool are dead
    server.start()
    assert (await memory.get_deep_memory(ids.memory_id)).text == "Redis runs with the Query Engine"
    assert [m.id for m in await memory.search_deep_memory("query engine")] == [ids.memory_id]
    message = await memory.add_session_message("s1", "user", "after the restart")
    assert message.seq == 2  # the sequence survived with the data
    assert (await groups.get_group(ids.group_id)).session_ids == ["s1"]
