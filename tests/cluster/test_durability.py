"""The cluster client under the single-node client's promises: a stalled primary gives typed
errors within ``Settings.failure_bound``; ``durability="replicated"`` (and ``wait_replicas``)
holds every acknowledged write — PAF and group edits (WATCH/MULTI/EXEC) included — until a
replica has it; and a write redirected by ``MOVED`` gets its barrier on the node that took it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.crc import key_slot
from tta_memory import MemoryWorkflowPrimitive, SessionGroupPrimitive, Settings
from tta_memory.backend import Backend
from tta_memory.errors import BackendUnavailableError, NotReplicatedError
from tta_memory.keys import Keys
from tta_memory.local_cluster import LocalCluster, Node
from tta_memory.partitions import PartitionLayout

# Small timeouts keep the test short: bound = connect 0.5 + 5 attempts x 0.5 = 3.0 s. With this
# many retries redis-py's own loops overshoot (measured before the shared deadline: a PAF edit
# raised after 4.59 s).
SMALL = {"socket_timeout": 0.5, "connect_timeout": 0.5, "retries": 4}
# Scheduling noise on a loaded 2-core machine; a hang (the bug this guards) is minutes.
SLACK = 1.0


def _primary_and_replica(cluster: LocalCluster, workspace: str) -> tuple[Node, Node]:
    slot = key_slot(PartitionLayout().partition_for(workspace).hashtag.encode())
    primary = cluster.node_for_slot(slot)
    replica = next(n for n in cluster.nodes if n.replica_of == cluster.nodes.index(primary))
    return primary, replica


@contextlib.contextmanager
def _paused(node: Node) -> Iterator[None]:
    if node.process is None:
        raise RuntimeError(f"{node.address} is not running")
    node.process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        node.process.send_signal(signal.SIGCONT)


def _replica_read(replica: Node, *command: Any) -> Any:
    """A read answered by the replica itself (READONLY: no MOVED to its primary)."""
    with contextlib.closing(replica.client()) as c:
        c.execute_command("READONLY")
        return c.execute_command(*command)


@pytest.fixture(scope="module")
def slow_failover_cluster() -> Iterator[LocalCluster]:
    """A cluster whose replicas wait 30 s before taking over a silent primary, so that a
    paused primary stays paused (the shared one fails over after 1 s)."""
    with (
        tempfile.TemporaryDirectory(prefix="tta-cluster-") as tmp,
        LocalCluster(Path(tmp), node_timeout_ms=30_000) as cluster,
    ):
        yield cluster


async def _outcome(call: Callable[[], Awaitable[Any]], limit: float) -> tuple[Any, float]:
    started = time.monotonic()
    try:
        result: Any = await asyncio.wait_for(call(), limit)
    except BaseException as exc:  # the assertions classify it
        result = exc
    return result, time.monotonic() - started


@pytest.mark.parametrize("durability", ["everysec", "replicated"])
def test_a_paused_primary_gives_typed_errors_within_the_bound(
    slow_failover_cluster: LocalCluster, durability: str
) -> None:
    cluster = slow_failover_cluster
    workspace = f"paused-{durability}"
    primary, _ = _primary_and_replica(cluster, workspace)
    settings = Settings(prefix=f"stall{durability}", durability=durability, **SMALL)  # type: ignore[arg-type]
    memory = MemoryWorkflowPrimitive(cluster.url, "u", workspace=workspace, settings=settings)
    groups = SessionGroupPrimitive(cluster.url, "u", workspace=workspace, settings=settings)
    bound = settings.failure_bound

    async def run() -> None:
        await memory.add_session_message("s1", "user", "we deploy on Fridays")
        await memory.create_deep_memory("Redis runs with the Query Engine")
        await memory.paf_primitive.add_paf("OPS", "001", "Deploys need a review")
        group_id = await groups.create_group("release")
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "add_session_message": lambda: memory.add_session_message("s1", "user", "hi"),
            "get_session_context": lambda: memory.get_session_context("s1"),
            "search_deep_memory": lambda: memory.search_deep_memory("redis"),
            "create_deep_memory": lambda: memory.create_deep_memory("a new memory"),
            "add_paf": lambda: memory.paf_primitive.add_paf("OPS", "002", "Canary first"),
            "update_paf": lambda: memory.paf_primitive.update_paf("OPS-001", rationale="x"),
            "add_session_to_group": lambda: groups.add_session_to_group(group_id, "s1"),
            "load_workflow_context": lambda: memory.load_workflow_context(
                {"workflow_id": "wf", "session_id": "s1"}, "plan"
            ),
        }
        with _paused(primary):
            results = await asyncio.gather(*(_outcome(c, bound * 20) for c in calls.values()))
        for name, (result, elapsed) in zip(calls, results, strict=True):
            assert isinstance(result, BackendUnavailableError), (name, result)
            assert elapsed <= bound + SLACK, (name, round(elapsed, 2), bound)
        slowest = max(elapsed for _, elapsed in results)
        print(f"\npaused primary ({durability}): bound {bound:.1f}s, slowest {slowest:.2f}s")
        print({n: round(e, 2) for n, (_, e) in zip(calls, results, strict=True)})
        # The same objects work again by themselves.
        await memory.add_session_message("s1", "user", "back")
        assert (await memory.get_session_context("s1"))[-1].content == "back"
        await memory.paf_primitive.add_paf("OPS", "003", "Rollbacks are scripted")
        await memory.aclose()

    asyncio.run(run())


def test_replicated_writes_and_watch_transactions_wait_for_the_replica(
    local_cluster: LocalCluster,
) -> None:
    """Each acknowledged write — a session append, a PAF added and edited, a group edit —
    is on the partition's replica when the call returns; with the replica paused, each is
    refused (typed) instead of acknowledged."""
    workspace = "replicated-ws"
    _, replica = _primary_and_replica(local_cluster, workspace)
    settings = Settings(prefix="durable", durability="replicated", wait_timeout_ms=300)
    memory = MemoryWorkflowPrimitive(local_cluster.url, "u", workspace=workspace, settings=settings)
    groups = SessionGroupPrimitive(local_cluster.url, "u", workspace=workspace, settings=settings)
    keys = Keys("durable", workspace)

    async def run() -> None:
        await memory.add_session_message("s1", "user", "replicated")
        assert _replica_read(replica, "ZCARD", keys.session_active("s1")) == 1
        await memory.paf_primitive.add_paf("AUTH", "001", "We use PyJWT")  # WATCH/MULTI/EXEC
        assert "PyJWT" in _replica_read(replica, "HGET", keys.pafs(), "AUTH-001")
        await memory.paf_primitive.update_paf("AUTH-001", rationale="audited library")
        assert "audited library" in _replica_read(replica, "HGET", keys.pafs(), "AUTH-001")
        group_id = await groups.create_group("release")
        await groups.add_session_to_group(group_id, "s1")  # WATCH/MULTI/EXEC
        assert "s1" in _replica_read(replica, "HGET", keys.group(group_id), "session_ids")

        edits: dict[str, Callable[[], Awaitable[Any]]] = {
            "append": lambda: memory.add_session_message("s1", "user", "unconfirmed"),
            "add_paf": lambda: memory.paf_primitive.add_paf("AUTH", "002", "unconfirmed"),
            "update_paf": lambda: memory.paf_primitive.update_paf("AUTH-001", rationale="u"),
            "group_edit": lambda: groups.add_session_to_group(group_id, "s2"),
        }
        outcomes: dict[str, str] = {}
        with _paused(replica):
            for name, edit in edits.items():
                try:
                    await edit()
                    outcomes[name] = "acknowledged"
                except NotReplicatedError:
                    outcomes[name] = "refused"
        assert outcomes == dict.fromkeys(edits, "refused")
        await memory.add_session_message("s1", "user", "replicated again")
        await memory.aclose()

    asyncio.run(run())


def test_a_write_redirected_by_moved_gets_its_barrier_on_the_new_node(
    local_cluster: LocalCluster,
) -> None:
    """A stale slot table (as after a failover) sends a replicated write to the wrong
    primary: the write follows MOVED, is confirmed by the right primary's replica, and the
    client learns the new owner. (Before, each MOVED re-entered the barrier pipeline without
    patching the slot table: a recursion whose error messages grew to 24 GB.)"""
    workspace = "redirected-ws"
    primary, replica = _primary_and_replica(local_cluster, workspace)
    settings = Settings(prefix="moved", wait_replicas=1, wait_timeout_ms=1000)
    memory = MemoryWorkflowPrimitive(local_cluster.url, "u", workspace=workspace, settings=settings)
    keys = Keys("moved", workspace)
    slot = key_slot(keys.partition.hashtag.encode())

    async def run() -> None:
        await memory.add_session_message("s1", "user", "first")
        client: Any = await Backend.shared(local_cluster.url, settings).client()
        manager = client.nodes_manager
        wrong = next(n for n in client.get_primaries() if n.name != primary.address)
        manager.slots_cache[slot] = [wrong]
        await memory.add_session_message("s1", "user", "redirected")
        assert manager.slots_cache[slot][0].name == primary.address  # the new owner learnt
        await memory.paf_primitive.add_paf("OPS", "001", "x")  # a transaction after it too
        await memory.aclose()

    asyncio.run(run())
    assert _replica_read(replica, "ZCARD", keys.session_active("s1")) == 2
