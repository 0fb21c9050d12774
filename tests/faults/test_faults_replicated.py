"""durability="replicated": a write is acknowledged only once a replica has it; with the
replica gone the write raises DurabilityError instead of being acknowledged."""

from __future__ import annotations

import pytest
import redis
from redis_proc import RedisProcess
from tta_memory import DurabilityError, MemoryWorkflowPrimitive, Settings
from tta_memory.keys import Keys


async def test_replicated_writes_wait_for_a_replica(
    replicated: tuple[RedisProcess, RedisProcess],
) -> None:
    primary, replica = replicated
    settings = Settings(prefix="repl", durability="replicated", socket_timeout=1.0)
    memory = MemoryWorkflowPrimitive(primary.url, "u", workspace="w", settings=settings)
    first = await memory.add_session_message("s", "user", "replicated")
    mirror = redis.Redis(unix_socket_path=str(replica.socket))
    active = Keys("repl", "w").session_active("s")
    assert any(b"replicated" in m for m in mirror.zrange(active, 0, -1))
    mirror.close()

    replica.kill()
    with pytest.raises(DurabilityError, match="replica"):
        await memory.add_session_message("s", "user", "not acknowledged")
    assert first.seq == 1
