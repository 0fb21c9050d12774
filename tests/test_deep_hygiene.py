"""Write-time hygiene and contextual indexing on the real Redis (embedded, with RediSearch)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from tta_memory import MemoryWorkflowPrimitive, Settings, WorkflowContext
from tta_memory.contextual import PLAIN
from tta_memory.hygiene import HygieneThresholds


def _memory(url: str, workspace: str, **settings: object) -> MemoryWorkflowPrimitive:
    return MemoryWorkflowPrimitive(
        url, user_id="test-user", workspace=workspace, settings=Settings(**settings)
    )


@pytest.fixture
def hygienic(redis_url: str, workspace: str) -> MemoryWorkflowPrimitive:
    """A primitive with hygiene on (it is opt-in)."""
    return _memory(redis_url, workspace, hygiene=HygieneThresholds())


async def test_a_paraphrase_supersedes_and_hides_the_older_memory(hygienic):
    memory = hygienic
    old = await memory.create_deep_memory("Pull requests need two approvals before merging.")
    new = await memory.create_deep_memory("Before a pull request is merged it needs two approvals.")
    assert new.supersedes == old.id
    found = await memory.search_deep_memory("pull request approvals", limit=10)
    assert [m.id for m in found] == [new.id]
    history = await memory.search_deep_memory(
        "pull request approvals", limit=10, include_superseded=True
    )
    by_id = {m.id: m for m in history}
    assert set(by_id) == {old.id, new.id}
    assert by_id[old.id].superseded_by == new.id
    assert by_id[old.id].valid_until == new.valid_from
    assert (await memory.get_deep_memory(old.id)).superseded_by == new.id


async def test_distinct_look_alike_facts_both_stay(hygienic):
    memory = hygienic
    a = await memory.create_deep_memory(
        "The flaky test in test_cache.py was caused by a race between two writers."
    )
    b = await memory.create_deep_memory(
        "The flaky test in test_session.py was caused by a race between two writers."
    )
    assert b.supersedes is None
    found = await memory.search_deep_memory("flaky test race", limit=10)
    assert {m.id for m in found} == {a.id, b.id}


async def test_updates_are_linked_only_when_asked(redis_url, workspace):
    plain = _memory(redis_url, workspace, hygiene=HygieneThresholds())
    await plain.create_deep_memory("The CI pipeline times out after 45 minutes.")
    kept = await plain.create_deep_memory("The CI pipeline times out after 60 minutes.")
    assert kept.supersedes is None
    linking = _memory(redis_url, workspace + "-u", hygiene=HygieneThresholds(link_updates=True))
    old = await linking.create_deep_memory("The CI pipeline times out after 45 minutes.")
    new = await linking.create_deep_memory("The CI pipeline times out after 60 minutes.")
    assert new.supersedes == old.id


async def test_hygiene_off_and_other_scopes_never_link(redis_url, workspace):
    off = _memory(redis_url, workspace)  # hygiene is off by default
    await off.create_deep_memory("Bob is allergic to peanuts.")
    assert (await off.create_deep_memory("Bob has a peanut allergy.")).supersedes is None
    scoped = _memory(redis_url, workspace + "-p", hygiene=HygieneThresholds())
    await scoped.create_deep_memory("Bob is allergic to peanuts.")
    private = await scoped.create_deep_memory("Bob has a peanut allergy.", private=True)
    assert private.supersedes is None  # a private memory never hides a shared one


async def test_paraphrases_in_one_batch_link_too(hygienic):
    memory = hygienic
    made = await memory.create_deep_memories(
        [
            {"text": "The staging environment is reset every Sunday night."},
            {"text": "Every Sunday night the staging environment gets reset."},
        ]
    )
    assert made[1].supersedes == made[0].id
    found = await memory.search_deep_memory("staging reset", limit=10)
    assert [m.id for m in found] == [made[1].id]


async def test_stage_loading_hides_superseded_and_reports_it(hygienic):
    memory = hygienic
    await memory.create_deep_memory("Deployments to production happen only on Tuesdays.")
    new = await memory.create_deep_memory("Production deploys are only done on Tuesdays.")
    ctx = WorkflowContext(workflow_id="w", session_id="s1")
    loaded = await memory.load_workflow_context(
        ctx, "plan", "standard", query="when do production deployments happen"
    )
    assert [m.id for m in loaded.metadata["deep_memory"]] == [new.id]
    assert loaded.metadata["memory_report"].superseded_hidden == 1


async def test_contextual_indexing_finds_a_turn_through_its_neighbour(redis_url):
    # "Yes, last Tuesday!" says nothing about pottery; its previous turn does.
    turns = [
        'Alice said, "Did you finally go to the pottery class?"',
        'Bob said, "Yes, last Tuesday!"',
        'Alice said, "I bought new running shoes."',
    ]
    items = [{"text": t, "session_id": "s1"} for t in turns]
    ws = f"ws-{uuid.uuid4().hex[:8]}"
    ctx_memory = _memory(redis_url, ws, hygiene=None)
    plain = _memory(redis_url, ws + "-plain", contextual=PLAIN, hygiene=None)
    for m in (ctx_memory, plain):
        await m.create_deep_memories(items)
    found = await ctx_memory.search_deep_memory("pottery", limit=3, search_mode="text")
    assert turns[1] in [m.text for m in found]  # returned with its own text
    found_plain = await plain.search_deep_memory("pottery", limit=3, search_mode="text")
    assert turns[1] not in [m.text for m in found_plain]


async def test_a_later_call_continues_the_session(redis_url, workspace):
    memory = _memory(redis_url, workspace, hygiene=None)
    when = datetime(2023, 5, 8, tzinfo=UTC)
    await memory.create_deep_memory('Bob said, "Guess what I adopted."', session_id="s1")
    reply = await memory.create_deep_memory(
        'Alice said, "A puppy named Rex?"', session_id="s1", event_time=when
    )
    # The earlier turn is found through its successor's words, the reply through the date.
    found = await memory.search_deep_memory("puppy Rex", limit=2, search_mode="text")
    assert len(found) == 2
    by_date = await memory.search_deep_memory("May 2023", limit=1, search_mode="text")
    assert [m.id for m in by_date] == [reply.id]


async def test_recency_prefers_newer_events_when_asked(memory):
    old = await memory.create_deep_memory(
        "The deploy script lives in tools/deploy.sh.", event_time=datetime(2020, 1, 1, tzinfo=UTC)
    )
    new = await memory.create_deep_memory(
        "The deploy script moved to scripts/release.py.",
        event_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    plain = await memory.search_deep_memory("deploy script tools deploy.sh", limit=2)
    assert plain[0].id == old.id
    recent = await memory.search_deep_memory(
        "deploy script tools deploy.sh", limit=2, recency_half_life_days=30
    )
    assert recent[0].id == new.id
    with pytest.raises(ValueError):
        await memory.search_deep_memory("deploy", recency_half_life_days=0)


async def test_an_index_from_before_search_text_is_migrated(redis_url, workspace):
    # A deep index and a memory as the engine wrote them before contextual indexing existed.
    import redis.asyncio as aioredis
    from redisvl.index import AsyncSearchIndex
    from tta_memory.schema import deep_schema

    prefix = f"mig-{uuid.uuid4().hex[:8]}"
    memory = _memory(redis_url, workspace, prefix=prefix)
    keys = memory.context.keys
    old = deep_schema(prefix, keys.partition, 384).to_dict()
    old["fields"] = [f for f in old["fields"] if f["name"] not in ("search_text", "superseded")]
    client = aioredis.Redis.from_url(redis_url)
    index = AsyncSearchIndex.from_dict(old, redis_client=client)
    await index.create()
    source = _memory(redis_url, workspace, prefix=prefix + "-src")
    made = await source.create_deep_memory("The nightly backup job runs at 02:00 UTC.")
    row = await client.hgetall(source.context.keys.deep(made.id))
    row = {k: v for k, v in row.items() if k not in (b"search_text", b"valid_from")}
    await client.hset(keys.deep(made.id), mapping=row)
    found = await memory.search_deep_memory("nightly backup", limit=3, search_mode="text")
    assert [m.id for m in found] == [made.id]
    await client.aclose()
