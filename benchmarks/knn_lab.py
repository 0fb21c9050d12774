"""The focused KNN of context loading, alone: each way RediSearch can run it, per filter size.

On a workspace built by ``python -m benchmarks.context_lab build`` (same server, same names),
one understand / AUGSTER_RIGOROUS load per query session is recorded; its focused KNN (the
group's tag filter, ``KNN 60``) is then re-sent with filters of 1, 2, 4 and 8 area tags, each as
``HYBRID_POLICY ADHOC_BF`` (brute force over the filter's rows) and ``BATCHES`` (HNSW in
batches), in interleaved rounds. Reported per variant: the filter's rows, wall p50/p95 and the
server's CPU per command (``INFO cpu`` user + sys, all threads: what a loaded machine's wall
clock hides), and the policy the planner (``stores.deep.planning.knn_policy``) picks.

    python -m benchmarks.knn_lab URL [--embedded-corpus 100000] [--rounds 3]

The table behind ``BATCHES_COST_RATIO`` in ``planning.py`` came from this measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import context_lab as lab
from benchmarks import context_loading as cl
from benchmarks import harness as h
from benchmarks.corpus import AREAS

POLICIES = ("ADHOC_BF", "BATCHES")
TAG_COUNTS = (1, 2, 4, 8)


def server_cpu_s(info: dict[str, Any]) -> float:
    """Seconds of CPU the server has used (user + sys, every thread)."""
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def variant(cmd: tuple[Any, ...], tags: Sequence[str], policy: str) -> tuple[Any, ...]:
    """The recorded KNN command with another tag filter and policy."""
    query = str(cmd[2])
    query = re.sub(r"^\(.*?\)=>", "(@tags:{" + "|".join(tags) + "})=>", query)
    query = re.sub(r"HYBRID_POLICY \w+", f"HYBRID_POLICY {policy}", query)
    if "HYBRID_POLICY" not in query:
        query = query.replace(" AS ", f" HYBRID_POLICY {policy} AS ", 1)
    return (cmd[0], cmd[1], query, *cmd[3:])


async def _main(args: argparse.Namespace) -> None:
    from tta_memory.stores.deep.planning import knn_policy

    sizes = lab._sizes(False, args.embedded_corpus)
    ws = cl.Workspace(args.url, lab.WORKSPACE, sizes, args.cache_dir)
    sessions = lab._sessions(ws, sizes)
    knns = []
    for s in sessions:
        await cl.load(ws, *cl.TARGET_CELL, s, None)  # the query vector in the cache
        with h.CommandRecorder() as rec:
            await cl.load(ws, *cl.TARGET_CELL, s, None)
        knns += [c for c in h.replayable(rec.trips) if c[0] == "FT.SEARCH" and "KNN" in str(c[2])]
    if not knns:
        raise SystemExit("no focused KNN recorded: build the lab workspace first")
    depth = int(re.search(r"KNN (\d+)", str(knns[0][2])).group(1))  # type: ignore[union-attr]
    async with h.raw_client(args.url) as client:
        total = int((await client.execute_command("FT.INFO", knns[0][1]))[b"num_docs"])
        cells: dict[tuple[int, str], dict[str, Any]] = {}
        for n in TAG_COUNTS:
            tags = AREAS[:n]
            rows = await client.execute_command(
                "FT.SEARCH", knns[0][1], "@tags:{" + "|".join(tags) + "}", "LIMIT", 0, 0
            )
            count = int(rows[0] if isinstance(rows, list) else rows[b"total_results"])
            for policy in POLICIES:
                cells[(n, policy)] = {"rows": count, "wall": [], "cpu": []}
        for _ in range(args.rounds):
            for (n, policy), cell in cells.items():
                cmds = [variant(c, AREAS[:n], policy) for c in knns]
                before = server_cpu_s(await client.info("cpu"))
                for cmd in cmds:
                    t0 = time.perf_counter()
                    await client.execute_command(*cmd)
                    cell["wall"].append((time.perf_counter() - t0) * 1000)
                after = server_cpu_s(await client.info("cpu"))
                cell["cpu"].append((after - before) * 1000 / len(cmds))
    rows_out = []
    for (n, policy), cell in cells.items():
        stats = h.summarize([w / 1000 for w in cell["wall"]])
        chosen = knn_policy(
            workspace_count=total,
            tag_counts=[cell["rows"]],
            match_all_tags=False,
            total=total,
            depth=depth,
        )
        rows_out.append(
            [
                n,
                cell["rows"],
                policy,
                round(stats.p50, 2),
                round(stats.p95, 2),
                round(sum(cell["cpu"]) / len(cell["cpu"]), 2),
                "yes" if chosen == policy else "",
            ]
        )
    print(f"{total:,} memories, KNN {depth}, {len(knns)} query vectors × {args.rounds} rounds")
    print(
        h.format_table(
            [
                "tags",
                "filter rows",
                "policy",
                "wall p50 ms",
                "wall p95 ms",
                "server CPU ms",
                "planner's choice",
            ],
            rows_out,
        )
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--embedded-corpus", type=int, default=None)
    parser.add_argument("--cache-dir", type=Path, default=h.DEFAULT_OUT / "cache")
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
