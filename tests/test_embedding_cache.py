"""The Redis query-vector cache: keyed by a hash, never holding the text, bounded in size."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import numpy as np
import pytest
import redis.asyncio as aioredis
from redisvl.utils.vectorize import CustomVectorizer
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.embeddings import Embedder, QueryVectorCache
from tta_memory.embeddings.cache import digest
from tta_memory.errors import InvalidInputError

DIMS = 8


class CountingModel:
    """A deterministic stand-in model (vector from the text's hash) that counts the texts it saw."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, texts: list[str], **_: object) -> list[list[float]]:
        self.seen.extend(texts)
        return [self.vector(t).tolist() for t in texts]

    @staticmethod
    def vector(text: str) -> np.ndarray:
        rng = np.random.default_rng(int.from_bytes(digest("m", text)[:8], "big"))
        return rng.standard_normal(DIMS).astype(np.float32)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    c = aioredis.from_url(redis_url)
    yield c
    await c.aclose()


def _embedder(model: CountingModel) -> Embedder:
    vectorizer = CustomVectorizer(embed=lambda t, **_: model([t])[0], embed_many=model)
    return Embedder(vectorizer, "counting-model", DIMS)


async def _dump(client: aioredis.Redis, pattern: str) -> dict[bytes, dict[bytes, bytes]]:
    return {key: await client.hgetall(key) async for key in client.scan_iter(match=pattern)}


async def test_a_cached_query_costs_no_model_call_and_gives_the_same_vector(
    client: aioredis.Redis,
) -> None:
    model = CountingModel()
    embedder = _embedder(model)
    cache = QueryVectorCache(client, f"t-{uuid.uuid4().hex[:8]}:embcache", ttl=3600, slots=64)
    first = await embedder.embed_many(["what did we decide about auth?"], cache)
    other = _embedder(model)  # a new process would have no in-memory memo either
    second = await other.embed_many(["what did we decide about auth?"], cache)
    assert model.seen.count("what did we decide about auth?") == 1
    assert first == second
    np.testing.assert_array_equal(
        np.frombuffer(first[0], np.float32), CountingModel.vector("what did we decide about auth?")
    )


async def test_the_cache_is_bounded_and_a_slot_never_answers_for_another_text(
    client: aioredis.Redis,
) -> None:
    model = CountingModel()
    embedder = _embedder(model)
    name = f"t-{uuid.uuid4().hex[:8]}:embcache"
    cache = QueryVectorCache(client, name, ttl=3600, slots=8)
    texts = [f"query number {i}" for i in range(100)]
    await embedder.embed_many(texts, cache)
    keys = [k async for k in client.scan_iter(match=f"{name}:*")]
    assert 0 < len(keys) <= 8
    hits = await cache.amget(texts, "counting-model")
    assert 0 < sum(h is not None for h in hits) <= 8
    for text, hit in zip(texts, hits, strict=True):
        if hit is not None:
            np.testing.assert_array_equal(np.frombuffer(hit, np.float32), model.vector(text))
    # A text whose slot was taken by another is embedded again, and correctly.
    evicted = next(t for t, h in zip(texts, hits, strict=True) if h is None)
    again = await _embedder(model).embed_many([evicted], cache)
    np.testing.assert_array_equal(np.frombuffer(again[0], np.float32), model.vector(evicted))
    ttl = await client.ttl(keys[0])
    assert 0 < ttl <= 3600


async def test_the_model_name_is_part_of_the_key(client: aioredis.Redis) -> None:
    cache = QueryVectorCache(client, f"t-{uuid.uuid4().hex[:8]}:embcache", ttl=None, slots=1000)
    await cache.amset([("same text", np.ones(DIMS, np.float32).tobytes())], "model-a")
    assert (await cache.amget(["same text"], "model-b")) == [None]
    assert (await cache.amget(["same text"], "model-a"))[0] is not None


def test_a_cache_without_slots_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        QueryVectorCache(None, "x", ttl=None, slots=0)


async def test_the_engine_never_stores_query_or_memory_text_in_the_cache(
    memory: MemoryWorkflowPrimitive, client: aioredis.Redis
) -> None:
    secret = f"my API key is {uuid.uuid4().hex}"
    await memory.create_deep_memory(f"stored note: {secret}")
    await memory.search_deep_memory(f"find {secret}")
    await memory.search_deep_memory(f"find {secret}")  # a repeat is answered from the cache
    prefix = memory.settings.prefix if hasattr(memory, "settings") else "tta"
    entries = await _dump(client, f"{prefix}:embcache*")
    token = secret.split()[-1].encode()
    assert entries, "the query vector was not cached"
    for key, fields in entries.items():
        assert token not in key
        assert all(token not in k and token not in v for k, v in fields.items())
        assert set(fields) == {b"d", b"v"}
    wanted = digest(memory.embedder.model_name, f"find {secret}")
    assert any(fields[b"d"] == wanted for fields in entries.values())
