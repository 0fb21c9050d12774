"""Deep search leaves out scope clauses that cannot exclude anything (scope.py), and never
returns a foreign, private or superseded memory because of it, nor fewer results: the planner's
counts are cached for seconds, so each test changes the partition right after a search has
cached "nothing to exclude" and searches again at once."""

from __future__ import annotations

import uuid

import pytest
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.config import Settings
from tta_memory.partitions import bucket_of
from tta_memory.stores.deep.scope import Scope
from tta_memory.stores.deep.stats import STATS, read_plan

NOTES = [f"deploy note {i}: the payment service retries webhooks with backoff" for i in range(6)]


@pytest.fixture
def settings() -> Settings:
    # A prefix of its own: the workspaces of a test are alone in their partitions.
    return Settings(prefix=f"scope{uuid.uuid4().hex[:8]}")


def same_bucket(name: str, buckets: int) -> str:
    """Another workspace name that hashes into ``name``'s shared bucket."""
    target = bucket_of(name, buckets)
    return next(
        f"{name}-n{i}" for i in range(10_000) if bucket_of(f"{name}-n{i}", buckets) == target
    )


async def plan_scope(memory: MemoryWorkflowPrimitive) -> Scope:
    STATS.clear()
    plan = await read_plan(memory.context, [], False, 30, True, [], True)
    return plan.scope


async def test_a_workspace_alone_with_shared_memories_searches_without_scope_clauses(
    redis_url, settings
):
    memory = MemoryWorkflowPrimitive(redis_url, user_id="ann", workspace="solo", settings=settings)
    await memory.create_deep_memories([{"text": t} for t in NOTES])
    assert await plan_scope(memory) == Scope(workspace=False, visibility=False, superseded=False)
    await memory.create_deep_memory("ann's own note", private=True)
    assert await plan_scope(memory) == Scope(workspace=False, visibility=True, superseded=False)


async def test_another_workspace_arriving_in_the_bucket_is_never_returned(redis_url, settings):
    a = MemoryWorkflowPrimitive(redis_url, user_id="ann", workspace="alpha", settings=settings)
    await a.create_deep_memories([{"text": t, "tags": ["ops"]} for t in NOTES])
    STATS.clear()
    # A tag filter: the workspace clause is what a lone workspace leaves out.
    assert len(await a.search_deep_memory("payment webhooks retries", limit=6, tags=["ops"])) == 6
    # The cached counts say alpha is alone; a neighbour now writes closer matches.
    other = same_bucket("alpha", settings.partition_buckets)
    b = MemoryWorkflowPrimitive(redis_url, user_id="bob", workspace=other, settings=settings)
    await b.create_deep_memories(
        [
            {"text": f"payment webhooks retries, payment webhooks retries {i}", "tags": ["ops"]}
            for i in range(8)
        ]
    )
    found = await a.search_deep_memory("payment webhooks retries", limit=6, tags=["ops"])
    assert sorted(m.text for m in found) == sorted(NOTES)
    assert await plan_scope(a) == Scope(workspace=True, visibility=False, superseded=False)


async def test_a_private_memory_of_another_author_is_never_returned(redis_url, settings):
    ann = MemoryWorkflowPrimitive(redis_url, user_id="ann", workspace="team", settings=settings)
    bob = MemoryWorkflowPrimitive(redis_url, user_id="bob", workspace="team", settings=settings)
    await ann.create_deep_memories([{"text": t} for t in NOTES])
    STATS.clear()
    assert len(await ann.search_deep_memory("payment webhooks", limit=6)) == 6
    await bob.create_deep_memory("payment webhooks retries: bob's private note", private=True)
    found = await ann.search_deep_memory("payment webhooks retries", limit=6)
    assert sorted(m.text for m in found) == sorted(NOTES)
    mine = await bob.search_deep_memory("payment webhooks retries", limit=7)
    assert "payment webhooks retries: bob's private note" in [m.text for m in mine]


async def test_a_memory_superseded_after_the_counts_were_cached_stays_hidden(redis_url, settings):
    memory = MemoryWorkflowPrimitive(redis_url, user_id="ann", workspace="hyg", settings=settings)
    await memory.create_deep_memories([{"text": t} for t in NOTES])
    old = await memory.create_deep_memory("the webhook timeout is 30 seconds")
    STATS.clear()
    await memory.search_deep_memory("webhook timeout", limit=3)
    # Mark it superseded as hygiene does (hygiene.py), behind the planner's cached counts.
    client = await memory.context.client()
    await client.hset(
        memory.context.keys.deep(old.id), mapping={"superseded": "1", "superseded_by": "x"}
    )
    found = await memory.search_deep_memory("webhook timeout", limit=7)
    assert old.id not in {m.id for m in found}
    assert len(found) == 6
    history = await memory.search_deep_memory("webhook timeout", limit=7, include_superseded=True)
    assert old.id in {m.id for m in history}
