"""Write coalescing on a local Redis Cluster: concurrent single creates of workspaces whose
partitions sit on different masters are coalesced together, yet each partition's writes go in
a transaction of its own slot (a MULTI across slots would fail with CROSSSLOT)."""

from __future__ import annotations

import asyncio

from redis.crc import key_slot
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.local_cluster import LocalCluster
from tta_memory.partitions import PartitionLayout
from tta_memory.stores.deep.coalesce import coalescer_for

WORKSPACES = 12


def test_concurrent_single_creates_across_masters(
    local_cluster: LocalCluster, cluster_url: str
) -> None:
    names = [f"coalesce-{i}" for i in range(WORKSPACES)]
    layout = PartitionLayout()
    slots = {key_slot(layout.partition_for(n).hashtag.encode()) for n in names}
    assert len({local_cluster.node_for_slot(s).address for s in slots}) > 1

    async def run() -> None:
        prims = [MemoryWorkflowPrimitive(cluster_url, user_id="dev", workspace=n) for n in names]
        for m in prims:  # each partition's index exists before the concurrent writes
            await m.create_deep_memory(f"{m.workspace} warms up its index")
        coalescer = coalescer_for(prims[0].deep)
        batches, requests = coalescer.batches, coalescer.requests
        same = "Tokens are rotated every 24 hours."
        jobs = [(m, same) for m in prims] + [
            (m, f"{m.workspace} keeps its own note") for m in prims
        ]
        made = await asyncio.gather(*(m.create_deep_memory(t) for m, t in jobs))
        assert coalescer.requests - requests == len(jobs)
        assert coalescer.batches - batches < len(jobs)  # written together, not one by one
        assert len({m.id for m in made[:WORKSPACES]}) == WORKSPACES  # one memory per workspace
        for m in prims:
            texts = sorted([x.text async for x in m.deep.export()])
            expected = [
                same,
                f"{m.workspace} keeps its own note",
                f"{m.workspace} warms up its index",
            ]
            assert texts == sorted(expected)
        await prims[0].aclose()

    asyncio.run(run())
