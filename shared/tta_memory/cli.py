"""The ``tta-memory`` command: run the embedded server, diagnose a setup, run the guide's demo,
and move PAFs and whole workspaces in and out.

Every command that talks to Redis takes ``--url``; without it the URL is the configured one
(``TTA_MEMORY_REDIS_URL``, then ``REDIS_URL``), else the per-user embedded server (started when
needed). The engine is imported lazily so that ``tta-memory server …`` stays instant.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from tta_memory.config import Settings, check_redis_url, configured_url
from tta_memory.errors import TTAMemoryError
from tta_memory.server import EmbeddedRedis

if TYPE_CHECKING:
    from tta_memory.workflow import MemoryWorkflowPrimitive

T = TypeVar("T")

ENV_USER = "TTA_MEMORY_USER_ID"
ENV_WORKSPACE = "TTA_MEMORY_WORKSPACE"
PAF_STATUSES = ("active", "proposed", "deprecated", "replaced", "all")


# --------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tta-memory`` command line.

    Args:
        argv: Arguments without the program name; default ``sys.argv[1:]``.

    Returns:
        The process exit code (0 success, 1 a problem was found or an error occurred, 2 usage).
    """
    # Offline model, no download progress bars in the command's output.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except TTAMemoryError as exc:
        print(f"tta-memory: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand (exposed for docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="tta-memory",
        description="Layered memory for LLM agents on Redis: server, diagnostics, demo, transfer.",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    # server
    server = sub.add_parser("server", help="start, stop or inspect the embedded Redis server")
    server_sub = server.add_subparsers(title="actions", metavar="ACTION")
    for name, func, help_text in (
        ("start", cmd_server_start, "start the per-user embedded server (no-op if running)"),
        ("stop", cmd_server_stop, "shut the embedded server down (data is flushed to disk)"),
        ("status", cmd_server_status, "show URL, pid, version, modules, data dir (exit 1: down)"),
    ):
        p = server_sub.add_parser(name, help=help_text, description=help_text)
        _add_server_args(p)
        if name == "status":
            p.add_argument("--json", action="store_true", help="print the status as JSON")
        p.set_defaults(func=func)
    server.set_defaults(func=_usage(server))

    # doctor
    doctor = sub.add_parser(
        "doctor",
        help="check the Redis URL, server, modules, indexes and embedding model",
        description="Check the setup end to end; exit code 1 when something is wrong.",
    )
    _add_url_arg(doctor)
    doctor.add_argument("--no-model", action="store_true", help="skip loading the model")
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    doctor.set_defaults(func=cmd_doctor)

    # demo
    demo = sub.add_parser(
        "demo",
        help="run the usage guide's scenarios 1-3 end to end in a fresh workspace",
        description="Run the usage guide's scenarios 1-3 and show what each stage/mode loads.",
    )
    _add_url_arg(demo)
    demo.add_argument("--workspace", help="workspace to use (default: a fresh demo-<timestamp>)")
    demo.set_defaults(func=cmd_demo)

    # paf
    paf = sub.add_parser("paf", help="import or export Permanent Architectural Facts")
    paf_sub = paf.add_subparsers(title="actions", metavar="ACTION")
    paf_import = paf_sub.add_parser(
        "import",
        help="import PAFs from a markdown list (- **AUTH-001**: description)",
        description="Import PAFs from a markdown list of `- **AUTH-001**: description` lines.",
    )
    paf_import.add_argument("file", help="markdown file ('-' for stdin)")
    _add_scope_args(paf_import)
    paf_import.set_defaults(func=cmd_paf_import)
    paf_export = paf_sub.add_parser(
        "export",
        help="export PAFs as a markdown list",
        description="Print the workspace's PAFs as a markdown list.",
    )
    paf_export.add_argument(
        "--status", default="active", choices=PAF_STATUSES, help="which PAFs (default: active)"
    )
    paf_export.add_argument("-o", "--output", help="write to this file instead of stdout")
    _add_scope_args(paf_export)
    paf_export.set_defaults(func=cmd_paf_export)
    paf.set_defaults(func=_usage(paf))

    # export / import
    export = sub.add_parser(
        "export",
        help="export a workspace as JSON lines",
        description="Write every record of a workspace as one JSON object per line.",
    )
    export.add_argument("-o", "--output", help="write to this file instead of stdout")
    _add_scope_args(export)
    export.set_defaults(func=cmd_export)
    imp = sub.add_parser(
        "import",
        help="import a workspace from JSON lines (as written by export)",
        description="Load records written by `tta-memory export` into a workspace.",
    )
    imp.add_argument("file", help="JSONL file ('-' for stdin)")
    _add_scope_args(imp)
    imp.set_defaults(func=cmd_import)
    return parser


def _usage(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """Handler of a command group called without its action: help, exit code 2."""

    def show(_args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return show


def _add_url_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        help="Redis URL (default: $TTA_MEMORY_REDIS_URL, $REDIS_URL, else the embedded server)",
    )


def _add_scope_args(parser: argparse.ArgumentParser) -> None:
    _add_url_arg(parser)
    parser.add_argument(
        "--workspace",
        "-w",
        default=os.environ.get(ENV_WORKSPACE, "default"),
        help=f"workspace (default: ${ENV_WORKSPACE} or 'default')",
    )
    parser.add_argument(
        "--user",
        default=None,
        help=f"user id recorded as author (default: ${ENV_USER} or your login name)",
    )


def _add_server_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        help="server data directory (default: $TTA_MEMORY_DATA_DIR or ~/.local/share/tta-memory)",
    )
    parser.add_argument("--binary", help="redis-server to run (default: the bundled one)")
    parser.add_argument("--modules-dir", help="directory with redisearch.so and rejson.so")


# --------------------------------------------------------------------------- helpers


def resolve_url(explicit: str | None) -> tuple[str, str]:
    """The Redis URL a command uses, and where it came from.

    Args:
        explicit: The ``--url`` argument.

    Returns:
        ``(url, source)``; source is ``--url``, ``TTA_MEMORY_REDIS_URL``, ``REDIS_URL`` or a
        description of the embedded server (started here when it was not running).
    """
    if explicit:
        return check_redis_url(explicit), "--url"
    url, source = configured_url()
    if url is not None:
        return url, source
    server = EmbeddedRedis()
    was_running = server.is_running()
    url = server.start()
    state = "already running" if was_running else "started now"
    return url, f"embedded server, {state}, data dir {server.data_dir}"


def _user(args: argparse.Namespace) -> str:
    if getattr(args, "user", None):
        return str(args.user)
    env = os.environ.get(ENV_USER)
    if env:
        return env
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _memory(args: argparse.Namespace) -> MemoryWorkflowPrimitive:
    from tta_memory.workflow import MemoryWorkflowPrimitive

    url, _source = resolve_url(args.url)
    return MemoryWorkflowPrimitive(url, _user(args), workspace=args.workspace)


def _run(awaitable: Awaitable[T]) -> T:
    """Await on the engine's background loop (its ``.sync`` machinery): the clients bound to
    that loop are reused across calls and no loop is torn down under open connections."""
    from tta_memory.sync import run_sync

    async def wait() -> T:
        return await awaitable

    return run_sync(wait())


@contextlib.contextmanager
def _open_out(path: str | None) -> Iterator[IO[str]]:
    if not path or path == "-":
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8") as fh:
        yield fh


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TTAMemoryError(f"cannot read {path}: {exc}") from exc


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# --------------------------------------------------------------------------- server


def _server(args: argparse.Namespace) -> EmbeddedRedis:
    return EmbeddedRedis(data_dir=args.data_dir, binary=args.binary, modules_dir=args.modules_dir)


def cmd_server_start(args: argparse.Namespace) -> int:
    """``tta-memory server start``."""
    server = _server(args)
    was_running = server.is_running()
    url = server.start()
    status = server.status()
    print(f"{'already running' if was_running else 'started'}: {url} (pid {status.pid})")
    return 0


def cmd_server_stop(args: argparse.Namespace) -> int:
    """``tta-memory server stop``."""
    server = _server(args)
    if not server.is_running():
        print(f"not running ({server.url})")
        return 0
    server.stop()
    print(f"stopped ({server.url}; data in {server.data_dir})")
    return 0


def cmd_server_status(args: argparse.Namespace) -> int:
    """``tta-memory server status``; exit code 1 when the server is not running."""
    status = _server(args).status()
    if args.json:
        print(json.dumps(status.to_dict(), indent=2))
        return 0 if status.running else 1
    modules = ", ".join(f"{name} {ver}" for name, ver in sorted(status.modules.items()))
    print(f"running:  {'yes' if status.running else 'no'}")
    print(f"url:      {status.url}")
    print(f"pid:      {status.pid if status.pid is not None else '-'}")
    print(f"version:  {status.version or '-'}")
    print(f"modules:  {modules or '-'}")
    print(f"data dir: {status.data_dir}")
    print(f"log:      {status.log_file}")
    return 0 if status.running else 1


# --------------------------------------------------------------------------- doctor


@dataclass
class Check:
    """One line of ``tta-memory doctor``: ``level`` is ok, warn or fail."""

    name: str
    level: str
    detail: str


def run_doctor(url: str | None = None, *, check_model: bool = True) -> list[Check]:
    """Diagnose a setup: URL, server, modules, indexes, embedding model.

    Args:
        url: Explicit Redis URL (else the configured/embedded one).
        check_model: Load the embedding model offline and embed a probe text.

    Returns:
        The checks in order; any ``fail`` means the engine will not work as configured.
    """
    import redis

    checks: list[Check] = []
    try:
        resolved, source = resolve_url(url)
    except TTAMemoryError as exc:
        return [Check("redis url", "fail", str(exc))]
    checks.append(Check("redis url", "ok", f"{resolved}  (from {source})"))

    settings = Settings()
    client = redis.Redis.from_url(
        resolved, socket_timeout=5, socket_connect_timeout=3, decode_responses=True
    )
    try:
        try:
            info = client.info("server")
        except redis.RedisError as exc:
            checks.append(Check("server", "fail", f"cannot reach {resolved}: {exc}"))
            return checks
        checks.append(
            Check(
                "server",
                "ok",
                f"Redis {info.get('redis_version')} ({info.get('redis_mode', 'standalone')})",
            )
        )
        module_checks = _module_checks(client)
        checks.extend(module_checks)
        if module_checks[0].level != "fail":  # indexes need the Query Engine
            checks.extend(_index_checks(client, settings))
        checks.extend(_model_check(client, settings, load=check_model))
    finally:
        client.close()
    return checks


def _module_checks(client: Any) -> list[Check]:
    import redis

    modules: dict[str, str] = {}
    try:
        for entry in client.execute_command("MODULE", "LIST") or []:
            item = entry if isinstance(entry, dict) else _pairs(entry)
            modules[str(item.get("name"))] = str(item.get("ver"))
    except redis.RedisError:
        pass  # managed services may refuse MODULE LIST; fall back to probing commands
    search = "search" in modules or _has_command(client, "FT._LIST")
    json_ok = "ReJSON" in modules or _has_command(client, "JSON.TYPE", "tta-memory:doctor:probe")
    out = []
    if search:
        ver = modules.get("search")
        version = f" {_module_version(ver)}" if ver else ""
        ok_version = ver is None or int(ver) >= 20600
        out.append(
            Check(
                "query engine",
                "ok" if ok_version else "fail",
                f"search{version}"
                + ("" if ok_version else " is older than the required RediSearch 2.6"),
            )
        )
    else:
        out.append(
            Check(
                "query engine",
                "fail",
                "missing: this Redis has no Query Engine (RediSearch). Use Redis 8+, Redis Stack "
                "7.2+, Redis Cloud, or unset the URL to use the embedded server "
                "(pip install 'tta-memory[embedded]').",
            )
        )
    if json_ok:
        ver = modules.get("ReJSON")
        out.append(Check("json", "ok", f"ReJSON {_module_version(ver)}" if ver else "JSON"))
    else:
        out.append(
            Check(
                "json",
                "warn",
                "missing: no JSON module (the engine stores hashes and works without it; Redis "
                "8+ and Redis Stack include it).",
            )
        )
    return out  # the Query Engine check first: run_doctor reads it


def _pairs(flat: Sequence[Any]) -> dict[Any, Any]:
    """``[k1, v1, k2, v2, …]`` (RESP2 replies) as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _has_command(client: Any, *command: str) -> bool:
    """Whether the server knows ``command`` (run read-only on a key that does not exist)."""
    import redis

    try:
        client.execute_command(*command)
    except redis.ResponseError as exc:
        return "unknown command" not in str(exc).lower()
    except redis.RedisError:
        return False
    return True


def _module_version(ver: str | None) -> str:
    try:
        n = int(ver or "")
    except ValueError:
        return str(ver)
    return f"{n // 10000}.{n // 100 % 100}.{n % 100}"


def _index_checks(client: Any, settings: Settings) -> list[Check]:
    import redis

    from tta_memory.context import DEFAULT_WORKSPACE
    from tta_memory.partitions import INDEX_KINDS, PartitionLayout

    existing = set(client.execute_command("FT._LIST") or [])
    parts = []
    # Each partition has its own indexes: report those of the configured workspace.
    layout = PartitionLayout(
        buckets=settings.partition_buckets, dedicated=settings.dedicated_workspaces
    )
    workspace = os.environ.get("TTA_MEMORY_WORKSPACE") or DEFAULT_WORKSPACE
    partition = layout.partition_for(workspace)
    ours = sum(1 for n in existing if str(n).startswith(f"{settings.prefix}:idx:"))
    parts.append(f"{ours} partition indexes; workspace {workspace!r} in {partition.hashtag}")
    for layer in INDEX_KINDS:
        name = partition.index_name(settings.prefix, layer)
        if name not in existing:
            parts.append(f"{layer}: not created yet (created on first use)")
            continue
        try:
            raw = client.execute_command("FT.INFO", name)
            info = raw if isinstance(raw, dict) else _pairs(raw)
            parts.append(f"{layer} ({name}): {info.get('num_docs')} docs")
        except redis.RedisError as exc:
            return [Check("indexes", "fail", f"FT.INFO {name} failed: {exc}")]
    others = sorted(n for n in existing if not str(n).startswith(f"{settings.prefix}:"))
    detail = "; ".join(parts)
    if others:
        detail += f"; other indexes on this server: {', '.join(map(str, others))}"
    return [Check("indexes", "ok", f"prefix {settings.prefix!r}: {detail}")]


def _model_check(client: Any, settings: Settings, *, load: bool) -> list[Check]:
    import redis

    from tta_memory.embeddings import default_embedder
    from tta_memory.keys import Keys

    out: list[Check] = []
    try:
        embedder = default_embedder()
    except TTAMemoryError as exc:
        return [Check("embedding model", "fail", str(exc))]
    name, dims = embedder.model_name, None
    try:
        recorded = client.hgetall(Keys.meta(settings.prefix))
    except redis.RedisError:
        recorded = {}
    if load:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        started = time.perf_counter()
        try:
            vector = embedder.vectorizer.embed("tta-memory doctor probe")
            dims = len(vector)
            elapsed = time.perf_counter() - started
            out.append(
                Check(
                    "embedding model",
                    "ok",
                    f"{name} ({dims} dims) loads offline "
                    f"(HF_HUB_OFFLINE={os.environ.get('HF_HUB_OFFLINE')}) in {elapsed:.1f}s",
                )
            )
        except Exception as exc:  # any loader failure is the diagnosis itself
            out.append(Check("embedding model", "fail", f"{name} failed to load offline: {exc}"))
    else:
        out.append(Check("embedding model", "warn", f"{name}, not loaded (--no-model)"))
    if recorded:
        r_model, r_dims = recorded.get("embedding_model"), recorded.get("dims")
        same = r_model == name and (dims is None or str(dims) == str(r_dims))
        out.append(
            Check(
                "index embeddings",
                "ok" if same else "fail",
                f"deep index built with {r_model} ({r_dims} dims)"
                + (
                    ""
                    if same
                    else f" but this process embeds with {name} ({dims} dims): use the same "
                    "model, another TTA_MEMORY_PREFIX, or re-embed via export/import"
                ),
            )
        )
    return out


def cmd_doctor(args: argparse.Namespace) -> int:
    """``tta-memory doctor``; exit code 1 when any check fails."""
    checks = run_doctor(args.url, check_model=not args.no_model)
    failed = any(c.level == "fail" for c in checks)
    if args.json:
        print(json.dumps({"ok": not failed, "checks": [asdict(c) for c in checks]}, indent=2))
    else:
        marks = {"ok": "[ ok ]", "warn": "[warn]", "fail": "[FAIL]"}
        for c in checks:
            print(f"{marks[c.level]} {c.name:<17} {c.detail}")
        print("all good" if not failed else "problems found (see [FAIL] above)")
    return 1 if failed else 0


# --------------------------------------------------------------------------- demo


def cmd_demo(args: argparse.Namespace) -> int:
    """``tta-memory demo``."""
    from tta_memory.demo import run_demo

    url = resolve_url(args.url)[0]
    _run(run_demo(redis_url=url, workspace=args.workspace))
    return 0


# --------------------------------------------------------------------------- paf


def cmd_paf_import(args: argparse.Namespace) -> int:
    """``tta-memory paf import FILE``."""
    text = _read_text(args.file)
    memory = _memory(args)
    pafs = _run(memory.paf_primitive.import_markdown(text))
    print(f"imported {len(pafs)} PAF(s) into workspace {memory.workspace!r}", file=sys.stderr)
    return 0


def cmd_paf_export(args: argparse.Namespace) -> int:
    """``tta-memory paf export``."""
    memory = _memory(args)
    status = None if args.status == "all" else args.status
    text = _run(memory.paf_primitive.export_markdown(status=status))
    with _open_out(args.output) as out:
        out.write(text if not text or text.endswith("\n") else text + "\n")
    return 0


# --------------------------------------------------------------------------- export/import


async def _export(memory: MemoryWorkflowPrimitive, out: IO[str]) -> int:
    from tta_memory.transfer import export_workspace

    count = 0
    async for record in export_workspace(memory):
        out.write(json.dumps(record, ensure_ascii=False, default=_json_default) + "\n")
        count += 1
    return count


def cmd_export(args: argparse.Namespace) -> int:
    """``tta-memory export``: one JSON object per line."""
    memory = _memory(args)
    with _open_out(args.output) as out:
        count = _run(_export(memory, out))
    print(f"exported {count} record(s) from workspace {memory.workspace!r}", file=sys.stderr)
    return 0


def _records(text: str, source: str) -> list[dict[str, Any]]:
    records = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TTAMemoryError(f"{source}:{lineno}: not a JSON line ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise TTAMemoryError(f"{source}:{lineno}: expected a JSON object per line")
        records.append(record)
    return records


def cmd_import(args: argparse.Namespace) -> int:
    """``tta-memory import FILE``."""
    from tta_memory.transfer import import_workspace

    records = _records(_read_text(args.file), args.file)
    memory = _memory(args)
    count = _run(import_workspace(memory, records))
    print(f"imported {count} record(s) into workspace {memory.workspace!r}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
