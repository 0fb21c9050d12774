"""Export and import a workspace as JSON records (one per line in the CLI's JSONL files).

Records keep ids, sequence numbers, authors and times, so an export imported into an empty
workspace reads back the same. Deep memories are re-embedded on import, which is also how a
workspace moves to another embedding model. Everything goes through the stores' own export
and restore calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from pydantic import ValidationError

from tta_memory.errors import InvalidInputError
from tta_memory.models import PAF, DeepMemory, SessionGroup, SessionMessage
from tta_memory.workflow import MemoryWorkflowPrimitive

RECORD_TYPES = ("session_message", "deep_memory", "paf", "group")


async def export_workspace(memory: MemoryWorkflowPrimitive) -> AsyncIterator[dict[str, Any]]:
    """Yield every session message, deep memory, PAF and group of ``memory.workspace``.

    Args:
        memory: A primitive of the workspace to export.

    Yields:
        JSON-ready dicts with a ``type`` key.
    """
    for session_id in reversed(await memory.sessions.list_sessions(limit=None)):
        for archived in (False, True):
            for m in await memory.sessions.get(session_id, None, archived=archived):
                yield {"type": "session_message", "archived": archived, **m.model_dump(mode="json")}
    async for deep in memory.deep.export():
        yield {"type": "deep_memory", **deep.model_dump(mode="json", exclude={"score"})}
    for paf in await memory.pafs.list_pafs():
        yield {"type": "paf", **paf.model_dump(mode="json")}
    for group in await memory.groups.export():
        yield {"type": "group", **group.model_dump(mode="json")}


async def import_workspace(
    memory: MemoryWorkflowPrimitive, records: Iterable[dict[str, Any]]
) -> int:
    """Write exported records into ``memory.workspace`` (ids, order and times preserved).

    Args:
        memory: A primitive of the target workspace.
        records: Records produced by :func:`export_workspace`.

    Returns:
        How many records were imported.

    Raises:
        InvalidInputError: An unknown record type or a malformed record (nothing is written).
    """
    messages: list[tuple[SessionMessage, bool]] = []
    deep: list[DeepMemory] = []
    pafs: list[PAF] = []
    groups: list[SessionGroup] = []
    for raw in records:
        kind = raw.get("type") if isinstance(raw, dict) else None
        if kind not in RECORD_TYPES:
            raise InvalidInputError(f"unknown record type {kind!r}; valid: {RECORD_TYPES}")
        body = {key: v for key, v in raw.items() if key not in ("type", "archived")}
        try:
            if kind == "session_message":
                messages.append((SessionMessage.model_validate(body), bool(raw.get("archived"))))
            elif kind == "deep_memory":
                deep.append(DeepMemory.model_validate(body))
            elif kind == "paf":
                pafs.append(PAF.model_validate(body))
            else:
                groups.append(SessionGroup.model_validate(body))
        except ValidationError as exc:
            raise InvalidInputError(f"malformed {kind} record: {exc}") from exc
    await memory.sessions.restore(messages)
    await memory.pafs.restore(pafs)
    await memory.groups.restore(groups)
    if deep:
        await memory.deep.restore(deep)
    return len(messages) + len(deep) + len(pafs) + len(groups)
