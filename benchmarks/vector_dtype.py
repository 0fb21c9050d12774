"""Benchmark — vector element type: FLOAT32 against FLOAT16 deep indexes, side by side in one
run on one server: Redis bytes per memory, single-create p50, context-load p50/p95, and the
vector search's recall@10 against an exact (numpy) nearest-neighbour search.

Each type gets its own prefix and one workspace of N notes (``benchmarks.corpus.notes``) with
synthetic 384-float vectors clustered around 500 topics (:func:`topic_vectors`), served by a
lookup embedder: the model is not what is measured. Queries are further members of those
topics; recall@10 = the share of the exact top 10 (numpy, by the float32 originals) that
``search_deep_memory(search_mode="vector")`` returns. Both workspaces are filled first; their
context loads and single creates are then measured alternately, so both see the same load.
Retrieval quality on real text is LoCoMo's: ``TTA_MEMORY_VECTOR_DTYPE=float16 python -m benchmarks
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


def topic_vectors(start: int, stop: int, topics: int = 500) -> np.ndarray:
    """Unit vectors around ``topics`` random centres (a member's cosine to its centre ~0.78,
    to another member ~0.6): neighbourhoods like a model's topics, where random vectors in
    384 dimensions have none (HNSW's recall@10 on those was 4 % here at 50k, for both types)."""
    centres = random_vectors(0, topics)
    rng = np.random.default_rng(2_000_003 + start)
    which = rng.integers(0, topics, stop - start)
    noise = rng.standard_normal((stop - start, centres.shape[1])).astype(np.float32)
    noise *= 0.8 / np.linalg.norm(noise, axis=1, keepdims=True)
    out = centres[which] + noise
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def _primitive(url: str, dtype: str, table: dict[str, Any]) -> Any:
    from tta_memory import MemoryWorkflowPrimitive
    from tta_memory.config import Settings

    # A MULTI of HNSW inserts into a large graph can outlast the default 4 s on a busy machine.
    settings = Settings(
        prefix=f"vdt-{dtype}-{uuid.uuid4().hex[:6]}", vector_dtype=dtype, socket_timeout=60
    )
    return MemoryWorkflowPrimitive(
        url, "bench", workspace="w", vectorizer=lookup_embedder(table), settings=settings
    )


async def _fill(url: str, m: Any, items: list[dict[str, Any]]) -> tuple[list[Any], int, float]:
    """Write ``items``; returns the memories, the Redis bytes they added and the seconds."""
    await m.add_session_messages(
        "s1", [{"role": "user", "content": chat_line(i)} for i in range(20)]
    )
    before = h.used_memory(url)
    started = time.perf_counter()
    made: list[Any] = []
    for lo in range(0, len(items), 5000):
        made += await m.create_deep_memories(items[lo : lo + 5000], batch_size=500)
    return made, h.used_memory(url) - before, time.perf_counter() - started


async def _alternating(ops: dict[str, Any], n: int) -> dict[str, h.Stats]:
    """``n`` calls of each op, alternating between them (both see the same machine load)."""
    samples: dict[str, list[float]] = {k: [] for k in ops}
    for i in range(-5, n):
        for name, op in ops.items():
            t0 = time.perf_counter()
            await op(i)
            if i >= 0:
                samples[name].append(time.perf_counter() - t0)
    return {k: h.summarize(v) for k, v in samples.items()}


async def run(args: Any, url: str) -> dict[str, Any]:
    """Fill one workspace per type, then measure memory, recall, loads and writes."""
    from tta_memory import WorkflowContext, WorkflowMode

    sizes = dict(SIZES["smoke" if args.smoke else "default"])
    if args.memories:
        sizes["memories"] = args.memories
    n, nq, nw = sizes["memories"], sizes["queries"], sizes["writes"]
    h.print_header(f"vector element type: {n} memories per type", h.machine_info(), url)
    items = notes(0, n)
    queries = notes(QUERY_OFFSET, QUERY_OFFSET + nq)
    writes = notes(QUERY_OFFSET + 1_000_000, QUERY_OFFSET + 1_000_000 + 2 * (nw + 5))
    stored = topic_vectors(0, n)
    table: dict[str, Any] = {}
    for batch, vecs in (
        (items, stored),
        (queries, topic_vectors(QUERY_OFFSET, QUERY_OFFSET + nq)),
        (writes, topic_vectors(QUERY_OFFSET + 1_000_000, QUERY_OFFSET + 1_000_000 + len(writes))),
    ):
        for item, vec in zip(batch, vecs, strict=True):
            table[item["text"]] = vec
    rows_out: dict[str, dict[str, Any]] = {}
    prims: dict[str, Any] = {}
    made: dict[str, list[Any]] = {}
    for dtype in DTYPES:
        prims[dtype] = _primitive(url, dtype, table)
        made[dtype], grown, seconds = await _fill(url, prims[dtype], items)
        rows_out[dtype] = {
            "dtype": dtype,
            "memories": n,
            "bytes": grown,
            "bytes_per_memory": grown / n,
            "fill_seconds": seconds,
        }

    # Recall@10 of the vector search against the exact top 10 of the float32 originals.
    for dtype in DTYPES:
        hits = 0
        for q in queries:
            exact = {made[dtype][i].id for i in np.argsort(-(stored @ table[q["text"]]))[:10]}
            found = await prims[dtype].search_deep_memory(q["text"], limit=10, search_mode="vector")
            hits += len(exact & {f.id for f in found})
        rows_out[dtype]["recall_at_10"] = hits / (10 * nq)

    def loader(dtype: str) -> Any:
        async def load(i: int) -> None:
            ctx = WorkflowContext(workflow_id="bench", session_id="s1")
            await prims[dtype].load_workflow_context(
                ctx, "understand", WorkflowMode.AUGSTER_RIGOROUS
            )

        return load

    def writer(dtype: str, texts: list[dict[str, Any]]) -> Any:
        async def write(i: int) -> None:
            await prims[dtype].create_deep_memory(**texts[i + 5])

        return write

    loads = await _alternating({d: loader(d) for d in DTYPES}, sizes["loads"])
    half = len(writes) // 2
    spans = {"float32": writes[:half], "float16": writes[half:]}
    creates = await _alternating({d: writer(d, spans[d]) for d in DTYPES}, nw)
    for dtype in DTYPES:
        rows_out[dtype]["context_load_ms"] = loads[dtype].as_dict()
        rows_out[dtype]["write_ms"] = creates[dtype].as_dict()

    base = rows_out["float32"]
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
        for r in rows_out.values()
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
    result = {"sizes": sizes, "machine": h.machine_info(), "rows": list(rows_out.values())}
    path = h.write_json(args.out, NAME, result)
    print(f"results: {path}")
    result["json"] = str(path)
    return result


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """``python -m benchmarks.vector_dtype``."""
    return h.cli(__doc__, NAME, run, argv, add_arguments)


if __name__ == "__main__":
    main()
