"""The ``redis-server`` command line of the embedded server."""

from __future__ import annotations

import os
from pathlib import Path

from tta_memory.server.discovery import (
    ENV_MODULES,
    ENV_SERVER,
    MODULE_FILES,
    find_modules_dir,
    find_redis_server,
    has_stack_wheel,
)


def build_command(
    binary: str | None,
    modules_dir: str | None,
    *,
    socket_path: Path,
    data_dir: Path,
    pid_file: Path,
    log_file: Path,
) -> list[str]:
    """Arguments that start a daemonized server on a unix socket with AOF persistence.

    The configuration read from stdin (``-``: the password) must come first or last; it comes
    first so the module arguments can follow.

    Raises:
        ServerNotFoundError: No binary or modules.
    """
    server = find_redis_server(binary)
    explicit_binary = bool(binary or os.environ.get(ENV_SERVER))
    explicit_modules = bool(modules_dir or os.environ.get(ENV_MODULES))
    if explicit_binary and not explicit_modules and not has_stack_wheel():
        # A configured Redis 8 has the Query Engine and JSON built in; the readiness check
        # still refuses a server that lacks them.
        modules = None
    else:
        modules = find_modules_dir(modules_dir)
    args = [
        server,
        # The password comes on stdin, never on the command line that ps shows.
        "-",
        "--port", "0",
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--dir", str(data_dir),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        # AOF is the persistence; RDB snapshots would only double the disk writes.
        "--save", "",
        "--daemonize", "yes",
        "--pidfile", str(pid_file),
        "--logfile", str(log_file),
    ]  # fmt: skip
    return args + module_args(modules)


def module_args(modules: Path | None) -> list[str]:
    """``--loadmodule`` arguments for the Query Engine and JSON modules in ``modules`` (none when
    ``None``: a Redis 8 build with both built in)."""
    if modules is None:
        return []
    return [arg for name in MODULE_FILES for arg in ("--loadmodule", str(modules / name))]
