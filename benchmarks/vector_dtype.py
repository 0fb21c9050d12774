"""Benchmark — vector element type: FLOAT32 against FLOAT16 deep indexes, side by side in one
run on one server: Redis bytes per memory, single-create p50, context-load p50/p95, and the
vector search's recall@10 against an exact (numpy) nearest-neighbour search.

Each type gets its own prefix and one workspace of N notes (``benchmarks.corpus.notes``) with
unit-norm random 384-float vectors served by a lookup embedder (the model is not what is
measured; random vectors in 384 dimensions have small distance gaps, so rounding to float16
moves their neighbours more than a real model's would: a pessimistic case). Queries are
random vectors too; recall@10 = the share of the exact top 10 (by the float32 originals)
that ``search_deep_memory(search_mode="vector")`` returns. The issue's other half, retrieval
quality on real text, is LoCoMo: ``TTA_MEMORY_VECTOR_DTYPE=float16 python -m benchmarks
locomo`` against the same run without it (benchmarks/README.md, "Vector element type").

Run: ``python -m benchmarks.vector_dtype [--smoke] [--url URL] [--memories 50000]``
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks import harness as h
from benchmarks.corpus import chat_line, lookup_embedder, notes, random_vectors

NAME = "vector_dtype"
DTYPES = ("float32", "float16")
SIZES = {
    "smoke": {"memories": 400, "queries": 10, "loads": 10, "writes": 10},
    "default": {"memories": 50_000, "queries": 200, "loads": 100, "writes": 100},
}
QUERY_OFFSET = 30_000_000  # corpus indexes of the query and write vectors


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """This benchmark's options."""
    parser.add_argument("--memories", type=int, default=None, help="notes per type")


async def _one(url: str, dtype: str, sizes: dict[str, int], table: dict[str, Any]) -> dict:
    from tta_memory import MemoryWorkflowPrimitive, WorkflowContext, WorkflowMode
    from tta_memory.config import Settings

    n = sizes["memories"]
    items = notes(0, n)
    settings = Settings(prefix=f"vdt-{dtype}-{uuid.uuid4().hex[:6]}", vector_dtype=dtype)
    m = MemoryWorkflowPrimitive(
        url, "bench", workspace="w", vectorizer=lookup_embedder(table), settings=settings
    )
    await m.add_session_messages(
        "s1", [{"role": "user", "content": chat_line(i)} for i in range(20)]
    )
    before = h.used_memory(url)
    started = time.perf_counter()
    made = []
    for lo in range(0, n, 5000):
        made += await m.create_deep_memories(items[lo : lo + 5000], batch_size=1000)
    fill_s = time.perf_counter() - started
    grown = h.used_memory(url) - before

    # Recall@10 of the vector search against the exact top 10 of the float32 originals.
    stored = random_vectors(0, n)
    queries = notes(QUERY_OFFSET, QUERY_OFFSET + sizes["queries"])
    qvecs = random_vectors(QUERY_OFFSET, QUERY_OFFSET + sizes["queries"])
    hits = 0
    for q, qv in zip(queries, qvecs, strict=True):
        exact = {made[i].id for i in np.argsort(-(stored @ qv))[:10]}
        found = await m.search_deep_memory(q["text"], limit=10, search_mode="vector")
        hits += len(exact & {f.id for f in found})
    recall = hits / (10 * len(queries))

    async def load(i: int) -> None:
        ctx = WorkflowContext(workflow_id="bench", session_id="s1")
        await m.load_workflow_context(ctx, "understand", WorkflowMode.AUGSTER_RIGOROUS)

    loads, _ = await h.time_async(load, sizes["loads"], warmup=5)
    fresh = iter(notes(QUERY_OFFSET + 1_000_000, QUERY_OFFSET + 1_000_000 + sizes["writes"] + 5))

    async def write(i: int) -> None:
        await m.create_deep_memory(**next(fresh))

    writes, _ = await h.time_async(write, sizes["writes"], warmup=5)
    return {
        "dtype": dtype,
        "memories": n,
        "bytes": grown,
        "bytes_per_memory": grown / n,
        "fill_seconds": fill_s,
        "recall_at_10": recall,
        "context_load_ms": loads.as_dict(),
        "write_ms": writes.as_dict(),
    }


async def run(args: Any, url: str) -> dict[str, Any]:
    """Fill one workspace per type, then measure memory, recall, loads and writes."""
    sizes = dict(SIZES["smoke" if args.smoke else "default"])
    if args.memories:
        sizes["memories"] = args.memories
    n = sizes["memories"]
    h.print_header(f"vector element type: {n} memories per type", h.machine_info(), url)
    table: dict[str, Any] = {}
    spans = [
        (0, n),
        (QUERY_OFFSET, QUERY_OFFSET + sizes["queries"]),
        (QUERY_OFFSET + 1_000_000, QUERY_OFFSET + 1_000_000 + sizes["writes"] + 5),
    ]
    for lo, hi in spans:
        for item, vec in zip(notes(lo, hi), random_vectors(lo, hi), strict=True):
            table[item["text"]] = vec
    rows_out = [await _one(url, dtype, sizes, table) for dtype in DTYPES]
    base = rows_out[0]
    rows = [
        [
            r["dtype"],
            f"{r['bytes'] / 2**20:.1f}",
            f"{r['bytes_per_memory']:.0f}",
            f"{r['bytes_per_memory'] / base['bytes_per_memory']:.2f}×",
            f"{100 * r['recall_at_10']:.1f}",
            h.fmt(r["write_ms"]["p50"]),
            h.fmt(r["context_load_ms"]["p50"]),
            h.fmt(r["context_load_ms"]["p95"]),
            f"{r['fill_seconds']:.0f}",
        ]
        for r in rows_out
    ]
    print(
        h.format_table(
            [
                "vectors",
                "MiB",
                "B/memory",
                "vs float32",
                "vector recall@10 %",
                "write p50 ms",
                "load p50 ms",
                "load p95 ms",
                "fill s",
            ],
            rows,
        )
    )
    result = {"sizes": sizes, "machine": h.machine_info(), "rows": rows_out}
    path = h.write_json(args.out, NAME, result)
    print(f"results: {path}")
    result["json"] = str(path)
    return result


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """``python -m benchmarks.vector_dtype``."""
    return h.cli(__doc__, NAME, run, argv, add_arguments)


if __name__ == "__main__":
    main()
