"""The check of index recovery shared by the single-node and the cluster test: a partition index
dropped under a live engine (``FT.DROPINDEX`` keeps the documents) is re-created by the next
read, which then returns what was stored."""

from __future__ import annotations

from tta_memory import MemoryWorkflowPrimitive

# Memories already in the partition when its index is dropped: enough that RediSearch indexes
# them in the background after FT.CREATE, so a read sent right after the re-create misses some.
BACKLOG = 300


async def drop_indexes_then_read(memory: MemoryWorkflowPrimitive) -> None:
    """Store, read once (the engine now knows its indexes), drop them, read again."""
    await memory.create_deep_memories(
        [
            {"text": f"backlog item {i} about lighthouses", "tags": ["backlog"]}
            for i in range(BACKLOG)
        ]
    )
    kept = await memory.create_deep_memory("Indexes come back after a drop", tags=["ops"])
    note = await memory.add_cache_entry("a cache note survives the drop", session_id="s1")
    assert [m.id for m in await memory.search_deep_memory("indexes drop", tags=["ops"])] == [
        kept.id
    ]
    assert [e.id for e in await memory.get_cache_memory("s1")] == [note.id]

    ctx = memory.context
    client = await ctx.backend.client()
    partition = ctx.keys.partition
    for kind in ("deep", "cache"):
        await client.execute_command(
            "FT.DROPINDEX", partition.index_name(ctx.settings.prefix, kind)
        )

    # Each read meets "no such index", re-creates the index and answers in full.
    assert [m.id for m in await memory.search_deep_memory("indexes drop", tags=["ops"])] == [
        kept.id
    ]
    assert [e.id for e in await memory.get_cache_memory("s1")] == [note.id]
    backlog = await memory.search_deep_memory("lighthouses", tags=["backlog"], limit=BACKLOG)
    assert len(backlog) == BACKLOG
