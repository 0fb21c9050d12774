"""A partition index dropped under a live engine is re-created by the next read, on one node
(the same check on the local cluster: tests/cluster/test_index_recovery_on_cluster.py)."""

from __future__ import annotations

from index_drop import BACKLOG, drop_indexes_then_read
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.stores.items import ItemStore, ItemWrite


async def test_dropped_indexes_are_recreated_by_the_next_read(
    memory: MemoryWorkflowPrimitive,
) -> None:
    await drop_indexes_then_read(memory)


async def test_a_dropped_items_index_is_recreated_by_the_next_search(
    memory: MemoryWorkflowPrimitive,
) -> None:
    """The keyed items of the LangGraph store: search and namespace listing recover too."""
    items = ItemStore(memory.context)
    await items.put_items(
        [
            ItemWrite(namespace=("docs", "ops"), key=f"k{i}", value={"i": i}, texts=[f"lamp {i}"])
            for i in range(BACKLOG)
        ]
    )
    assert len(await items.search_items(("docs",), query="lamp", limit=BACKLOG)) == BACKLOG
    index = await items.index()
    await (await memory.context.client()).execute_command("FT.DROPINDEX", index.name)

    assert len(await items.search_items(("docs",), query="lamp", limit=BACKLOG)) == BACKLOG
    await (await memory.context.client()).execute_command("FT.DROPINDEX", index.name)
    assert await items.list_item_namespaces(prefix=("docs",)) == [("docs", "ops")]
