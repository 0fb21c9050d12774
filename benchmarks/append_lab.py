"""Append lab: where an append's time goes — the engine against its peers and against bare
redis-py clients sending the engine's own append command, in alternating blocks in one process.

Systems: tta-memory (async, and the blocking ``.sync`` twin), langchain-redis, redisvl
``MessageHistory``, and two floors that send the engine's append ``EVALSHA`` (same script, keys
and arguments, built before the timer) with nothing of the engine around it: redis-py's asyncio
client and its blocking client. Each system's appends run in ``--rounds`` alternating blocks
(the order reversed every other round), so a change in the machine's load reaches all of them;
read the ratios. ``client CPU us/op`` is this process's CPU time per append (Redis excluded).

Run: ``python -m benchmarks.append_lab [--appends 2000] [--rounds 10] [--url URL]``
"""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import Sequence
from typing import Any

from benchmarks import harness as h
from benchmarks.session_layer import (
    Engine,
    EngineSync,
    LangChainRedis,
    RedisVLHistory,
    System,
    interleaved_appends,
    stream,
)

NAME = "append_lab"


class _Floor(System):
    """The engine's append command, prebuilt, sent by a bare redis-py client."""

    def __init__(self, url: str, run_id: str, n: int) -> None:
        from tta_memory import MemoryWorkflowPrimitive
        from tta_memory.scripts import APPEND

        memory = MemoryWorkflowPrimitive(url, user_id="bench", workspace=f"floor-{run_id}")
        store = memory.sessions
        sid = f"{self.name.split()[1]}-{run_id}"
        self.commands = []
        for i in range(n):
            role, content = stream(i)
            prepared = store._prepare([{"role": role, "content": content}])
            keys, args = store._append_command(sid, prepared, ttl=None)
            self.commands.append(("EVALSHA", APPEND.sha, len(keys), *keys, *args))
        self.source = APPEND.source

    def command(self, i: int) -> tuple[Any, ...]:
        return self.commands[i % len(self.commands)]


class AsyncFloor(_Floor):
    name = "redis-py asyncio EVALSHA"

    def __init__(self, url: str, run_id: str, n: int) -> None:
        import redis.asyncio as aioredis

        super().__init__(url, run_id, n)
        self.client = aioredis.Redis.from_url(url)

    async def append(self, session: str, i: int) -> None:
        await self.client.execute_command(*self.command(i))

    async def close(self) -> None:
        await self.client.aclose()


class BlockingFloor(_Floor):
    name = "redis-py blocking EVALSHA"
    threaded = True

    def __init__(self, url: str, run_id: str, n: int) -> None:
        import redis

        super().__init__(url, run_id, n)
        self.client = redis.Redis.from_url(url)

    async def append(self, session: str, i: int) -> None:
        self.append_blocking(session, i)

    def append_blocking(self, session: str, i: int) -> None:
        self.client.execute_command(*self.command(i))


async def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    """Run the lab against ``url`` and return the JSON payload."""
    import redis
    from tta_memory.scripts import APPEND

    run_id = uuid.uuid4().hex[:8]
    n = 60 if args.smoke else args.appends
    sizes = {"appends": n, "warmup": 5 if args.smoke else 50}
    redis.Redis.from_url(url).script_load(APPEND.source)
    total = n + sizes["warmup"] + 1
    systems: list[System] = [Engine(url, f"lab-{run_id}"), EngineSync(url, f"lab-sync-{run_id}")]
    if not args.no_floors:  # (an engine without SessionStore._append_command: --no-floors)
        systems += [AsyncFloor(url, run_id, total), BlockingFloor(url, run_id, total)]
    if not args.no_peers:
        systems += [LangChainRedis(url, run_id), RedisVLHistory(url, run_id)]
    load = os.getloadavg()
    results = await interleaved_appends(systems, sizes, run_id, rounds=args.rounds)
    for system in systems:
        await system.close()
    ref = results.get("langchain-redis", {}).get("p50")
    rows = [
        [
            name,
            r.get("n"),
            r.get("p50"),
            r.get("p95"),
            r.get("cpu_us"),
            h.ratio(ref, r.get("p50")) if ref and name != "langchain-redis" else "",
        ]
        for name, r in results.items()
    ]
    table = h.format_table(
        ["system", "n", "p50 ms", "p95 ms", "client CPU us/op", "p50 / langchain-redis"], rows
    )
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {args.rounds} rounds")
    print(table)
    payload = {"benchmark": NAME, "load": load, "results": results, "table": table}
    payload["json"] = str(h.write_json(args.out, NAME, payload))
    return payload


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--appends", type=int, default=2000, help="appends per system")
    parser.add_argument("--rounds", type=int, default=10, help="alternating blocks")
    parser.add_argument("--no-floors", action="store_true", help="skip the bare redis-py floors")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command-line entry point."""
    return h.cli(__doc__, NAME, run, argv, _options)


if __name__ == "__main__":
    main()
