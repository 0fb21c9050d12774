"""The engine's connections pack commands with hiredis (connection.py): the same bytes as
redis-py's Python packer, for every kind of argument the engine sends."""

from __future__ import annotations

import pytest
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import DataError
from tta_memory.config import Settings
from tta_memory.connection import HiredisPacking, make_client

COMMANDS = [
    ("SET", "k", "v"),
    ("CONFIG SET", "appendfsync", "always"),  # a command name with a space is split
    ("ZADD", "{b.1}:z", 1796070497.6887512, "member"),
    ("X", 0.1, 1e20, float("inf"), -0.0, 3, 2**70, "é", b"\x00\xff", memoryview(b"ab")),
    ("FT.SEARCH", "idx", "@text:(a | b)", "PARAMS", 2, "vector", bytes(range(256)) * 6),
]


@pytest.mark.parametrize("url", ["unix:///tmp/x.sock", "redis://127.0.0.1:6379/0"])
def test_the_engine_pool_packs_with_hiredis(url):
    client = make_client(url, Settings())
    cls = client.connection_pool.connection_class
    assert issubclass(cls, HiredisPacking)
    expected = UnixDomainSocketConnection if url.startswith("unix") else Connection
    assert issubclass(cls, expected)


@pytest.mark.parametrize("args", COMMANDS)
def test_packed_bytes_equal_redis_py_python_packer(args):
    fast = make_client("redis://127.0.0.1:6379/0", Settings()).connection_pool.make_connection()
    assert b"".join(fast.pack_command(*args)) == b"".join(Connection().pack_command(*args))
    pipeline = [args, ("GET", "k")]
    assert b"".join(fast.pack_commands(pipeline)) == b"".join(Connection().pack_commands(pipeline))


@pytest.mark.parametrize("bad", [None, True, object()])
def test_an_argument_redis_cannot_take_is_a_data_error(bad):
    fast = make_client("redis://127.0.0.1:6379/0", Settings()).connection_pool.make_connection()
    with pytest.raises(DataError):
        fast.pack_command("SET", "k", bad)
