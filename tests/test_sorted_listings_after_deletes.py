"""Every newest-first (or oldest-first) listing still answers, in order, after part of what it
lists was deleted, and the server survives it.

Under RediSearch dialect 4 the server died on these: its query optimizer asserts
(`successRatio < 1`, optimizer_reader.c) when a sorted listing's first pass meets deleted
documents. CI lost its shared test server to one such cache window. The tests run on a server of
their own so that the layout of other tests' data cannot hide or cause the case.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from servers import throwaway_server
from tta_memory import EmbeddedRedis, MemoryWorkflowPrimitive
from tta_memory.stores.items import ItemStore, ItemWrite
from tta_memory.transfer import export_workspace

OLD = 500  # deleted before listing
NEW = 60  # kept
LIMIT = 100  # more than what is left: the listing must look past the deleted ones
# The deep listing's filter is narrower: it took 500 deleted of 560 to kill a dialect-4 server.
# (Group listings read up to MAX_GROUPS at once, which the optimizer's first pass covers.)
OLD_DEEP, NEW_DEEP = 500, 60


@pytest.fixture(scope="module")
def own_server() -> Iterator[EmbeddedRedis]:
    with throwaway_server("tta-sorted-") as server:
        yield server


@pytest.fixture
def mem(own_server: EmbeddedRedis, workspace: str) -> MemoryWorkflowPrimitive:
    return MemoryWorkflowPrimitive(own_server.url, user_id="lister", workspace=workspace)


def assert_server_answers(server: EmbeddedRedis) -> None:
    assert server.is_running(), "the listing killed the server"


async def test_cache_window_after_a_session_was_cleared(mem, own_server) -> None:
    await mem.add_session_messages(
        "old", [{"role": "user", "content": f"old {i}"} for i in range(OLD)]
    )
    kept = [(await mem.add_cache_entry(f"note {i}")).content for i in range(NEW)]
    await mem.clear_session("old")  # deletes the session's cache rows, the oldest of the window

    listed = await mem.get_cache_memory(limit=LIMIT)

    assert [e.content for e in listed] == kept[::-1]
    assert_server_answers(own_server)


async def test_context_load_cache_window_after_a_session_was_cleared(mem, own_server) -> None:
    await mem.add_session_messages(
        "old", [{"role": "user", "content": f"old {i}"} for i in range(OLD)]
    )
    kept = [(await mem.add_cache_entry(f"note {i}")).content for i in range(NEW)]
    await mem.add_session_message("s1", "user", "what changed?")
    await mem.clear_session("old")

    loaded = await mem.load_workflow_context(
        {"workflow_id": "w", "session_id": "s1"}, "implement", "standard"
    )

    notes = [e.content for e in loaded.metadata["cache_memory"] if e.content.startswith("note")]
    assert notes == kept[::-1][: len(notes)] and notes
    assert_server_answers(own_server)


async def test_deep_listing_after_the_oldest_memories_were_deleted(mem, own_server) -> None:
    old = await mem.create_deep_memories([{"text": f"old fact {i}"} for i in range(OLD_DEEP)])
    new = await mem.create_deep_memories([{"text": f"new fact {i}"} for i in range(NEW_DEEP)])
    for m in old:
        await mem.delete_deep_memory(m.id)

    listed = await mem.search_deep_memory("", limit=LIMIT)
    exported = [
        row["id"]
        for row in [r async for r in export_workspace(mem)]
        if row["type"] == "deep_memory"
    ]

    assert {m.id for m in listed} == {m.id for m in new}
    times = [m.created_at for m in listed]
    assert times == sorted(times, reverse=True)
    assert sorted(exported) == sorted(m.id for m in new)
    assert_server_answers(own_server)


async def test_item_listing_after_the_oldest_items_were_deleted(mem, own_server) -> None:
    items = ItemStore(mem.context)
    ns = ("docs",)
    await items.put_items(
        [ItemWrite(namespace=ns, key=f"old{i}", value={"i": i}) for i in range(OLD)]
    )
    await items.put_items(
        [ItemWrite(namespace=ns, key=f"new{i}", value={"i": i}) for i in range(NEW)]
    )
    await items.put_items([ItemWrite(namespace=ns, key=f"old{i}", value=None) for i in range(OLD)])

    listed = await items.search_items(ns, limit=LIMIT)

    assert sorted(it.key for it in listed) == sorted(f"new{i}" for i in range(NEW))
    assert_server_answers(own_server)
