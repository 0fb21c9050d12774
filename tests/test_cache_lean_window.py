"""A cache window leaves out its workspace clause (stores/cache.py, SHARED_TTL) and never returns
another workspace's entry, nor fewer of its own, because of it: each test puts a neighbour in the
same shared partition with the same session ids and newer entries."""

from __future__ import annotations

import uuid

import pytest
from tta_memory import MemoryWorkflowPrimitive, SessionGroupPrimitive
from tta_memory.config import Settings
from tta_memory.partitions import bucket_of
from tta_memory.stores import cache as cache_module


@pytest.fixture
def settings() -> Settings:
    # A prefix of its own: the workspaces of a test are alone in their partitions.
    return Settings(prefix=f"lean{uuid.uuid4().hex[:8]}")


@pytest.fixture(autouse=True)
def no_shared_marks():
    cache_module._SHARED.clear()
    yield
    cache_module._SHARED.clear()


def same_bucket(name: str, buckets: int) -> str:
    target = bucket_of(name, buckets)
    return next(
        f"{name}-n{i}" for i in range(10_000) if bucket_of(f"{name}-n{i}", buckets) == target
    )


async def test_a_neighbours_newer_entries_never_crowd_out_or_join_a_window(redis_url, settings):
    a = MemoryWorkflowPrimitive(redis_url, user_id="ann", workspace="alpha", settings=settings)
    for i in range(5):
        await a.add_session_message("s1", "user", f"alpha message {i}")
    assert [e.content for e in await a.cache.recent(["s1"], limit=3)] == [
        "alpha message 4",
        "alpha message 3",
        "alpha message 2",
    ]
    # A neighbour in the same partition writes newer entries under the same session id: more
    # than the window's limit, so a window without the workspace clause sees only theirs.
    b = MemoryWorkflowPrimitive(
        redis_url,
        user_id="bob",
        workspace=same_bucket("alpha", settings.partition_buckets),
        settings=settings,
    )
    assert b.context.keys.partition == a.context.keys.partition
    for i in range(5):
        await b.add_session_message("s1", "user", f"beta message {i}")
    for _ in range(2):  # the second read knows the partition is shared
        assert [e.content for e in await a.cache.recent(["s1"], limit=3)] == [
            "alpha message 4",
            "alpha message 3",
            "alpha message 2",
        ]
    assert [e.content for e in await b.cache.recent(["s1"], limit=2)] == [
        "beta message 4",
        "beta message 3",
    ]


async def test_a_group_load_of_a_shared_partition_reads_only_its_workspace(redis_url, settings):
    a = MemoryWorkflowPrimitive(redis_url, user_id="ann", workspace="alpha", settings=settings)
    groups = SessionGroupPrimitive(redis_url, user_id="ann", workspace="alpha", settings=settings)
    gid = await groups.create_group("Auth", tags=["auth"])
    for sid in ("day1", "day2"):
        await groups.add_session_to_group(gid, sid)
    await a.add_session_message("day1", "user", "alpha research")
    b = MemoryWorkflowPrimitive(
        redis_url,
        user_id="ann",
        workspace=same_bucket("alpha", settings.partition_buckets),
        settings=settings,
    )
    for i in range(120):  # newer than alpha's, more than the load's window of 100
        await b.add_session_message("day1", "user", f"beta chatter {i}")
    loaded = await a.load_context(
        {"session_id": "day2", "workflow_id": "w"}, "understand", "augster_rigorous"
    )
    assert [e.content for e in loaded.cache_memory] == ["alpha research"]


async def test_a_workspace_alone_reads_its_windows_without_the_clause(redis_url, settings):
    a = MemoryWorkflowPrimitive(redis_url, user_id="ann", workspace="solo", settings=settings)
    await a.add_session_message("s1", "user", "hello")
    window = await a.cache.window(["s1"])
    assert window.full is not None  # lean: the full read is kept for a neighbour's row
    assert [e.content for e in await a.cache.finish(window)] == ["hello"]


async def test_a_users_window_in_a_shared_partition_reads_only_its_workspace(redis_url, settings):
    # Without session ids a window is the caller's entries: the same user in a neighbour
    # workspace of the partition writes newer ones.
    a = MemoryWorkflowPrimitive(redis_url, user_id="ann", workspace="alpha", settings=settings)
    for i in range(3):
        await a.add_cache_entry(f"alpha note {i}")
    b = MemoryWorkflowPrimitive(
        redis_url,
        user_id="ann",
        workspace=same_bucket("alpha", settings.partition_buckets),
        settings=settings,
    )
    for i in range(5):
        await b.add_cache_entry(f"beta note {i}")
    for _ in range(2):
        assert [e.content for e in await a.cache.recent(limit=3)] == [
            "alpha note 2",
            "alpha note 1",
            "alpha note 0",
        ]
