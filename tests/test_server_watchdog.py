"""A server started by ``with EmbeddedRedis(...)`` stops when the process that started it is
killed before leaving the block (tta_memory.server.watchdog); an ordinary exit leaves no watch
behind, and a server adopted from another process is never watched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from tta_memory.server import EmbeddedRedis, process

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the watch needs /proc")

CHILD = """
import json, sys, time
from tta_memory.server import EmbeddedRedis
with EmbeddedRedis(data_dir=sys.argv[1]) as server:
    print(json.dumps({"pid": server.pid}), flush=True)
    time.sleep(600)
"""


def _wait_gone(pid: int, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not process.pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_a_killed_process_takes_its_server_with_it(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(tmp_path / "data")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    server_pid = json.loads(child.stdout.readline())["pid"]
    assert process.pid_alive(server_pid)
    child.kill()  # SIGKILL: no __exit__, no finally
    child.wait()
    try:
        assert _wait_gone(server_pid, 10), "the server outlived the process that started it"
    finally:
        if process.pid_alive(server_pid):
            os.kill(server_pid, signal.SIGKILL)
    # it went by SIGTERM: Redis wrote its AOF and said so
    assert "Redis is now ready to exit" in (tmp_path / "data" / "redis.log").read_text()


def test_an_ordinary_exit_leaves_no_watch(tmp_path: Path) -> None:
    with EmbeddedRedis(data_dir=tmp_path / "data") as server:
        watch = server._watch
        assert watch is not None and watch.poll() is None
        # a server adopted from another handle is not this handle's to watch or stop
        with EmbeddedRedis(data_dir=tmp_path / "data") as adopted:
            assert adopted._watch is None
        assert server.is_running()
    assert watch.poll() is not None
    assert not server.is_running()
