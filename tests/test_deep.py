"""Layer 3 — deep memory: create/get/update/delete, idempotence, hybrid search and its filters."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import redis
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.errors import InvalidInputError, NotFoundError
from tta_memory.fusion import RRF_K

CORPUS = [
    (
        "PyJWT is lightweight and enough for token generation and validation",
        ["jwt", "research"],
        "decision",
    ),
    (
        "Refresh token rotation: issue a new refresh token on each use, revoke the old one",
        ["jwt", "pattern"],
        "pattern",
    ),
    (
        "Postgres slow queries fixed by adding a composite index on (user_id, created_at)",
        ["database", "performance"],
        "bug-resolution",
    ),
    ("Use the factory pattern to create storage backends", ["pattern", "design"], "pattern"),
    ("Team lunch is on Fridays at noon", ["social"], "observation"),
]


async def _seed(memory: MemoryWorkflowPrimitive) -> dict[str, str]:
    made = await memory.create_deep_memories(
        [{"text": t, "tags": tags, "memory_type": kind} for t, tags, kind in CORPUS]
    )
    return {m.text: m.id for m in made}


async def test_create_and_get_round_trip(memory):
    event = datetime(2025, 10, 28, 9, 30, 15, 123456, tzinfo=UTC)
    meta = {"category": "technical-decision", "links": ["a", "b"], "n": 3, "ü": "✓"}
    made = await memory.create_deep_memory(
        "PyJWT is more lightweight",
        tags=["research", "jwt"],
        metadata=meta,
        memory_type="decision",
        session_id="auth-research",
        event_time=event,
    )

    got = await memory.get_deep_memory(made.id)

    assert got == made
    assert got.text == "PyJWT is more lightweight" and got.tags == ["research", "jwt"]
    assert got.metadata == meta and got.memory_type == "decision"
    assert got.session_id == "auth-research" and got.author == "test-user"
    assert got.private is False and got.event_time == event
    assert got.created_at.tzinfo is not None and got.updated_at == got.created_at
    assert got["text"] == got.text


async def test_guide_metadata_fills_session_and_type(memory):
    # The guide passes the session and the kind of memory inside metadata.
    made = await memory.create_deep_memory(
        "Refresh token rotation pattern",
        tags=["pattern"],
        metadata={"category": "successful-pattern", "session_id": "auth-impl"},
    )
    assert made.session_id == "auth-impl" and made.memory_type == "successful-pattern"
    assert [m.id for m in await memory.search_deep_memory("", session_id="auth-impl")] == [made.id]


async def test_same_text_twice_is_one_memory(memory):
    first = await memory.create_deep_memory("Always pin dependency versions", tags=["ops"])
    again = await memory.create_deep_memory("Always pin dependency versions", tags=["other"])
    batch = await memory.create_deep_memories([{"text": "dup in batch"}, {"text": "dup in batch"}])

    assert again.id == first.id and again.tags == ["ops"]
    assert batch[0].id == batch[1].id
    assert sorted(m.text for m in await memory.search_deep_memory("", limit=100)) == [
        "Always pin dependency versions",
        "dup in batch",
    ]


async def test_batch_create_keeps_input_order(memory):
    texts = [f"fact number {i} about caching layer {i * 7}" for i in range(12)]
    made = await memory.create_deep_memories([{"text": t} for t in texts], batch_size=5)
    assert [m.text for m in made] == texts
    assert len({m.id for m in made}) == 12
    assert len(await memory.search_deep_memory("", limit=100)) == 12


async def test_hybrid_search_ranks_the_relevant_memory_first(memory):
    ids = await _seed(memory)
    results = await memory.search_deep_memory("how do we rotate refresh tokens?", limit=3)
    assert results[0].id == ids[CORPUS[1][0]]
    assert all(r.score is not None for r in results)
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


async def test_hybrid_keeps_a_hit_only_the_full_text_ranking_finds(memory):
    # 40 memories close in meaning to the query but sharing none of its words, and one far in
    # meaning that holds its rare word: only BM25 ranks that one, and fusion must keep it.
    await memory.create_deep_memories(
        [{"text": f"Postgres connection pool sizes for service {i} were raised"} for i in range(40)]
    )
    odd = await memory.create_deep_memory("zq7 kettle descaling with vinegar")
    query = "zq7 RDBMS throughput, SQL database capacity and concurrency limits"
    vector_only = await memory.search_deep_memory(query, 10, search_mode="vector")
    assert odd.id not in [h.id for h in vector_only]
    assert [h.id for h in await memory.search_deep_memory(query, 10, search_mode="text")] == [
        odd.id
    ]
    hybrid = await memory.search_deep_memory(query, limit=3)
    assert odd.id in [h.id for h in hybrid]


async def test_hybrid_scores_sum_both_rankings(memory):
    ids = await _seed(memory)
    hybrid = await memory.search_deep_memory("slow Postgres queries index", limit=5)
    vector = await memory.search_deep_memory(
        "slow Postgres queries index", limit=30, search_mode="vector"
    )
    text = await memory.search_deep_memory(
        "slow Postgres queries index", limit=30, search_mode="text"
    )
    target = ids[CORPUS[2][0]]
    # first in both rankings: its fused score is the sum of both reciprocal ranks
    assert vector[0].id == text[0].id == target
    assert hybrid[0].id == target
    assert hybrid[0].score == pytest.approx(2 / (RRF_K + 1))
    # a memory that only one ranking holds scores that ranking's share alone
    only_vector = [h for h in hybrid if h.id not in {t.id for t in text}]
    for h in only_vector:
        rank = [v.id for v in vector].index(h.id) + 1
        assert h.score == pytest.approx(1 / (RRF_K + rank))


@pytest.mark.parametrize("mode", ["vector", "text"])
async def test_single_mode_search(memory, mode):
    ids = await _seed(memory)
    results = await memory.search_deep_memory(
        "slow Postgres queries index", limit=2, search_mode=mode
    )
    assert results[0].id == ids[CORPUS[2][0]]
    assert results[0].score is not None


async def test_vector_search_finds_paraphrases(memory):
    ids = await _seed(memory)
    results = await memory.search_deep_memory(
        "when do colleagues eat together", limit=1, search_mode="vector"
    )
    assert [r.id for r in results] == [ids[CORPUS[4][0]]]


async def test_tags_match_any_or_all(memory):
    ids = await _seed(memory)
    any_ = await memory.search_deep_memory("", tags=["jwt", "design"], limit=100)
    assert {m.id for m in any_} == {ids[CORPUS[0][0]], ids[CORPUS[1][0]], ids[CORPUS[3][0]]}
    all_ = await memory.search_deep_memory("", tags=["jwt", "pattern"], match_all_tags=True)
    assert [m.id for m in all_] == [ids[CORPUS[1][0]]]
    # a query narrows within the tag filter and never escapes it
    hits = await memory.search_deep_memory("Postgres index", tags=["social"])
    assert [m.id for m in hits] == [ids[CORPUS[4][0]]] or hits == []
    assert all("social" in m.tags for m in hits)


async def test_tags_are_case_sensitive_and_exact(memory):
    await memory.create_deep_memory("upper", tags=["Auth"])
    await memory.create_deep_memory("prefix", tags=["authentication"])
    assert await memory.search_deep_memory("", tags=["auth"]) == []
    assert [m.text for m in await memory.search_deep_memory("", tags=["Auth"])] == ["upper"]


async def test_filter_by_type_author_and_session(memory, redis_url, workspace):
    ids = await _seed(memory)
    bob = MemoryWorkflowPrimitive(redis_url, user_id="bob", workspace=workspace)
    by_bob = await bob.create_deep_memory(
        "Bob's note on pattern matching", session_id="bob-s", memory_type="pattern"
    )

    patterns = await memory.search_deep_memory("", memory_type="pattern", limit=100)
    assert {m.id for m in patterns} == {ids[CORPUS[1][0]], ids[CORPUS[3][0]], by_bob.id}
    two = await memory.search_deep_memory("", memory_type=["decision", "bug-resolution"])
    assert {m.id for m in two} == {ids[CORPUS[0][0]], ids[CORPUS[2][0]]}
    assert [m.id for m in await memory.search_deep_memory("pattern", author="bob")] == [by_bob.id]
    assert [m.id for m in await memory.search_deep_memory("", session_id="bob-s")] == [by_bob.id]
    # team knowledge is shared inside a workspace
    assert by_bob.author == "bob"
    assert (await memory.get_deep_memory(by_bob.id)).text == "Bob's note on pattern matching"


async def test_time_range_filter(memory):
    old = await memory.create_deep_memory("written first")
    await asyncio.sleep(0.05)
    middle = datetime.now(UTC)
    await asyncio.sleep(0.05)
    new = await memory.create_deep_memory("written second")

    assert [m.id for m in await memory.search_deep_memory("", since=middle)] == [new.id]
    assert [m.id for m in await memory.search_deep_memory("", until=middle)] == [old.id]
    future = datetime.now(UTC) + timedelta(days=1)
    assert await memory.search_deep_memory("", since=future) == []


async def test_empty_query_lists_everything_newest_first(memory):
    made = []
    for i in range(4):
        made.append(await memory.create_deep_memory(f"memory {i}"))
        await asyncio.sleep(0.01)
    listed = await memory.search_deep_memory(query="", limit=100)
    assert [m.id for m in listed] == [m.id for m in reversed(made)]
    assert len(await memory.search_deep_memory("", limit=2)) == 2


async def test_search_results_equal_the_stored_memory(memory):
    event = datetime(2024, 2, 29, 23, 59, 58, 654321, tzinfo=UTC)
    made = await memory.create_deep_memory(
        "Exact round trip through search", tags=["x"], event_time=event
    )
    for mode in ("hybrid", "vector", "text"):
        [hit] = await memory.search_deep_memory("exact round trip", search_mode=mode)
        assert hit.model_dump(exclude={"score"}) == made.model_dump(exclude={"score"}), mode
    [listed] = await memory.search_deep_memory("")
    assert listed.model_dump(exclude={"score"}) == made.model_dump(exclude={"score"})


async def test_private_memory_is_visible_to_its_author_only(memory, redis_url, workspace):
    secret = await memory.create_deep_memory("my private scratch note", private=True)
    shared = await memory.create_deep_memory("a shared note")
    bob = MemoryWorkflowPrimitive(redis_url, user_id="bob", workspace=workspace)

    assert secret.private is True
    assert {m.id for m in await memory.search_deep_memory("note")} == {secret.id, shared.id}
    assert [m.id for m in await bob.search_deep_memory("private scratch note")] == [shared.id]
    with pytest.raises(NotFoundError):
        await bob.get_deep_memory(secret.id)
    with pytest.raises(NotFoundError):
        await bob.delete_deep_memory(secret.id)
    assert (await memory.get_deep_memory(secret.id)).text == "my private scratch note"


async def test_update_changes_fields_and_reembeds_text(memory):
    made = await memory.create_deep_memory(
        "Use bcrypt for password hashing", tags=["auth"], metadata={"v": 1}
    )
    await asyncio.sleep(0.01)
    updated = await memory.update_deep_memory(
        made.id,
        text="Use argon2id for password hashing",
        tags=["auth", "crypto"],
        metadata={"v": 2},
        memory_type="decision",
    )

    assert updated.id == made.id and updated.created_at == made.created_at
    assert updated.updated_at > made.updated_at
    got = await memory.get_deep_memory(made.id)
    assert got == updated
    assert (got.text, got.tags, got.metadata, got.memory_type) == (
        "Use argon2id for password hashing",
        ["auth", "crypto"],
        {"v": 2},
        "decision",
    )
    hits = await memory.search_deep_memory("argon2id", search_mode="text")
    assert [m.id for m in hits] == [made.id]
    assert await memory.search_deep_memory("bcrypt", search_mode="text") == []
    assert [m.id for m in await memory.search_deep_memory("", tags=["crypto"])] == [made.id]


async def test_update_keeps_unspecified_fields(memory):
    made = await memory.create_deep_memory("keep me", tags=["t"], metadata={"k": 1})
    updated = await memory.update_deep_memory(made.id, tags=["u"])
    assert (updated.text, updated.tags, updated.metadata) == ("keep me", ["u"], {"k": 1})


async def test_recreating_original_text_after_update_makes_a_new_memory(memory):
    made = await memory.create_deep_memory("version one")
    await memory.update_deep_memory(made.id, text="version two")
    again = await memory.create_deep_memory("version one")
    assert again.id != made.id and again.text == "version one"
    assert (await memory.get_deep_memory(made.id)).text == "version two"


async def test_delete_removes_it_everywhere(memory):
    made = await memory.create_deep_memory("temporary workaround for flaky CI")
    await memory.delete_deep_memory(made.id)
    with pytest.raises(NotFoundError):
        await memory.get_deep_memory(made.id)
    assert await memory.search_deep_memory("flaky CI workaround") == []
    with pytest.raises(NotFoundError):
        await memory.delete_deep_memory(made.id)


async def test_stopword_and_punctuation_queries_do_not_fail(memory):
    await _seed(memory)
    assert len(await memory.search_deep_memory("the and of", limit=3)) == 3
    assert await memory.search_deep_memory("?!...", search_mode="text") == []
    assert len(await memory.search_deep_memory("?!...", limit=2)) == 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"limit": 0},
        {"limit": 1001},
        {"search_mode": "fuzzy"},
        {"tags": "jwt"},
        {"since": "yesterday"},
    ],
)
async def test_bad_search_arguments(memory, kwargs):
    with pytest.raises(InvalidInputError):
        await memory.search_deep_memory("x", **kwargs)


async def test_creating_the_text_a_memory_was_updated_to_returns_that_memory(memory):
    first = await memory.create_deep_memory("draft wording")
    await memory.update_deep_memory(first.id, text="final wording")
    again = await memory.create_deep_memory("final wording")
    assert again.id == first.id
    assert [m.id for m in await memory.search_deep_memory("", limit=10)] == [first.id]


async def test_same_text_private_and_shared_are_separate_memories(memory, redis_url, workspace):
    shared = await memory.create_deep_memory("use feature flags for risky changes")
    private = await memory.create_deep_memory("use feature flags for risky changes", private=True)
    other = MemoryWorkflowPrimitive(redis_url, "someone-else", workspace=workspace)
    theirs = await other.create_deep_memory("use feature flags for risky changes", private=True)
    assert len({shared.id, private.id, theirs.id}) == 3
    assert (await memory.create_deep_memory("use feature flags for risky changes")).id == shared.id


async def test_bytes_another_client_wrote_that_are_not_utf8_do_not_fail_a_read(
    memory, redis_url, groups
):
    mid = (await memory.create_deep_memory("the payment service retries webhooks", tags=["ops"])).id
    gid = await groups.create_group("Payments", description="webhook work")
    raw = redis.Redis.from_url(redis_url)
    try:
        raw.hset(memory._ctx.keys.deep(mid), "memory_type", b"note\xff")
        raw.hset(memory._ctx.keys.group(gid), "description", b"webhook \xfe work")
    finally:
        raw.close()
    [found] = await memory.search_deep_memory("payment webhooks", limit=1)
    assert found.memory_type == "note\ufffd"
    assert (await groups.get_group(gid)).description == "webhook \ufffd work"


async def test_editing_a_found_memory_changes_no_later_search(memory):
    plain = await memory.create_deep_memory("the payment service retries webhooks", tags=["ops"])
    rich = await memory.create_deep_memory(
        "the payment service signs webhooks", tags=["sec"], metadata={"refs": {"pr": [1]}}
    )
    for _ in range(2):  # the second search reads rows it has read before
        found = {m.id: m for m in await memory.search_deep_memory("payment webhooks", limit=2)}
        assert found[plain.id].tags == ["ops"] and found[rich.id].tags == ["sec"]
        assert found[rich.id].metadata == {"refs": {"pr": [1]}}
        found[plain.id].tags.append("edited")
        found[rich.id].tags.append("edited")
        found[rich.id].metadata["refs"]["pr"].append(2)
        found[plain.id].text = "edited"


async def test_a_memory_updated_between_two_searches_is_found_as_updated(memory):
    m = await memory.create_deep_memory("the payment service retries webhooks", tags=["ops"])
    [before] = await memory.search_deep_memory("payment webhooks", limit=1)
    assert before.tags == ["ops"]
    await memory.update_deep_memory(m.id, tags=["ops", "billing"])
    [after] = await memory.search_deep_memory("payment webhooks", limit=1)
    assert after.tags == ["ops", "billing"]
    assert after.score is not None
