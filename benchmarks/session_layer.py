"""Benchmark 2 — session layer: append and read-last-50 latency and throughput, 1 and 32
concurrent writers, for the engine and its peers on the same message stream and Redis server.

Peers: langchain-redis ``RedisChatMessageHistory``, redisvl ``MessageHistory`` (both on the
same Redis server) and LlamaIndex's default ``Memory`` (its in-memory SQLite store).

Run: ``python -m benchmarks.session_layer [--smoke] [--url URL]``
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
import uuid
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

from benchmarks import harness as h
from benchmarks.corpus import chat_line

NAME = "session_layer"
ROLES = ("user", "assistant")

SIZES = {
    "smoke": {"appends": 30, "reads": 20, "long": 120, "writers": 4, "per_writer": 5, "warmup": 3},
    "default": {
        "appends": 2000,
        "reads": 500,
        "long": 1000,
        "writers": 32,
        "per_writer": 100,
        "warmup": 50,
    },
}


def stream(i: int) -> tuple[str, str]:
    """The i-th message of the shared stream (role, content)."""
    return ROLES[i % 2], chat_line(i)


class System:
    """One implementation under test. Subclasses bind to a store; all share the stream."""

    name = "?"
    threaded = False  # blocking client: concurrency through threads
    caps: ClassVar[dict[str, int]] = {}  # smaller workloads for very slow peers (default runs only)

    async def append(self, session: str, i: int) -> None:
        raise NotImplementedError

    async def prefill(self, session: str, n: int) -> None:
        for i in range(n):
            await self.append(session, i)

    async def read50(self, session: str, total: int) -> int:
        """Read the last 50 messages of ``session`` (which holds ``total``); return how many."""
        raise NotImplementedError

    def append_blocking(self, session: str, i: int) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        return None


class Engine(System):
    """tta_memory's session layer through the async API."""

    name = "tta-memory (async)"

    def __init__(self, url: str, workspace: str) -> None:
        from tta_memory import MemoryWorkflowPrimitive

        self.memory = MemoryWorkflowPrimitive(url, user_id="bench", workspace=workspace)

    async def append(self, session: str, i: int) -> None:
        role, content = stream(max(i, 0))
        await self.memory.add_session_message(session, role, content)

    async def prefill(self, session: str, n: int) -> None:
        batch = [{"role": r, "content": c} for r, c in map(stream, range(n))]
        for lo in range(0, n, 500):
            await self.memory.add_session_messages(session, batch[lo : lo + 500])

    async def read50(self, session: str, total: int) -> int:
        return len(await self.memory.get_session_context(session, limit=50))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.memory.aclose()


class EngineSync(Engine):
    """tta_memory's session layer through the blocking ``.sync`` proxy."""

    name = "tta-memory (sync)"
    threaded = True

    async def append(self, session: str, i: int) -> None:
        self.append_blocking(session, i)

    def append_blocking(self, session: str, i: int) -> None:
        role, content = stream(max(i, 0))
        self.memory.sync.add_session_message(session, role, content)

    async def read50(self, session: str, total: int) -> int:
        return len(self.memory.sync.get_session_context(session, limit=50))


class LangChainRedis(System):
    """langchain-redis ``RedisChatMessageHistory`` (reads return the whole session)."""

    name = "langchain-redis"
    threaded = True

    def __init__(self, url: str, run_id: str) -> None:
        self.url = url
        self.run_id = run_id
        self._histories: dict[str, Any] = {}

    def _history(self, session: str) -> Any:
        from langchain_redis import RedisChatMessageHistory

        if session not in self._histories:
            if not self._histories:
                with warnings.catch_warnings():
                    # Deprecated in langchain-core 1.x, still the class users run.
                    warnings.simplefilter("ignore", DeprecationWarning)
                    self._histories[session] = RedisChatMessageHistory(
                        session_id=session,
                        redis_url=self.url,
                        index_name=f"bench_lc_{self.run_id}",
                        key_prefix=f"bench_lc_{self.run_id}:",
                    )
            else:
                # langchain-redis 0.2.6 cannot construct a history once its index exists under
                # redis-py 8 (it parses FT.INFO as a list: AttributeError 'dict' object has no
                # attribute 'index'), so further sessions reuse the first instance's client/index.
                clone = copy.copy(next(iter(self._histories.values())))
                clone.session_id = session
                self._histories[session] = clone
        return self._histories[session]

    @staticmethod
    def _message(i: int) -> Any:
        from langchain_core.messages import AIMessage, HumanMessage

        role, content = stream(max(i, 0))
        return HumanMessage(content=content) if role == "user" else AIMessage(content=content)

    async def append(self, session: str, i: int) -> None:
        self.append_blocking(session, i)

    def append_blocking(self, session: str, i: int) -> None:
        self._history(session).add_message(self._message(i))

    async def prefill(self, session: str, n: int) -> None:
        hist = self._history(session)
        for lo in range(0, n, 500):
            hist.add_messages([self._message(i) for i in range(lo, min(n, lo + 500))])

    async def read50(self, session: str, total: int) -> int:
        # The API has no "last n": it returns the whole session, sorted by time.
        return len(self._history(session).messages[-50:])


class RedisVLHistory(System):
    """redisvl ``MessageHistory``."""

    name = "redisvl MessageHistory"
    threaded = True

    def __init__(self, url: str, run_id: str) -> None:
        from redisvl.extensions.message_history import MessageHistory

        self.history = MessageHistory(name=f"bench_rvl_{run_id}", redis_url=url)

    async def append(self, session: str, i: int) -> None:
        self.append_blocking(session, i)

    def append_blocking(self, session: str, i: int) -> None:
        role, content = stream(max(i, 0))
        self.history.add_message({"role": role, "content": content}, session_tag=session)

    async def prefill(self, session: str, n: int) -> None:
        msgs = [{"role": r, "content": c} for r, c in map(stream, range(n))]
        for lo in range(0, n, 500):
            self.history.add_messages(msgs[lo : lo + 500], session_tag=session)

    async def read50(self, session: str, total: int) -> int:
        return len(self.history.get_recent(top_k=50, session_tag=session))


class LlamaIndexMemory(System):
    """LlamaIndex ``Memory.from_defaults`` (SQLAlchemy store on in-memory SQLite)."""

    name = "LlamaIndex Memory (SQLite)"
    # Memory.aput re-reads and re-tokenises the whole active queue on every put (O(n) per
    # append), so a full-size run takes minutes: fewer operations, reported in the "n" column.
    caps: ClassVar[dict[str, int]] = {"appends": 300, "per_writer": 10}

    def __init__(self) -> None:
        self._memories: dict[str, Any] = {}
        self._store: Any = None

    def _memory(self, session: str) -> Any:
        from llama_index.core.memory import Memory

        if session not in self._memories:
            if self._store is None:
                mem = Memory.from_defaults(session_id=session)
                self._store = mem.sql_store
            else:
                mem = Memory.from_defaults(session_id=session, chat_store=self._store)
            self._memories[session] = mem
        return self._memories[session]

    @staticmethod
    def _message(i: int) -> Any:
        from llama_index.core.llms import ChatMessage

        role, content = stream(max(i, 0))
        return ChatMessage(role=role, content=content)

    async def append(self, session: str, i: int) -> None:
        await self._memory(session).aput(self._message(i))

    async def prefill(self, session: str, n: int) -> None:
        mem = self._memory(session)
        for lo in range(0, n, 500):
            await mem.aput_messages([self._message(i) for i in range(lo, min(n, lo + 500))])

    async def read50(self, session: str, total: int) -> int:
        mem = self._memory(session)
        if total <= 50:
            return len(await mem.aget())  # what an agent calls: the active conversation
        # No "last n" call: count, then page to the tail.
        store = mem.sql_store
        n = await store.count_messages(session, status=None)
        return len(await store.get_messages(session, status=None, limit=50, offset=max(0, n - 50)))


ROUNDS = 10  # the sequential appends of every system, in this many alternating blocks


async def interleaved_appends(
    systems: Sequence[System], sizes: dict[str, int], run_id: str, *, rounds: int = ROUNDS
) -> dict[str, dict[str, Any]]:
    """Sequential appends of every system, measured in alternating blocks (a block of each
    system per round, the order reversed every other round), so that a change in the machine's
    load reaches every system alike: the ratios hold on a shared machine.

    Returns:
        name -> the append ``Stats`` as a dict, plus ``cpu_us`` (this process's CPU time per
        append: the client's own work, Redis excluded); a failing system: ``{"error": ...}``.
    """
    samples: dict[str, list[float]] = {}
    cpu: dict[str, float] = {}
    wall: dict[str, float] = {}
    failed: dict[str, str] = {}
    blocks: dict[str, int] = {}
    for system in systems:
        n = min(sizes["appends"], system.caps.get("appends", sizes["appends"]))
        blocks[system.name] = max(1, n // rounds)
        samples[system.name], cpu[system.name], wall[system.name] = [], 0.0, 0.0
        try:
            for i in range(sizes["warmup"]):
                await system.append(f"append-{run_id}", -1 - i)
        except Exception as exc:  # a peer failing must not hide the others' figures
            failed[system.name] = f"{type(exc).__name__}: {exc}"
    live = [s for s in systems if s.name not in failed]
    i = 0
    for r in range(rounds):
        for system in live if r % 2 == 0 else live[::-1]:
            name, sid = system.name, f"append-{run_id}"
            if name in failed:
                continue
            xs = samples[name]
            c0, w0 = time.process_time(), time.perf_counter()
            try:
                for _ in range(blocks[name]):
                    t0 = time.perf_counter()
                    await system.append(sid, i)
                    xs.append(time.perf_counter() - t0)
                    i += 1
            except Exception as exc:
                failed[name] = f"{type(exc).__name__}: {exc}"
            cpu[name] += time.process_time() - c0
            wall[name] += time.perf_counter() - w0
    out: dict[str, dict[str, Any]] = {}
    for system in systems:
        name = system.name
        if name in failed:
            out[name] = {"error": failed[name]}
            continue
        stats = h.summarize(samples[name], wall=wall[name]).as_dict()
        stats["cpu_us"] = round(cpu[name] / max(1, len(samples[name])) * 1e6, 1)
        out[name] = stats
    return out


async def measure(system: System, sizes: dict[str, int], run_id: str) -> dict[str, Any]:
    """The session-layer figures of one system after the appends (:func:`interleaved_appends`).

    Args:
        system: The implementation.
        sizes: Workload sizes.
        run_id: Unique suffix for session ids.

    Returns:
        ``{"read50_of_50": Stats, "read50_of_long": ..., "concurrent_<n>": ...}``.
    """
    out: dict[str, Any] = {}
    sizes = {k: min(v, system.caps.get(k, v)) for k, v in sizes.items()}
    warm = sizes["warmup"]

    for label, total in (("read50_of_50", 50), ("read50_of_long", sizes["long"])):
        rsid = f"read{total}-{run_id}"
        await system.prefill(rsid, total)
        got = await system.read50(rsid, total)
        if got != min(50, total):
            raise AssertionError(f"{system.name}: read {got} messages, expected {min(50, total)}")

        async def read(_: int, s: str = rsid, t: int = total) -> int:
            return await system.read50(s, t)

        stats, _ = await h.time_async(read, sizes["reads"], warmup=warm)
        out[label] = stats.as_dict()

    csid = f"conc-{run_id}"
    writers, per = sizes["writers"], sizes["per_writer"]
    if system.threaded:
        await system.append(csid, 0)  # create the session/index before the threads race
        stats = await asyncio.to_thread(
            h.concurrent_threads,
            lambda w, i: system.append_blocking(csid, w * per + i),
            writers,
            per,
        )
    else:
        stats = await h.concurrent_async(
            lambda w, i: system.append(csid, w * per + i), writers, per
        )
    out[f"concurrent_{writers}"] = stats.as_dict()
    return out


def build_systems(url: str, *, peers: bool, run_id: str) -> list[System]:
    """The engine (async and sync) plus, unless disabled, the peers."""
    systems: list[System] = [
        Engine(url, f"bench-session-{run_id}"),
        EngineSync(url, f"bench-session-sync-{run_id}"),
    ]
    if peers:
        systems += [LangChainRedis(url, run_id), RedisVLHistory(url, run_id), LlamaIndexMemory()]
    return systems


def report(results: dict[str, dict[str, Any]], writers: int) -> str:
    """The printed table: p50/p95 per operation and the ratio peer/engine (>1 = engine faster)."""
    ours = results.get("tta-memory (async)", {})
    rows = []
    ops = [
        ("append", "append"),
        ("read50_of_50", "read last 50 (of 50)"),
        ("read50_of_long", "read last 50 (of long)"),
        (f"concurrent_{writers}", f"append, {writers} writers"),
    ]
    for key, label in ops:
        for name, res in results.items():
            s = res[key]
            base = ours.get(key, {})
            rows.append(
                [
                    label,
                    name,
                    s["n"],
                    s["p50"],
                    s["p95"],
                    s["p99"],
                    s.get("ops_per_s"),
                    s.get("cpu_us", ""),
                    "" if name == "tta-memory (async)" else h.ratio(base.get("p50"), s["p50"]),
                    ""
                    if name == "tta-memory (async)"
                    else h.ratio(
                        1 / base["ops_per_s"] if base.get("ops_per_s") else None,
                        1 / s["ops_per_s"] if s.get("ops_per_s") else None,
                    ),
                ]
            )
    return h.format_table(
        [
            "operation",
            "system",
            "n",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "ops/s",
            "client CPU us/op",
            "peer/ours p50",
            "ours/peer ops/s",
        ],
        rows,
    )


def plot(results: dict[str, dict[str, Any]], writers: int, out_dir: Any) -> list[str]:
    """Bar charts of p50 latency and throughput."""
    names = list(results)
    ops = ["append", "read50_of_50", "read50_of_long"]
    paths = [
        h.bar_chart(
            out_dir,
            f"{NAME}_latency",
            "Session layer: p50 latency (ms, log)",
            ops,
            {n: [results[n][o]["p50"] for o in ops] for n in names},
            "ms",
            log=True,
        )
    ]
    tops = ["append", f"concurrent_{writers}"]
    paths.append(
        h.bar_chart(
            out_dir,
            f"{NAME}_throughput",
            "Session layer: appends per second",
            ["1 writer", f"{writers} writers"],
            {n: [results[n][o]["ops_per_s"] or 0 for o in tops] for n in names},
            "ops/s",
        )
    )
    return [str(p) for p in paths]


async def run(args: Any, url: str) -> dict[str, Any]:
    """Run the benchmark against ``url`` and return the JSON payload."""
    sizes = SIZES["smoke" if args.smoke else "default"]
    run_id = uuid.uuid4().hex[:8]
    info = h.machine_info()
    h.print_header("Session layer", info, url)
    results: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    systems = build_systems(url, peers=not args.no_peers, run_id=run_id)
    t0 = time.perf_counter()
    appends = await interleaved_appends(systems, sizes, run_id)
    print(f"  appends, {ROUNDS} alternating blocks: done in {time.perf_counter() - t0:.1f}s")
    for system in systems:
        t0 = time.perf_counter()
        try:
            if "error" in appends[system.name]:
                raise RuntimeError(appends[system.name]["error"])
            results[system.name] = {
                "append": appends[system.name],
                **await measure(system, sizes, run_id),
            }
        except Exception as exc:  # a peer failing must not hide the others' figures
            errors[system.name] = f"{type(exc).__name__}: {exc}"
            print(f"  {system.name}: FAILED {errors[system.name]}")
        finally:
            await system.close()
        print(f"  {system.name}: done in {time.perf_counter() - t0:.1f}s")
    table = report(results, sizes["writers"])
    print(table)
    payload = {
        "benchmark": NAME,
        "machine": info,
        "sizes": sizes,
        "results": results,
        "errors": errors,
        "table": table,
    }
    if not args.no_plots and results:
        payload["plots"] = plot(results, sizes["writers"], args.out)
    payload["json"] = str(h.write_json(args.out, NAME, payload))
    return payload


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command-line entry point."""
    return h.cli(__doc__, NAME, run, argv)


if __name__ == "__main__":
    main()
