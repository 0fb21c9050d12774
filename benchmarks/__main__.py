"""Run one benchmark or all: ``python -m benchmarks [all|context|session|ingest|locomo|embed]``.

All benchmarks of one invocation share one throwaway embedded Redis server (or ``--url``), so
peers and engine run on the same server in the same process run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from typing import Any

from benchmarks import context_loading, embed, harness, ingest, locomo, session_layer

BENCHMARKS = {
    "context": context_loading,
    "session": session_layer,
    "ingest": ingest,
    "locomo": locomo,
    "embed": embed,
}
ORDER = ("session", "ingest", "locomo", "context", "embed")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m benchmarks``."""
    parser = harness.base_parser("tta-memory benchmarks")
    parser.add_argument(
        "which",
        nargs="?",
        default="all",
        choices=["all", *BENCHMARKS],
        help="benchmark to run (default: all)",
    )
    context_loading.add_arguments(parser)
    locomo.add_arguments(parser)
    embed.add_arguments(parser)
    ingest.add_arguments(parser)
    return parser


async def run_many(names: Sequence[str], args: Any, url: str) -> dict[str, Any]:
    """Run the named benchmarks in order against one server."""
    out: dict[str, Any] = {}
    for name in names:
        t0 = time.perf_counter()
        out[name] = await BENCHMARKS[name].run(args, url)
        print(f"--- {name} finished in {time.perf_counter() - t0:.0f}s ({out[name]['json']})")
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command-line entry point."""
    args = build_parser().parse_args(argv)
    names = ORDER if args.which == "all" else (args.which,)
    with harness.redis_server(args.url) as url:
        return asyncio.run(run_many(names, args, url))


if __name__ == "__main__":
    main(sys.argv[1:])
