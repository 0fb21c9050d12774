"""Fixtures of the fault tests: redis-server processes of each test's own (see
:mod:`redis_proc`), which may be stalled, killed, wiped and restarted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from redis_proc import RedisProcess, free_port, wait_replica_online


@pytest.fixture
def server_args() -> tuple[str, ...]:
    """Extra ``redis-server`` arguments of :func:`server`; a test module overrides this fixture
    to configure its server (e.g. ``--maxmemory-policy``)."""
    return ()


@pytest.fixture
def server(tmp_path: Path, server_args: tuple[str, ...]) -> Iterator[RedisProcess]:
    """A started server of this test alone, killed at the end whatever the test did to it."""
    proc = RedisProcess(tmp_path, *server_args)
    proc.start()
    try:
        yield proc
    finally:
        proc.kill()


@pytest.fixture
def replicated(tmp_path: Path) -> Iterator[tuple[RedisProcess, RedisProcess]]:
    """A primary (on a TCP port of 127.0.0.1, which replication needs) and its replica, with the
    replica's link up; both killed at the end."""
    port = free_port()
    primary = RedisProcess(tmp_path / "p", "--port", str(port), "--bind", "127.0.0.1")
    replica = RedisProcess(tmp_path / "r", "--replicaof", "127.0.0.1", str(port))
    try:
        primary.start()
        replica.start()
        wait_replica_online(primary)
        yield primary, replica
    finally:
        replica.kill()
        primary.kill()
