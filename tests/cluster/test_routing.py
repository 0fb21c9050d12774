"""Index commands reach the node that holds their partition's slot, on a real local cluster."""

from __future__ import annotations

import asyncio

from redis.crc import key_slot
from redisvl.index import AsyncSearchIndex
from redisvl.query import FilterQuery
from redisvl.query.filter import Tag
from redisvl.schema import IndexSchema
from tta_memory.cluster import index_name_of, is_cluster_url, make_cluster_client
from tta_memory.config import Settings
from tta_memory.local_cluster import LocalCluster
from tta_memory.partitions import Partition, PartitionLayout

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
