"""Listing, counting and deleting workspaces on a cluster sees the indexes of every primary
(each node lists only its own: ``FT._LIST`` sent to one node saw a third of the partitions),
and a deletion removes the workspace's own keys there too."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from redis.crc import key_slot
from tta_memory import MemoryWorkflowPrimitive, Settings
from tta_memory.local_cluster import LocalCluster
from tta_memory.partitions import PartitionLayout
from tta_memory.workspaces import delete_workspace, list_workspaces, workspace_stats


def test_workspaces_of_every_primary_are_listed_counted_and_deleted(
    local_cluster: LocalCluster,
) -> None:
    settings = Settings(prefix=f"wsl{uuid.uuid4().hex[:6]}")
    layout = PartitionLayout(buckets=settings.partition_buckets)
    # One workspace per primary: the first names whose partition lands on each of them.
    by_node: dict[str, str] = {}
    for i in range(200):
        name = f"team-{i}"
        slot = key_slot(layout.partition_for(name).hashtag.encode())
        by_node.setdefault(local_cluster.node_for_slot(slot).address, name)
    workspaces = sorted(by_node.values())
    assert len(workspaces) == local_cluster.masters

    async def run() -> tuple[dict[str, int], int, dict[str, int]]:
        engines = [
            MemoryWorkflowPrimitive(local_cluster.url, "u", workspace=w, settings=settings)
            for w in workspaces
        ]
        try:
            for memory in engines:
                await memory.add_cache_entry(f"note of {memory.workspace}", session_id="s1")
                await memory.create_deep_memory(f"fact of {memory.workspace}", session_id="s1")
                await memory.add_session_message("s1", "user", f"hello from {memory.workspace}")
                await memory.paf_primitive.add_paf("OPS", "001", f"rule of {memory.workspace}")
            listed = {s.workspace: s.deep_memories for s in await list_workspaces(engines[0])}
            counted = (await workspace_stats(engines[1])).cache_entries
            deleted = await delete_workspace(engines[2])
            after = {s.workspace: s.deep_memories for s in await list_workspaces(engines[0])}
            assert (deleted.deep_memories, deleted.pafs) == (1, 1)
            assert await engines[2].get_active_pafs() == []  # its PAF hash went too
            return listed, counted, after
        finally:
            for memory in engines:
                await memory.aclose()

    listed, counted, after = asyncio.run(run())
    assert listed == {w: 1 for w in workspaces}
    assert counted == 2  # the note and the session message mirrored into the cache
    assert after == {w: 1 for w in workspaces[:2]}
    # Nothing of the deleted workspace is left on any node (its keys all carry its name).
    left = []
    for node in local_cluster.nodes[: local_cluster.masters]:
        with contextlib.closing(node.client()) as c:
            left += list(c.scan_iter(match=f"{settings.prefix}:*{workspaces[2]}*"))
    assert left == []
