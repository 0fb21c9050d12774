"""Shared benchmark machinery: timing with warm-up, percentiles, ratio tables, JSON and PNG
output, machine description, the throwaway Redis server, and a Redis round-trip recorder.

Nothing here asserts on time: the smoke tests only check that the harness runs and writes
well-formed results.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "benchmarks" / "results"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MEM0_TELEMETRY", "False")


# --------------------------------------------------------------------------- statistics


@dataclass
class Stats:
    """Latency summary of one measured operation, in milliseconds.

    Attributes:
        n: Measured operations (after warm-up).
        p50, p95, p99, mean, min, max: Milliseconds.
        ops_per_s: Operations per second of wall time, when measured as a batch.
    """

    n: int
    p50: float
    p95: float
    p99: float
    mean: float
    min: float
    max: float
    ops_per_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The summary as a JSON-ready dict."""
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def summarize(seconds: Sequence[float], *, wall: float | None = None) -> Stats:
    """Percentiles of per-operation latencies.

    Args:
        seconds: One latency per operation, in seconds.
        wall: Wall time of the whole batch; gives ``ops_per_s`` when set.

    Returns:
        The summary (all zeros for an empty sample).
    """
    if not seconds:
        return Stats(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, None)
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    ops = (len(ms) / wall) if wall else None
    return Stats(
        n=len(ms),
        p50=float(p50),
        p95=float(p95),
        p99=float(p99),
        mean=float(ms.mean()),
        min=float(ms.min()),
        max=float(ms.max()),
        ops_per_s=ops,
    )


async def time_async(
    op: Callable[[int], Awaitable[Any]], n: int, *, warmup: int = 10
) -> tuple[Stats, list[float]]:
    """Run ``op(i)`` sequentially, ``warmup`` times unmeasured then ``n`` times measured.

    Args:
        op: Async callable taking the iteration index.
        n: Measured iterations.
        warmup: Unmeasured iterations first (connections, caches, JIT-like warm paths).

    Returns:
        The summary and the raw latencies in seconds.
    """
    for i in range(warmup):
        await op(-1 - i)
    samples: list[float] = []
    started = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        await op(i)
        samples.append(time.perf_counter() - t0)
    wall = time.perf_counter() - started
    return summarize(samples, wall=wall), samples


async def time_interleaved(
    ops: dict[str, Callable[[int], Awaitable[Any]]], n: int, *, blocks: int = 10, warmup: int = 10
) -> dict[str, Stats]:
    """Run several operations in alternating blocks, so that a change in the machine's load
    reaches all of them alike: ``warmup`` unmeasured calls of each, then ``blocks`` rounds of
    ``n // blocks`` measured calls of each in turn (the order rotated every round).

    A shared 2-core machine drifts by up to 2x within minutes (session 4: the same replayed
    queries took p95 3.4 ms at one hour and 8.1 ms at another); measured one after another, a
    ratio of two operations took that drift in (10k loads against "by hand": 1.16x and 1.75x
    in two runs ten seconds apart, 2026-12-02).

    Args:
        ops: Async callables taking the iteration index, by name.
        n: Measured iterations of each operation.
        blocks: Rounds the iterations are split into.
        warmup: Unmeasured iterations of each first.

    Returns:
        One summary per name.
    """
    names = list(ops)
    for name in names:
        for i in range(warmup):
            await ops[name](-1 - i)
    samples: dict[str, list[float]] = {name: [] for name in names}
    per_block = max(1, n // blocks)
    done = 0
    round_no = 0
    while done < n:
        size = min(per_block, n - done)
        order = names[round_no % len(names) :] + names[: round_no % len(names)]
        for name in order:
            for i in range(done, done + size):
                t0 = time.perf_counter()
                await ops[name](i)
                samples[name].append(time.perf_counter() - t0)
        done += size
        round_no += 1
    return {name: summarize(samples[name]) for name in names}


def time_sync(op: Callable[[int], Any], n: int, *, warmup: int = 10) -> tuple[Stats, list[float]]:
    """Blocking twin of :func:`time_async`.

    Args:
        op: Callable taking the iteration index.
        n: Measured iterations.
        warmup: Unmeasured iterations first.

    Returns:
        The summary and the raw latencies in seconds.
    """
    for i in range(warmup):
        op(-1 - i)
    samples: list[float] = []
    started = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        op(i)
        samples.append(time.perf_counter() - t0)
    wall = time.perf_counter() - started
    return summarize(samples, wall=wall), samples


async def concurrent_async(
    op: Callable[[int, int], Awaitable[Any]], writers: int, per_writer: int
) -> Stats:
    """``writers`` asyncio tasks each running ``op(writer, i)`` ``per_writer`` times.

    Args:
        op: Async callable taking (writer index, iteration index).
        writers: Concurrent tasks.
        per_writer: Operations per task.

    Returns:
        Per-operation latency summary with ``ops_per_s`` over the whole run.
    """
    samples: list[float] = []

    async def worker(w: int) -> None:
        for i in range(per_writer):
            t0 = time.perf_counter()
            await op(w, i)
            samples.append(time.perf_counter() - t0)

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(writers)))
    return summarize(samples, wall=time.perf_counter() - started)


def concurrent_threads(op: Callable[[int, int], Any], writers: int, per_writer: int) -> Stats:
    """Threaded twin of :func:`concurrent_async` for blocking clients.

    Args:
        op: Callable taking (writer index, iteration index).
        writers: Threads.
        per_writer: Operations per thread.

    Returns:
        Per-operation latency summary with ``ops_per_s`` over the whole run.
    """
    import threading

    samples: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(writers + 1)

    def worker(w: int) -> None:
        local: list[float] = []
        barrier.wait()
        for i in range(per_writer):
            t0 = time.perf_counter()
            op(w, i)
            local.append(time.perf_counter() - t0)
        with lock:
            samples.extend(local)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    return summarize(samples, wall=time.perf_counter() - started)


# --------------------------------------------------------------------------- tables


def ratio(ours: float | None, theirs: float | None) -> str:
    """``theirs / ours`` (how many times faster we are; > 1 is better for us) as text.

    Args:
        ours: Our figure (a latency).
        theirs: The peer's figure.

    Returns:
        E.g. ``"3.2×"``, or ``"-"`` when either is missing or zero.
    """
    if not ours or not theirs:
        return "-"
    return f"{theirs / ours:.2f}×"


def fmt(value: Any, digits: int = 2) -> str:
    """Format a table cell."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return str(value)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-markdown table (readable in a terminal too).

    Args:
        headers: Column titles.
        rows: Cell values (formatted with :func:`fmt`).

    Returns:
        The table text.
    """
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells
    ]
    return "\n".join([line, sep, *body])


# --------------------------------------------------------------------------- machine / output


def machine_info() -> dict[str, Any]:
    """Where and when a result was produced.

    Returns:
        CPU model, cores, memory, OS, Python, package versions, git commit, date, command.
    """
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    commit = None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = (
            subprocess.run(
                ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            ).stdout.strip()
            or None
        )
    versions: dict[str, str] = {}
    from importlib import metadata

    for pkg in (
        "tta-memory",
        "redis",
        "redisvl",
        "sentence-transformers",
        "torch",
        "langchain-redis",
        "llama-index-core",
        "mem0ai",
        "qdrant-client",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[pkg] = metadata.version(pkg)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "git_commit": commit,
        "packages": versions,
    }


def write_json(out_dir: Path, name: str, payload: dict[str, Any]) -> Path:
    """Write ``<name>.json`` (latest) and a timestamped copy.

    Args:
        out_dir: Results folder (created).
        name: Benchmark name.
        payload: JSON-ready results.

    Returns:
        The path of the latest file.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(payload, indent=2, default=str)
    latest = out_dir / f"{name}.json"
    latest.write_text(text, encoding="utf-8")
    (out_dir / f"{name}-{stamp}.json").write_text(text, encoding="utf-8")
    return latest


def new_figure(width: float = 8.0, height: float = 4.5) -> tuple[Any, Any]:
    """A matplotlib figure on the non-interactive backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def save_figure(fig: Any, out_dir: Path, name: str) -> Path:
    """Save and close a figure as ``<name>.png``.

    Args:
        fig: The figure.
        out_dir: Results folder.
        name: File stem.

    Returns:
        The PNG path.
    """
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def bar_chart(
    out_dir: Path,
    name: str,
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    ylabel: str,
    *,
    log: bool = False,
) -> Path:
    """Grouped bar chart (one group per label, one bar per series).

    Args:
        out_dir: Results folder.
        name: File stem.
        title: Chart title.
        labels: Group labels.
        series: Series name -> one value per label.
        ylabel: Y axis label.
        log: Log-scale y axis.

    Returns:
        The PNG path.
    """
    fig, ax = new_figure(max(6.0, 0.9 * len(labels) + 3), 4.5)
    width = 0.8 / max(1, len(series))
    xs = np.arange(len(labels))
    for j, (sname, values) in enumerate(series.items()):
        ax.bar(xs + j * width - 0.4 + width / 2, values, width, label=sname)
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, out_dir, name)


# --------------------------------------------------------------------------- CLI plumbing


def base_parser(description: str) -> argparse.ArgumentParser:
    """Options every benchmark takes.

    Args:
        description: The benchmark's one-line description.

    Returns:
        The parser (benchmarks add their own options).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--url",
        default=None,
        help="Redis URL with the Query Engine (default: a throwaway embedded server)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="results folder (JSON + PNG); default benchmarks/results/",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes: checks the harness end to end in seconds"
    )
    parser.add_argument("--no-peers", action="store_true", help="skip the peer libraries")
    parser.add_argument("--no-plots", action="store_true", help="skip PNG output")
    return parser


@contextlib.contextmanager
def redis_server(url: str | None) -> Iterator[str]:
    """A Redis URL for one benchmark run.

    Args:
        url: An explicit server, or None for a throwaway ``tta_memory.EmbeddedRedis``.

    Yields:
        The URL; peers that use Redis connect to the same one.
    """
    if url:
        yield url
        return
    from tta_memory import EmbeddedRedis

    with (
        tempfile.TemporaryDirectory(prefix="tta-bench-") as tmp,
        EmbeddedRedis(data_dir=Path(tmp)) as server,
    ):
        yield server.url


def cli(
    doc: str | None,
    name: str,
    run: Callable[[argparse.Namespace, str], Coroutine[Any, Any, dict[str, Any]]],
    argv: Sequence[str] | None,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> dict[str, Any]:
    """The command-line entry point every benchmark module shares.

    Args:
        doc: The module docstring (its first line describes the command).
        name: The benchmark's name.
        run: The benchmark's ``run(args, url)``.
        argv: Command-line arguments (``None``: ``sys.argv``).
        add_arguments: The benchmark's own options, if any.

    Returns:
        The benchmark's result payload.
    """
    parser = base_parser(doc.splitlines()[0] if doc else name)
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    with redis_server(args.url) as url:
        return asyncio.run(run(args, url))


def redis_client_kwargs(url: str) -> dict[str, Any]:
    """redis-py keyword arguments for ``url`` (unix socket or TCP)."""
    if url.startswith("unix://"):
        return {"unix_socket_path": url[len("unix://") :].split("?", 1)[0]}
    return {}


def used_memory(url: str) -> int:
    """``used_memory`` of the server in bytes.

    Args:
        url: Redis URL.

    Returns:
        Bytes in use.
    """
    import redis

    client = redis.Redis.from_url(url)
    try:
        return int(client.info("memory")["used_memory"])
    finally:
        client.close()


def redis_version(url: str) -> str:
    """The server's ``redis_version``."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        return str(client.info("server")["redis_version"])
    finally:
        client.close()


# --------------------------------------------------------------------------- round trips


@dataclass
class RoundTrip:
    """Commands sent to Redis in one write (one command, or a pipeline)."""

    commands: list[tuple[Any, ...]] = field(default_factory=list)


class CommandRecorder:
    """Records every command the asyncio redis client sends, grouped by round trip.

    It patches ``redis.asyncio.connection.AbstractConnection`` (and the engine's connections,
    which pack with hiredis: ``tta_memory.connection.HiredisPacking``): ``pack_command`` notes
    the arguments, ``send_packed_command`` closes a round trip. Used to count an engine call's
    round trips and to replay exactly the same queries one after another as a hand-written
    baseline.
    """

    def __init__(self) -> None:
        self.trips: list[RoundTrip] = []
        self._pending: dict[int, list[tuple[Any, ...]]] = {}
        self._packs: list[tuple[type, Any]] = []
        self._send: Any = None
        self._direct_send: Any = None

    def __enter__(self) -> CommandRecorder:
        from redis.asyncio.connection import AbstractConnection
        from tta_memory.connection import HiredisPacking

        recorder = self

        def recording(pack: Any) -> Any:
            def pack_command(conn: Any, *args: Any) -> Any:
                recorder._pending.setdefault(id(conn), []).append(tuple(args))
                return pack(conn, *args)

            return pack_command

        send = self._send = AbstractConnection.send_packed_command

        async def send_packed_command(conn: Any, command: Any, check_health: bool = True) -> Any:
            cmds = recorder._pending.pop(id(conn), [])
            if cmds:
                recorder.trips.append(RoundTrip(cmds))
            return await send(conn, command, check_health)

        for cls in (AbstractConnection, HiredisPacking):
            self._packs.append((cls, cls.__dict__["pack_command"]))
            cls.pack_command = recording(cls.__dict__["pack_command"])  # type: ignore[method-assign]
        AbstractConnection.send_packed_command = send_packed_command  # type: ignore[method-assign,assignment]
        # The engine's connections write through DirectWrite (its own send_packed_command).
        from tta_memory.connection import DirectWrite

        direct = self._direct_send = DirectWrite.__dict__["send_packed_command"]

        async def direct_send(conn: Any, command: Any, check_health: bool = True) -> Any:
            cmds = recorder._pending.pop(id(conn), [])
            if cmds:
                recorder.trips.append(RoundTrip(cmds))
            return await direct(conn, command, check_health)

        DirectWrite.send_packed_command = direct_send  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        from redis.asyncio.connection import AbstractConnection

        for cls, pack in self._packs:
            cls.pack_command = pack  # type: ignore[method-assign]
        self._packs.clear()
        AbstractConnection.send_packed_command = self._send  # type: ignore[method-assign]
        from tta_memory.connection import DirectWrite

        DirectWrite.send_packed_command = self._direct_send  # type: ignore[method-assign]

    @property
    def command_count(self) -> int:
        """Commands recorded across all round trips."""
        return sum(len(t.commands) for t in self.trips)

    def command_names(self) -> list[str]:
        """The recorded command names, in order."""
        out = []
        for trip in self.trips:
            for cmd in trip.commands:
                name = cmd[0].decode() if isinstance(cmd[0], bytes) else str(cmd[0])
                out.append(name.upper())
        return out


def _replies_module() -> Any:
    try:
        from tta_memory import replies
    except ImportError:
        return None
    return replies


class QueryRecorder:
    """Records the redisvl queries an engine call runs (``AsyncSearchIndex.query`` and
    ``batch_query``), so a baseline can run the same query objects through redisvl by hand.
    """

    def __init__(self) -> None:
        self.queries: list[tuple[Any, Any]] = []  # (AsyncSearchIndex, query object)
        # (index name, query object) of the redisvl queries the engine sends as raw FT.SEARCH
        # (tta_memory.replies): run through redisvl by hand too, see :meth:`resolve`.
        self.raw: list[tuple[str, Any]] = []
        self._originals: tuple[Any, Any] | None = None
        self._search_args: Any = None

    async def resolve(self, url: str) -> list[tuple[Any, Any]]:
        """Every recorded query with a redisvl index to run it on (raw ones included)."""
        from redisvl.index import AsyncSearchIndex

        indexes: dict[str, Any] = {}
        out = list(self.queries)
        for name, q in self.raw:
            if name not in indexes:
                indexes[name] = await AsyncSearchIndex.from_existing(name, redis_url=url)
            out.append((indexes[name], q))
        return out

    def __enter__(self) -> QueryRecorder:
        from redisvl.index import AsyncSearchIndex

        query, batch = AsyncSearchIndex.query, AsyncSearchIndex.batch_query
        self._originals = (query, batch)
        recorder = self
        replies = _replies_module()
        if replies is not None:  # engines before tta_memory.replies send every query by redisvl
            search_args = self._search_args = replies.search_args

            def search_args_(index_name: str, q: Any) -> list[Any]:
                recorder.raw.append((index_name, q))
                return search_args(index_name, q)

            replies.search_args = search_args_

        async def query_(index: Any, q: Any) -> Any:
            recorder.queries.append((index, q))
            return await query(index, q)

        async def batch_query_(index: Any, qs: Any, *args: Any, **kwargs: Any) -> Any:
            recorder.queries.extend((index, q) for q in qs)
            return await batch(index, qs, *args, **kwargs)

        AsyncSearchIndex.query = query_
        AsyncSearchIndex.batch_query = batch_query_
        return self

    def __exit__(self, *exc: object) -> None:
        from redisvl.index import AsyncSearchIndex

        assert self._originals is not None
        AsyncSearchIndex.query, AsyncSearchIndex.batch_query = self._originals
        replies = _replies_module()
        if replies is not None and self._search_args is not None:
            replies.search_args = self._search_args


_SKIP_REPLAY = {"PING", "HELLO", "CLIENT", "SELECT", "AUTH", "MULTI", "EXEC", "WATCH", "UNWATCH"}


def replayable(
    trips: Sequence[RoundTrip], *, skip: frozenset[str] = frozenset()
) -> list[tuple[Any, ...]]:
    """The data commands of recorded round trips, flattened in order.

    Connection set-up and transaction brackets are dropped: the baseline sends each query on its
    own, one after another.

    Args:
        trips: Recorded round trips.
        skip: Further command names to leave out (e.g. FT.SEARCH when the queries are run
            through redisvl instead).

    Returns:
        Commands to replay.
    """
    out = []
    for trip in trips:
        for cmd in trip.commands:
            name = cmd[0].decode() if isinstance(cmd[0], bytes) else str(cmd[0])
            if name.upper().split(" ")[0] in _SKIP_REPLAY | skip:
                continue
            out.append(cmd)
    return out


@contextlib.asynccontextmanager
async def raw_client(url: str) -> AsyncIterator[Any]:
    """A plain asyncio redis-py client (bytes responses) for hand-written baselines."""
    import redis.asyncio as aredis

    client = aredis.Redis.from_url(url)
    try:
        yield client
    finally:
        await client.aclose()


def print_header(title: str, info: dict[str, Any], url: str) -> None:
    """Print the benchmark title and the machine line (the URL's password masked: logs get
    shared)."""
    from tta_memory.server.auth import redact_url

    print(f"\n=== {title} ===")
    print(
        f"{info['date']} | {info['cpu']} | {info['cores']} cores | {info['memory_gb']} GB | "
        f"Python {info['python']} | Redis {redis_version(url)} | {redact_url(url)}"
    )
