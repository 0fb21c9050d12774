"""``tta-memory paf import | export``: PAFs in and out of markdown."""

from __future__ import annotations

import argparse
import sys

from tta_memory.cli import common
from tta_memory.cli.errors import EXIT_OK

PAF_STATUSES = ("active", "proposed", "deprecated", "replaced", "all")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``paf`` command group."""
    paf = sub.add_parser("paf", help="import or export Permanent Architectural Facts")
    actions = paf.add_subparsers(title="actions", metavar="ACTION")
    p = actions.add_parser(
        "import",
        help="import PAFs from a markdown list (- **AUTH-001**: description)",
        description="Import PAFs from a markdown list: `- **AUTH-001**: description` items "
        "(-, *, + or 1. lists), optionally with the sub-items `paf export` writes (rationale, "
        "status, replaced_by, reason). Lines that look like PAFs but do not parse are listed "
        "with their line numbers, and nothing is imported unless --skip-invalid.",
    )
    p.add_argument("file", help="markdown file ('-' for stdin)")
    p.add_argument(
        "--skip-invalid", action="store_true", help="import the valid PAFs despite bad lines"
    )
    common.add_scope_args(p)
    p.set_defaults(func=import_cmd)
    p = actions.add_parser(
        "export",
        help="export PAFs as a markdown list",
        description="Print the workspace's PAFs as a markdown list, with rationale, status, "
        "replaced_by and reason as sub-items (--simple: one line per PAF).",
    )
    p.add_argument(
        "--status", default="active", choices=PAF_STATUSES, help="which PAFs (default: active)"
    )
    p.add_argument("--simple", action="store_true", help="only `- **ID**: description` lines")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    common.add_scope_args(p)
    p.set_defaults(func=export_cmd)
    paf.set_defaults(func=common.usage(paf))


def import_cmd(args: argparse.Namespace) -> int:
    """``tta-memory paf import FILE``."""
    text = common.read_text(args.file)
    memory = common.memory(args)
    report = common.run(memory.pafs.import_markdown(text, skip_invalid=args.skip_invalid))
    for problem in report.problems:
        print(f"tta-memory: skipped {args.file}: {problem}", file=sys.stderr)
    print(f"PAFs: {report.summary()} in workspace {memory.workspace!r}", file=sys.stderr)
    return EXIT_OK


def export_cmd(args: argparse.Namespace) -> int:
    """``tta-memory paf export``."""
    memory = common.memory(args)
    status = None if args.status == "all" else args.status
    text = common.run(memory.pafs.export_markdown(status, full=not args.simple))
    with common.open_out(args.output) as out:
        out.write(text)
    return EXIT_OK
