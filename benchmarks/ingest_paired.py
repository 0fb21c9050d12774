"""Paired rounds of the ingest benchmark: the model alone against each engine write mode, back
to back in every round, so the drifts of a shared machine hit them alike; shares are taken per
round and their medians reported.

Each round, on fresh texts written as conversations (a ``session_id`` and an ``event_time`` per
memory, so contextual indexing does its work: the session's previous memory, its vector and the
date):
- the model alone (``Embedder.encode`` of ``n`` texts, before and after the engine steps; the
  better of the two is the round's ceiling);
- ``create_deep_memories`` with the defaults (contextual indexing on), and with ``PLAIN``;
- 16 concurrent ``create_deep_memory`` writers (one memory per call, each writer its own
  session), with write coalescing on (the default) and off (``coalesce_writes=False``);
- a lone writer's latency, coalescing on and off alternating, beside the model's own latency
  for one text.
The engine steps run in a rotated order from round to round.

The machine is shared: its load swings the model's own rate by 2-3x within a minute, so beside
the wall-clock shares each step also records CPU seconds (this process, model threads included,
plus the Redis server's): the **CPU share** is the model's CPU per text divided by the step's CPU
per memory, what the step's rate would be against the model's on an idle machine where both are
CPU-bound.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.corpus import encode

SESSION_LEN = 32  # memories per conversation in the batched modes
MODES = ("batched", "batched_plain", "singles_16", "singles_16_uncoalesced")
#: Modes run only when asked for (``--paired-modes``): experiments, not the default table.
EXTRA_MODES = ("singles_16_no_next",)
LABELS = {
    "batched": "create_deep_memories, contextual indexing (default)",
    "batched_plain": "create_deep_memories, PLAIN (own text only)",
    "singles_16": "16 concurrent create_deep_memory, coalesced (default)",
    "singles_16_uncoalesced": "16 concurrent create_deep_memory, coalesce_writes=False",
    # What the stored predecessor's "next" context costs: its HSET re-indexes the whole
    # document, vector included (see benchmarks/README.md, session 4 of issue 13).
    "singles_16_no_next": "16 concurrent create_deep_memory, coalesced, contextual next=False",
}
_T0 = datetime(2026, 1, 1, tzinfo=UTC)


def conversation(items: Sequence[dict[str, Any]], session: str, first: int) -> list[dict[str, Any]]:
    """``items`` as the turns of session ``session``: one minute apart from turn ``first``."""
    return [
        {**it, "session_id": session, "event_time": _T0 + timedelta(minutes=first + i)}
        for i, it in enumerate(items)
    ]


async def _batched(memory: Any, items: list[dict[str, Any]], tag: str) -> float:
    chats = []
    for lo in range(0, len(items), SESSION_LEN):
        chats += conversation(items[lo : lo + SESSION_LEN], f"{tag}-{lo // SESSION_LEN}", lo)
    t0 = time.perf_counter()
    await memory.create_deep_memories(chats)
    return len(items) / (time.perf_counter() - t0)


async def _singles(memory: Any, items: list[dict[str, Any]], tag: str, writers: int = 16) -> float:
    async def writer(w: int) -> None:
        for it in conversation(items[w::writers], f"{tag}-w{w}", 0):
            await memory.create_deep_memory(**it)

    t0 = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    return len(items) / (time.perf_counter() - t0)


async def _lone_ms(memory: Any, item: dict[str, Any]) -> float:
    t0 = time.perf_counter()
    await memory.create_deep_memory(**item)
    return 1000 * (time.perf_counter() - t0)


def _model_ms(text: str) -> float:
    t0 = time.perf_counter()
    encode([text])
    return 1000 * (time.perf_counter() - t0)


class _Cpu:
    """CPU seconds used so far by this process (all threads) and the Redis server."""

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)

    def __call__(self) -> float:
        info = self._redis.info("cpu")
        return time.process_time() + float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _ceiling(texts: list[str], cpu: _Cpu) -> tuple[float, float]:
    """Texts per second and CPU ms per text of the model alone."""
    c0, t0 = cpu(), time.perf_counter()
    encode(texts)
    return len(texts) / (time.perf_counter() - t0), 1000 * (cpu() - c0) / len(texts)


def _median(values: Sequence[float]) -> float:
    return round(statistics.median(values), 3) if values else 0.0


async def run_paired(
    url: str,
    sizes: dict[str, int],
    take: Callable[[int], list[dict[str, Any]]],
    run_id: str,
    modes: Sequence[str] = MODES,
) -> dict[str, Any]:
    """The paired rounds (see the module docstring).

    Args:
        url: The Redis URL.
        sizes: ``paired_rounds``, ``paired_n`` (memories per mode and round) and
            ``paired_lone`` (lone creates per round and setting).
        take: Fresh corpus items.
        run_id: Distinguishes this run's workspace and sessions.
        modes: The engine steps of each round (of :data:`MODES` and :data:`EXTRA_MODES`).

    Returns:
        Per-round rates and shares, their medians, lone latencies and coalesced batch sizes.
    """
    from tta_memory import MemoryWorkflowPrimitive, Settings
    from tta_memory.contextual import PLAIN, ContextualIndexing
    from tta_memory.stores.deep.coalesce import coalescer_for

    ws = f"bench-paired-{run_id}"
    engines = {
        "batched": MemoryWorkflowPrimitive(url, user_id="bench", workspace=ws),
        "batched_plain": MemoryWorkflowPrimitive(
            url, user_id="bench", workspace=ws, settings=Settings(contextual=PLAIN)
        ),
        "singles_16": MemoryWorkflowPrimitive(url, user_id="bench", workspace=ws),
        "singles_16_uncoalesced": MemoryWorkflowPrimitive(
            url, user_id="bench", workspace=ws, settings=Settings(coalesce_writes=False)
        ),
        "singles_16_no_next": MemoryWorkflowPrimitive(
            url,
            user_id="bench",
            workspace=ws,
            settings=Settings(contextual=ContextualIndexing(next=False)),
        ),
    }
    await engines["batched"].create_deep_memories(take(8))  # model, index, connections
    coalescer = coalescer_for(engines["singles_16"].deep)
    n = sizes["paired_n"]
    cpu = _Cpu(url)
    rounds: list[dict[str, Any]] = []
    lone: dict[str, list[float]] = {"coalesced": [], "uncoalesced": [], "model": []}
    batch_sizes: list[float] = []
    for r in range(sizes["paired_rounds"]):
        before, cpu_before = _ceiling([it["text"] for it in take(n)], cpu)
        rates: dict[str, float] = {}
        cpu_ms: dict[str, float] = {}
        order = [*modes[r % len(modes) :], *modes[: r % len(modes)]]
        for mode in order:
            tag = f"{run_id}-{r}-{mode}"
            c0 = cpu()
            if mode.startswith("batched"):
                rates[mode] = await _batched(engines[mode], take(n), tag)
            else:
                b0, q0 = coalescer.batches, coalescer.requests
                rates[mode] = await _singles(engines[mode], take(n), tag)
                if mode == "singles_16" and coalescer.batches > b0:
                    batch_sizes.append((coalescer.requests - q0) / (coalescer.batches - b0))
            cpu_ms[mode] = 1000 * (cpu() - c0) / n
        after, cpu_after = _ceiling([it["text"] for it in take(n)], cpu)
        ceiling = max(before, after)
        model_cpu = (cpu_before + cpu_after) / 2
        rounds.append(
            {
                "ceiling_per_s": round(ceiling, 1),
                "model_cpu_ms": round(model_cpu, 3),
                **{f"{m}_per_s": round(rates[m], 1) for m in modes},
                **{f"{m}_share": round(rates[m] / ceiling, 3) for m in modes},
                **{f"{m}_cpu_ms": round(cpu_ms[m], 3) for m in modes},
                **{f"{m}_cpu_share": round(model_cpu / cpu_ms[m], 3) for m in modes},
            }
        )
        for i, it in enumerate(take(sizes["paired_lone"])):
            first, second = ("coalesced", "uncoalesced") if i % 2 else ("uncoalesced", "coalesced")
            for setting in (first, second):
                mode = "singles_16" if setting == "coalesced" else "singles_16_uncoalesced"
                item = {**it, "text": f"{it['text']} ({setting})"}
                lone[setting].append(await _lone_ms(engines[mode], item))
            lone["model"].append(_model_ms(f"{it['text']} (model)"))
    return {
        "modes": list(modes),
        "rounds": rounds,
        "median_share": {m: _median([r[f"{m}_share"] for r in rounds]) for m in modes},
        "median_cpu_share": {m: _median([r[f"{m}_cpu_share"] for r in rounds]) for m in modes},
        "median_model_cpu_ms": _median([r["model_cpu_ms"] for r in rounds]),
        "lone_p50_ms": {k: _median(v) for k, v in lone.items()},
        "lone_n": len(lone["model"]),
        "coalesced_batch_mean": _median(batch_sizes),
    }


def report_lines(paired: dict[str, Any]) -> list[str]:
    """What the paired rounds print under the ingest table."""
    rounds = paired["rounds"]
    lines = [
        f"paired rounds ({len(rounds)}; model alone before and after the engine steps, the "
        "better counts); median share of the model's batch rate, then the per-round shares:"
    ]
    for mode in paired.get("modes", MODES):
        shares = [r[f"{mode}_share"] for r in rounds]
        lines.append(
            f"  {LABELS[mode]}: {100 * paired['median_share'][mode]:.0f} % {shares}; CPU share "
            f"{100 * paired['median_cpu_share'][mode]:.0f} % "
            f"({_median([r[f'{mode}_cpu_ms'] for r in rounds]):.2f} ms CPU per memory)"
        )
    lines.append(f"  the model alone: {paired['median_model_cpu_ms']:.2f} ms CPU per text")
    lone = paired["lone_p50_ms"]
    lines.append(
        f"  lone writer p50 (n={paired['lone_n']} each): coalesced {lone['coalesced']:.1f} ms, "
        f"uncoalesced {lone['uncoalesced']:.1f} ms, the model alone for one text "
        f"{lone['model']:.1f} ms; coalesced batches of {paired['coalesced_batch_mean']:.1f} "
        "creates on average"
    )
    return lines
