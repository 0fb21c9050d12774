"""Write coalescing of concurrent single deep-memory creates, on the real Redis (embedded, with
RediSearch): each caller gets its own memory or its own typed error, identical creates share one
memory, workspaces in one batch stay apart, and a lone caller still works."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import redis
from redisvl.utils.vectorize import CustomVectorizer
from tta_memory import MemoryWorkflowPrimitive, Settings
from tta_memory.contextual import chain_key
from tta_memory.embeddings import DEFAULT_DIMS, DEFAULT_MODEL, Embedder, default_embedder
from tta_memory.errors import InvalidInputError, NotFoundError, TTAMemoryError
from tta_memory.hygiene import HygieneThresholds
from tta_memory.keys import Keys
from tta_memory.partitions import PartitionLayout
from tta_memory.stores.deep.coalesce import WriteCoalescer, coalescer_for


def _memory(
    url: str, workspace: str, user: str = "test-user", **settings: Any
) -> MemoryWorkflowPrimitive:
    return MemoryWorkflowPrimitive(
        url, user_id=user, workspace=workspace, settings=Settings(**settings)
    )


async def _all(memory: MemoryWorkflowPrimitive) -> dict[str, str]:
    """Every memory of the workspace the caller may see: id -> text."""
    return {m.id: m.text async for m in memory.deep.export()}


def _coalescer(memory: MemoryWorkflowPrimitive) -> WriteCoalescer:
    return coalescer_for(memory.deep)


async def test_concurrent_singles_each_get_their_own_memory(memory):
    await memory.create_deep_memory("Warm-up: the index exists before the concurrent writes.")
    texts = [f"Observation {i}: the worker pool {i} drains its queue in order." for i in range(16)]
    tags = [[f"pool-{i}"] for i in range(16)]
    coalescer = _coalescer(memory)
    batches, requests = coalescer.batches, coalescer.requests
    made = await asyncio.gather(
        *(
            memory.create_deep_memory(t, tags=g, session_id=f"s{i}")
            for i, (t, g) in enumerate(zip(texts, tags, strict=True))
        )
    )
    # The 16 calls were written together, not one by one.
    assert coalescer.requests - requests == 16
    assert coalescer.batches - batches < 16
    assert [m.text for m in made] == texts
    assert [m.tags for m in made] == tags
    assert [m.session_id for m in made] == [f"s{i}" for i in range(16)]
    assert len({m.id for m in made}) == 16
    for m in made:
        assert (await memory.get_deep_memory(m.id)).text == m.text
    stored = await _all(memory)
    assert {m.id: m.text for m in made}.items() <= stored.items()
    # Every one is found by its own words.
    found = await memory.search_deep_memory("worker pool 7 drains", limit=1, search_mode="text")
    assert found[0].id == made[7].id


async def test_identical_concurrent_creates_share_one_memory(memory):
    text = "The billing export runs at 03:00 UTC and retries twice."
    made = await asyncio.gather(
        *(memory.create_deep_memory(text) for _ in range(6)),
        memory.create_deep_memory("The billing export writes CSV files to the archive bucket."),
        memory.create_deep_memory(text, private=True),  # another scope: another memory
    )
    shared, other, private = made[:6], made[6], made[7]
    assert len({m.id for m in shared}) == 1
    assert private.id != shared[0].id and private.private
    stored = await _all(memory)
    assert sorted(stored) == sorted({shared[0].id, other.id, private.id})
    # Again, after it is stored: still the same memory.
    assert (await memory.create_deep_memory(text)).id == shared[0].id


async def test_an_invalid_input_fails_alone(memory):
    good = [f"Decision {i}: the cache keys carry the tenant id." for i in range(5)]
    results = await asyncio.gather(
        *(memory.create_deep_memory(t) for t in good[:3]),
        memory.create_deep_memory("   "),  # blank text
        memory.create_deep_memory("Tags must be a list of names.", tags="not-a-list"),  # type: ignore[arg-type]
        *(memory.create_deep_memory(t) for t in good[3:]),
        return_exceptions=True,
    )
    assert isinstance(results[3], InvalidInputError)
    assert isinstance(results[4], InvalidInputError)
    stored = [r for i, r in enumerate(results) if i not in (3, 4)]
    assert [m.text for m in stored] == good  # type: ignore[union-attr]
    assert sorted((await _all(memory)).values()) == sorted(good)


async def test_a_failure_inside_a_batch_fails_only_its_caller(redis_url, workspace):
    # An embedding service that cannot embed one text: the failure happens inside the batch
    # (the model call is shared), yet only that caller gets it and the others are stored.
    poison = "This text makes the embedding service fail."
    model = default_embedder()

    calls: list[list[str]] = []

    def embed_many(texts: list[str], **_: Any) -> list[list[float]]:
        calls.append(list(texts))
        if poison in texts:
            raise RuntimeError("the embedding service refused a text")
        return model.encode(texts).tolist()

    service = CustomVectorizer(embed=lambda t, **_: embed_many([t])[0], embed_many=embed_many)
    vectorizer = Embedder(service, DEFAULT_MODEL, DEFAULT_DIMS)  # the index's model: no mismatch
    memory = MemoryWorkflowPrimitive(
        redis_url, user_id="test-user", workspace=workspace, vectorizer=vectorizer
    )
    await memory.create_deep_memory("Warm-up before the concurrent writes.")
    good = [f"Lesson {i}: pin the client library to a minor version." for i in range(6)]
    results = await asyncio.gather(
        *(memory.create_deep_memory(t) for t in good[:3]),
        memory.create_deep_memory(poison),
        *(memory.create_deep_memory(t) for t in good[3:]),
        return_exceptions=True,
    )
    assert any(poison in c and len(c) > 1 for c in calls)  # it shared a model call
    assert isinstance(results[3], TTAMemoryError)
    assert "refused a text" in str(results[3])
    ok = [r for i, r in enumerate(results) if i != 3]
    assert [m.text for m in ok] == good  # type: ignore[union-attr]
    stored = await _all(memory)
    assert sorted(stored.values()) == sorted(["Warm-up before the concurrent writes.", *good])


def _workspaces() -> tuple[str, str, str]:
    """Two workspaces in one partition and a third in another."""
    layout = PartitionLayout()
    base = f"ws-{uuid.uuid4().hex[:8]}"
    by_tag: dict[str, list[str]] = {}
    for i in range(200):
        name = f"{base}-{i}"
        by_tag.setdefault(layout.partition_for(name).hashtag, []).append(name)
    same = next(names for names in by_tag.values() if len(names) >= 2)
    other = next(names[0] for tag, names in by_tag.items() if names is not same)
    return same[0], same[1], other


async def test_workspaces_in_one_batch_stay_apart(redis_url):
    a, b, c = _workspaces()
    writers = {ws: _memory(redis_url, ws) for ws in (a, b, c)}
    for m in writers.values():
        await m.create_deep_memory("Warm-up: every workspace's index exists.")
    coalescer = _coalescer(writers[a])
    assert all(_coalescer(m) is coalescer for m in writers.values())
    same = "The on-call rotation changes every Monday at 09:00."
    batches = coalescer.batches
    jobs = [(ws, same) for ws in (a, b, c)] + [
        (ws, f"Workspace note {k} of {ws}.") for ws in (a, b, c) for k in range(3)
    ]
    made = await asyncio.gather(*(writers[ws].create_deep_memory(t) for ws, t in jobs))
    # Twelve creates in at most two batches: the first (jobs in call order) holds the three
    # workspaces' shared text and a's notes, i.e. both partitions.
    assert coalescer.batches - batches <= 2
    # The same text in three workspaces: three memories, one per workspace.
    assert len({m.id for m in made[:3]}) == 3
    for ws, m in zip([ws for ws, _ in jobs], made, strict=True):
        assert m.id in await _all(writers[ws])
        for other in {a, b, c} - {ws}:
            with pytest.raises(NotFoundError):
                await writers[other].get_deep_memory(m.id)
    for ws in (a, b, c):
        texts = sorted((await _all(writers[ws])).values())
        expected = [f"Workspace note {k} of {ws}." for k in range(3)]
        assert texts == sorted(["Warm-up: every workspace's index exists.", same, *expected])


async def test_private_memories_of_two_users_in_one_batch(redis_url, workspace):
    alice = _memory(redis_url, workspace, user="alice")
    bob = _memory(redis_url, workspace, user="bob")
    await alice.create_deep_memory("Warm-up before the concurrent writes.")
    text = "My API token rotates on the first of each month."
    a, b, shared = await asyncio.gather(
        alice.create_deep_memory(text, private=True),
        bob.create_deep_memory(text, private=True),
        alice.create_deep_memory(text),
    )
    assert len({a.id, b.id, shared.id}) == 3
    assert (a.author, b.author) == ("alice", "bob")
    with pytest.raises(NotFoundError):
        await bob.get_deep_memory(a.id)
    with pytest.raises(NotFoundError):
        await alice.get_deep_memory(b.id)
    assert (await bob.get_deep_memory(shared.id)).text == text


async def test_concurrent_turns_of_one_session_are_chained(redis_url, workspace):
    # Contextual indexing: each turn is found through its neighbours' words, also when the
    # turns arrive concurrently (one batch, in call order).
    memory = _memory(redis_url, workspace)
    await memory.create_deep_memory("Warm-up: the index exists.", session_id="other")
    turns = [
        'Alice said, "Did you finally go to the pottery class?"',
        'Bob said, "Yes, last Tuesday!"',
        'Alice said, "Did you make anything?"',
        'Bob said, "A lopsided bowl."',
    ]
    made = await asyncio.gather(*(memory.create_deep_memory(t, session_id="s1") for t in turns))
    found = await memory.search_deep_memory("pottery", limit=5, search_mode="text")
    assert made[1].id in {m.id for m in found}  # through its previous turn
    found = await memory.search_deep_memory("lopsided bowl", limit=5, search_mode="text")
    assert made[2].id in {m.id for m in found}  # through its next turn
    # A later turn continues the chain from the last one of the batch.
    later = await memory.create_deep_memory('Alice said, "Show me!"', session_id="s1")
    found = await memory.search_deep_memory("lopsided bowl", limit=5, search_mode="text")
    assert later.id in {m.id for m in found}


async def test_hygiene_links_paraphrases_written_concurrently(redis_url, workspace):
    memory = _memory(redis_url, workspace, hygiene=HygieneThresholds())
    old = await memory.create_deep_memory("Pull requests need two approvals before merging.")
    new, distinct = await asyncio.gather(
        memory.create_deep_memory("Before a pull request is merged it needs two approvals."),
        memory.create_deep_memory("The staging environment is reset every Sunday night."),
    )
    assert new.supersedes == old.id
    assert distinct.supersedes is None
    found = {m.id for m in await memory.search_deep_memory("pull request approvals", limit=10)}
    assert new.id in found and old.id not in found  # the superseded one is hidden
    assert (await memory.get_deep_memory(old.id)).superseded_by == new.id


@pytest.mark.parametrize("coalesce", [True, False])
async def test_a_lone_caller(redis_url, workspace, coalesce):
    memory = _memory(redis_url, workspace, coalesce_writes=coalesce)
    batched = await memory.create_deep_memories([{"text": "Cache entries expire after a day."}])
    one = await memory.create_deep_memory(
        "Rate limits are per tenant.", tags=["limits"], metadata={"source": "runbook"}
    )
    assert (one.tags, one.metadata, one.author) == (["limits"], {"source": "runbook"}, "test-user")
    assert (await memory.get_deep_memory(one.id)).text == "Rate limits are per tenant."
    # Idempotent against what a batched call stored.
    again = await memory.create_deep_memory("Cache entries expire after a day.")
    assert again.id == batched[0].id
    assert sorted(await _all(memory)) == sorted([batched[0].id, one.id])
    with pytest.raises(InvalidInputError):
        await memory.create_deep_memory("")


async def test_bounded_batches_and_waiting_keep_each_callers_memory(redis_url, workspace):
    memory = _memory(redis_url, workspace, coalesce_max_batch=3, coalesce_max_wait_ms=5)
    await memory.create_deep_memory("Warm-up before the concurrent writes.")
    coalescer = _coalescer(memory)
    batches, requests = coalescer.batches, coalescer.requests
    texts = [f"Pattern {i}: retry idempotent calls with jitter." for i in range(10)]
    made = await asyncio.gather(*(memory.create_deep_memory(t) for t in texts))
    assert [m.text for m in made] == texts
    assert coalescer.requests - requests == 10
    assert coalescer.batches - batches >= 4  # never more than 3 creates a batch


async def test_a_caller_cancelled_while_queued_stores_nothing(memory):
    await memory.create_deep_memory("Warm-up before the concurrent writes.")
    texts = [f"Note {i}: the exporter writes one file per tenant." for i in range(5)]
    tasks = [asyncio.ensure_future(memory.create_deep_memory(t)) for t in texts]
    await asyncio.sleep(0)  # every call is queued; the batch has not started
    tasks[2].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[2], asyncio.CancelledError)
    kept = [texts[i] for i in (0, 1, 3, 4)]
    assert [results[i].text for i in (0, 1, 3, 4)] == kept  # type: ignore[union-attr]
    stored = sorted((await _all(memory)).values())
    assert stored == sorted(["Warm-up before the concurrent writes.", *kept])


def test_blocking_callers_in_threads_share_one_coalescer(memory):
    # memory.sync runs every call on the engine's one background loop: threads' single
    # creates meet in its coalescer.
    from concurrent.futures import ThreadPoolExecutor

    from tta_memory.sync import run_sync

    async def loop_coalescer() -> WriteCoalescer:
        return _coalescer(memory)

    memory.sync.create_deep_memory("Warm-up before the threads write.")
    coalescer = run_sync(loop_coalescer())
    requests = coalescer.requests
    texts = [f"Thread note {i}: the scheduler pins job {i} to one worker." for i in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        made = list(pool.map(lambda t: memory.sync.create_deep_memory(t), texts))
    assert coalescer.requests - requests == 8
    assert [m.text for m in made] == texts
    assert len({m.id for m in made}) == 8
    stored = sorted(memory.sync.deep.get(m.id).text for m in made)
    assert stored == sorted(texts)


def _counting_memory(
    redis_url: str, workspace: str, refuse: str | None = None
) -> tuple[MemoryWorkflowPrimitive, Embedder, list[list[str]]]:
    """A memory whose (local, micro-batched) model records every text it is given, and refuses
    ``refuse``; it has the default model's name and vectors, so the index takes it."""
    model = default_embedder()
    calls: list[list[str]] = []

    def embed_many(texts: list[str], **_: Any) -> list[list[float]]:
        calls.append(list(texts))
        if refuse is not None and refuse in texts:
            raise RuntimeError("the model refused a text")
        return model.encode(texts).tolist()

    service = CustomVectorizer(embed=lambda t, **_: embed_many([t])[0], embed_many=embed_many)
    embedder = Embedder(service, DEFAULT_MODEL, DEFAULT_DIMS)
    memory = MemoryWorkflowPrimitive(
        redis_url, user_id="test-user", workspace=workspace, vectorizer=embedder
    )
    return memory, embedder, calls


def _encoded(calls: list[list[str]], text: str) -> int:
    return sum(c.count(text) for c in calls)


async def test_a_refused_text_is_encoded_at_most_twice(redis_url, workspace):
    # Two coalesced batches meet in one model call (the micro-batcher waits for company): the
    # refused text is tried in that call and once alone, never again by the coalescer.
    poison = "This text is too much for the model."
    memory, embedder, calls = _counting_memory(redis_url, workspace, refuse=poison)
    await memory.create_deep_memory("Warm-up before the concurrent writes.")
    assert embedder.batcher is not None
    embedder.batcher.max_wait = 0.5
    await asyncio.gather(*(embedder.embed_many([f"company {i}"], None) for i in range(3)))
    calls.clear()
    good = [f"Runbook step {i}: drain the node before the upgrade." for i in range(7)]
    results = await asyncio.gather(
        *(memory.create_deep_memory(t) for t in good[:3]),
        memory.create_deep_memory(poison),
        *(memory.create_deep_memory(t) for t in good[3:]),
        return_exceptions=True,
    )
    assert any(poison in c and len(c) > 4 for c in calls)  # it shared a model call
    assert isinstance(results[3], TTAMemoryError) and "refused a text" in str(results[3])
    assert [r.text for i, r in enumerate(results) if i != 3] == good  # type: ignore[union-attr]
    assert _encoded(calls, poison) == 2
    assert all(_encoded(calls, t) <= 2 for t in good)
    stored = await _all(memory)
    assert sorted(stored.values()) == sorted(["Warm-up before the concurrent writes.", *good])


async def test_a_failed_redis_step_retries_one_by_one_without_encoding_again(redis_url, workspace):
    # One session's stored tail is not a hash (WRONGTYPE when contextual indexing reads it):
    # the batch's Redis step fails, its creates are written again one by one with the vectors
    # already computed, and only the create in that session fails.
    memory, _, calls = _counting_memory(redis_url, workspace)
    await memory.create_deep_memory("Warm-up before the concurrent writes.")
    keys = Keys(memory.settings.prefix, workspace)
    admin = redis.Redis.from_url(redis_url)
    admin.hset(keys.deep_tails(), chain_key("", "broken"), "gone")
    admin.set(keys.deep("gone"), "not a memory")
    admin.close()
    calls.clear()
    texts = [f"Incident {i}: the queue backed up behind a slow consumer." for i in range(6)]
    results = await asyncio.gather(
        *(memory.create_deep_memory(t, session_id=f"s{i}") for i, t in enumerate(texts[:5])),
        memory.create_deep_memory(texts[5], session_id="broken"),
        return_exceptions=True,
    )
    assert isinstance(results[5], TTAMemoryError)
    assert [r.text for r in results[:5]] == texts[:5]  # type: ignore[union-attr]
    assert all(_encoded(calls, t) == 1 for t in texts)
    stored = sorted((await _all(memory)).values())
    assert stored == sorted(["Warm-up before the concurrent writes.", *texts[:5]])
