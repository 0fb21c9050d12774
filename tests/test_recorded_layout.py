"""What the data under a prefix was laid out with — the shared-partition count and the
embedding model — is recorded on first use; a process configured otherwise is refused with a
typed error, and two processes starting at once with different models cannot both win."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redisvl.utils.vectorize import CustomVectorizer
from tta_memory import MemoryWorkflowPrimitive, Settings
from tta_memory.embeddings import Embedder
from tta_memory.errors import EmbeddingMismatchError, LayoutMismatchError


def toy(name: str, dims: int) -> Embedder:
    """A tiny deterministic model (the test is about what is recorded, not about vectors)."""
    vector = [1.0] + [0.0] * (dims - 1)
    return Embedder(CustomVectorizer(embed=lambda _text: vector), name, dims=dims)


def engine(url: str, settings: Settings, embedder: Embedder) -> MemoryWorkflowPrimitive:
    return MemoryWorkflowPrimitive(url, "u", workspace="w", settings=settings, vectorizer=embedder)


@pytest.fixture
def prefix() -> str:
    return f"rec{uuid.uuid4().hex[:8]}"


async def test_another_bucket_count_is_refused(redis_url: str, prefix: str) -> None:
    await engine(redis_url, Settings(prefix=prefix), toy("toy-a", 8)).add_cache_entry("x")
    other = engine(redis_url, Settings(prefix=prefix, partition_buckets=8), toy("toy-a", 8))
    with pytest.raises(LayoutMismatchError, match="laid out in 16 shared partitions"):
        await other.add_cache_entry("y")


async def test_another_model_is_refused_and_the_same_one_accepted(
    redis_url: str, prefix: str
) -> None:
    first = engine(redis_url, Settings(prefix=prefix), toy("toy-a", 8))
    await first.create_deep_memory("recorded with toy-a")
    again = engine(redis_url, Settings(prefix=prefix, retries=2), toy("toy-a", 8))
    assert [m.text for m in await again.search_deep_memory("recorded")] == ["recorded with toy-a"]
    other = engine(redis_url, Settings(prefix=prefix, retries=3), toy("toy-b", 16))
    with pytest.raises(EmbeddingMismatchError, match="toy-a \\(8 dims\\)"):
        await other.create_deep_memory("embedded with toy-b")


async def test_models_starting_at_once_cannot_both_be_recorded(redis_url: str, prefix: str) -> None:
    # Six processes' worth of engines (a backend each: other retries), two models, one prefix.
    engines = [
        engine(redis_url, Settings(prefix=prefix, retries=i), toy(f"toy-{i % 2}", 8 + 8 * (i % 2)))
        for i in range(6)
    ]
    results = await asyncio.gather(
        *(e.create_deep_memory(f"from {i}") for i, e in enumerate(engines)),
        return_exceptions=True,
    )
    won = {
        e.embedder.model_name
        for e, r in zip(engines, results, strict=True)
        if not isinstance(r, BaseException)
    }
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1, results  # one model holds the prefix
    assert len(refused) == 3 and all(isinstance(r, EmbeddingMismatchError) for r in refused)
