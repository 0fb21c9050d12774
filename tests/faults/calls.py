"""Every public call of the engine, as zero-argument coroutine factories over seeded data, so
that the fault tests can run each one against a server in a given state; and the engine objects
they make those calls on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tta_memory import (
    BackendUnavailableError,
    MemoryWorkflowPrimitive,
    SessionGroupPrimitive,
    Settings,
    TTAMemoryError,
)


def engines(
    url: str, prefix: str, **settings: Any
) -> tuple[MemoryWorkflowPrimitive, SessionGroupPrimitive]:
    """The two engine objects of user ``alice`` in workspace ``acme``, under ``prefix``."""
    s = Settings(prefix=prefix, **settings)
    return (
        MemoryWorkflowPrimitive(url, "alice", workspace="acme", settings=s),
        SessionGroupPrimitive(url, "alice", workspace="acme", settings=s),
    )


@dataclass
class Seeded:
    """Ids of the data :func:`seed` wrote."""

    memory_id: str
    entry_id: str
    group_id: str


async def seed(memory: MemoryWorkflowPrimitive, groups: SessionGroupPrimitive) -> Seeded:
    """Write one item to every layer (and the model record) while the server is healthy."""
    await memory.add_session_message("s1", "user", "we deploy on Fridays")
    entry = await memory.add_cache_entry("a short-lived note", session_id="s1", tags=["ops"])
    deep = await memory.create_deep_memory("Redis runs with the Query Engine", tags=["redis"])
    await memory.paf_primitive.add_paf("OPS", "001", "Deploys need a review")
    group_id = await groups.create_group("release", tags=["ops"])
    await groups.add_session_to_group(group_id, "s1")
    return Seeded(memory_id=deep.id, entry_id=entry.id, group_id=group_id)


def public_calls(
    memory: MemoryWorkflowPrimitive, groups: SessionGroupPrimitive, ids: Seeded
) -> dict[str, Callable[[], Awaitable[Any]]]:
    """Name -> a call of every public coroutine of the facade, the PAF layer and groups."""
    paf = memory.paf_primitive
    context = {"workflow_id": "wf", "session_id": "s1", "metadata": {"group_id": ids.group_id}}
    return {
        "add_session_message": lambda: memory.add_session_message("s1", "user", "hi"),
        "add_session_messages": lambda: memory.add_session_messages(
            "s1", [{"role": "assistant", "content": "ok"}]
        ),
        "get_session_context": lambda: memory.get_session_context("s1"),
        "count_session_messages": lambda: memory.count_session_messages("s1"),
        "delete_session_message": lambda: memory.delete_session_message("s1", position=0),
        "archive_session_messages": lambda: memory.archive_session_messages("s1", 1),
        "trim_session_messages": lambda: memory.trim_session_messages("s1", 1),
        "replace_session_messages": lambda: memory.replace_session_messages(
            "s2", [{"role": "user", "content": "x"}]
        ),
        "clear_session": lambda: memory.clear_session("s3"),
        "list_sessions": lambda: memory.list_sessions(),
        "add_cache_entry": lambda: memory.add_cache_entry("note"),
        "get_cache_memory": lambda: memory.get_cache_memory(),
        "promote_cache_entry": lambda: memory.promote_cache_entry(ids.entry_id),
        "create_deep_memory": lambda: memory.create_deep_memory("a new memory"),
        "create_deep_memories": lambda: memory.create_deep_memories([{"text": "batch"}]),
        "search_deep_memory": lambda: memory.search_deep_memory("redis"),
        "get_deep_memory": lambda: memory.get_deep_memory(ids.memory_id),
        "update_deep_memory": lambda: memory.update_deep_memory(ids.memory_id, tags=["x"]),
        "delete_deep_memory": lambda: memory.delete_deep_memory(ids.memory_id),
        "get_active_pafs": lambda: memory.get_active_pafs(),
        "load_workflow_context": lambda: memory.load_workflow_context(context, "plan"),
        "load_workflow_context_rigorous": lambda: memory.load_workflow_context(
            context, "plan", "AUGSTER_RIGOROUS"
        ),
        "add_paf": lambda: paf.add_paf("OPS", "002", "Rollbacks are scripted"),
        "get_paf": lambda: paf.get_paf("OPS-001"),
        "list_pafs": lambda: paf.list_pafs(),
        "update_paf": lambda: paf.update_paf("OPS-001", rationale="incidents"),
        "deprecate_paf": lambda: paf.deprecate_paf("OPS-001", "obsolete"),
        "delete_paf": lambda: paf.delete_paf("OPS-001"),
        "export_markdown": lambda: paf.export_markdown(),
        "import_markdown": lambda: paf.import_markdown("- **OPS-003**: Canary first\n"),
        "create_group": lambda: groups.create_group("g2"),
        "add_session_to_group": lambda: groups.add_session_to_group(ids.group_id, "s9"),
        "remove_session_from_group": lambda: groups.remove_session_from_group(ids.group_id, "s1"),
        "update_group_status": lambda: groups.update_group_status(ids.group_id, "closed"),
        "get_group": lambda: groups.get_group(ids.group_id),
        "get_group_summary": lambda: groups.get_group_summary(ids.group_id),
        "list_groups": lambda: groups.list_groups(),
        "get_session_groups": lambda: groups.get_session_groups("s1"),
        "get_grouped_context": lambda: groups.get_grouped_context(ids.group_id),
        "delete_group": lambda: groups.delete_group(ids.group_id),
    }


async def unserved(calls: Mapping[str, Callable[[], Awaitable[Any]]]) -> dict[str, str]:
    """Run every call in turn; return those the server did not serve (name -> the
    BackendUnavailableError). Another typed error is an answer of a serving server (e.g.
    NotFoundError: the seeded item is gone with the data, or an earlier call deleted it)."""
    failed: dict[str, str] = {}
    for name, call in calls.items():
        try:
            await call()
        except BackendUnavailableError as exc:
            failed[name] = str(exc)
        except TTAMemoryError:
            pass
    return failed
