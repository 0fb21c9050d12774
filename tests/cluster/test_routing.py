"""Index commands reach the node that holds their partition's slot, on a real local cluster."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from redis.crc import key_slot
from redisvl.index import AsyncSearchIndex
from redisvl.query import FilterQuery
from redisvl.query.filter import Tag
from redisvl.schema import IndexSchema
from tta_memory.cluster import index_name_of, is_cluster_url, make_cluster_client
from tta_memory.config import Settings
from tta_memory.local_cluster import LocalCluster
from tta_memory.partitions import Partition, PartitionLayout
from tta_memory.replies import text

DOCS = 10


def _schema(p: Partition) -> IndexSchema:
    return IndexSchema.from_dict(
        {
            "index": {
                "name": p.index_name("rt", "deep"),
                "prefix": p.doc_prefix("rt", "deep"),
                "storage_type": "hash",
            },
            "fields": [{"name": "workspace", "type": "tag"}, {"name": "text", "type": "text"}],
        }
    )


def test_cluster_urls_and_index_names() -> None:
    assert is_cluster_url("redis://127.0.0.1:7000?cluster=true")
    assert not is_cluster_url("redis://127.0.0.1:7000")
    assert index_name_of(("FT.SEARCH", "tta:idx:{b.3}:deep", "*")) == "tta:idx:{b.3}:deep"
    assert index_name_of(("FT.CURSOR", "READ", "tta:idx:{b.3}:deep", 1)) == "tta:idx:{b.3}:deep"
    assert index_name_of(("FT.SEARCH", "plain-index", "*")) is None
    assert index_name_of(("HGET", "tta:idx:{b.3}:deep", "f")) is None


def test_every_partition_index_sees_all_its_rows(local_cluster: LocalCluster) -> None:
    """30 workspaces in 16 buckets: each bucket's index lives on the primary of its slot and
    finds every row of its workspaces (redisvl alone sends FT.SEARCH to one default node)."""
    layout = PartitionLayout(buckets=16)
    workspaces = [f"tenant-{i}" for i in range(30)]

    async def run() -> tuple[dict[str, set[str]], dict[str, int]]:
        settings = Settings(socket_timeout=5, connect_timeout=2, retries=3)
        client = make_cluster_client(local_cluster.url, settings, max_connections=10)
        try:
            parts = {ws: layout.partition_for(ws) for ws in workspaces}
            for p in set(parts.values()):
                idx = AsyncSearchIndex(_schema(p), redis_client=client)
                fields = ["workspace", "TAG", "text", "TEXT"]
                await client.execute_command(
                    "FT.CREATE", idx.name, "ON", "HASH", "PREFIX", 1, idx.prefix, "SCHEMA", *fields
                )
            for ws, p in parts.items():
                idx = AsyncSearchIndex(_schema(p), redis_client=client)
                docs = [{"workspace": ws, "text": f"note {j} of {ws}"} for j in range(DOCS)]
                keys = [p.doc_key("rt", "deep", ws, str(j)) for j in range(DOCS)]
                await idx.load(docs, keys=keys)
            found: dict[str, int] = {}
            for ws, p in parts.items():
                idx = AsyncSearchIndex(_schema(p), redis_client=client)
                q = FilterQuery(Tag("workspace") == ws, return_fields=["workspace"], num_results=50)
                # One query alone and one in a pipeline (redisvl's batch path).
                rows = await idx.query(q)
                escaped = ws.replace("-", "\\-")
                batch = await idx.batch_search([f"@workspace:{{{escaped}}}"])
                assert batch[0].total == len(rows)
                found[ws] = len([r for r in rows if r["workspace"] == ws])
            owners: dict[str, set[str]] = {}
            for p in set(parts.values()):
                node = client.index_node(p.index_name("rt", "deep"))
                owners.setdefault(node.name, set()).add(p.tag)
            return owners, found
        finally:
            await client.aclose()

    owners, found = asyncio.run(run())
    assert found == {ws: DOCS for ws in workspaces}
    primaries = local_cluster.primaries()
    assert set(owners) == set(primaries)  # the partitions are spread over all 3 masters
    for address, tags in owners.items():
        for tag in tags:
            slot = key_slot(f"{{{tag}}}".encode())
            assert any(a <= slot <= b for a, b in primaries[address])


def test_durable_index_writes_and_scripts_route_by_their_index(local_cluster: LocalCluster) -> None:
    """A write under the durability barrier is routed by the client's one routing
    (``PartitionedCluster.node_for``): ``FT.SYNUPDATE`` names an index, not a key, and goes to
    its index's node, where the barrier used to ask redis-py for its keys ("Missing key")."""
    settings = Settings(durability="replicated", socket_timeout=5, connect_timeout=2, retries=3)
    p = PartitionLayout(buckets=16).partition_for("synonym-ws")
    name = p.index_name("syn", "deep")

    async def run() -> tuple[list[str], list[str]]:
        client = make_cluster_client(local_cluster.url, settings, max_connections=4)
        try:
            prefix = p.doc_prefix("syn", "deep")
            await client.execute_command(
                "FT.CREATE", name, "ON", "HASH", "PREFIX", 1, prefix, "SCHEMA", "text", "TEXT"
            )
            await client.execute_command("FT.SYNUPDATE", name, "g", "car", "automobile")
            dump = await client.execute_command("FT.SYNDUMP", name)
            index_node = client.index_node(name).name
            script_key = p.doc_key("syn", "deep", "synonym-ws", "1")
            routed = [
                (await client.node_for("FT.SYNUPDATE", name, "g", "car")).name,
                (await client.node_for("EVAL_RO", "return 1", 1, script_key)).name,
                (await client.node_for("HSET", script_key, "text", "x")).name,
            ]
            return [index_node] * 3 + routed, [text(t) for t in _flatten(dump)]
        finally:
            await client.aclose()

    nodes, dump = asyncio.run(run())
    assert len(set(nodes)) == 1  # the index, its documents and their scripts: one node
    assert "automobile" in dump


def test_a_pinned_write_stays_pinned_when_redirected(local_cluster: LocalCluster) -> None:
    """A write pinned to a node (``target_nodes``) that answers ``MOVED`` is re-sent where
    ``MOVED`` points, still pinned: no barrier of its own, as on the single-command path. From
    the second round it used to be treated as unpinned (routed by its keys, given a WAIT)."""
    settings = Settings(durability="replicated", socket_timeout=5, connect_timeout=2, retries=3)
    key = "pinned:{pin-tag}"
    owner = local_cluster.node_for_slot(key_slot(key.encode()))

    async def run() -> Any:
        client = make_cluster_client(local_cluster.url, settings, max_connections=4)
        try:
            await client.initialize()
            wrong = next(n for n in client.get_primaries() if n.name != owner.address)
            with contextlib.closing(owner.client()) as c:
                c.execute_command("CONFIG", "RESETSTAT")
            async with client.pipeline() as pipe:
                pipe.execute_command("HSET", key, "f", "v", target_nodes=wrong)
                return await pipe.execute()
        finally:
            await client.aclose()

    assert asyncio.run(run()) == [1]
    with contextlib.closing(owner.client()) as c:
        assert c.hget(key, "f") == "v"
        stats = c.info("commandstats")
    assert "cmdstat_hset" in stats
    assert "cmdstat_wait" not in stats


def _flatten(reply: Any) -> list[Any]:
    if isinstance(reply, dict):
        return [x for k, v in reply.items() for x in (k, *_flatten(v))]
    if isinstance(reply, list | tuple):
        return [x for item in reply for x in _flatten(item)]
    return [reply]
