"""Benchmark — many tenants: 1,000 workspaces × 100 memories beside one workspace of 100k, in
the partitioned layout (small workspaces in shared buckets, the large one in a partition of its
own): Redis memory, bytes per memory, write p50 and context-load p95 for both kinds.

Vectors are deterministic unit-norm random vectors of the default model's size (384 floats,
``benchmarks.corpus.random_vectors``) served by a lookup embedder, and queries get random
vectors too, so the run measures Redis and the engine, not the model, and takes minutes: the
memory and latency of a real model's vectors are the same (same size, same index).

Each small workspace also has one session of 20 messages and 5 PAFs; the large one 1 session
of 50 messages and 20 PAFs. Context loading is ``understand`` / ``augster_rigorous`` (session,
cache, top-20 deep, PAFs, groups).

Run: ``python -m benchmarks.many_tenants [--smoke] [--url URL] [--buckets 16]``
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Sequence
from typing import Any

from benchmarks import harness as h
from benchmarks.corpus import chat_line, lookup_embedder, notes, random_vectors

NAME = "many_tenants"
BIG = "big-tenant"
SIZES: dict[str, dict[str, int]] = {
    "smoke": {"tenants": 12, "per_tenant": 10, "big": 600, "loads": 10, "writes": 10},
    "default": {"tenants": 1000, "per_tenant": 100, "big": 100_000, "loads": 200, "writes": 200},
}
BIG_OFFSET = 10_000_000  # corpus indexes of the large workspace (disjoint from the small ones)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """This benchmark's options."""
    parser.add_argument("--buckets", type=int, default=16, help="shared partitions")


def _primitive(url: str, workspace: str, embedder: Any, buckets: int) -> Any:
    from tta_memory import MemoryWorkflowPrimitive
    from tta_memory.config import Settings

    settings = Settings(partition_buckets=buckets, dedicated_workspaces=frozenset({BIG}))
    return MemoryWorkflowPrimitive(
        url, "bench", workspace=workspace, vectorizer=embedder, settings=settings
    )


def _index_count(url: str) -> int:
    import redis

    client = redis.Redis.from_url(url)
    try:
        return len(client.execute_command("FT._LIST"))
    finally:
        client.close()


async def _fill(m: Any, items: list[dict[str, Any]], messages: int, pafs: int) -> None:
    await m.create_deep_memories(items, batch_size=500)
    await m.add_session_messages(
        "s1", [{"role": "user", "content": chat_line(i)} for i in range(messages)]
    )
    for p in range(pafs):
        await m.paf_primitive.add_paf("ARCH", f"{p + 1:03d}", f"rule {p} of {m.workspace}")


async def _load_p(m_of: Any, n: int) -> h.Stats:
    from tta_memory import WorkflowContext, WorkflowMode

    async def op(i: int) -> None:
        m = m_of(i)
        ctx = WorkflowContext(workflow_id="bench", session_id="s1")
        await m.load_workflow_context(ctx, "understand", WorkflowMode.AUGSTER_RIGOROUS)

    stats, _ = await h.time_async(op, n, warmup=5)
    return stats


async def _write_p(m_of: Any, items: list[dict[str, Any]]) -> h.Stats:
    """Single ``create_deep_memory`` calls, each a new text (no dedup shortcut)."""
    fresh = iter(items)

    async def op(i: int) -> None:
        await m_of(i).create_deep_memory(**next(fresh))

    stats, _ = await h.time_async(op, len(items) - 5, warmup=5)
    return stats


async def run(args: Any, url: str) -> dict[str, Any]:
    """Fill the tenants, measure memory after each step, then writes and context loads."""
    sizes = SIZES["smoke" if args.smoke else "default"]
    tenants, per, big = sizes["tenants"], sizes["per_tenant"], sizes["big"]
    small_n = tenants * per
    h.print_header(f"many tenants: {tenants} x {per} beside one of {big}", h.machine_info(), url)
    vectors: dict[str, Any] = {}
    small_items = notes(0, small_n)
    for item, vec in zip(small_items, random_vectors(0, small_n), strict=True):
        vectors[item["text"]] = vec
    big_items = notes(BIG_OFFSET, BIG_OFFSET + big)
    for item, vec in zip(big_items, random_vectors(BIG_OFFSET, BIG_OFFSET + big), strict=True):
        vectors[item["text"]] = vec
    extra = notes(20_000_000, 20_000_000 + 2 * sizes["writes"] + 10)
    for item, vec in zip(extra, random_vectors(20_000_000, 20_000_000 + len(extra)), strict=True):
        vectors[item["text"]] = vec
    embedder = lookup_embedder(vectors, fallback=False)
    names = [f"tenant-{t:04d}" for t in range(tenants)]
    small = {n: _primitive(url, n, embedder, args.buckets) for n in names}
    large = _primitive(url, BIG, embedder, args.buckets)

    result: dict[str, Any] = {"sizes": sizes, "buckets": args.buckets, "machine": h.machine_info()}
    base = h.used_memory(url)
    started = time.perf_counter()
    # Eight tenants at a time, as independent agents would write.
    for lo in range(0, tenants, 8):
        await asyncio.gather(
            *(
                _fill(small[n], small_items[t * per : (t + 1) * per], 20, 5)
                for t, n in enumerate(names[lo : lo + 8], start=lo)
            )
        )
    small_s = time.perf_counter() - started
    after_small = h.used_memory(url)
    print(f"small tenants written in {small_s:.0f}s; {(after_small - base) / 2**20:.1f} MiB")
    started = time.perf_counter()
    for lo in range(0, big, 5000):
        await large.create_deep_memories(big_items[lo : lo + 5000], batch_size=1000)
    await large.add_session_messages(
        "s1", [{"role": "user", "content": chat_line(i)} for i in range(50)]
    )
    for p in range(20):
        await large.paf_primitive.add_paf("ARCH", f"{p + 1:03d}", f"rule {p} of the big one")
    big_s = time.perf_counter() - started
    after_big = h.used_memory(url)
    print(f"large tenant written in {big_s:.0f}s; {(after_big - after_small) / 2**20:.1f} MiB")
    indexes = _index_count(url)

    rng = random.Random(7)
    picks = [rng.choice(names) for _ in range(sizes["loads"] + 5)]
    load_small = await _load_p(lambda i: small[picks[i % len(picks)]], sizes["loads"])
    load_big = await _load_p(lambda i: large, sizes["loads"])
    w = sizes["writes"]
    write_small = await _write_p(lambda i: small[picks[i % len(picks)]], extra[: w + 5])
    write_big = await _write_p(lambda i: large, extra[w + 5 : 2 * w + 10])

    result.update(
        {
            "memory_bytes": {
                "empty": base,
                "small_tenants": after_small - base,
                "large_tenant": after_big - after_small,
                "total": after_big - base,
            },
            "bytes_per_memory": {
                "small_tenants": (after_small - base) / small_n,
                "large_tenant": (after_big - after_small) / big,
            },
            "indexes": indexes,
            "fill_seconds": {"small": small_s, "large": big_s},
            "context_load_ms": {"small": load_small.as_dict(), "large": load_big.as_dict()},
            "write_ms": {"small": write_small.as_dict(), "large": write_big.as_dict()},
        }
    )
    rows = [
        [
            f"{tenants} x {per}",
            f"{(after_small - base) / 2**20:.1f}",
            f"{(after_small - base) / small_n:.0f}",
            h.fmt(write_small.p50),
            h.fmt(load_small.p50),
            h.fmt(load_small.p95),
        ],
        [
            f"1 x {big}",
            f"{(after_big - after_small) / 2**20:.1f}",
            f"{(after_big - after_small) / big:.0f}",
            h.fmt(write_big.p50),
            h.fmt(load_big.p50),
            h.fmt(load_big.p95),
        ],
    ]
    print(
        h.format_table(
            ["workspaces", "MiB", "B/memory", "write p50 ms", "load p50 ms", "load p95 ms"], rows
        )
    )
    print(f"{indexes} indexes (3 per shared bucket in use + the large tenant's 3)")
    path = h.write_json(args.out, NAME, result)
    print(f"results: {path}")
    return result


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """``python -m benchmarks.many_tenants``."""
    return h.cli(__doc__, NAME, run, argv, add_arguments)


if __name__ == "__main__":
    main()
