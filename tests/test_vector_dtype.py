"""FLOAT16 deep indexes (Settings.vector_dtype) on the real Redis: what is stored, what is
found, and what happens when a prefix's recorded type and the setting disagree."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis
from tta_memory import MemoryWorkflowPrimitive, Settings
from tta_memory.errors import EmbeddingMismatchError
from tta_memory.hygiene import HygieneThresholds
from tta_memory.keys import Keys

DIMS = 384
NOTES = [
    "The payments service retries a failed charge three times with exponential backoff.",
    "Our staging cluster runs on three m5.large nodes in eu-west-1.",
    "Alice owns the release checklist and signs off every Friday deploy.",
    "The search index is rebuilt nightly from the Postgres read replica.",
]


def _memory(url: str, workspace: str, prefix: str, **settings: object) -> MemoryWorkflowPrimitive:
    return MemoryWorkflowPrimitive(
        url,
        user_id="test-user",
        workspace=workspace,
        settings=Settings(prefix=prefix, **settings),
    )


@pytest.fixture
def prefix() -> str:
    return f"vd-{uuid.uuid4().hex[:8]}"


async def _stored_vector_bytes(url: str, memory: MemoryWorkflowPrimitive, memory_id: str) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        return len(await client.hget(memory.context.keys.deep(memory_id), "embedding") or b"")
    finally:
        await client.aclose()


async def _index_datatype(url: str, memory: MemoryWorkflowPrimitive) -> str:
    index = await memory.context.backend.deep_index(
        memory.context.embedder, memory.context.keys.partition
    )
    info = await index.info()
    fields = {f[1]: f for f in info["attributes"]}
    spec = fields["embedding"]
    return str(spec[spec.index("data_type") + 1])


async def test_float16_stores_half_the_bytes_and_finds_each_note_by_meaning(
    redis_url, workspace, prefix
):
    memory = _memory(redis_url, workspace, prefix, vector_dtype="float16")
    made = await memory.create_deep_memories([{"text": t} for t in NOTES])
    assert await _stored_vector_bytes(redis_url, memory, made[0].id) == 2 * DIMS
    assert (await _index_datatype(redis_url, memory)).upper() == "FLOAT16"
    # A paraphrase of each note finds that note first by vector alone.
    questions = [
        "how often is a declined card payment attempted again",
        "what machines does the pre-production environment use",
        "who approves the weekly production release",
        "where does the search index get its data from",
    ]
    for question, note in zip(questions, made, strict=True):
        found = await memory.search_deep_memory(question, limit=1, search_mode="vector")
        assert [m.id for m in found] == [note.id], question


async def test_default_is_float32_and_recorded_for_the_prefix(redis_url, workspace, prefix):
    memory = _memory(redis_url, workspace, prefix)
    made = await memory.create_deep_memory(NOTES[0])
    assert await _stored_vector_bytes(redis_url, memory, made.id) == 4 * DIMS
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    assert await client.hget(Keys.meta(prefix), "vector_dtype") == "float32"
    await client.aclose()


async def test_an_unset_setting_follows_the_prefix_record(redis_url, workspace, prefix):
    first = _memory(redis_url, workspace, prefix, vector_dtype="float16")
    await first.create_deep_memory(NOTES[0])
    later = _memory(redis_url, workspace + "-b", prefix)  # vector_dtype unset: the record
    made = await later.create_deep_memory(NOTES[1])
    assert await _stored_vector_bytes(redis_url, later, made.id) == 2 * DIMS
    found = await later.search_deep_memory("pre-production machines", limit=1, search_mode="vector")
    assert [m.id for m in found] == [made.id]


async def test_asking_for_another_type_than_recorded_is_refused_and_loses_nothing(
    redis_url, workspace, prefix
):
    first = _memory(redis_url, workspace, prefix)
    kept = await first.create_deep_memories([{"text": t} for t in NOTES[:2]])
    other = _memory(redis_url, workspace, prefix, vector_dtype="float16")
    with pytest.raises(EmbeddingMismatchError, match=r"float32.*float16"):
        await other.create_deep_memory(NOTES[2])
    with pytest.raises(EmbeddingMismatchError):
        await other.search_deep_memory("payments")
    again = _memory(redis_url, workspace, prefix)
    found = await again.search_deep_memory("", limit=10)
    assert {m.id for m in found} == {m.id for m in kept}


async def test_a_prefix_recorded_before_vector_types_reads_as_float32(redis_url, workspace, prefix):
    first = _memory(redis_url, workspace, prefix)
    await first.create_deep_memory(NOTES[0])
    client = aioredis.Redis.from_url(redis_url)
    await client.hdel(Keys.meta(prefix), "vector_dtype")  # as an older release recorded it
    await client.aclose()
    with pytest.raises(EmbeddingMismatchError):
        await _memory(redis_url, workspace, prefix, vector_dtype="float16").create_deep_memory(
            NOTES[1]
        )
    later = _memory(redis_url, workspace, prefix)
    made = await later.create_deep_memory(NOTES[1])
    assert await _stored_vector_bytes(redis_url, later, made.id) == 4 * DIMS


async def test_hygiene_and_text_updates_work_on_float16(redis_url, workspace, prefix):
    memory = _memory(
        redis_url, workspace, prefix, vector_dtype="float16", hygiene=HygieneThresholds()
    )
    old = await memory.create_deep_memory("Pull requests need two approvals before merging.")
    new = await memory.create_deep_memory("Before a pull request is merged it needs two approvals.")
    assert new.supersedes == old.id
    edited = await memory.update_deep_memory(old.id, text=NOTES[3])
    assert edited.text == NOTES[3]
    assert await _stored_vector_bytes(redis_url, memory, old.id) == 2 * DIMS
    found = await memory.search_deep_memory(
        "where the search index data comes from",
        limit=1,
        search_mode="vector",
        include_superseded=True,
    )
    assert [m.id for m in found] == [old.id]


def test_a_bad_type_is_refused_by_settings():
    with pytest.raises(ValueError, match="vector_dtype"):
        Settings(vector_dtype="int8")  # type: ignore[arg-type]
