"""A partition's slot migrating to another primary (``CLUSTER SETSLOT … MIGRATING/IMPORTING``,
then ``MIGRATE`` of its keys, as a resharding does it): durable writes follow ``ASK`` to the
importing node, with ``ASKING`` before them on the same connection and their barrier there."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from redis.crc import key_slot
from tta_memory import MemoryWorkflowPrimitive, Settings
from tta_memory.cluster import make_cluster_client
from tta_memory.keys import Keys
from tta_memory.local_cluster import HOST, LocalCluster, Node

WORKSPACE = "migrating-ws"
SETTINGS = Settings(prefix="mig", durability="replicated", socket_timeout=2, retries=2)


def _start_migration(source: Node, target: Node, slot: int) -> list[str]:
    """Mark ``slot`` as moving and move every key it holds; the source still owns it."""
    with contextlib.closing(source.client()) as s, contextlib.closing(target.client()) as t:
        t.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source.node_id)
        s.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target.node_id)
        keys = [str(k) for k in s.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 10_000)]
        s.execute_command("MIGRATE", HOST, target.port, "", 0, 5000, "KEYS", *keys)
        return keys


def _finish_migration(cluster: LocalCluster, target: Node, slot: int) -> None:
    for node in [target, *(n for n in cluster.nodes[: cluster.masters] if n is not target)]:
        with contextlib.closing(node.client()) as c:
            c.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target.node_id)


def _asking(node: Node, *command: Any) -> Any:
    """A command the importing node serves before it owns the slot (ASKING, same connection)."""
    with contextlib.closing(node.client()) as c:
        pipe = c.pipeline(transaction=False)
        pipe.execute_command("ASKING")
        pipe.execute_command(*command)
        return pipe.execute()[1]


def test_writes_follow_ask_while_a_partition_migrates(fresh_cluster: LocalCluster) -> None:
    cluster = fresh_cluster
    keys = Keys(SETTINGS.prefix, WORKSPACE)
    tag = keys.partition.hashtag
    slot = key_slot(tag.encode())
    source = cluster.node_for_slot(slot)
    target = next(n for n in cluster.nodes[: cluster.masters] if n is not source)
    target_replica = next(n for n in cluster.nodes if n.replica_of == cluster.nodes.index(target))
    raw_key = f"mig:raw:{tag}"
    memory = MemoryWorkflowPrimitive(cluster.url, "u", workspace=WORKSPACE, settings=SETTINGS)

    async def run() -> None:
        client = make_cluster_client(cluster.url, SETTINGS, max_connections=4)
        try:
            before = await memory.add_cache_entry("written before the move", session_id="s1")
            await client.hset(raw_key, "v", "before")
            moved = _start_migration(source, target, slot)
            assert raw_key in moved

            # The source no longer has these keys: it answers ASK, and each write is sent to
            # the importing node after ASKING, one command and a pipeline alike.
            assert await client.hset(raw_key, "v", "during") == 0
            async with client.pipeline() as pipe:
                pipe.hset(raw_key, "w", "during")
                pipe.hset(f"mig:new:{tag}", "v", "new")
                assert await pipe.execute() == [1, 1]
            during = await memory.add_cache_entry("written during the move", session_id="s1")
            assert _asking(target, "HGET", raw_key, "w") == "during"
            assert _asking(target, "EXISTS", keys.cache_entry(during.id, "s1")) == 1

            _finish_migration(cluster, target, slot)
            # The first keyed command after the move learns the new owner (MOVED); the
            # partition's index is then re-created on that node and finds every entry.
            await memory.add_cache_entry("written after the move", session_id="s1")
            found = await memory.get_cache_memory("s1")
            assert {e.id for e in found} >= {before.id, during.id}
        finally:
            await client.aclose()
            await memory.aclose()

    asyncio.run(run())
    # Acknowledged under durability="replicated": the importing node's replica has them.
    with contextlib.closing(target_replica.client()) as c:
        c.execute_command("READONLY")
        assert c.hgetall(raw_key) == {"v": "during", "w": "during"}
