"""``tta-memory workspace list | stats | delete``."""

from __future__ import annotations

import argparse
import json
import sys

from tta_memory.cli import common
from tta_memory.cli.errors import EXIT_ERROR, EXIT_OK, CliError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``workspace`` command group."""
    ws = sub.add_parser("workspace", help="list, inspect or delete workspaces")
    actions = ws.add_subparsers(title="actions", metavar="ACTION")
    p = actions.add_parser(
        "list",
        help="list the workspaces on the server, with their counts",
        description="List every workspace of the key prefix, with what it holds.",
    )
    common.add_url_arg(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=list_cmd)
    p = actions.add_parser(
        "stats",
        help="count what one workspace holds",
        description="Count the sessions, messages, cache entries, memories, PAFs and groups.",
    )
    p.add_argument("name", nargs="?", help="workspace (default: --workspace)")
    common.add_scope_args(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=stats_cmd)
    p = actions.add_parser(
        "delete",
        help="delete a workspace and everything in it",
        description="Delete every record of one workspace (asks first unless --yes).",
    )
    p.add_argument("name", help="workspace to delete")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    common.add_url_arg(p)
    p.set_defaults(func=delete_cmd)
    ws.set_defaults(func=common.usage(ws))


def _scope(args: argparse.Namespace, workspace: str) -> object:
    from tta_memory import MemoryWorkflowPrimitive

    target = common.resolve_url(args.url)
    return MemoryWorkflowPrimitive(target.url, common.user(args), workspace=workspace)


def list_cmd(args: argparse.Namespace) -> int:
    """``tta-memory workspace list``."""
    from tta_memory.workspaces import list_workspaces

    rows = common.run(list_workspaces(_scope(args, "default")))  # type: ignore[arg-type]
    if args.json:
        print(json.dumps([r.model_dump() for r in rows], indent=2))
        return EXIT_OK
    if not rows:
        print("no workspaces", file=sys.stderr)
        return EXIT_OK
    width = max(9, *(len(r.workspace) for r in rows))
    print(f"{'workspace':<{width}}  sessions  cache  memories  pafs  groups")
    for r in rows:
        print(
            f"{r.workspace:<{width}}  {r.sessions:>8}  {r.cache_entries:>5}  "
            f"{r.deep_memories:>8}  {r.pafs:>4}  {r.groups:>6}"
        )
    return EXIT_OK


def stats_cmd(args: argparse.Namespace) -> int:
    """``tta-memory workspace stats [NAME]``."""
    from tta_memory.workspaces import workspace_stats

    stats = common.run(workspace_stats(_scope(args, args.name or args.workspace)))  # type: ignore[arg-type]
    if args.json:
        print(json.dumps(stats.model_dump(), indent=2))
        return EXIT_OK
    for label, value in (
        ("workspace", stats.workspace),
        ("sessions", stats.sessions),
        ("messages", stats.messages),
        ("cache entries", stats.cache_entries),
        ("deep memories", stats.deep_memories),
        ("PAFs", stats.pafs),
        ("groups", stats.groups),
    ):
        print(f"{label + ':':<15}{value}")
    return EXIT_OK


def delete_cmd(args: argparse.Namespace) -> int:
    """``tta-memory workspace delete NAME [--yes]``."""
    from tta_memory.workspaces import delete_workspace, workspace_stats

    scope = _scope(args, args.name)
    if not args.yes:
        stats = common.run(workspace_stats(scope))  # type: ignore[arg-type]
        if not sys.stdin.isatty():
            raise CliError(
                f"refusing to delete workspace {args.name!r} ({stats.total} records) without "
                "confirmation: pass --yes",
                EXIT_ERROR,
            )
        answer = input(
            f"Delete workspace {args.name!r} ({stats.sessions} sessions, {stats.messages} "
            f"messages, {stats.deep_memories} memories, {stats.pafs} PAFs, {stats.groups} "
            "groups)? [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            print("not deleted", file=sys.stderr)
            return EXIT_ERROR
    before = common.run(delete_workspace(scope))  # type: ignore[arg-type]
    print(f"deleted workspace {args.name!r} ({before.total} records)", file=sys.stderr)
    return EXIT_OK
