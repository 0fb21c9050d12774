"""The blocking ``.sync`` twins: in plain code and inside a running event loop (as in Jupyter)."""

from __future__ import annotations

import asyncio

import pytest
from tta_memory import MemoryWorkflowPrimitive, SessionGroupPrimitive, WorkflowContext
from tta_memory.errors import InvalidInputError, NotFoundError


def test_sync_in_plain_code(memory: MemoryWorkflowPrimitive, groups: SessionGroupPrimitive):
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()  # really no loop here

    msg = memory.sync.add_session_message("s1", "user", "Implement JWT auth")
    memory.sync.add_session_messages("s1", [{"role": "assistant", "content": "On it"}])
    made = memory.sync.create_deep_memory("PyJWT is lightweight", tags=["jwt"])
    paf = memory.sync.paf_primitive.add_paf("AUTH", "001", "Use PyJWT")
    gid = groups.sync.create_group("Auth", tags=["jwt"])
    groups.sync.add_session_to_group(gid, "s1")

    assert msg.seq == 1
    assert [m.content for m in memory.sync.get_session_context("s1")] == [
        "Implement JWT auth",
        "On it",
    ]
    assert [m.id for m in memory.sync.search_deep_memory("JWT library", tags=["jwt"])] == [made.id]
    assert [p.id for p in memory.sync.get_active_pafs()] == [paf.id]
    assert groups.sync.get_group(gid).session_ids == ["s1"]
    ctx = WorkflowContext(workflow_id="wf", session_id="s1", metadata={}, state={})
    md = memory.sync.load_workflow_context(ctx, "understand", "augster_rigorous").metadata
    assert len(md["session_context"]) == 2 and [p.id for p in md["pafs"]] == ["AUTH-001"]
    assert [g.id for g in md["session_groups"]] == [gid]
    # plain attributes pass through
    assert memory.sync.user_id == "test-user" and memory.sync.workspace == memory.workspace


def test_sync_raises_the_typed_errors(memory):
    with pytest.raises(NotFoundError):
        memory.sync.get_deep_memory("0" * 32)
    with pytest.raises(InvalidInputError, match="valid"):
        memory.sync.add_session_message("s", "robot", "hi")
    assert memory.sync.count_session_messages("s") == 0


async def test_sync_inside_a_running_loop(memory):
    asyncio.get_running_loop()  # as in a Jupyter cell or a sync callback inside async code
    memory.sync.add_session_message("s1", "user", "written blocking")
    await memory.add_session_message("s1", "assistant", "written async")

    # each style sees the other's writes
    assert [m.content for m in memory.sync.get_session_context("s1")] == [
        "written blocking",
        "written async",
    ]
    assert [m.seq for m in await memory.get_session_context("s1")] == [1, 2]
    made = memory.sync.create_deep_memory("sync memory inside a loop")
    assert (await memory.get_deep_memory(made.id)).text == "sync memory inside a loop"


async def test_sync_from_a_callback_while_the_loop_runs_other_work(memory):
    """A blocking call from code running on the loop does not deadlock with pending tasks."""
    background = asyncio.create_task(memory.add_session_message("s", "user", "from a task"))
    blocking = memory.sync.add_session_message("s", "user", "from a blocking call")
    await background
    contents = {m.content for m in await memory.get_session_context("s")}
    assert contents == {"from a task", "from a blocking call"}
    assert blocking.seq in (1, 2)


def test_sync_from_a_fresh_event_loop(memory):
    """asyncio.run in a script, then blocking calls again: clients of closed loops are not used."""

    async def main() -> int:
        await memory.add_session_message("s", "user", "from asyncio.run")
        return await memory.count_session_messages("s")

    assert asyncio.run(main()) == 1
    assert memory.sync.add_session_message("s", "user", "then blocking").seq == 2
    assert asyncio.run(main()) == 3


def test_stores_have_blocking_twins_too(memory):
    memory.sync.sessions.add("s", "user", "hello from a store")
    assert [m.content for m in memory.sync.sessions.get("s")] == ["hello from a store"]
    made = memory.sync.deep.create_many([{"text": "a memory written through the store"}])
    assert [m.id for m in memory.sync.deep.search("")] == [made[0].id]
    assert memory.sync.pafs.list_pafs() == []
