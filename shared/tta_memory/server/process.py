"""Low-level helpers of the embedded server: probing the socket, process ids, the start lock,
polling until a condition holds and the log tail that goes into error messages."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tta_memory import replies
from tta_memory.errors import BackendUnavailableError


def client(
    socket_path: Path,
    timeout: float,
    *,
    password: str | None = None,
    decode_responses: bool = False,
) -> redis.Redis:
    """A redis-py client on the server socket, without retries.

    redis-py retries connection errors with backoff by default, which turns "nobody is
    listening" and the connection drop that acknowledges SHUTDOWN into seconds.
    """
    return _without_retries(
        timeout, decode_responses, unix_socket_path=str(socket_path), password=password
    )


def tcp_client(
    host: str, port: int, timeout: float, *, decode_responses: bool = False
) -> redis.Redis:
    """A redis-py client on ``host:port``, without retries (a dead node answers "down" at once,
    not after a backoff)."""
    return _without_retries(timeout, decode_responses, host=host, port=port)


def _without_retries(timeout: float, decode_responses: bool, **address: Any) -> redis.Redis:
    return redis.Redis(
        **address,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        decode_responses=decode_responses,
    )


def probe(socket_path: Path, password: str | None) -> str:
    """The server's state on ``socket_path``.

    Returns:
        ``ready``, ``loading`` (answers, AOF not loaded yet), ``auth`` (answers but refuses the
        password) or ``down``.
    """
    if not socket_path.exists():
        return "down"
    conn = client(socket_path, 1.0, password=password)
    try:
        conn.ping()
        return "ready"
    except redis.BusyLoadingError:
        return "loading"
    except redis.AuthenticationError:
        return "auth"
    except redis.ResponseError as exc:
        # A server without a password answers AUTH with an error of its own.
        return "auth" if "AUTH" in str(exc).upper() else "down"
    except (redis.RedisError, OSError):
        return "down"
    finally:
        conn.close()


def loaded_modules(conn: redis.Redis) -> dict[str, Any]:
    """Loaded module name -> its version as the server encodes it (``{"search": 21005}``)."""
    out: dict[str, Any] = {}
    for entry in conn.execute_command("MODULE", "LIST") or []:
        info = replies.pairs(entry)
        out[replies.text(info.get("name", ""))] = info.get("ver")
    return out


def module_versions(conn: redis.Redis) -> dict[str, str]:
    """Loaded module name -> version string (``{"search": "2.10.5"}``)."""
    return {name: format_module_version(v) for name, v in loaded_modules(conn).items()}


def format_module_version(ver: Any) -> str:
    """Modules encode versions as MMmmpp (21005 -> ``2.10.5``)."""
    try:
        number = int(ver)
    except (TypeError, ValueError):
        return str(ver)
    return f"{number // 10000}.{number // 100 % 100}.{number % 100}"


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def read_pid(pid_file: Path) -> int | None:
    """The pid written in ``pid_file`` (``None``: no file or no number in it)."""
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def is_redis_process(pid: int) -> bool:
    """Guard against pid reuse before signalling a pid read from a stale pid file."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return pid_alive(pid)  # no /proc (macOS): trust the pid file
    return b"redis-server" in cmdline


def send_signal(pid: int, sig: signal.Signals) -> None:
    """``kill(pid, sig)``, ignoring a process that is gone or not ours."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


@contextlib.contextmanager
def file_lock(path: Path, timeout: float) -> Iterator[None]:
    """Exclusive ``flock`` on ``path``, polled so a stuck holder cannot hang us forever."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise BackendUnavailableError(
                        f"Timed out after {timeout:.0f}s waiting for the server lock {path} "
                        f"(another process is starting or stopping the server)."
                    ) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def wait_until(
    check: Callable[[], bool],
    deadline: float,
    *,
    first: float = 0.01,
    cap: float = 0.2,
    tolerate: tuple[type[BaseException], ...] = (),
) -> bool:
    """Poll ``check`` until it returns true or ``time.monotonic()`` passes ``deadline``.

    Between polls it sleeps ``first`` seconds, doubling up to ``cap``: a server that comes up in
    milliseconds is seen at once, a slow one is not polled in a busy loop.

    Args:
        check: The condition; an exception of a type in ``tolerate`` counts as "not yet".
        deadline: ``time.monotonic()`` value after which it gives up.
        first: First sleep in seconds.
        cap: Longest sleep in seconds.
        tolerate: Exception types of ``check`` that mean "not yet" (others propagate).

    Returns:
        ``True`` once ``check`` held, ``False`` when the deadline passed first.
    """
    delay = first
    while True:
        try:
            if check():
                return True
        except tolerate:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, cap)


def log_tail(log_file: Path, offset: int = 0, lines: int = 20) -> str:
    """The last ``lines`` lines of the server log written after ``offset``, for messages."""
    try:
        with open(log_file, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    tail = "\n".join(text.strip().splitlines()[-lines:])
    return f"\n--- {log_file} (last {lines} lines) ---\n{tail}" if tail else ""
