"""What ``EmbeddedRedis.status()`` and ``tta-memory server status`` report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ServerStatus:
    """What :meth:`EmbeddedRedis.status` reports.

    Attributes:
        running: Whether the server answers PING.
        url: ``unix://`` URL of the socket, with the password shown as ``***`` (this is for
            display; :attr:`EmbeddedRedis.url` is the URL to connect with).
        pid: Server process id (from the pid file), or ``None``.
        data_dir: Data directory (AOF lives in ``appendonlydir/`` below it).
        socket_path: Unix socket path.
        log_file: Server log file.
        password_file: File holding the server password (mode 0600).
        version: ``redis_version`` when running.
        modules: Loaded module name -> version string (e.g. ``{"search": "2.10.5"}``).
    """

    running: bool
    url: str
    pid: int | None
    data_dir: Path
    socket_path: Path
    log_file: Path
    password_file: Path
    version: str | None = None
    modules: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of the status."""
        return {
            "running": self.running,
            "url": self.url,
            "pid": self.pid,
            "data_dir": str(self.data_dir),
            "socket_path": str(self.socket_path),
            "log_file": str(self.log_file),
            "password_file": str(self.password_file),
            "version": self.version,
            "modules": dict(self.modules),
        }
