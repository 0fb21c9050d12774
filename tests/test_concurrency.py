"""Many concurrent writers: the session order stays strict (seq 1..N, no gaps, nothing lost), and
optimistic updates of groups and PAFs lose nothing."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis.asyncio as aioredis
from tta_memory import MemoryWorkflowPrimitive, SessionGroupPrimitive, SessionMessage
from tta_memory.context import MAX_WATCH_ATTEMPTS, watched
from tta_memory.errors import ConflictError


def assert_strict_order(msgs: list[SessionMessage], expected: set[str]) -> None:
    assert [m.seq for m in msgs] == list(range(1, len(expected) + 1))
    assert len({m.id for m in msgs}) == len(msgs)
    assert {m.content for m in msgs} == expected


async def test_concurrent_async_writers(memory):
    n = 200
    results = await asyncio.gather(
        *(memory.add_session_message("hot", "user", f"msg {i}") for i in range(n))
    )

    assert sorted(m.seq for m in results) == list(range(1, n + 1))
    msgs = await memory.get_session_context("hot", limit=None)
    assert_strict_order(msgs, {f"msg {i}" for i in range(n)})
    assert await memory.count_session_messages("hot") == n
    # each writer got back the seq its message is stored under
    stored = {m.id: m.seq for m in msgs}
    assert all(stored[r.id] == r.seq for r in results)


async def test_concurrent_writers_from_several_primitives(redis_url, workspace):
    writers = [
        MemoryWorkflowPrimitive(redis_url, user_id=f"agent-{w}", workspace=workspace)
        for w in range(4)
    ]

    async def write(w: MemoryWorkflowPrimitive) -> None:
        # Calls in flight together have no promised order; one writer's awaited calls do.
        for i in range(30):
            await w.add_session_message("shared", "assistant", f"{w.user_id} #{i}")

    await asyncio.gather(*(write(w) for w in writers))
    msgs = await writers[0].get_session_context("shared", limit=None)
    assert_strict_order(msgs, {f"{w.user_id} #{i}" for i in range(30) for w in writers})
    # per writer, the messages it awaited one after another keep that order
    for w in writers:
        mine = [int(m.content.split("#")[1]) for m in msgs if m.user_id == w.user_id]
        assert mine == sorted(mine) and len(mine) == 30


async def test_concurrent_batches_stay_contiguous(memory):
    batches = [[{"role": "user", "content": f"b{b} m{i}"} for i in range(5)] for b in range(20)]
    results = await asyncio.gather(*(memory.add_session_messages("s", b) for b in batches))

    for stored in results:
        seqs = [m.seq for m in stored]
        assert seqs == list(range(seqs[0], seqs[0] + 5))
    msgs = await memory.get_session_context("s", limit=None)
    assert_strict_order(msgs, {m["content"] for b in batches for m in b})


def test_concurrent_threads_with_sync(memory):
    threads, per_thread = 8, 25

    def work(t: int) -> list[int]:
        return [
            memory.sync.add_session_message("threaded", "user", f"t{t} m{i}").seq
            for i in range(per_thread)
        ]

    with ThreadPoolExecutor(max_workers=threads) as pool:
        per = list(pool.map(work, range(threads)))

    for seqs in per:  # each thread sees its own writes in increasing order
        assert seqs == sorted(seqs)
    assert sorted(s for seqs in per for s in seqs) == list(range(1, threads * per_thread + 1))
    msgs = memory.sync.get_session_context("threaded", limit=None)
    assert_strict_order(msgs, {f"t{t} m{i}" for t in range(threads) for i in range(per_thread)})


async def test_concurrent_group_membership_loses_nothing(groups: SessionGroupPrimitive):
    gid = await groups.create_group("busy")
    await asyncio.gather(*(groups.add_session_to_group(gid, f"s{i}") for i in range(40)))
    assert sorted((await groups.get_group(gid)).session_ids) == sorted(f"s{i}" for i in range(40))


async def test_concurrent_paf_updates_keep_every_version(memory):
    await memory.paf_primitive.add_paf("API", "001", "v1")
    await asyncio.gather(
        *(memory.paf_primitive.update_paf("API-001", rationale=f"r{i}") for i in range(20))
    )
    paf = await memory.paf_primitive.get_paf("API-001")
    assert paf.version == 21
    assert [h.version for h in paf.history] == list(range(1, 21))
    assert {h.rationale for h in paf.history[1:]} | {paf.rationale} == {f"r{i}" for i in range(20)}


async def test_concurrent_identical_memories_are_one(memory):
    made = await asyncio.gather(
        *(memory.create_deep_memory("the same lesson, written by many") for _ in range(10))
    )
    assert len({m.id for m in made}) == 1
    assert len(await memory.search_deep_memory("", limit=100)) == 1


async def test_optimistic_updates_are_bounded_and_end_in_a_conflict(memory):
    key = memory.context.keys.pafs()
    other = aioredis.Redis.from_url(memory.redis_url)
    attempts = 0

    async def read(pipe):
        nonlocal attempts
        attempts += 1
        await other.hset(key, "x", attempts)  # a concurrent writer changes the key every time
        return None

    with pytest.raises(ConflictError):
        await watched(memory.context, key, read, lambda pipe, _: pipe.hset(key, "y", 1))
    await other.aclose()
    assert attempts == MAX_WATCH_ATTEMPTS
    assert not await (await memory.context.client()).hexists(key, "y")


async def test_append_and_registry_change_together_under_concurrent_clears(memory):
    # An append writes the message and the workspace's session registry in one step, and a
    # clear removes both in one step: at every instant a session is listed exactly when it
    # holds messages. A watcher takes consistent snapshots (MULTI) while writers and
    # clearers run; a registry update sent apart from the append shows up as a session
    # holding messages without being listed.
    sessions = [f"c{i}" for i in range(4)]
    keys = memory.context.keys
    client = await memory.context.client()
    done = False
    violations: list[tuple[str, int, bool]] = []

    async def churn(sid: str) -> None:
        for i in range(60):
            await memory.add_session_message(sid, "user", f"{sid} {i}")

    async def clears(sid: str) -> None:
        for _ in range(20):
            await memory.clear_session(sid)
            await asyncio.sleep(0)

    async def watch() -> None:
        while not done:
            async with client.pipeline(transaction=True) as pipe:
                for sid in sessions:
                    pipe.zcard(keys.session_active(sid))
                    pipe.zscore(keys.sessions_registry(), sid)
                replies = await pipe.execute()
            for n, sid in enumerate(sessions):
                held, listed = int(replies[2 * n]), replies[2 * n + 1] is not None
                if (held > 0) != listed:
                    violations.append((sid, held, listed))
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    await asyncio.gather(*(f(s) for s in sessions for f in (churn, clears)))
    done = True
    await watcher
    assert violations == []
    listed = set(await memory.list_sessions(limit=None))
    for sid in sessions:
        assert (sid in listed) == (await memory.count_session_messages(sid) > 0)
