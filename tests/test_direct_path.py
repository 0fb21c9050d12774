"""The engine client's direct path for single commands (connection.EngineRedis._direct): what
redis-py's own path promises still holds — replies parsed the same way, connections given back
(none leaked, none shared by two commands at once), waiters for a full pool served, a lost
connection retried — on a real server."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.config import Settings
from tta_memory.connection import EnginePool, make_client


@pytest.fixture
async def client(redis_url: str):
    c = make_client(redis_url, Settings())
    yield c
    await c.aclose()


def _counts(pool: EnginePool) -> tuple[int, int]:
    return len(pool._available_connections), len(pool._in_use_connections)


async def test_replies_are_parsed_as_on_redis_py_path(client) -> None:
    key = f"direct:{uuid.uuid4().hex}"
    assert await client.set(key, "v") is True  # the SET callback
    assert await client.execute_command("GET", key) == b"v"
    await client.zadd(f"{key}:z", {"a": 1.5, "b": 2})
    # options reach the callback (withscores pairs, floats)
    assert await client.zrange(f"{key}:z", 0, -1, withscores=True) == [(b"a", 1.5), (b"b", 2.0)]
    assert await client.hgetall(f"{key}:none") == {}
    with pytest.raises(aioredis.ResponseError):
        await client.execute_command("INCR", key)  # not an integer: the server's error


async def test_sequential_commands_reuse_one_connection(client) -> None:
    key = f"direct:{uuid.uuid4().hex}"
    for i in range(200):
        assert await client.execute_command("INCR", key) == i + 1
    assert _counts(client.connection_pool) == (1, 0)


async def test_concurrent_commands_never_share_a_connection(client) -> None:
    key = f"direct:{uuid.uuid4().hex}"
    await client.execute_command("SET", key, 0)  # one idle connection to start from
    # Each INCR's reply must be its own: a connection shared by two commands at once would
    # hand one command the other's reply (seen as duplicates or a wrong count).
    replies = await asyncio.gather(*(client.execute_command("INCR", key) for _ in range(300)))
    assert sorted(replies) == list(range(1, 301))
    available, in_use = _counts(client.connection_pool)
    assert in_use == 0 and 1 <= available <= client.connection_pool.max_connections


async def test_callers_waiting_for_a_full_pool_are_served(client) -> None:
    pool = client.connection_pool
    pool.max_connections = 2
    key = f"direct:{uuid.uuid4().hex}"
    replies = await asyncio.gather(*(client.execute_command("INCR", key) for _ in range(100)))
    assert sorted(replies) == list(range(1, 101))
    available, in_use = _counts(pool)
    assert in_use == 0 and available <= 2


async def test_a_connection_killed_by_the_server_is_retried(client, redis_url: str) -> None:
    key = f"direct:{uuid.uuid4().hex}"
    await client.execute_command("SET", key, 1)
    other = aioredis.Redis.from_url(redis_url)
    try:
        killed = await other.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    finally:
        await other.aclose()
    assert killed >= 1
    # The idle connection is dead; the command is retried on a fresh one.
    assert await client.execute_command("INCR", key) == 2
    assert _counts(client.connection_pool)[1] == 0


async def test_appends_through_the_direct_path_keep_their_cache_entries(memory) -> None:
    # The store builds a message's cache-entry key from a prefix and the id: the cache layer
    # must find the entry under the key it computes itself.
    msg = await memory.add_session_message("s", "user", "where the entry lives")
    entry = await memory.cache.get(msg.id)
    assert entry is not None and entry.content == "where the entry lives"
    assert entry.session_id == "s"


@pytest.mark.parametrize("bad", [" s", "", 5, "s\x00"])
async def test_a_bad_session_id_is_refused_after_good_ones(memory, bad) -> None:
    await memory.add_session_message("s", "user", "first")  # the good id is now cached
    with pytest.raises(ValueError):  # InvalidInputError is a ValueError
        await memory.add_session_message(bad, "user", "second")
    assert await memory.count_session_messages("s") == 1


async def test_blocking_twin_inside_a_thread_pool(memory: MemoryWorkflowPrimitive) -> None:
    # The blocking hand-off (sync.py) from many threads at once: every call returns its own
    # message, in each thread's order.
    def work(t: int) -> list[int]:
        return [memory.sync.add_session_message("t", "user", f"{t}:{i}").seq for i in range(20)]

    per_thread = await asyncio.gather(*(asyncio.to_thread(work, t) for t in range(6)))
    for seqs in per_thread:
        assert seqs == sorted(seqs)
    assert sorted(s for seqs in per_thread for s in seqs) == list(range(1, 121))


async def test_the_benchmark_recorder_sees_direct_writes(client) -> None:
    # benchmarks/harness.CommandRecorder counts an engine call's round trips by hooking the
    # connection's write, which the engine's connections do through DirectWrite.
    from benchmarks import harness as h

    key = f"direct:{uuid.uuid4().hex}"
    await client.execute_command("SET", key, 1)
    with h.CommandRecorder() as rec:
        await client.execute_command("INCR", key)
        async with client.pipeline(transaction=False) as pipe:
            pipe.get(key)
            pipe.strlen(key)
            await pipe.execute()
    assert len(rec.trips) == 2 and rec.command_names() == ["INCR", "GET", "STRLEN"]
