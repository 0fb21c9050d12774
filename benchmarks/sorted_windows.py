"""Benchmark — a newest-first cache window under RediSearch dialect 2 against dialect 4, and the
dialect-4 crash that made the engine leave it (benchmarks/README.md, session 7).

``cost``: one index shaped like the engine's cache (user, session and kind tags, a sortable
``created_at``) grows to 100, 1k, 10k and 50k entries; at each size the window query of a
context load (``LIMIT 0 100``) runs 200 times under each dialect, alternately, and the p50s are
printed side by side with their ratio.

``crash``: 150 notes, the oldest 75 deleted, the same window with ``LIMIT 0 100``, on a throwaway
server of its own: under dialect 4 RediSearch 2.10 fails the assertion ``successRatio < 1``
(optimizer_reader.c) and the server dies; under dialect 2 it answers (74 keys: the 75 left
but one message of session s1).

Run: ``python -m benchmarks.sorted_windows [cost|crash] [--smoke]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import redis
from tta_memory import EmbeddedRedis

WINDOW = "((@created_at:[0 +inf] @user_id:{u}) ((-@session_id:{s1}) | @kind:{note}))"
SIZES = {"smoke": (100, 1_000), "default": (100, 1_000, 10_000, 50_000)}
READS = {"smoke": 20, "default": 200}


def create_index(r: redis.Redis) -> None:
    r.execute_command(
        "FT.CREATE", "idx", "ON", "HASH", "PREFIX", "1", "c:", "SCHEMA",
        "user_id", "TAG", "session_id", "TAG", "kind", "TAG", "created_at", "NUMERIC", "SORTABLE",
    )  # fmt: skip


def add_entries(r: redis.Redis, start: int, stop: int) -> None:
    pipe = r.pipeline(transaction=False)
    for i in range(start, stop):
        entry = {
            "user_id": "u",
            "session_id": f"s{i % 40}",
            "kind": "note" if i % 3 == 0 else "message",
            "created_at": repr(1e9 + i),
        }
        pipe.hset(f"c:{i}", mapping=entry)
    pipe.execute()


def window(r: redis.Redis, dialect: int) -> list[bytes]:
    reply = r.execute_command(
        "FT.SEARCH", "idx", WINDOW, "NOCONTENT", "SORTBY", "created_at", "DESC",
        "DIALECT", str(dialect), "LIMIT", "0", "100",
    )  # fmt: skip
    return list(reply[1:])


def cost(r: redis.Redis, size: str) -> None:
    create_index(r)
    have = 0
    print("| entries in the window | dialect 2 p50 | dialect 4 p50 | ratio |")
    print("|---|---|---|---|")
    for n in SIZES[size]:
        add_entries(r, have, n)
        have = n
        times: dict[int, list[float]] = {2: [], 4: []}
        for _ in range(READS[size]):
            for dialect in (2, 4):
                t0 = time.perf_counter()
                window(r, dialect)
                times[dialect].append((time.perf_counter() - t0) * 1000)
        d2, d4 = statistics.median(times[2]), statistics.median(times[4])
        print(f"| {n:,} | {d2:.3f} ms | {d4:.3f} ms | {d2 / d4:.2f} |")


def crash(server: EmbeddedRedis, dialect: int) -> str:
    r = redis.Redis.from_url(server.url, protocol=2)
    create_index(r)
    add_entries(r, 0, 150)
    r.delete(*[f"c:{i}" for i in range(75)])
    try:
        keys = window(r, dialect)
    except redis.ConnectionError:
        return "the server died"
    return f"{len(keys)} keys, the server {'is up' if server.is_running() else 'died'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", nargs="?", choices=("cost", "crash"), default="cost")
    parser.add_argument("--smoke", action="store_true", help="small sizes, few reads")
    args = parser.parse_args()
    size = "smoke" if args.smoke else "default"
    for dialect in (2, 4) if args.what == "crash" else (None,):
        with (
            tempfile.TemporaryDirectory(prefix="tta-bench-") as tmp,
            EmbeddedRedis(data_dir=Path(tmp)) as server,
        ):
            if dialect is None:
                cost(redis.Redis.from_url(server.url, protocol=2), size)
            else:
                print(f"dialect {dialect}: {crash(server, dialect)}")


if __name__ == "__main__":
    main()
