"""``tta-memory server start | stop | status``: the per-user embedded Redis server."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from tta_memory.cli.common import usage
from tta_memory.cli.errors import EXIT_ERROR, EXIT_OK

if TYPE_CHECKING:
    from tta_memory.server import EmbeddedRedis


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``server`` command group."""
    server = sub.add_parser("server", help="start, stop or inspect the embedded Redis server")
    actions = server.add_subparsers(title="actions", metavar="ACTION")
    for name, func, help_text in (
        ("start", start, "start the per-user embedded server (no-op if running)"),
        ("stop", stop, "shut the embedded server down (data is flushed to disk)"),
        ("status", status, "show URL, pid, version, modules, data dir (exit 1: down)"),
    ):
        p = actions.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "--data-dir",
            help="server data directory (default: $TTA_MEMORY_DATA_DIR or "
            "~/.local/share/tta-memory)",
        )
        p.add_argument("--binary", help="redis-server to run (default: the bundled one)")
        p.add_argument("--modules-dir", help="directory with redisearch.so and rejson.so")
        if name == "status":
            p.add_argument("--json", action="store_true", help="print the status as JSON")
        p.set_defaults(func=func)
    server.set_defaults(func=usage(server))


def _server(args: argparse.Namespace) -> EmbeddedRedis:
    from tta_memory.server import EmbeddedRedis

    return EmbeddedRedis(data_dir=args.data_dir, binary=args.binary, modules_dir=args.modules_dir)


def start(args: argparse.Namespace) -> int:
    """``tta-memory server start``."""
    from tta_memory.server import redact_url

    server = _server(args)
    was_running = server.is_running()
    url = server.start()
    pid = server.status().pid
    print(f"{'already running' if was_running else 'started'}: {redact_url(url)} (pid {pid})")
    return EXIT_OK


def stop(args: argparse.Namespace) -> int:
    """``tta-memory server stop``."""
    server = _server(args)
    if not server.is_running() and server.pid is None:
        print(f"not running ({server.socket_path})")
        return EXIT_OK
    server.stop()
    print(f"stopped ({server.socket_path}; data in {server.data_dir})")
    return EXIT_OK


def status(args: argparse.Namespace) -> int:
    """``tta-memory server status``; exit code 1 when the server is not running."""
    report = _server(args).status()
    code = EXIT_OK if report.running else EXIT_ERROR
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return code
    modules = ", ".join(f"{name} {ver}" for name, ver in sorted(report.modules.items()))
    print(f"running:  {'yes' if report.running else 'no'}")
    print(f"url:      {report.url}")
    print(f"pid:      {report.pid if report.pid is not None else '-'}")
    print(f"version:  {report.version or '-'}")
    print(f"modules:  {modules or '-'}")
    print(f"data dir: {report.data_dir}")
    print(f"password: {report.password_file}")
    print(f"log:      {report.log_file}")
    return code
