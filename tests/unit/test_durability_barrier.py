"""The durability barrier both clients send after a write: which commands each setting asks
for, and which replies confirm a write (no Redis: the replies are given)."""

from __future__ import annotations

import pytest
from redis.exceptions import ResponseError
from tta_memory.config import Settings
from tta_memory.durability import Barrier, is_write
from tta_memory.errors import DurabilityError, NotReplicatedError


def test_everysec_sends_nothing() -> None:
    assert Barrier.of(Settings(durability="everysec")) is None


def test_each_setting_asks_for_its_commands() -> None:
    strict = Barrier.of(Settings(durability="strict", socket_timeout=4))
    assert strict is not None and strict.commands == (("WAITAOF", 1, 0, 3200),)
    replicated = Barrier.of(Settings(durability="replicated", wait_timeout_ms=1000))
    assert replicated is not None and replicated.commands == (("WAIT", 1, 1000),)
    # wait_replicas raises the count, on one server as on a cluster; strict adds WAITAOF.
    both = Barrier.of(Settings(durability="strict", wait_replicas=2, socket_timeout=1))
    assert both is not None and both.commands == (("WAITAOF", 1, 0, 800), ("WAIT", 2, 800))


def test_replies_that_do_not_confirm_raise_typed_errors() -> None:
    barrier = Barrier.of(Settings(durability="strict", wait_replicas=2))
    assert barrier is not None
    barrier.check([[1, 0], 2])  # fsynced locally, two replicas: acknowledged
    with pytest.raises(DurabilityError, match="fsynced"):
        barrier.check([[0, 0], 2])
    with pytest.raises(NotReplicatedError, match="1 of the 2 replica"):
        barrier.check([[1, 0], 1])
    with pytest.raises(DurabilityError, match="WAITAOF"):
        barrier.check([ResponseError("unknown command 'WAITAOF'"), 2])


@pytest.mark.parametrize("command", ["SET", "HSET", "EVALSHA", "ZADD", b"DEL", "SOMETHINGNEW"])
def test_writes_and_unknown_commands_get_the_barrier(command: str | bytes) -> None:
    assert is_write(command)


@pytest.mark.parametrize("command", ["GET", "HMGET", "FT.SEARCH", "WATCH", "EXEC", "WAIT"])
def test_reads_and_control_commands_do_not(command: str) -> None:
    assert not is_write(command)
