"""A lab for context loading on a persistent server: build the benchmark's workspace once, then
time loads, replay the benchmark's cell measurement, or mark a window for an external profiler,
as often as needed (a full ``python -m benchmarks context`` rebuilds everything each run).

    python -m benchmarks.context_lab build URL 100000 [--embedded-corpus 10000] [--narrow]
    python -m benchmarks.context_lab time URL [--loads 200] [--stage S --mode M] [--gc-freeze]
    python -m benchmarks.context_lab cell URL          # engine, redisvl by hand, raw replay
    python -m benchmarks.context_lab window URL --loads 30 --marks DIR

``window`` runs 40 warm-up loads, writes ``DIR/ready``, waits for ``DIR/go``, runs the loads,
writes ``DIR/done`` and waits for ``DIR/stop``: a driver switches a profiler on and off around
the measured loads. Client instructions per load, as in the README's session-4 section::

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=DIR/cg.out \\
        python -m benchmarks.context_lab window URL --loads 30 --marks DIR &
    # once DIR/ready exists: callgrind_control -i on PID; touch DIR/go
    # once DIR/done exists:  callgrind_control -i off PID; touch DIR/stop
    # then: callgrind_annotate DIR/cg.out | grep "PROGRAM TOTALS"   (divide by the loads)

The workspace is named ``lab``; the query sessions are the benchmark's.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import context_loading as cl
from benchmarks import harness as h

WORKSPACE = "lab"


def _sizes(narrow: bool, embedded: int | None = None) -> dict[str, Any]:
    sizes = dict(cl.SIZES["narrow" if narrow else "default"])
    if embedded is not None:
        sizes["embedded_corpus"] = embedded
    return sizes


def _sessions(ws: cl.Workspace, sizes: dict[str, Any]) -> list[str]:
    step = max(1, sizes["sessions"] // sizes["query_sessions"])
    return [ws.session_id(i * step) for i in range(sizes["query_sessions"])]


async def _main(args: argparse.Namespace) -> None:
    sizes = _sizes(args.narrow, getattr(args, "embedded_corpus", None))
    ws = cl.Workspace(args.url, WORKSPACE, sizes, args.cache_dir, args.narrow)
    if args.command == "build":
        print(await ws.build_static(), flush=True)
        print(await ws.grow_deep(args.memories), flush=True)
        return
    if args.command == "cell":
        r = await cl.measure_cell(ws, args.stage, args.mode, sizes, baseline=True)
        c, b, raw = r["cached"], r["baseline_redisvl"], r["baseline_replay"]
        print(
            f"ours p50 {c['p50']:.2f} p95 {c['p95']:.2f} | by hand p50 {b['p50']:.2f} "
            f"p95 {b['p95']:.2f} | raw p95 {raw['p95']:.2f} | ours/by hand p95 "
            f"{c['p95'] / b['p95']:.2f}× | round trips {r['round_trips']}"
        )
        return
    qs = _sessions(ws, sizes)

    async def one(i: int) -> Any:
        return await cl.load(ws, args.stage, args.mode, qs[abs(i) % len(qs)], None)

    for i in range(40):
        await one(i)
    if getattr(args, "gc_freeze", False):  # what `tta-memory mcp serve` does after startup
        gc.collect()
        gc.freeze()
    if args.command == "window":
        marks = Path(args.marks)
        marks.mkdir(parents=True, exist_ok=True)
        (marks / "ready").write_text("1")
        while not (marks / "go").exists():
            time.sleep(0.05)
        for i in range(args.loads):
            await one(i)
        (marks / "done").write_text("1")
        while not (marks / "stop").exists():
            time.sleep(0.05)
        return
    cpu = time.process_time()
    stats, _ = await h.time_async(one, args.loads, warmup=0)
    cpu_ms = (time.process_time() - cpu) * 1000 / args.loads
    print(
        f"p50 {stats.p50:.2f} p95 {stats.p95:.2f} p99 {stats.p99:.2f} ms, "
        f"client CPU {cpu_ms:.2f} ms per load"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("build", "time", "cell", "window"))
    parser.add_argument("url")
    parser.add_argument("memories", type=int, nargs="?", default=10_000)
    parser.add_argument("--narrow", action="store_true", help="the 40-word corpus")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="time: gc.freeze() after the warm-up, as the MCP server does after startup",
    )
    parser.add_argument("--embedded-corpus", type=int, default=None)
    parser.add_argument("--cache-dir", type=Path, default=h.DEFAULT_OUT / "cache")
    parser.add_argument("--loads", type=int, default=200)
    parser.add_argument("--stage", default=cl.TARGET_CELL[0])
    parser.add_argument("--mode", default=cl.TARGET_CELL[1])
    parser.add_argument("--marks", default="/tmp/context-lab")
    asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
