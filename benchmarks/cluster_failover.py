"""A primary killed mid-stream on a local Redis Cluster: the pause, the errors callers see
meanwhile, and the acknowledged writes lost, with and without replicated durability (WAIT).

Run: ``python -m benchmarks.cluster_failover [--rounds 3]`` (starts its own clusters).

Each round: 8 writers append session messages to a workspace whose partition sits on one
primary, while a bystander workspace on another primary does the same. The victim's primary
is killed with SIGKILL; its replica takes over after ``cluster-node-timeout`` (1 s here). With
``wait_replicas=1`` the killed node is restarted once its replica has taken over, since the
new primary has no replica of its own until then and every write would stay unacknowledged.
Afterwards every acknowledged message is looked up: the ones missing were lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from redis.crc import key_slot
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.config import Settings
from tta_memory.errors import TTAMemoryError
from tta_memory.local_cluster import LocalCluster, Node
from tta_memory.partitions import PartitionLayout

WRITERS = 8
# A round keeps the first few untyped errors for the report and counts the rest: a writer
# loop that failed on every call must not grow a list without end.
KEPT_ERRORS = 20


@dataclass
class FailoverRound:
    """What one kill of a primary cost."""

    wait_replicas: int
    acked: int = 0
    lost: int = 0
    typed_errors: int = 0
    untyped_errors: list[str] = field(default_factory=list)  # the first KEPT_ERRORS
    untyped_count: int = 0
    pause_s: float | None = None  # kill -> first acknowledged write on the victim partition
    bystander_errors: int = 0  # typed errors on a partition of another primary
    bystander_acked: int = 0
    verify_errors: int = 0  # typed errors of the read-back after the round


def _slot(workspace: str) -> int:
    return key_slot(PartitionLayout().partition_for(workspace).hashtag.encode())


def _pick_workspaces(cluster: LocalCluster) -> tuple[str, str, Node]:
    """A victim and a bystander workspace whose partitions sit on different primaries."""
    victim = "victim-0"
    node = cluster.node_for_slot(_slot(victim))
    for i in range(1000):
        bystander = f"bystander-{i}"
        if cluster.node_for_slot(_slot(bystander)).address != node.address:
            return victim, bystander, node
    raise RuntimeError("no workspace on another primary")

    def untyped(self, what: str) -> None:
        """Count an untyped error (never expected); keep the first KEPT_ERRORS of them."""
        self.untyped_count += 1
        if len(self.untyped_errors) < KEPT_ERRORS:
            self.untyped_errors.append(what[:200])


async def failover_round(
    cluster: LocalCluster,
    wait_replicas: int,
    *,
    before_s: float = 1.0,
    after_s: float = 1.5,
    limit_s: float = 20.0,
) -> FailoverRound:
    """Kill the victim's primary after ``before_s`` of writes; keep writing until ``after_s``
    after the first acknowledged write past the kill (or ``limit_s`` after the kill)."""
    result = FailoverRound(wait_replicas=wait_replicas)
    settings = Settings(wait_replicas=wait_replicas, wait_timeout_ms=500)
    victim, bystander, primary = await asyncio.to_thread(_pick_workspaces, cluster)
    url = cluster.url
    m = MemoryWorkflowPrimitive(url, "writer", workspace=victim, settings=settings)
    b = MemoryWorkflowPrimitive(url, "writer", workspace=bystander, settings=settings)
    await m.add_session_message("warm", "user", "warm-up")  # connections and scripts ready
    await b.add_session_message("warm", "user", "warm-up")
    acked: set[str] = set()
    killed_at: float | None = None
    resumed_at: float | None = None
    stop = asyncio.Event()

    async def writer(w: int) -> None:
        nonlocal resumed_at
        i = 0
        while not stop.is_set():
            i += 1
            text = f"{w}-{i}"
            try:
                await m.add_session_message("s", "user", text)
            except TTAMemoryError:
                result.typed_errors += 1
                await asyncio.sleep(0.02)
                continue
            except Exception as exc:  # counted, never expected
                result.untyped(f"{type(exc).__name__}: {str(exc)[:200]}")
                await asyncio.sleep(0.02)
                continue
            acked.add(text)
            if killed_at is not None and resumed_at is None:
                resumed_at = time.monotonic()

    async def bystanding() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                await b.add_session_message("s", "user", f"b-{i}")
                await b.get_session_context("s", 5)
                result.bystander_acked += 1
            except TTAMemoryError:
                # redis-py closes every connection of the client while it re-reads the
                # topology, so a call in flight on another primary can fail once.
                result.bystander_errors += 1
            except Exception as exc:  # counted, never expected
                result.untyped(f"bystander {type(exc).__name__}: {str(exc)[:200]}")
            await asyncio.sleep(0.01)

    tasks = [asyncio.create_task(writer(w)) for w in range(WRITERS)]
    tasks.append(asyncio.create_task(bystanding()))
    await asyncio.sleep(before_s)
    await asyncio.to_thread(cluster.kill, primary)
    killed_at = time.monotonic()
    deadline = killed_at + limit_s
    restarted = False
    while time.monotonic() < deadline:
        if resumed_at is not None and time.monotonic() > resumed_at + after_s:
            break
        if wait_replicas and not restarted:
            owner = await asyncio.to_thread(_owner_or_none, cluster, _slot(victim))
            if owner is not None and owner != primary.address:
                await asyncio.to_thread(cluster.restart, primary)
                restarted = True
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(*tasks)
    stored = await _stored(m, result)
    result.acked = len(acked)
    result.lost = len(acked - stored)
    result.pause_s = None if resumed_at is None else round(resumed_at - killed_at, 2)
    await m.aclose()
    return result


async def _stored(m: MemoryWorkflowPrimitive, result: FailoverRound) -> set[str]:
    """Every message of the victim's session, read back once the topology has settled (a
    read right after the failover may still fail typed: counted, retried for 10 s)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return {msg.content for msg in await m.get_session_context("s", None)}
        except TTAMemoryError:
            result.verify_errors += 1
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def _owner_or_none(cluster: LocalCluster, slot: int) -> str | None:
    try:
        return cluster.node_for_slot(slot).address
    except TTAMemoryError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="kills per durability setting")
    parser.add_argument("--json", type=Path, help="also write the rounds here")
    args = parser.parse_args()
    rounds: list[FailoverRound] = []
    for wait_replicas in (0, 1):
        for _ in range(args.rounds):
            with (
                tempfile.TemporaryDirectory(prefix="tta-failover-") as tmp,
                LocalCluster(Path(tmp)) as cluster,
            ):
                rounds.append(asyncio.run(failover_round(cluster, wait_replicas)))
            r = rounds[-1]
            print(
                f"wait_replicas={r.wait_replicas}: acked {r.acked}, lost {r.lost}, "
                f"pause {r.pause_s} s, typed errors {r.typed_errors}, "
                f"untyped {r.untyped_count}, bystander errors {r.bystander_errors} "
                f"of {r.bystander_acked + r.bystander_errors}",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rounds], indent=2))


if __name__ == "__main__":
    main()
