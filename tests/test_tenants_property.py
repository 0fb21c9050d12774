"""Look-alike tenants: names the rule accepts but that differ from the victim's (a backtick,
case, RediSearch syntax, a zero-width space) run every read with valid arguments and the
victim's own ids, and never get a row of the victim."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hostile_world import (
    LOOKALIKE_USERS,
    LOOKALIKE_WS,
    MARK,
    PRIVATE,
    VICTIM_USER,
    VICTIM_WS,
    World,
    property_server,
    scope_settings,
    world,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from tta_memory import (
    InternalError,
    MemoryWorkflowPrimitive,
    SessionGroupPrimitive,
    TTAMemoryError,
    WorkflowContext,
    run_sync,
)

__all__ = ["property_server", "world"]  # the fixtures, imported for pytest


Read = Callable[[MemoryWorkflowPrimitive, SessionGroupPrimitive, dict[str, str]], Any]
READS: dict[str, Read] = {
    "get_session_context": lambda m, g, ids: m.get_session_context("s1"),
    "list_sessions": lambda m, g, ids: m.list_sessions(),
    "get_cache_memory": lambda m, g, ids: m.get_cache_memory(),
    "get_cache_memory(s1)": lambda m, g, ids: m.get_cache_memory("s1"),
    "get_cache_memory(group)": lambda m, g, ids: m.get_cache_memory(group_id=ids["group"]),
    "cache.get": lambda m, g, ids: m.cache.get(ids["entry"]),
    "promote_cache_entry": lambda m, g, ids: m.promote_cache_entry(ids["entry"]),
    "search_deep_memory": lambda m, g, ids: m.search_deep_memory("api key launch"),
    "search_deep_memory(all)": lambda m, g, ids: m.search_deep_memory("", limit=100),
    "search_deep_memory(tag)": lambda m, g, ids: m.search_deep_memory("memory", tags=["t"]),
    "search_deep_memory(author)": lambda m, g, ids: m.search_deep_memory("", author="alice"),
    "search_deep_memory(text)": lambda m, g, ids: m.search_deep_memory(
        "api key", search_mode="text"
    ),
    "get_deep_memory": lambda m, g, ids: m.get_deep_memory(ids["memory"]),
    "get_deep_memory(private)": lambda m, g, ids: m.get_deep_memory(ids["private"]),
    "create_deep_memory(same text)": lambda m, g, ids: m.create_deep_memory(
        f"{MARK} shared memory", tags=["t"]
    ),
    "get_active_pafs": lambda m, g, ids: m.get_active_pafs(),
    "get_paf": lambda m, g, ids: m.paf_primitive.get_paf("OPS-001"),
    "export_markdown": lambda m, g, ids: m.paf_primitive.export_markdown(),
    "get_group": lambda m, g, ids: g.get_group(ids["group"]),
    "list_groups": lambda m, g, ids: g.list_groups(),
    "list_groups(tag)": lambda m, g, ids: g.list_groups(tags=["t"]),
    "get_session_groups": lambda m, g, ids: g.get_session_groups("s1"),
    "get_grouped_context": lambda m, g, ids: g.get_grouped_context(ids["group"]),
    "get_group_summary": lambda m, g, ids: g.get_group_summary(ids["group"]),
    "load_workflow_context": lambda m, g, ids: m.load_workflow_context(
        {"workflow_id": "w", "session_id": "s1", "metadata": {"group_id": ids["group"]}},
        "understand",
        "AUGSTER_RIGOROUS",
        query="api key launch",
    ),
}


def test_look_alike_tenants_never_read_the_victim(world: World) -> None:
    """Names the rule accepts but that differ from the victim's (a backtick, case, RediSearch
    syntax, a zero-width space) each see only their own data, whatever they read."""
    world.found.clear()
    world.problems.clear()
    copied: set[str] = set()

    @settings(max_examples=150, deadline=None, database=None)
    @given(
        workspace=st.sampled_from([*LOOKALIKE_WS, VICTIM_WS]),
        user=st.sampled_from([*LOOKALIKE_USERS, VICTIM_USER]),
        read=st.sampled_from(sorted(READS)),
    )
    def run(workspace: str, user: str, read: str) -> None:
        memory = MemoryWorkflowPrimitive(
            world.url, user, workspace=workspace, settings=scope_settings()
        )
        groups = SessionGroupPrimitive(
            world.url, user, workspace=workspace, settings=scope_settings()
        )
        world.found["reads"] += 1
        try:
            result = run_sync(READS[read](memory, groups, world.ids))
            if isinstance(result, WorkflowContext):  # its metadata echoes the given group id
                result = {k: v for k, v in result.metadata.items() if k != "group_id"}
            text = repr(result)
        except InternalError as exc:
            world.problems.append(
                f"InternalError {exc.__cause__!r} in {read} as {user}@{workspace}"
            )
            return
        except TTAMemoryError:
            world.found["typed errors"] += 1
            return
        # A create of the victim's text stores the caller's own copy (the text matches): from
        # then on only the victim's ids show whether the caller got the victim's rows.
        if read.startswith("create"):
            copied.add(workspace)
        marked = MARK in text and workspace not in copied
        if workspace != VICTIM_WS and (marked or any(i in text for i in world.ids.values())):
            world.found["leaks"] += 1
            world.problems.append(f"{read} as {user!r}@{workspace!r} read the victim's data")
        if user != VICTIM_USER and PRIVATE in text:
            world.found["private leaks"] += 1
            world.problems.append(f"{read} as {user!r}@{workspace!r} read alice's private memory")

    run()
    print(f"\nlook-alike reads: {dict(world.found)}")
    problems = world.problems + world.server_problems()
    assert problems == [], "\n".join(dict.fromkeys(problems))
