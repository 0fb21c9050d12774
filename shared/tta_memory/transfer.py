"""Export and import a workspace as JSON records (one per line in the CLI's JSONL files).

Records keep ids, sequence numbers, authors and times, so an export imported into an empty
workspace reads back the same. Deep memories are re-embedded on import, which is also how a
workspace moves to another embedding model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from redisvl.query import FilterQuery

from tta_memory.deep import DEEP_FIELDS, decode_memory
from tta_memory.errors import InvalidInputError
from tta_memory.groups import GROUP_FIELDS, decode_group, encode_group
from tta_memory.models import PAF, DeepMemory, SessionGroup, SessionMessage
from tta_memory.names import Tag
from tta_memory.schema import SORTED_DIALECT
from tta_memory.session import _dumps
from tta_memory.workflow import MemoryWorkflowPrimitive

PAGE = 500
RECORD_TYPES = ("session_message", "deep_memory", "paf", "group")


async def export_workspace(memory: MemoryWorkflowPrimitive) -> AsyncIterator[dict[str, Any]]:
    """Yield every session message, deep memory, PAF and group of ``memory.workspace``.

    Args:
        memory: A primitive of the workspace to export.

    Yields:
        JSON-ready dicts with a ``type`` key.
    """
    st = await memory._backend.state()
    for session_id in reversed(await memory.list_sessions(limit=None)):
        for archived in (False, True):
            for m in await memory.get_session_context(session_id, None, archived=archived):
                yield {"type": "session_message", "archived": archived, **m.model_dump(mode="json")}
    index = await memory._backend.deep_index(memory.embedder)
    q = FilterQuery(
        filter_expression=Tag("workspace") == memory.workspace,
        return_fields=DEEP_FIELDS,
        num_results=PAGE,
    )
    q.sort_by("created_at", asc=True)
    q.dialect(SORTED_DIALECT)
    async for page in index.paginate(q, page_size=PAGE):
        for doc in page:
            yield {
                "type": "deep_memory",
                **decode_memory(doc).model_dump(mode="json", exclude={"score"}),
            }
    for paf in await memory.paf_primitive.list_pafs():
        yield {"type": "paf", **paf.model_dump(mode="json")}
    gq = FilterQuery(
        filter_expression=Tag("workspace") == memory.workspace,
        return_fields=GROUP_FIELDS,
        num_results=PAGE,
    )
    gq.sort_by("created_at", asc=True)
    gq.dialect(SORTED_DIALECT)
    async for page in st.group_index.paginate(gq, page_size=PAGE):
        for doc in page:
            yield {"type": "group", **decode_group(doc).model_dump(mode="json")}


async def import_workspace(
    memory: MemoryWorkflowPrimitive, records: Iterable[dict[str, Any]]
) -> int:
    """Write exported records into ``memory.workspace`` (ids, order and times preserved).

    Args:
        memory: A primitive of the target workspace.
        records: Records produced by :func:`export_workspace`.

    Returns:
        How many records were imported.
    """
    st = await memory._backend.state()
    k = memory._keys
    client = st.client
    count = 0
    deep: list[DeepMemory] = []
    async with client.pipeline(transaction=False) as pipe:
        for raw in records:
            kind = raw.get("type") if isinstance(raw, dict) else None
            if kind not in RECORD_TYPES:
                raise InvalidInputError(f"unknown record type {kind!r}; valid: {RECORD_TYPES}")
            body = {key: v for key, v in raw.items() if key not in ("type", "archived")}
            count += 1
            if kind == "session_message":
                m = SessionMessage.model_validate(body)
                key = (k.session_archived if raw.get("archived") else k.session_active)(
                    m.session_id
                )
                payload = {
                    "id": m.id,
                    "role": m.role,
                    "content": m.content,
                    "metadata": m.metadata,
                    "user_id": m.user_id,
                    "created_at": m.created_at.timestamp(),
                }
                pipe.zadd(key, {_dumps(payload): m.seq})
                # Keep the sequence ahead of every imported message.
                pipe.eval(
                    "local c = tonumber(redis.call('GET', KEYS[1]) or '0') "
                    "if c < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end",
                    1,
                    k.session_seq(m.session_id),
                    m.seq,
                )
                pipe.zadd(k.sessions_registry(), {m.session_id: m.created_at.timestamp()}, gt=True)
            elif kind == "deep_memory":
                deep.append(DeepMemory.model_validate(body))
            elif kind == "paf":
                paf = PAF.model_validate(body)
                pipe.hset(k.pafs(), paf.id, paf.model_dump_json())
            else:
                g = SessionGroup.model_validate(body)
                pipe.hset(k.group(g.id), mapping=encode_group(g, memory.workspace))
        await pipe.execute()
    if deep:
        await _import_deep(memory, deep)
    return count


async def _import_deep(memory: MemoryWorkflowPrimitive, items: list[DeepMemory]) -> None:
    index = await memory._backend.deep_index(memory.embedder)
    for start in range(0, len(items), PAGE):
        batch = items[start : start + PAGE]
        vectors = await memory.embedder.embed_many([m.text for m in batch], None)
        docs = []
        for m, vec in zip(batch, vectors, strict=True):
            doc = memory._doc(
                {
                    "text": m.text,
                    "tags": m.tags,
                    "metadata": m.metadata,
                    "memory_type": m.memory_type,
                    "session_id": m.session_id,
                    "private": m.private,
                    "event_time": m.event_time,
                },
                m.created_at.timestamp(),
            )
            doc.update(
                {
                    "memory_id": m.id,
                    "author": m.author,
                    "embedding": vec,
                    "updated_at": repr(m.updated_at.timestamp()),
                    "updated": repr(m.updated_at.timestamp()),
                }
            )
            docs.append(doc)
        await index.load(docs, keys=[memory._keys.deep(d["memory_id"]) for d in docs])
        await memory.count_changes(docs, +1)
