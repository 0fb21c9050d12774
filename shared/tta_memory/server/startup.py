"""Bringing one daemonized ``redis-server`` up: run the launcher, then wait until the server
answers on its socket with the Query Engine and JSON loaded.

:class:`~tta_memory.server.embedded.EmbeddedRedis` decides *whether* to start (adopting a running
server, the start lock, stopping a half-started one); this module does the start itself and turns
each way it can fail into a typed error that carries the server log's tail.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path

from tta_memory.errors import BackendUnavailableError, ServerNotFoundError
from tta_memory.server import process
from tta_memory.server.auth import (
    OWNER_ONLY_UMASK,
    PASSWORD_NAME,
    ensure_password,
    read_password,
    redact_url,
    restrict_tree,
    url_with_password,
)
from tta_memory.server.discovery import ENV_MODULES, INSTALL_HINT, MODULE_FILES

# Names MODULE LIST reports for the two modules the engine needs.
# How long a server that reports it is loading its data may take: loading rebuilds the vector
# indexes, ~45 s per 100k memories here (the 1M lab: ~8 minutes), so this is ample, not a guess
# at a hang (a process that exits is seen at once).
LOADING_LIMIT_S = 1800.0
REQUIRED_MODULES = {"search": "Redis Query Engine (redisearch.so)", "ReJSON": "JSON (rejson.so)"}


def daemonize(
    command: list[str],
    *,
    data_dir: Path,
    socket_path: Path,
    pid_file: Path,
    log_file: Path,
    timeout: float,
) -> int:
    """Run the ``--daemonize`` launcher of :func:`~tta_memory.server.launch.build_command`.

    Args:
        command: The launcher's arguments.
        data_dir: The server's data directory (gets the password file, made owner-only).
        socket_path: The unix socket (a leftover one is removed first).
        pid_file: The pid file (a leftover one is removed first).
        log_file: The server log.
        timeout: Seconds the launcher may take.

    Returns:
        The log size before the launch: where this start's lines begin.

    Raises:
        ServerNotFoundError: ``command[0]`` cannot be executed.
        BackendUnavailableError: The launcher failed or hung.
    """
    # Leftovers of a killed server: a stale pid file would pass for the new process dying.
    for leftover in (socket_path, pid_file):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
    log_offset = log_file.stat().st_size if log_file.exists() else 0
    password = ensure_password(data_dir)
    restrict_tree(data_dir)
    try:
        # --daemonize: the launcher exits once the server forked, so this returns quickly;
        # argument errors are reported here, runtime errors (modules) go to the log.
        # umask 077: the AOF, log and pid files Redis creates are owner-only.
        proc = subprocess.run(
            command,
            input=f"requirepass {password}\n",
            umask=OWNER_ONLY_UMASK,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BackendUnavailableError(
            f"redis-server did not daemonize within {timeout:.0f}s "
            f"({command[0]}).{process.log_tail(log_file, log_offset)}"
        ) from None
    except OSError as exc:
        raise ServerNotFoundError(f"Cannot execute {command[0]}: {exc}. {INSTALL_HINT}") from exc
    if proc.returncode != 0:
        output = (proc.stderr or proc.stdout or "").strip()
        raise BackendUnavailableError(
            f"redis-server failed to start (exit {proc.returncode}): {output[-2000:]}"
            f"{process.log_tail(log_file, log_offset)}"
        )
    return log_offset


def wait_ready(
    socket_path: Path,
    *,
    data_dir: Path,
    pid_file: Path,
    log_file: Path,
    timeout: float,
    pid: int | None = None,
    log_offset: int = 0,
    raise_on_timeout: bool = True,
) -> bool:
    """Poll until the server answers PING with the modules loaded, or give up.

    The deadline is ``timeout``, extended to :data:`LOADING_LIMIT_S` once the server has reported
    it is loading its data, since that is progress, not a hang. (Its own loop rather than
    :func:`process.wait_until`: two deadlines chosen by the server's state.)

    Args:
        socket_path: The server's unix socket.
        data_dir: Its data directory (the password, and the messages).
        pid_file: Where the daemon writes its pid (read while ``pid`` is unknown).
        log_file: The server log, whose tail goes into the errors.
        timeout: Seconds to wait for a server that is not loading.
        pid: The server's pid when known (a server already running).
        log_offset: Where this start's lines begin in the log.
        raise_on_timeout: Return ``False`` instead of raising when the server exited or did not
            answer in time.

    Returns:
        ``True`` when the server is ready.

    Raises:
        BackendUnavailableError: It refuses the password, exited, or did not answer in time.
        ServerNotFoundError: It runs without the Query Engine or JSON.
    """
    password = read_password(data_dir)
    started = time.monotonic()
    deadline = started + timeout
    loading_deadline = started + max(timeout, LOADING_LIMIT_S)
    seen_loading = False
    delay = 0.005
    while True:
        state = process.probe(socket_path, password)
        seen_loading = seen_loading or state == "loading"
        if state == "auth":
            raise BackendUnavailableError(
                f"redis-server on {socket_path} refuses the password in {data_dir / PASSWORD_NAME}."
            )
        if state == "ready":
            check_modules(socket_path, password)
            return True
        if pid is None:
            pid = process.read_pid(pid_file)
        now = time.monotonic()
        process_gone = pid is not None and not process.pid_alive(pid)
        # Without a pid file well after launch, the daemon died before writing it.
        no_process = pid is None and now - started > 2.0
        if process_gone or no_process:
            if not raise_on_timeout:
                return False
            raise BackendUnavailableError(
                f"redis-server exited during startup (data dir {data_dir})."
                f"{process.log_tail(log_file, log_offset)}"
            )
        if now >= (loading_deadline if still_loading(state, seen_loading) else deadline):
            if not raise_on_timeout:
                return False
            raise BackendUnavailableError(
                f"redis-server did not answer on {socket_path} within "
                f"{now - started:.1f}s (last state: {state})."
                f"{process.log_tail(log_file, log_offset)}"
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def still_loading(state: str, seen_loading: bool) -> bool:
    """Whether a server that is not ready yet is still loading its data: it says so, or it said
    so before and now does not answer at all (the end of a large load blocks it for seconds: a
    100k-memory workspace answered LOADING for 45 s, then nothing for ~3 s while its vector
    index was finished, and the 10 s start deadline had long passed)."""
    return state == "loading" or (seen_loading and state == "down")


def check_modules(socket_path: Path, password: str | None) -> None:
    """Refuse a server that runs without the Query Engine or JSON.

    Raises:
        ServerNotFoundError: A module is missing (the message says how to provide it).
    """
    client = process.client(socket_path, 2.0, password=password, decode_responses=True)
    try:
        loaded = process.module_versions(client)
    finally:
        client.close()
    missing = [desc for name, desc in REQUIRED_MODULES.items() if name not in loaded]
    if missing:
        url = redact_url(url_with_password(socket_path, password))
        raise ServerNotFoundError(
            f"The server at {url} runs without {', '.join(missing)}. "
            f"Set {ENV_MODULES} to the directory holding {' and '.join(MODULE_FILES)}, or "
            f"use a binary with them built in. {INSTALL_HINT}"
        )
