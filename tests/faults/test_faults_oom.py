"""Redis at its memory limit: a batch of deep memories is stored whole or not at all, and the
counters the query planner reads agree with what is stored."""

from __future__ import annotations

import pytest
import redis
from redis_proc import RedisProcess
from tta_memory import BackendFullError, MemoryWorkflowPrimitive, Settings
from tta_memory.keys import Keys

TEXT_CHARS = 20_000


@pytest.fixture
def server_args() -> tuple[str, ...]:
    return ("--maxmemory-policy", "noeviction")


def texts(n: int, start: int = 0) -> list[dict[str, object]]:
    return [
        {"text": f"memory {i}: " + f"word{i} " * (TEXT_CHARS // 8), "tags": ["bulk"]}
        for i in range(start, start + n)
    ]


async def stored_and_counted(memory: MemoryWorkflowPrimitive) -> tuple[int, int, int]:
    found = await memory.search_deep_memory("", limit=1000)
    client = redis.Redis.from_url(memory.redis_url)
    stats = Keys(memory.settings.prefix, memory.workspace).deep_stats()
    n, tagged = client.hmget(stats, ["n", "t:bulk"])
    client.close()
    return len(found), int(n or 0), int(tagged or 0)


async def test_batch_under_maxmemory_is_all_or_nothing(server: RedisProcess) -> None:
    memory = MemoryWorkflowPrimitive(
        server.url, "alice", workspace="oom", settings=Settings(prefix="oom")
    )
    await memory.create_deep_memories(texts(2))
    admin = redis.Redis(unix_socket_path=str(server.socket))
    used = int(admin.info("memory")["used_memory"])
    # Room for a few of the 30 x 20 KB memories, not for all of them.
    admin.config_set("maxmemory", used + 200_000)
    admin.close()

    try:
        result = await memory.create_deep_memories(texts(30, start=2))
    except BackendFullError:
        result = []
    found, counted, tagged = await stored_and_counted(memory)
    print(f"\nOOM batch: {len(result)} of 30 returned, {found - 2} stored")
    assert found - 2 in (0, 30)  # never a half-written batch
    assert len(result) == found - 2
    assert counted == found and tagged == found
