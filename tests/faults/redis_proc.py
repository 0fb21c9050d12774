"""A redis-server (with the Query Engine) owned by one fault test: it can be stalled, killed
and restarted, which the shared session server must never be."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis
from tta_memory.server import find_modules_dir, find_redis_server, process
from tta_memory.server.launch import module_args


class RedisProcess:
    """One redis-server child process on a unix socket in ``root``.

    Args:
        root: A private temporary directory (data and socket live in it).
        args: Extra ``redis-server`` arguments (``--maxmemory``, ``--appendfsync`` …).
    """

    def __init__(self, root: Path, *args: str) -> None:
        self.root = root
        self.data = root / "data"
        self.socket = root / "r.sock"
        self.args = list(args)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def command(self) -> list[str]:
        cmd = [
            find_redis_server(),
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.data),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(self.root / "redis.log"),
        ]  # fmt: skip
        return cmd + module_args(find_modules_dir()) + self.args

    def start(self) -> None:
        """Launch the server and wait until it answers PING (its AOF loaded)."""
        self.data.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        proc = self.proc = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

        def answers() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited at start.{self.log_tail()}")
            return process.probe(self.socket, None) == "ready"

        if not process.wait_until(answers, time.monotonic() + 30, first=0.02, cap=0.02):
            raise RuntimeError(f"redis-server did not answer within 30 s.{self.log_tail()}")

    def log_tail(self) -> str:
        return process.log_tail(self.root / "redis.log")

    def signal(self, sig: signal.Signals) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def stall(self) -> None:
        """Freeze the process (SIGSTOP): connections stay open, nothing answers."""
        self.signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.signal(signal.SIGCONT)

    def kill(self) -> None:
        """kill -9: no chance to flush anything."""
        if self.proc is not None:
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None

    def wipe(self) -> None:
        """Delete the data directory (a server that comes back empty)."""
        shutil.rmtree(self.data, ignore_errors=True)

    def stop(self) -> None:
        self.kill()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_replica_online(primary: RedisProcess, timeout: float = 20.0) -> None:
    """Wait until ``primary`` reports its first replica ``online`` (the initial sync done)."""
    admin = redis.Redis(unix_socket_path=str(primary.socket))
    try:
        if not process.wait_until(
            lambda: admin.info("replication").get("slave0", {}).get("state") == "online",
            time.monotonic() + timeout,
            first=0.05,
            cap=0.05,
        ):
            raise RuntimeError(f"the replica did not connect within {timeout:.0f} s")
    finally:
        admin.close()
