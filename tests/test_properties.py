"""Property-based tests over every public call: hostile strings, numbers and wrong types.

For every call of the facade and of the stores behind it, Hypothesis draws arguments that mix
valid values with hostile ones, on an engine whose own workspace and user may be hostile too,
next to a victim workspace holding marked data (``hostile_world``). Each example checks:

- the call either succeeds or raises a :class:`TTAMemoryError` that is not an
  :class:`InternalError` (0 untyped errors, 0 engine bugs);
- nothing it returns carries another workspace's data or another user's private memory;
- a call that raised stored nothing (every key under the prefix is byte-identical, except the
  embedding cache, which holds model outputs, not user data).

The findings of all examples of a call are collected and asserted at the end, so a run gives
the figures (calls tried, leaks, untyped errors, writes on error) as well as a verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hostile_world import (
    LOOKALIKE_USERS,
    LOOKALIKE_WS,
    MARK,
    NASTY_NUMBERS,
    PRIVATE,
    VICTIM_USER,
    VICTIM_WS,
    World,
    anything,
    arg,
    changed,
    nasty_text,
    num,
    opt,
    property_server,
    scope_settings,
    snapshot,
    world,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tta_memory import (
    InternalError,
    MemoryWorkflowPrimitive,
    SessionGroupPrimitive,
    TTAMemoryError,
    run_sync,
)

EXAMPLES = 40
__all__ = ["property_server", "world"]  # the fixtures, imported for pytest


# ---- the calls -------------------------------------------------------------------------------

Call = Callable[[MemoryWorkflowPrimitive, SessionGroupPrimitive, dict[str, Any]], Any]


def ident(world_key: str) -> st.SearchStrategy[Any]:
    """An id argument: the victim's real id (by name, resolved later), a plausible one, or junk."""
    return st.one_of(st.just(("victim", world_key)), arg("s1", "nope", "grp-0000"))


SESSION = arg("s1", "s2", "s 1", "s{1}")
TAGS = st.one_of(st.none(), st.lists(arg("t", "ops", "a b"), max_size=3), anything)
MESSAGES = st.one_of(
    st.lists(
        st.fixed_dictionaries(
            {"role": arg("user", "assistant"), "content": arg("hello", "bye")},
            optional={"metadata": opt({"k": 1})},
        ),
        max_size=3,
    ),
    anything,
)
WHEN = st.one_of(
    opt(datetime(2020, 1, 1, tzinfo=UTC), "2024-05-01T00:00:00", 0), st.sampled_from(NASTY_NUMBERS)
)
CONTEXT = st.one_of(
    st.fixed_dictionaries(
        {"workflow_id": arg("wf"), "session_id": SESSION},
        optional={"metadata": st.one_of(st.just({"group_id": ("victim", "group")}), anything)},
    ),
    anything,
)

# name -> (strategy of kwargs, how to call)
CALLS: dict[str, tuple[st.SearchStrategy[dict[str, Any]], Call]] = {
    "add_session_message": (
        st.fixed_dictionaries(
            {
                "session_id": SESSION,
                "role": arg("user", "assistant", "system", "tool"),
                "content": arg("hello"),
                "metadata": opt({"k": [1, 2]}),
                "ttl_seconds": num(None, 60, 3600),
            }
        ),
        lambda m, g, a: m.add_session_message(**a),
    ),
    "add_session_messages": (
        st.fixed_dictionaries(
            {"session_id": SESSION, "messages": MESSAGES, "ttl_seconds": num(None, 60)}
        ),
        lambda m, g, a: m.add_session_messages(**a),
    ),
    "get_session_context": (
        st.fixed_dictionaries({"session_id": SESSION, "limit": num(None, 1, 50)}),
        lambda m, g, a: m.get_session_context(**a),
    ),
    "count_session_messages": (
        st.fixed_dictionaries({"session_id": SESSION}),
        lambda m, g, a: m.count_session_messages(**a),
    ),
    "delete_session_message": (
        st.fixed_dictionaries(
            {
                "session_id": SESSION,
                "message_id": opt(("victim", "message")),
                "position": num(None, 0, -1),
            }
        ),
        lambda m, g, a: m.delete_session_message(**a),
    ),
    "archive_session_messages": (
        st.fixed_dictionaries({"session_id": SESSION, "n": num(1, 2)}),
        lambda m, g, a: m.archive_session_messages(**a),
    ),
    "trim_session_messages": (
        st.fixed_dictionaries({"session_id": SESSION, "n": num(1)}),
        lambda m, g, a: m.trim_session_messages(**a),
    ),
    "replace_session_messages": (
        st.fixed_dictionaries({"session_id": SESSION, "messages": MESSAGES}),
        lambda m, g, a: m.replace_session_messages(**a),
    ),
    "clear_session": (
        st.fixed_dictionaries({"session_id": SESSION}),
        lambda m, g, a: m.clear_session(**a),
    ),
    "list_sessions": (
        st.fixed_dictionaries({"limit": num(None, 10)}),
        lambda m, g, a: m.list_sessions(**a),
    ),
    "add_cache_entry": (
        st.fixed_dictionaries(
            {
                "content": arg("note"),
                "session_id": opt("s1"),
                "tags": TAGS,
                "importance": num(0.5, 1),
                "ttl_seconds": num(60, 86400),
                "metadata": opt({"k": "v"}),
            }
        ),
        lambda m, g, a: m.add_cache_entry(**a),
    ),
    "get_cache_memory": (
        st.fixed_dictionaries(
            {
                "session_id": opt("s1"),
                "time_window_hours": num(24, 0.5),
                "group_id": opt(("victim", "group")),
                "limit": num(100),
            }
        ),
        lambda m, g, a: m.get_cache_memory(**a),
    ),
    "promote_cache_entry": (
        st.fixed_dictionaries(
            {"entry_id": ident("entry"), "tags": TAGS, "memory_type": opt("decision")}
        ),
        lambda m, g, a: m.promote_cache_entry(**a),
    ),
    "create_deep_memory": (
        st.fixed_dictionaries(
            {
                "text": arg("a fact"),
                "tags": TAGS,
                "metadata": opt({"k": 1}),
                "memory_type": opt("decision"),
                "session_id": opt("s1"),
                "private": arg(False, True),
                "event_time": WHEN,
            }
        ),
        lambda m, g, a: m.create_deep_memory(**a),
    ),
    "create_deep_memories": (
        st.fixed_dictionaries(
            {
                "items": st.one_of(
                    st.lists(
                        st.fixed_dictionaries({"text": arg("one", "two")}, optional={"tags": TAGS}),
                        max_size=3,
                    ),
                    anything,
                ),
                "batch_size": num(256, 1),
            }
        ),
        lambda m, g, a: m.create_deep_memories(**a),
    ),
    "search_deep_memory": (
        st.fixed_dictionaries(
            {
                "query": arg("", "launch", "api key"),
                "limit": num(10),
                "tags": TAGS,
                "match_all_tags": arg(False, True),
                "memory_type": opt("decision", ["a", "b"]),
                "author": opt(VICTIM_USER),
                "session_id": opt("s1"),
                "since": WHEN,
                "until": WHEN,
                "search_mode": arg("hybrid", "vector", "text"),
            }
        ),
        lambda m, g, a: m.search_deep_memory(**a),
    ),
    "get_deep_memory": (
        st.fixed_dictionaries({"memory_id": st.one_of(ident("memory"), ident("private"))}),
        lambda m, g, a: m.get_deep_memory(**a),
    ),
    "update_deep_memory": (
        st.fixed_dictionaries(
            {
                "memory_id": st.one_of(ident("memory"), ident("private")),
                "text": opt("changed"),
                "tags": TAGS,
                "metadata": opt({"k": 2}),
                "memory_type": opt("pattern"),
            }
        ),
        lambda m, g, a: m.update_deep_memory(**a),
    ),
    "delete_deep_memory": (
        st.fixed_dictionaries({"memory_id": st.one_of(ident("memory"), ident("private"))}),
        lambda m, g, a: m.delete_deep_memory(**a),
    ),
    "get_active_pafs": (
        st.fixed_dictionaries({"category": opt("OPS")}),
        lambda m, g, a: m.get_active_pafs(**a),
    ),
    "load_workflow_context": (
        st.fixed_dictionaries(
            {
                "context": CONTEXT,
                "stage": arg("plan", "validate", "understand"),
                "mode": arg("STANDARD", "RAPID", "AUGSTER_RIGOROUS"),
                "query": opt("launch"),
                "policy": opt(
                    {"deep_k": 3},
                    {"deep_k": -1},
                    {"messages": 10**9},
                    {"cache_hours": math.nan},
                    {"deep_k": 10**30},
                ),
            }
        ),
        lambda m, g, a: m.load_workflow_context(**a),
    ),
    "add_paf": (
        st.fixed_dictionaries(
            {
                "category": arg("OPS", "AUTH"),
                "fact_id": arg("001", "002"),
                "description": arg("a rule"),
                "rationale": arg("", "why"),
                "status": arg("active", "proposed"),
            }
        ),
        lambda m, g, a: m.paf_primitive.add_paf(**a),
    ),
    "update_paf": (
        st.fixed_dictionaries(
            {
                "paf_id": arg("OPS-001"),
                "description": opt("new rule"),
                "rationale": opt("why"),
                "status": opt("deprecated"),
            }
        ),
        lambda m, g, a: m.paf_primitive.update_paf(**a),
    ),
    "deprecate_paf": (
        st.fixed_dictionaries(
            {"paf_id": arg("OPS-001"), "reason": arg("old"), "replaced_by": opt("OPS-002")}
        ),
        lambda m, g, a: m.paf_primitive.deprecate_paf(**a),
    ),
    "get_paf": (
        st.fixed_dictionaries({"paf_id": arg("OPS-001")}),
        lambda m, g, a: m.paf_primitive.get_paf(**a),
    ),
    "list_pafs": (
        st.fixed_dictionaries({"category": opt("OPS"), "status": opt("active")}),
        lambda m, g, a: m.paf_primitive.list_pafs(**a),
    ),
    "delete_paf": (
        st.fixed_dictionaries({"paf_id": arg("OPS-001")}),
        lambda m, g, a: m.paf_primitive.delete_paf(**a),
    ),
    "export_markdown": (
        st.fixed_dictionaries({"status": opt("active")}),
        lambda m, g, a: m.paf_primitive.export_markdown(**a),
    ),
    "import_markdown": (
        st.fixed_dictionaries({"text": arg("- **OPS-009**: rule\n", "- **bad")}),
        lambda m, g, a: m.paf_primitive.import_markdown(**a),
    ),
    "create_group": (
        st.fixed_dictionaries(
            {
                "name": arg("g"),
                "description": arg("", "d"),
                "tags": TAGS,
                "status": arg("active", "closed"),
                "metadata": opt({"k": 1}),
            }
        ),
        lambda m, g, a: g.create_group(**a),
    ),
    "add_session_to_group": (
        st.fixed_dictionaries({"group_id": ident("group"), "session_id": SESSION}),
        lambda m, g, a: g.add_session_to_group(**a),
    ),
    "remove_session_from_group": (
        st.fixed_dictionaries({"group_id": ident("group"), "session_id": SESSION}),
        lambda m, g, a: g.remove_session_from_group(**a),
    ),
    "update_group_status": (
        st.fixed_dictionaries(
            {"group_id": ident("group"), "status": arg("closed"), "summary": opt("s")}
        ),
        lambda m, g, a: g.update_group_status(**a),
    ),
    "get_group": (
        st.fixed_dictionaries({"group_id": ident("group")}),
        lambda m, g, a: g.get_group(**a),
    ),
    "get_group_summary": (
        st.fixed_dictionaries({"group_id": ident("group")}),
        lambda m, g, a: g.get_group_summary(**a),
    ),
    "list_groups": (
        st.fixed_dictionaries({"tags": TAGS, "status": opt("active")}),
        lambda m, g, a: g.list_groups(**a),
    ),
    "get_session_groups": (
        st.fixed_dictionaries({"session_id": SESSION}),
        lambda m, g, a: g.get_session_groups(**a),
    ),
    "get_grouped_context": (
        st.fixed_dictionaries({"group_id": ident("group"), "max_messages_per_session": num(20)}),
        lambda m, g, a: g.get_grouped_context(**a),
    ),
    "delete_group": (
        st.fixed_dictionaries({"group_id": ident("group")}),
        lambda m, g, a: g.delete_group(**a),
    ),
    # The stores behind the facade (memory.sessions, .cache, .deep, .pafs, .groups).
    "cache.get": (
        st.fixed_dictionaries({"entry_id": ident("entry")}),
        lambda m, g, a: m.cache.get(**a),
    ),
    "cache.delete_messages": (
        st.fixed_dictionaries(
            {
                "session_id": SESSION,
                "message_ids": st.one_of(st.lists(ident("message"), max_size=2), anything),
            }
        ),
        lambda m, g, a: m.cache.delete_messages(**a),
    ),
    "cache.drop_session": (
        st.fixed_dictionaries({"session_id": SESSION}),
        lambda m, g, a: m.cache.drop_session(**a),
    ),
    "deep.search": (
        st.fixed_dictionaries(
            {"query": arg("", "api key"), "limit": num(5), "tags": TAGS, "author": opt("alice")}
        ),
        lambda m, g, a: m.deep.search(**a),
    ),
    "deep.get": (
        st.fixed_dictionaries({"memory_id": st.one_of(ident("memory"), ident("private"))}),
        lambda m, g, a: m.deep.get(**a),
    ),
    "sessions.pop_oldest": (
        st.fixed_dictionaries({"session_id": SESSION, "n": num(1), "archive": arg(True, False)}),
        lambda m, g, a: m.sessions.pop_oldest(**a),
    ),
    "pafs.list_pafs": (
        st.fixed_dictionaries({"category": opt("OPS"), "status": opt("active")}),
        lambda m, g, a: m.pafs.list_pafs(**a),
    ),
    "groups.of_session": (
        st.fixed_dictionaries({"session_id": SESSION}),
        lambda m, g, a: m.groups.of_session(**a),
    ),
    "load_context": (
        st.fixed_dictionaries(
            {
                "context": CONTEXT,
                "stage": arg("plan", "review"),
                "mode": arg("STANDARD", "AUGSTER_RIGOROUS"),
                "query": opt("api key"),
            }
        ),
        lambda m, g, a: m.load_context(**a),
    ),
}

# The caller: the victim's own scope now and then (a legitimate read must still work), else
# a neighbour whose names try to reach it.
# Look-alikes the name rule accepts: each must still be a tenant of its own.
SCOPES = st.tuples(
    st.one_of(st.just(VICTIM_WS), st.sampled_from(LOOKALIKE_WS), st.just(VICTIM_WS), nasty_text),
    st.one_of(st.just(VICTIM_USER), st.sampled_from(LOOKALIKE_USERS), nasty_text),
)


def resolve(value: Any, ids: dict[str, str]) -> Any:
    """Replace ``("victim", name)`` placeholders with the victim's real ids."""
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "victim":
        return ids[value[1]]
    if isinstance(value, dict):
        return {k: resolve(v, ids) for k, v in value.items()}
    return value


def check_one(world: World, name: str, scope: tuple[Any, Any], kwargs: dict[str, Any]) -> None:
    """Run one call and record what went wrong, if anything."""
    workspace, user = scope
    kwargs = resolve(kwargs, world.ids)
    world.found["calls"] += 1
    try:
        memory = MemoryWorkflowPrimitive(
            world.url, user, workspace=workspace, settings=scope_settings()
        )
        groups = SessionGroupPrimitive(
            world.url, user, workspace=workspace, settings=scope_settings()
        )
    except TTAMemoryError:
        world.found["refused scopes"] += 1
        return
    except Exception as exc:
        world.problems.append(f"untyped {type(exc).__name__} building scope {scope!r}: {exc}")
        world.found["untyped"] += 1
        return
    before = snapshot(world.url)
    try:
        result = run_sync(CALLS[name][1](memory, groups, kwargs))
    except InternalError as exc:
        world.found["internal"] += 1
        world.problems.append(f"InternalError {exc.__cause__!r} for {kwargs!r} in {scope!r}")
        error: BaseException | None = exc
    except TTAMemoryError as exc:
        world.found["typed errors"] += 1
        error = exc
    except Exception as exc:
        world.found["untyped"] += 1
        world.problems.append(f"untyped {type(exc).__name__}: {exc!r} for {kwargs!r}")
        error = exc
    else:
        error = None
        world.found["succeeded"] += 1
        text = repr(result)
        if memory.workspace != VICTIM_WS and MARK in text:
            world.found["leaks"] += 1
            world.problems.append(f"leak to workspace {memory.workspace!r}: {kwargs!r}")
        if memory.user_id != VICTIM_USER and PRIVATE in text:
            world.found["private leaks"] += 1
            world.problems.append(f"private leak to user {memory.user_id!r}: {kwargs!r}")
    if error is not None and changed(before, snapshot(world.url)):
        world.found["stored on error"] += 1
        world.problems.append(f"stored data, then raised {error!r} for {kwargs!r} in {scope!r}")


@pytest.mark.parametrize("name", sorted(CALLS))
def test_public_call_with_hostile_input(world: World, name: str) -> None:
    world.found.clear()
    world.problems.clear()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(scope=SCOPES, kwargs=CALLS[name][0])
    def run(scope: tuple[Any, Any], kwargs: dict[str, Any]) -> None:
        check_one(world, name, scope, kwargs)

    run()
    print(f"\n{name}: {dict(world.found)}")
    problems = world.problems + world.server_problems()
    assert problems == [], "\n".join(dict.fromkeys(problems))
