"""``tta-memory demo``: the usage guide's scenarios 1-3 in one fixed workspace it resets."""

from __future__ import annotations

import argparse

from tta_memory.cli import common
from tta_memory.cli.errors import EXIT_OK

DEMO_WORKSPACE = "tta-demo"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` command."""
    p = sub.add_parser(
        "demo",
        help="run the usage guide's scenarios 1-3 end to end (workspace 'tta-demo', reset first)",
        description="Run the usage guide's scenarios 1-3 and show what each stage/mode loads. "
        f"The demo empties its workspace ({DEMO_WORKSPACE!r} unless --workspace) before it "
        "starts, so running it again leaves exactly one demo behind; --remove deletes it at "
        "the end.",
    )
    common.add_url_arg(p)
    p.add_argument("--workspace", default=DEMO_WORKSPACE, help=f"default: {DEMO_WORKSPACE}")
    p.add_argument("--remove", action="store_true", help="delete the workspace when done")
    p.set_defaults(func=demo)


def demo(args: argparse.Namespace) -> int:
    """``tta-memory demo``."""
    from tta_memory.cli.scenarios import run_demo

    target = common.resolve_url(args.url)
    common.run(run_demo(redis_url=target.url, workspace=args.workspace, remove=args.remove))
    return EXIT_OK
