"""What the commands share: the Redis URL in use, the scope arguments, files in and out, and
running the engine's coroutines.

Nothing heavy is imported at module level: ``tta-memory --help`` must stay instant.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import IO, TYPE_CHECKING, Any, TypeVar

from tta_memory.cli.errors import EXIT_USAGE, input_error, output_error

if TYPE_CHECKING:
    from tta_memory import MemoryWorkflowPrimitive

T = TypeVar("T")

ENV_USER = "TTA_MEMORY_USER_ID"
ENV_WORKSPACE = "TTA_MEMORY_WORKSPACE"
DEFAULT_USER = "default"  # the engine's default user_id, also the README's


class Target:
    """The Redis URL a command talks to and where it came from.

    Attributes:
        url: The URL (may hold a password: print :meth:`describe`, never this).
        source: ``--url``, ``TTA_MEMORY_REDIS_URL``, ``REDIS_URL`` or ``embedded``.
        detail: For the embedded server: whether it was started now, and its data dir.
    """

    def __init__(self, url: str, source: str, detail: str = "") -> None:
        self.url = url
        self.source = source
        self.detail = detail

    @property
    def embedded(self) -> bool:
        """Whether this is the per-user embedded server."""
        return self.source == "embedded"

    def describe(self) -> str:
        """The URL without its password, and its origin."""
        from tta_memory.server.auth import redact_url

        origin = f"embedded server, {self.detail}" if self.embedded else f"from {self.source}"
        return f"{redact_url(self.url)} ({origin})"

    def unreachable_hint(self) -> str:
        """What to check when nothing answers at this URL."""
        if self.embedded:
            return "Check the embedded server with `tta-memory server status`."
        fix = "omit --url" if self.source == "--url" else f"unset {self.source}"
        where = "listens on that socket" if self.url.startswith("unix://") else "runs there"
        return f"Check that a Redis server {where}, or {fix} to use the embedded server."


# The target of the running command: the error handler words its hints for it.
current: Target | None = None


def resolve_url(explicit: str | None) -> Target:
    """The Redis URL a command uses: ``--url``, the configured one, else the embedded server
    (started here when it is not running)."""
    global current
    from tta_memory.config import check_redis_url, configured_url

    if explicit:
        current = Target(check_redis_url(explicit, "--url"), "--url")
        return current
    url, source = configured_url()
    if url is not None:
        current = Target(url, source)
        return current
    from tta_memory.server import EmbeddedRedis

    server = EmbeddedRedis()
    current = Target(server.url, "embedded", f"data dir {server.data_dir}")
    was_running = server.is_running()
    url = server.start()
    state = "already running" if was_running else "started now"
    current = Target(url, "embedded", f"{state}, data dir {server.data_dir}")
    return current


def add_url_arg(parser: argparse.ArgumentParser) -> None:
    """``--url``."""
    parser.add_argument(
        "--url",
        help="Redis URL (default: $TTA_MEMORY_REDIS_URL, $REDIS_URL, else the embedded server)",
    )


def add_scope_args(parser: argparse.ArgumentParser) -> None:
    """``--url``, ``--workspace`` and ``--user``."""
    add_url_arg(parser)
    parser.add_argument(
        "--workspace",
        "-w",
        default=os.environ.get(ENV_WORKSPACE, "default"),
        help=f"workspace (default: ${ENV_WORKSPACE} or 'default')",
    )
    parser.add_argument(
        "--user",
        default=None,
        help=f"user id recorded as author (default: ${ENV_USER} or {DEFAULT_USER!r})",
    )


def user(args: argparse.Namespace) -> str:
    """The user id of a command: ``--user``, ``$TTA_MEMORY_USER_ID``, else ``default``."""
    explicit = getattr(args, "user", None)
    return str(explicit or os.environ.get(ENV_USER) or DEFAULT_USER)


def login_name() -> str:
    """The login name (the demo's fallback author), or ``cli``."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def memory(args: argparse.Namespace) -> MemoryWorkflowPrimitive:
    """The engine for the command's URL, user and workspace."""
    from tta_memory import MemoryWorkflowPrimitive

    target = resolve_url(args.url)
    return MemoryWorkflowPrimitive(target.url, user(args), workspace=args.workspace)


def run(awaitable: Awaitable[T]) -> T:
    """Await on the engine's background loop (its ``.sync`` machinery): the clients bound to
    that loop are reused across calls and no loop is torn down under open connections."""
    from tta_memory.sync import run_sync

    async def wait() -> T:
        return await awaitable

    return run_sync(wait())


@contextlib.contextmanager
def open_out(path: str | None) -> Iterator[IO[str]]:
    """stdout for ``None`` or ``-``, else the file (a missing directory is a clean error)."""
    if not path or path == "-":
        yield sys.stdout
        return
    try:
        fh = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise output_error(path, exc) from exc
    with fh:
        yield fh


def read_text(path: str) -> str:
    """The UTF-8 text of ``path`` (``-``: stdin); unreadable or not UTF-8 is a clean error."""
    try:
        if path == "-":
            return sys.stdin.buffer.read().decode("utf-8")
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise input_error("stdin" if path == "-" else path, exc) from exc


def json_default(value: Any) -> Any:
    """``json.dumps(default=...)`` for the engine's records."""
    from datetime import date, datetime

    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def usage(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """Handler of a command group called without its action: help, exit code 2."""

    def show(_args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return EXIT_USAGE

    return show
