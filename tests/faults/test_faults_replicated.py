"""durability="replicated": a write is acknowledged only once a replica has it; with the
replica gone the write raises DurabilityError instead of being acknowledged."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import redis
from redis_proc import RedisProcess
from tta_memory import DurabilityError, MemoryWorkflowPrimitive, Settings
from tta_memory.keys import Keys


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_replicated_writes_wait_for_a_replica(tmp_path: Path) -> None:
    port = free_port()
    primary = RedisProcess(tmp_path / "p", "--port", str(port), "--bind", "127.0.0.1")
    replica = RedisProcess(tmp_path / "r", "--replicaof", "127.0.0.1", str(port))
    (tmp_path / "p").mkdir()
    (tmp_path / "r").mkdir()
    primary.start()
    replica.start()
    try:
        admin = redis.Redis(unix_socket_path=str(primary.socket))
        deadline = time.monotonic() + 20
        while admin.info("replication").get("slave0", {}).get("state") != "online":
            assert time.monotonic() < deadline, "the replica did not connect"
            time.sleep(0.05)
        admin.close()
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
    finally:
        replica.kill()
        primary.kill()
