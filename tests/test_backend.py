"""A Redis without the Query Engine gets a clear, typed error — never a raw 'unknown command'."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tta_memory import MemoryWorkflowPrimitive, QueryEngineMissingError, Settings
from tta_memory.server import find_redis_server, process


@pytest.fixture
def plain_redis(tmp_path: Path) -> Iterator[str]:
    """The bundled redis-server started without the search and JSON modules."""
    sock = tmp_path / "plain.sock"
    proc = subprocess.Popen(
        [
            find_redis_server(),
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        if not process.wait_until(
            lambda: process.probe(sock, None) == "ready", deadline, first=0.05, cap=0.05
        ):
            raise RuntimeError("the plain redis-server did not answer within 10 s")
        yield f"unix://{sock}"
    finally:
        proc.terminate()
        proc.wait(10)


async def test_redis_without_query_engine_is_named(plain_redis: str) -> None:
    memory = MemoryWorkflowPrimitive(plain_redis, "u", settings=Settings(prefix="qe"))
    with pytest.raises(QueryEngineMissingError) as info:
        await memory.add_session_message("s", "user", "hello")
    message = str(info.value)
    assert "Query Engine" in message
    assert "Redis 8" in message
    assert "unknown command" not in message.splitlines()[0].split("(")[0]
