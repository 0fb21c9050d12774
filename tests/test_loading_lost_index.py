"""A context load sends its first reads as one pipeline, the index queries (the session's groups,
or the cache outside group mode) included. A server that lost those indexes (a wiped volume,
FLUSHALL and a restore of the keys) fails that pipeline: the load then reads through the
stores, which re-create the indexes, and returns what it returned before."""

from __future__ import annotations

import asyncio

from tta_memory import MemoryWorkflowPrimitive, SessionGroupPrimitive

CTX = {"session_id": "s1", "workflow_id": "wf"}


async def _drop_indexes(memory: MemoryWorkflowPrimitive, *kinds: str) -> None:
    client = await memory.context.client()
    for kind in kinds:  # the documents stay; only the index goes
        await client.execute_command("FT.DROPINDEX", memory.context.keys.index_name(kind))


async def _eventually(read, expected, attempts: int = 50):
    """``read()`` once the re-created index has indexed the existing keys again."""
    got = await read()
    for _ in range(attempts):
        if got == expected:
            break
        await asyncio.sleep(0.1)
        got = await read()
    return got


async def test_a_group_mode_load_after_the_indexes_were_lost_finds_the_groups_again(
    memory: MemoryWorkflowPrimitive, groups: SessionGroupPrimitive
):
    gid = await groups.create_group("payments", "Work on payments", tags=["payments"])
    await groups.add_session_to_group(gid, "s1")
    await groups.add_session_to_group(gid, "s2")
    await memory.add_session_message("s1", "user", "how do payment retries work?")
    await memory.add_session_message("s2", "assistant", "retries back off exponentially")

    async def read() -> tuple[list[str], list[str]]:
        loaded = await memory.load_context(CTX, "understand", "augster_rigorous")
        return [g.id for g in loaded.session_groups], [e.content for e in loaded.cache_memory]

    before = await read()
    assert before == ([gid], ["retries back off exponentially"])
    await _drop_indexes(memory, "group", "cache")
    assert await _eventually(read, before) == before


async def test_a_standard_load_after_the_cache_index_was_lost_finds_the_cache_again(
    memory: MemoryWorkflowPrimitive,
):
    await memory.add_cache_entry("deploy freeze until Friday", session_id="s9")
    await memory.add_session_message("s1", "user", "can we deploy today?")

    async def read() -> list[str]:
        loaded = await memory.load_context(CTX, "understand", "standard")
        return [e.content for e in loaded.cache_memory]

    before = await read()
    assert before == ["deploy freeze until Friday"]
    await _drop_indexes(memory, "cache")
    assert await _eventually(read, before) == before
