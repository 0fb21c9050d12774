"""A cache window read starts where the previous full read of the same window ended (its
horizon), and still returns exactly the newest entries of the whole window when entries newer
than the horizon were deleted, or new ones were written."""

from __future__ import annotations

from tta_memory import MemoryWorkflowPrimitive

LIMIT = 100


async def test_a_window_read_again_starts_at_its_horizon_and_sees_new_entries(
    memory: MemoryWorkflowPrimitive,
) -> None:
    notes = [(await memory.add_cache_entry(f"note {i}")).content for i in range(LIMIT + 20)]
    first = await memory.cache.window(limit=LIMIT)
    assert not first.narrowed  # nothing known yet: the whole window is sorted
    assert [e.content for e in await memory.cache.finish(first)] == notes[::-1][:LIMIT]

    newest = (await memory.add_cache_entry("newest")).content
    again = await memory.cache.window(limit=LIMIT)

    assert again.narrowed
    assert [e.content for e in await memory.cache.finish(again)] == ([newest, *notes[::-1]][:LIMIT])


async def test_entries_deleted_above_the_horizon_make_the_read_take_the_whole_window(
    memory: MemoryWorkflowPrimitive,
) -> None:
    notes = [(await memory.add_cache_entry(f"note {i}")).content for i in range(LIMIT + 20)]
    said = [f"said {i}" for i in range(60)]
    await memory.add_session_messages("talk", [{"role": "user", "content": s} for s in said])
    before = await memory.get_cache_memory(limit=LIMIT)
    assert [e.content for e in before] == [*said[::-1], *notes[::-1]][:LIMIT]

    await memory.clear_session("talk")  # the 60 newest entries go: 40 are left above the horizon

    after = await memory.get_cache_memory(limit=LIMIT)
    assert [e.content for e in after] == notes[::-1][:LIMIT]
    # and the read after that starts at the new horizon and agrees
    assert (await memory.cache.window(limit=LIMIT)).narrowed
    assert [e.content for e in await memory.get_cache_memory(limit=LIMIT)] == notes[::-1][:LIMIT]


async def test_a_shorter_window_ignores_an_older_horizon(memory: MemoryWorkflowPrimitive) -> None:
    for i in range(LIMIT + 5):
        await memory.add_cache_entry(f"note {i}")
    await memory.get_cache_memory(time_window_hours=24, limit=LIMIT)
    # A window that starts after every entry: the horizon (older) must not widen it.
    assert await memory.get_cache_memory(time_window_hours=1e-9, limit=LIMIT) == []
