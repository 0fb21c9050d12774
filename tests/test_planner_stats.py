"""The deep-search planner's cached counts (stores/deep/stats.py) belong to one backend and
one partition: a lean search that misses in one partition forgets that partition's counts
only, and a new backend never starts from the counts of a collected one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from servers import throwaway_server
from tta_memory import EmbeddedRedis, MemoryWorkflowPrimitive
from tta_memory.config import Settings
from tta_memory.partitions import bucket_of
from tta_memory.stores.deep import stats as stats_module
from tta_memory.stores.deep.scope import Scope
from tta_memory.stores.deep.stats import STATS, counts_group, read_plan

from benchmarks.harness import CommandRecorder

NOTES = [f"deploy note {i}: the payment service retries webhooks with backoff" for i in range(6)]


@pytest.fixture
def settings() -> Settings:
    return Settings(prefix=f"stats{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def second_server() -> Iterator[EmbeddedRedis]:
    """Another server: the same keys there hold other data."""
    with throwaway_server("tta-test2-") as server:
        yield server


def other_bucket(name: str, buckets: int) -> str:
    """A workspace name hashing into another shared bucket than ``name``."""
    home = bucket_of(name, buckets)
    return next(f"{name}-o{i}" for i in range(10_000) if bucket_of(f"{name}-o{i}", buckets) != home)


def counting_commands(names: list[tuple[object, ...]]) -> int:
    """The planner's counting queries (``FT.SEARCH … LIMIT 0 0``) and its stats reads."""
    out = 0
    for cmd in names:
        words = [a.decode(errors="replace") if isinstance(a, bytes) else str(a) for a in cmd]
        name = words[0].upper()
        stats_read = name == "HMGET" and ":deepstats:" in words[1]
        out += stats_read or (name == "FT.SEARCH" and words[-3:] == ["LIMIT", "0", "0"])
    return out


async def test_a_lean_miss_forgets_only_its_own_partitions_counts(redis_url, settings):
    ann = MemoryWorkflowPrimitive(redis_url, user_id="ann", workspace="team", settings=settings)
    bob = MemoryWorkflowPrimitive(redis_url, user_id="bob", workspace="team", settings=settings)
    elsewhere = other_bucket("team", settings.partition_buckets)
    far = MemoryWorkflowPrimitive(redis_url, user_id="ann", workspace=elsewhere, settings=settings)
    await ann.create_deep_memories([{"text": t} for t in NOTES])
    await far.create_deep_memories([{"text": t} for t in NOTES])
    STATS.clear()
    assert len(await ann.search_deep_memory("payment webhooks", limit=6)) == 6
    assert len(await far.search_deep_memory("payment webhooks", limit=6)) == 6
    # Behind ann's cached "nothing private" counts, bob writes a private match: ann's lean
    # search reads it back and runs again with every clause.
    await bob.create_deep_memory("payment webhooks retries: bob's private note", private=True)
    found = await ann.search_deep_memory("payment webhooks retries", limit=6)
    assert sorted(m.text for m in found) == sorted(NOTES)
    # The other partition's counts are still cached: its next search plans without reading.
    with CommandRecorder() as rec:
        assert len(await far.search_deep_memory("payment webhooks", limit=6)) == 6
    assert counting_commands([c for trip in rec.trips for c in trip.commands]) == 0
    # ann's partition reads its counts again, and now keeps the visibility clause.
    with CommandRecorder() as rec:
        await ann.search_deep_memory("payment webhooks", limit=6)
    assert counting_commands([c for trip in rec.trips for c in trip.commands]) > 0
    cache = STATS.of(ann.context.backend)
    assert cache.get(counts_group(far.context), ()) is not None
    plan = await read_plan(ann.context, [], False, 30, True, [], True)
    assert plan.scope == Scope(workspace=False, visibility=True, superseded=False)


async def test_a_new_backend_never_reads_the_counts_of_an_old_one_with_its_id(
    redis_url, second_server, settings, monkeypatch
):
    # Python reuses the id() of a collected object for the next one allocated there; the
    # allocator decides when, so the test makes every object's id() the same instead.
    monkeypatch.setattr(stats_module, "id", lambda _: 1, raising=False)
    # Server 1: the workspace holds shared memories only (the counts say: no visibility clause).
    first = MemoryWorkflowPrimitive(redis_url, user_id="ann", workspace="ws", settings=settings)
    await first.create_deep_memories([{"text": t} for t in NOTES])
    STATS.clear()
    plan = await read_plan(first.context, [], False, 30, True, [], True)
    assert plan.scope.visibility is False
    # Server 2: the same workspace and keys, with someone's private memory.
    url = second_server.url
    second = MemoryWorkflowPrimitive(url, user_id="ann", workspace="ws", settings=settings)
    bob = MemoryWorkflowPrimitive(url, user_id="bob", workspace="ws", settings=settings)
    await second.create_deep_memories([{"text": t} for t in NOTES])
    await bob.create_deep_memory("bob's private note", private=True)
    plan = await read_plan(second.context, [], False, 30, True, [], True)
    assert plan.scope.visibility is True


def counted_terms(rec: CommandRecorder) -> set[str]:
    """The terms whose document frequency a search counted (``@search_text:(t) LIMIT 0 0``)."""
    out = set()
    for trip in rec.trips:
        for cmd in trip.commands:
            words = [a.decode(errors="replace") if isinstance(a, bytes) else str(a) for a in cmd]
            counting = words[0].upper() == "FT.SEARCH" and words[-3:] == ["LIMIT", "0", "0"]
            if counting and words[2].startswith("@search_text:("):
                out.add(words[2][len("@search_text:(") : -1])
    return out


async def test_a_common_terms_frequency_is_kept_longer_than_a_rare_ones(
    redis_url, settings, monkeypatch
):
    # Counting a common term walks its postings (0.83 ms per term at 100k): its frequency is
    # kept for COMMON_DOC_FREQ_TTL, a rare one's for DOC_FREQ_TTL (here 0: at once stale).
    memory = MemoryWorkflowPrimitive(redis_url, user_id="ann", workspace="freq", settings=settings)
    await memory.create_deep_memories([{"text": t} for t in [*NOTES, "a lone zebra sighting"]])
    monkeypatch.setattr(stats_module, "COMMON_TERM_DOCS", len(NOTES))  # "payment" is in 6
    monkeypatch.setattr(stats_module, "DOC_FREQ_TTL", 0.0)
    STATS.clear()
    with CommandRecorder() as first:
        await memory.search_deep_memory("payment zebra", limit=3)
    assert counted_terms(first) == {"payment", "zebra"}
    with CommandRecorder() as second:
        found = await memory.search_deep_memory("payment zebra", limit=3)
    assert counted_terms(second) == {"zebra"}  # the common term's count was reused
    assert "a lone zebra sighting" in [m.text for m in found]


async def test_a_search_a_turn_later_plans_from_the_counts_it_read(
    redis_url, settings, monkeypatch
):
    """Two searches 30 s apart (an agent's next turn): the second reads no counts."""
    memory = MemoryWorkflowPrimitive(redis_url, user_id="ann", workspace="turns", settings=settings)
    await memory.create_deep_memories([{"text": t} for t in NOTES])
    STATS.clear()
    with CommandRecorder() as first:
        await memory.search_deep_memory("payment webhooks", limit=3, tags=["ops"])
    assert counting_commands([c for t in first.trips for c in t.commands]) > 0
    later = stats_module.clock() + 30
    monkeypatch.setattr(stats_module, "clock", lambda: later)
    with CommandRecorder() as second:
        await memory.search_deep_memory("payment webhooks", limit=3, tags=["ops"])
    assert counting_commands([c for t in second.trips for c in t.commands]) == 0
