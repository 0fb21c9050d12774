"""Benchmark 1 — context loading at scale: p50/p95/p99 of ``load_workflow_context`` for every
(stage, mode) cell, with a cached and an uncached query embedding, against a baseline that sends
the very same Redis queries by hand, one after another; and how latency and Redis memory per
memory grow with the number of deep memories.

Workspace: 1k sessions × 50 messages, 200 PAFs, 50 groups (20 sessions each, two area tags) and
N deep memories — engineering notes generated from a vocabulary and embedded with the default
model (vectors cached in ``benchmarks/results/cache/``). Sizes beyond the cached corpus (the 1M
scale) use unit-norm random vectors for the extra memories; the report says so.

Baselines: one ``load_workflow_context`` call per query session and cell is recorded — every
command at the redis-py connection level (grouped by round trip, which gives the round-trip count)
and every redisvl query object it ran; the baselines cycle through the sessions as the timed loads
do. "redisvl by hand" sends the same reads (ZRANGE, HGETALL, embedding-cache lookups)
and runs the same redisvl query objects through ``AsyncSearchIndex.query``, one after another,
with redisvl parsing the results: the issue's "same Redis queries by hand with redisvl". "raw
replay" sends the exact recorded commands one after another without parsing anything: the floor
for that set of queries sent sequentially. The engine's cached loads and both baselines run in
ten alternating blocks, so that the machine's drift reaches all three alike.

Run: ``python -m benchmarks.context_loading [--smoke] [--sizes 10000,100000] [--url URL]``
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import harness as h
from benchmarks.corpus import (
    AREAS,
    NARROW_WORDS,
    cached_note_vectors,
    chat_line,
    lookup_embedder,
    narrow_chat_line,
    narrow_note,
    note,
    notes,
    random_vectors,
)

NAME = "context_loading"
STAGES = ("understand", "decompose", "plan", "implement", "verify", "review")
MODES = ("rapid", "standard", "augster_rigorous")
HEADLINE = (("understand", "augster_rigorous"), ("implement", "standard"), ("verify", "rapid"))
TARGET_CELL = ("understand", "augster_rigorous")
PAF_CATEGORIES = ("AUTH", "DB", "API", "SEC", "PERF", "OPS", "DATA", "UX")

SIZES: dict[str, dict[str, Any]] = {
    "smoke": {
        "sessions": 12,
        "messages": 10,
        "pafs": 8,
        "groups": 3,
        "deep": [150, 300],
        "embedded_corpus": 0,
        "n_cached": 5,
        "n_uncached": 2,
        "warmup": 1,
        "query_sessions": 3,
    },
    "default": {
        "sessions": 1000,
        "messages": 50,
        "pafs": 200,
        "groups": 50,
        "deep": [10_000, 100_000],
        "embedded_corpus": 100_000,
        "n_cached": 100,
        "n_uncached": 30,
        "warmup": 20,
        "query_sessions": 20,
    },
    # The narrow-vocabulary corpus (--corpus narrow): 40 words, so every BM25 term is in a
    # large share of the notes; random vectors (BM25's cost is the point, not the ranking).
    "narrow": {
        "sessions": 100,
        "messages": 50,
        "pafs": 20,
        "groups": 5,
        "deep": [10_000],
        "embedded_corpus": 0,
        "n_cached": 100,
        "n_uncached": 30,
        "warmup": 20,
        "query_sessions": 20,
    },
}


class Workspace:
    """Builds the benchmark workspace and grows its deep layer step by step."""

    def __init__(
        self, url: str, workspace: str, sizes: dict[str, Any], cache_dir: Any, narrow: bool = False
    ) -> None:
        from tta_memory import MemoryWorkflowPrimitive, SessionGroupPrimitive
        from tta_memory.config import Settings

        self.narrow = narrow
        self.note = narrow_note if narrow else note
        self.chat_line = narrow_chat_line if narrow else chat_line
        self.areas = NARROW_WORDS if narrow else AREAS
        self.url = url
        self.sizes = sizes
        self.cache_dir = cache_dir
        self.workspace = workspace
        self.deep_count = 0
        self.random_from: int | None = None
        self._vectors: np.ndarray | None = None
        # The measured primitive uses the default vectorizer, exactly as a user would.
        self.memory = MemoryWorkflowPrimitive(url, user_id="bench", workspace=workspace)
        self.groups = SessionGroupPrimitive(url, user_id="bench", workspace=workspace)
        # The builder waits longer for Redis than a user would: a batch of 1,000 memories into
        # a 100k HNSW graph on a loaded 2-core machine outlasted the default 4 s reply timeout.
        build_settings = Settings(socket_timeout=120)
        self._make_writer = lambda table: MemoryWorkflowPrimitive(
            url,
            user_id="bench",
            workspace=workspace,
            vectorizer=lookup_embedder(table),
            settings=build_settings,
        )

    def session_id(self, i: int) -> str:
        return f"sess-{i:05d}"

    async def build_static(self) -> dict[str, float]:
        """Sessions, PAFs and groups (independent of the deep-memory count)."""
        timings: dict[str, float] = {}
        s = self.sizes
        t0 = time.perf_counter()
        # One-time costs out of the way: the model load and the deep index creation.
        await self.memory.search_deep_memory("warm up", limit=1)
        timings["setup_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(s["sessions"]):
            batch = [
                {
                    "role": "user" if j % 2 == 0 else "assistant",
                    "content": self.chat_line(i * 1000 + j),
                }
                for j in range(s["messages"])
            ]
            await self.memory.add_session_messages(self.session_id(i), batch)
        timings["sessions_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        paf = self.memory.paf_primitive
        for i in range(s["pafs"]):
            cat = PAF_CATEGORIES[i % len(PAF_CATEGORIES)]
            await paf.add_paf(
                cat,
                f"{i // len(PAF_CATEGORIES) + 1:03d}",
                f"{cat} constraint {i}: {self.note(10_000_000 + i)['text']}",
                rationale="Benchmark fixture.",
            )
        timings["pafs_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for g in range(s["groups"]):
            areas = self.areas
            tags = [areas[g % len(areas)], areas[(g * 7 + 3) % len(areas)]]
            gid = await self.groups.create_group(
                f"feature-{g}",
                description=f"Work on the {tags[0]} and {tags[1]} services",
                tags=tags,
            )
            for i in range(g, s["sessions"], s["groups"]):
                await self.groups.add_session_to_group(gid, self.session_id(i))
        timings["groups_s"] = time.perf_counter() - t0
        return {k: round(v, 2) for k, v in timings.items()}

    def _vectors_for(self, start: int, stop: int) -> tuple[np.ndarray, bool]:
        embedded = self.sizes["embedded_corpus"]
        if stop <= embedded:
            if self._vectors is None or len(self._vectors) < stop:
                self._vectors = cached_note_vectors(embedded, self.cache_dir)
            return np.asarray(self._vectors[start:stop]), True
        if start < embedded:
            a, _ = self._vectors_for(start, embedded)
            b = random_vectors(embedded, stop)
            return np.concatenate([a, b]), False
        return random_vectors(start, stop), False

    async def grow_deep(self, target: int, chunk: int = 50_000) -> dict[str, Any]:
        """Add deep memories up to ``target``; returns ingest time and Redis memory growth."""
        before = h.used_memory(self.url)
        start_count = self.deep_count
        t0 = time.perf_counter()
        for lo in range(self.deep_count, target, chunk):
            hi = min(target, lo + chunk)
            vecs, real = self._vectors_for(lo, hi)
            if not real and self.random_from is None:
                self.random_from = max(lo, self.sizes["embedded_corpus"])
            items = notes(lo, hi) if not self.narrow else [self.note(i) for i in range(lo, hi)]
            table = {it["text"]: v for it, v in zip(items, vecs, strict=True)}
            writer = self._make_writer(table)
            await writer.create_deep_memories(items, batch_size=1000)
            self.deep_count = hi
        seconds = time.perf_counter() - t0
        await self._wait_indexed()
        after = h.used_memory(self.url)
        added = self.deep_count - start_count
        return {
            "added": added,
            "ingest_s": round(seconds, 2),
            "ingest_per_s": round(added / seconds, 1) if seconds else None,
            "used_memory_bytes": after,
            "bytes_per_added_memory": round((after - before) / added, 1) if added else None,
        }

    async def _wait_indexed(self) -> None:
        """Wait until RediSearch has no background indexing left (so timings are steady)."""
        import redis.asyncio as aredis

        client = aredis.Redis.from_url(self.url)
        try:
            names = [
                n.decode() if isinstance(n, bytes) else n
                for n in await client.execute_command("FT._LIST")
            ]
            for name in names:
                for _ in range(600):
                    info = await client.ft(name).info()
                    if str(info.get("indexing", "0")) in ("0", "0.0"):
                        break
                    await asyncio.sleep(0.5)
        finally:
            await client.aclose()


async def load(ws: Workspace, stage: str, mode: str, session: str, query: str | None) -> Any:
    """One ``load_workflow_context`` call."""
    from tta_memory import WorkflowContext

    ctx = WorkflowContext(workflow_id="bench", session_id=session, metadata={}, state={})
    return await ws.memory.load_workflow_context(ctx, stage=stage, mode=mode, query=query)


async def measure_cell(
    ws: Workspace, stage: str, mode: str, sizes: dict[str, Any], *, baseline: bool
) -> dict[str, Any]:
    """Cached and uncached latency of one cell, its round trips and the replay baseline."""
    qs = [
        ws.session_id(i * max(1, sizes["sessions"] // sizes["query_sessions"]))
        for i in range(sizes["query_sessions"])
    ]
    out: dict[str, Any] = {}

    # Cached: the query comes from each session's latest user messages; the warm-up visits
    # every session once so the engine's embedding cache holds the query vector.
    for s in qs:
        await load(ws, stage, mode, s, None)

    async def cached(i: int) -> None:
        await load(ws, stage, mode, qs[abs(i) % len(qs)], None)

    counter = iter(range(20_000_000, 30_000_000))
    stats, _ = await h.time_async(
        lambda i: load(ws, stage, mode, qs[abs(i) % len(qs)], ws.chat_line(next(counter))),
        sizes["n_uncached"],
        warmup=min(3, sizes["warmup"]),
    )
    out["uncached"] = stats.as_dict()

    # One recorded load per query session: the baselines cycle through the same sessions'
    # queries as the timed loads (one session's queries replayed 100 times made the ratio
    # depend on how cheap that one session's KNN happened to be: 2.4-6.6 ms at 100k).
    recordings = []
    for s in qs if baseline else qs[:1]:
        with h.CommandRecorder() as rec, h.QueryRecorder() as qrec:
            result = await load(ws, stage, mode, s, None)
        recordings.append((rec, qrec))
    rec = recordings[0][0]
    report = result.metadata["memory_report"]
    out["round_trips"] = len(rec.trips)
    out["commands"] = rec.command_count
    out["command_names"] = rec.command_names()
    out["loaded"] = {layer: getattr(r, "count", None) for layer, r in report.layers.items()}
    if not baseline:
        stats, _ = await h.time_async(cached, sizes["n_cached"], warmup=sizes["warmup"])
        out["cached"] = stats.as_dict()
        return out
    replays = [h.replayable(r.trips) for r, _ in recordings]
    plains = [
        h.replayable(r.trips, skip=frozenset({"FT.SEARCH", "FT.AGGREGATE"})) for r, _ in recordings
    ]
    resolved = [await q.resolve(ws.url) for _, q in recordings]
    async with h.raw_client(ws.url) as client:

        async def replay(i: int) -> None:
            for cmd in replays[abs(i) % len(replays)]:
                await client.execute_command(*cmd)

        async def by_hand(i: int) -> None:
            # The same reads (ZRANGE, HGETALL, embedding-cache lookups) and the same redisvl
            # query objects, each sent on its own and parsed by redisvl.
            for cmd in plains[abs(i) % len(plains)]:
                await client.execute_command(*cmd)
            for index, q in resolved[abs(i) % len(resolved)]:
                await index.query(q)

        # The engine and both baselines in alternating blocks (harness.time_interleaved): the
        # ratio is the point, and measured one after another it took the machine's drift in.
        timed = await h.time_interleaved(
            {"cached": cached, "baseline_replay": replay, "baseline_redisvl": by_hand},
            sizes["n_cached"],
            warmup=sizes["warmup"],
        )
        for name, stats in timed.items():
            out[name] = stats.as_dict()
        if (stage, mode) == TARGET_CELL:
            out["command_breakdown"] = await breakdown(client, replays[0], sizes["n_cached"])
    out["baseline_commands"] = len(replays[0])
    out["baseline_queries"] = len(resolved[0])
    return out


def _describe(cmd: tuple[Any, ...]) -> str:
    parts = [a.decode(errors="replace") if isinstance(a, bytes) else str(a) for a in cmd[:3]]
    text = " ".join(parts)
    return text if len(text) <= 160 else text[:157] + "..."


async def breakdown(client: Any, commands: list[tuple[Any, ...]], n: int) -> list[dict[str, Any]]:
    """Where the Redis time goes: each recorded command timed on its own (p50/p95)."""
    out = []
    for cmd in commands:

        async def once(_: int, c: tuple[Any, ...] = cmd) -> Any:
            return await client.execute_command(*c)

        stats, _ = await h.time_async(once, n, warmup=5)
        out.append(
            {"command": _describe(cmd), "p50": round(stats.p50, 3), "p95": round(stats.p95, 3)}
        )
    return out


def report(results: dict[str, Any]) -> str:
    """Per size: every measured cell with engine/baseline ratio; then memory per memory."""
    parts = []
    for size, res in results["by_size"].items():
        rows = []
        for cell, r in res["cells"].items():
            c, u, b = r["cached"], r["uncached"], r.get("baseline_redisvl")
            raw = r.get("baseline_replay")
            rows.append(
                [
                    cell,
                    c["p50"],
                    c["p95"],
                    c["p99"],
                    u["p50"],
                    u["p95"],
                    u["p99"],
                    b and b["p50"],
                    b and b["p95"],
                    f"{c['p95'] / b['p95']:.2f}×" if b else "-",
                    raw and raw["p95"],
                    f"{c['p95'] / raw['p95']:.2f}×" if raw else "-",
                    r["round_trips"],
                    r["commands"],
                ]
            )
        title = f"deep memories: {int(size):,}" + (
            f" (memories from #{res['random_from']:,} use random vectors)"
            if res.get("random_from") is not None
            else ""
        )
        parts.append(
            title
            + "\n"
            + h.format_table(
                [
                    "stage / mode",
                    "cached p50",
                    "p95",
                    "p99",
                    "uncached p50",
                    "p95",
                    "p99",
                    "redisvl by hand p50",
                    "p95",
                    "ours/by hand p95",
                    "raw replay p95",
                    "ours/raw p95",
                    "round trips",
                    "commands",
                ],
                rows,
            )
        )
    grow = [
        [
            f"{int(s):,}",
            r["growth"]["added"],
            r["growth"]["ingest_per_s"],
            round(r["growth"]["used_memory_bytes"] / 2**20, 1),
            r["growth"]["bytes_per_added_memory"],
        ]
        for s, r in results["by_size"].items()
    ]
    parts.append(
        h.format_table(
            [
                "deep memories",
                "added",
                "ingest/s (precomputed vectors)",
                "Redis used MB",
                "bytes per added memory",
            ],
            grow,
        )
    )
    return "\n\n".join(parts)


def plot(results: dict[str, Any], out_dir: Any) -> list[str]:
    """Latency against corpus size (headline cells) and the full grid at the largest size."""
    paths = []
    sizes = [int(s) for s in results["by_size"]]
    fig, ax = h.new_figure()
    for stage, mode in HEADLINE:
        cell = f"{stage}/{mode}"
        for kind, style in (("cached", "-o"), ("uncached", "--x")):
            ys = [
                results["by_size"][str(s)]["cells"].get(cell, {}).get(kind, {}).get("p95")
                for s in sizes
            ]
            if any(y is not None for y in ys):
                ax.plot(sizes, ys, style, label=f"{cell} {kind} p95")
    ax.set_xscale("log")
    ax.set_xlabel("deep memories")
    ax.set_ylabel("ms")
    ax.set_title("load_workflow_context p95 against corpus size")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    paths.append(h.save_figure(fig, out_dir, f"{NAME}_scaling"))
    largest = results["by_size"][str(max(sizes))]["cells"]
    labels = list(largest)
    paths.append(
        h.bar_chart(
            out_dir,
            f"{NAME}_cells",
            f"load_workflow_context p95 at {max(sizes):,} memories",
            labels,
            {
                "cached": [largest[c]["cached"]["p95"] for c in labels],
                "uncached": [largest[c]["uncached"]["p95"] for c in labels],
                "redisvl by hand": [
                    (largest[c].get("baseline_redisvl") or {}).get("p95", 0) for c in labels
                ],
                "raw replay": [
                    (largest[c].get("baseline_replay") or {}).get("p95", 0) for c in labels
                ],
            },
            "ms",
        )
    )
    return [str(p) for p in paths]


async def run(args: Any, url: str) -> dict[str, Any]:
    """Run the benchmark against ``url`` and return the JSON payload."""
    narrow = args.corpus == "narrow"
    sizes = dict(SIZES["smoke" if args.smoke else "narrow" if narrow else "default"])
    if args.sizes:
        sizes["deep"] = [int(x) for x in args.sizes.split(",")]
    if args.embedded_corpus is not None:
        sizes["embedded_corpus"] = args.embedded_corpus
    if args.smoke or narrow:
        sizes["embedded_corpus"] = 0
    sizes["corpus"] = args.corpus
    info = h.machine_info()
    h.print_header("Context loading at scale", info, url)
    ws = Workspace(url, f"bench-ctx-{uuid.uuid4().hex[:8]}", sizes, args.cache_dir, narrow)
    print(
        f"  building {sizes['sessions']} sessions × {sizes['messages']} messages, "
        f"{sizes['pafs']} PAFs, {sizes['groups']} groups ..."
    )
    static = await ws.build_static()
    print(f"  built: {static}")
    results: dict[str, Any] = {"static_build": static, "by_size": {}}
    full_grid_at = max(sizes["deep"]) if args.full_grid_at is None else args.full_grid_at
    for target in sorted(sizes["deep"]):
        growth = await ws.grow_deep(target)
        print(f"  {target:,} deep memories: {growth}")
        cells: dict[str, Any] = {}
        grid = [(s, m) for s in STAGES for m in MODES] if target == full_grid_at else list(HEADLINE)
        for stage, mode in grid:
            cells[f"{stage}/{mode}"] = await measure_cell(ws, stage, mode, sizes, baseline=True)
        results["by_size"][str(target)] = {
            "growth": growth,
            "cells": cells,
            "random_from": ws.random_from,
        }
        tc = cells.get(f"{TARGET_CELL[0]}/{TARGET_CELL[1]}")
        if tc:
            print(
                f"  {TARGET_CELL[0]}/{TARGET_CELL[1]}: cached p95 {tc['cached']['p95']:.2f} ms,"
                f" redisvl by hand p95 {tc['baseline_redisvl']['p95']:.2f} ms,"
                f" raw replay p95 {tc['baseline_replay']['p95']:.2f} ms, "
                f"{tc['round_trips']} round trips"
            )
    table = report(results)
    print(table)
    payload = {
        "benchmark": NAME,
        "machine": info,
        "sizes": sizes,
        "results": results,
        "vectors": {
            "embedded_corpus": sizes["embedded_corpus"],
            "note": "memories beyond embedded_corpus use random unit vectors",
        },
        "table": table,
    }
    if not args.no_plots:
        payload["plots"] = plot(results, args.out)
    payload["json"] = str(h.write_json(args.out, NAME, payload))
    return payload


def add_arguments(parser: Any) -> None:
    """Context-loading options."""
    parser.add_argument(
        "--sizes", default=None, help="comma list of deep-memory counts, e.g. 10000,100000,1000000"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=h.DEFAULT_OUT / "cache",
        help="where embedded corpus vectors are cached (default benchmarks/results/cache/)",
    )
    parser.add_argument(
        "--corpus",
        choices=("notes", "narrow"),
        default="notes",
        help="notes: engineering notes (~300 words); narrow: a 40-word vocabulary, 100 sessions, "
        "20 PAFs, 10k memories with random vectors",
    )
    parser.add_argument(
        "--embedded-corpus",
        type=int,
        default=None,
        help="how many notes get model vectors (the rest random; default 100000)",
    )
    parser.add_argument(
        "--full-grid-at",
        type=int,
        default=None,
        help="size at which every (stage, mode) cell runs (default: the largest)",
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command-line entry point."""
    return h.cli(__doc__, NAME, run, argv, add_arguments)


if __name__ == "__main__":
    main()
