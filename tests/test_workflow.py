"""Stage-aware loading: the policy table, load_workflow_context per stage/mode, render_context."""

from __future__ import annotations

import pytest
from tta_memory import (
    DEFAULT_POLICY,
    LoadedContext,
    MemoryWorkflowPrimitive,
    StagePolicy,
    WorkflowContext,
    WorkflowMode,
    render_context,
)
from tta_memory.errors import InvalidInputError
from tta_memory.loading.render import render_loaded

KEYS = {
    "session_context",
    "cache_memory",
    "deep_memory",
    "pafs",
    "session_groups",
    "memories",
    "memory_report",
}

# DESIGN.md §4: STANDARD messages / cache hours / deep k, and AUGSTER_RIGOROUS deep k.
STANDARD = {
    "understand": (50, 24, 10),
    "decompose": (30, 12, 10),
    "plan": (30, 6, 10),
    "implement": (30, 1, 5),
    "verify": (20, 1, 3),
    "review": (50, 24, 10),
}
RIGOROUS_K = {
    "understand": 20,
    "decompose": 20,
    "plan": 20,
    "implement": 10,
    "verify": 6,
    "review": 20,
}


def ctx(session_id: str = "s1", workflow_id: str = "wf", **metadata) -> WorkflowContext:
    return WorkflowContext(
        workflow_id=workflow_id, session_id=session_id, metadata=metadata, state={}
    )


async def seed_memories(memory: MemoryWorkflowPrimitive, n: int = 25, tags=None) -> list[str]:
    made = await memory.create_deep_memories(
        [
            {"text": f"engineering note {i}: service {i} uses queue {i * 3}", "tags": tags}
            for i in range(n)
        ]
    )
    return [m.id for m in made]


def test_default_policy_is_the_design_table():
    for stage, (messages, hours, k) in STANDARD.items():
        cell = DEFAULT_POLICY[("standard", stage)]
        assert (cell.messages, cell.cache_hours, cell.deep_k, cell.pafs, cell.groups) == (
            messages,
            hours,
            k,
            True,
            False,
        ), stage
        rig = DEFAULT_POLICY[("augster_rigorous", stage)]
        assert (rig.messages, rig.cache_hours, rig.deep_k, rig.pafs, rig.groups) == (
            200,
            24,
            RIGOROUS_K[stage],
            True,
            True,
        ), stage
        rapid = DEFAULT_POLICY[("rapid", stage)]
        assert (rapid.messages, rapid.cache_hours, rapid.deep_k, rapid.pafs, rapid.groups) == (
            10,
            0,
            0,
            False,
            False,
        ), stage


@pytest.mark.parametrize("mode", list(WorkflowMode))
@pytest.mark.parametrize("stage", [*STANDARD, "validate", "reflect"])
async def test_every_stage_and_mode_fills_every_key(memory, stage, mode):
    await memory.add_session_message("s1", "user", "hello")
    enriched = await memory.load_workflow_context(ctx(), stage=stage, mode=mode)
    assert set(enriched.metadata) >= KEYS
    assert [m.content for m in enriched.metadata["session_context"]] == ["hello"]
    report = enriched.metadata["memory_report"]
    assert report.mode == mode and report.stage == {"validate": "verify", "reflect": "review"}.get(
        stage, stage
    )


async def test_understand_augster_loads_session_cache_top20_and_all_pafs(memory):
    await seed_memories(memory)
    await memory.paf_primitive.add_paf("AUTH", "001", "Use PyJWT")
    await memory.paf_primitive.add_paf("DB", "001", "Postgres only")
    await memory.add_session_message("other", "user", "earlier work elsewhere")
    msgs = await memory.add_session_messages(
        "s1", [{"role": "user", "content": f"message {i}"} for i in range(60)]
    )

    enriched = await memory.load_workflow_context(
        ctx(), "understand", WorkflowMode.AUGSTER_RIGOROUS
    )
    md = enriched.metadata

    assert [m.id for m in md["session_context"]] == [m.id for m in msgs]  # all 60
    assert [e.content for e in md["cache_memory"]] == ["earlier work elsewhere"]
    assert len(md["deep_memory"]) == 20
    assert [p.id for p in md["pafs"]] == ["AUTH-001", "DB-001"]
    assert md["memory_report"].layers["deep"].count == 20


async def test_implement_standard_loads_30_messages_top5_and_active_pafs(memory):
    await seed_memories(memory)
    await memory.paf_primitive.add_paf("AUTH", "001", "Use PyJWT")
    await memory.paf_primitive.add_paf("AUTH", "002", "Old rule")
    await memory.paf_primitive.deprecate_paf("AUTH-002", "obsolete")
    await memory.add_session_messages(
        "s1", [{"role": "user", "content": f"m{i}"} for i in range(40)]
    )

    md = (
        await memory.load_workflow_context(
            context=ctx(), stage="implement", mode=WorkflowMode.STANDARD
        )
    ).metadata

    assert [m.content for m in md["session_context"]] == [f"m{i}" for i in range(10, 40)]
    assert len(md["deep_memory"]) == 5
    assert [p.id for p in md["pafs"]] == ["AUTH-001"]
    assert md["session_groups"] == []


async def test_verify_rapid_loads_the_last_10_messages_only(memory):
    await seed_memories(memory, 5)
    await memory.paf_primitive.add_paf("AUTH", "001", "Use PyJWT")
    await memory.add_cache_entry("a note")
    await memory.add_session_messages(
        "s1", [{"role": "user", "content": f"m{i}"} for i in range(15)]
    )

    md = (await memory.load_workflow_context(ctx(), "verify", WorkflowMode.RAPID)).metadata

    assert [m.content for m in md["session_context"]] == [f"m{i}" for i in range(5, 15)]
    assert md["cache_memory"] == [] and md["deep_memory"] == [] and md["pafs"] == []
    assert md["session_groups"] == []
    assert {i.layer for i in md["memories"]} == {"session"}
    assert set(md["memory_report"].layers) == {"session"}


async def test_understand_deep_counts_grow_with_mode(memory):
    await seed_memories(memory, 25)
    counts = []
    for mode in (WorkflowMode.RAPID, WorkflowMode.STANDARD, WorkflowMode.AUGSTER_RIGOROUS):
        md = (await memory.load_workflow_context(ctx(), "understand", mode)).metadata
        counts.append(len(md["deep_memory"]))
    assert counts == [0, 10, 20]


async def test_memories_lists_every_item_tagged_with_its_layer(memory):
    await seed_memories(memory, 12)
    await memory.paf_primitive.add_paf("AUTH", "001", "Use PyJWT")
    await memory.add_cache_entry("note elsewhere")
    await memory.add_session_message("s1", "user", "question about queues")

    md = (await memory.load_workflow_context(ctx(), "plan", "standard")).metadata
    by_layer: dict[str, list[str]] = {}
    for item in md["memories"]:
        by_layer.setdefault(item.layer, []).append(item.id)

    assert by_layer["paf"] == ["AUTH-001"]
    assert by_layer["deep"] == [m.id for m in md["deep_memory"]] and len(by_layer["deep"]) == 10
    assert by_layer["cache"] == [e.id for e in md["cache_memory"]] and len(by_layer["cache"]) == 1
    assert by_layer["session"] == [m.id for m in md["session_context"]]
    layers = md["memory_report"].layers
    assert {name: layers[name].count for name in layers} == {
        "session": 1,
        "paf": 1,
        "cache": 1,
        "deep": 10,
    }


async def test_deep_query_prefers_explicit_then_user_messages_then_metadata_then_workflow(memory):
    await seed_memories(memory, 3)

    async def query_used(context: WorkflowContext, **kw) -> str:
        md = (await memory.load_workflow_context(context, "plan", "standard", **kw)).metadata
        return md["memory_report"].query

    assert await query_used(ctx("empty", workflow_id="bug-jwt")) == "bug-jwt"
    assert await query_used(ctx("empty", feature="authentication")) == "authentication"
    await memory.add_session_message("s1", "user", "Implement JWT refresh tokens")
    await memory.add_session_message("s1", "assistant", "Sure")
    assert await query_used(ctx("s1", feature="authentication")) == "Implement JWT refresh tokens"
    assert await query_used(ctx("s1"), query="queue sizing") == "queue sizing"


async def test_deep_results_follow_the_query(memory):
    await seed_memories(memory, 10)
    target = await memory.create_deep_memory("Refresh tokens rotate on every use", tags=["jwt"])
    await memory.add_session_message("s1", "user", "how do refresh tokens rotate?")
    md = (await memory.load_workflow_context(ctx(), "implement", "standard")).metadata
    assert md["deep_memory"][0].id == target.id


async def test_augster_focuses_deep_search_on_group_tags_and_tops_up(memory, groups):
    others = await seed_memories(memory, 15)
    tagged = [
        m.id
        for m in await memory.create_deep_memories(
            [{"text": f"jwt decision {i}", "tags": ["jwt"]} for i in range(3)]
        )
    ]
    gid = await groups.create_group("Auth", description="JWT authentication", tags=["jwt"])
    await groups.add_session_to_group(gid, "s1")

    md = (
        await memory.load_workflow_context(ctx(), "implement", WorkflowMode.AUGSTER_RIGOROUS)
    ).metadata

    assert [g.id for g in md["session_groups"]] == [gid]
    deep = [m.id for m in md["deep_memory"]]
    assert len(deep) == 10  # AUGSTER implement k
    assert set(deep[:3]) == set(tagged)  # focused results first
    assert set(deep[3:]) <= set(others)  # topped up from the unfocused search
    assert md["memory_report"].query == "JWT authentication"  # group description


async def test_augster_reads_cache_across_the_groups_sessions(memory, groups):
    gid = await groups.create_group("Auth", tags=["auth"])
    for sid in ("day1", "day2"):
        await groups.add_session_to_group(gid, sid)
    await memory.add_session_message("day1", "user", "research from day one")
    await memory.add_session_message("unrelated", "user", "unrelated chatter")
    await memory.add_session_message("day2", "user", "today's question")

    md = (
        await memory.load_workflow_context(ctx("day2"), "understand", "augster_rigorous")
    ).metadata

    assert [e.content for e in md["cache_memory"]] == ["research from day one"]
    assert [m.content for m in md["session_context"]] == ["today's question"]


async def test_group_id_in_metadata_is_loaded_even_before_the_session_joins(memory, groups):
    gid = await groups.create_group("Auth", description="JWT", tags=["auth"])
    await groups.add_session_to_group(gid, "day1")
    await memory.add_session_message("day1", "user", "day one notes")

    md = (
        await memory.load_workflow_context(
            ctx("day2", group_id=gid), "implement", "augster_rigorous"
        )
    ).metadata

    assert [g.id for g in md["session_groups"]] == [gid]
    assert [e.content for e in md["cache_memory"]] == ["day one notes"]


async def test_standard_cache_skips_messages_already_in_the_session_context(memory):
    await memory.add_session_message("s1", "user", "in this session")
    await memory.add_session_message("s2", "user", "in another session")
    await memory.add_cache_entry("note for this session", session_id="s1")

    md = (await memory.load_workflow_context(ctx("s1"), "understand", "standard")).metadata

    assert sorted(e.content for e in md["cache_memory"]) == [
        "in another session",
        "note for this session",
    ]


async def test_policy_override_per_call_and_per_primitive(memory):
    await seed_memories(memory, 8)
    await memory.paf_primitive.add_paf("AUTH", "001", "Use PyJWT")
    await memory.paf_primitive.add_paf("DB", "001", "Postgres only")

    md = (
        await memory.load_workflow_context(
            ctx(), "implement", "standard", policy={"deep_k": 2, "paf_categories": ["DB"]}
        )
    ).metadata
    assert len(md["deep_memory"]) == 2 and [p.id for p in md["pafs"]] == ["DB-001"]

    md = (
        await memory.load_workflow_context(
            ctx(), "verify", "rapid", policy=StagePolicy(messages=5, deep_k=1)
        )
    ).metadata
    assert len(md["deep_memory"]) == 1

    memory.policy[("standard", "plan")] = StagePolicy(messages=1, deep_k=3, pafs=True)
    md = (await memory.load_workflow_context(ctx(), "plan", "standard")).metadata
    assert len(md["deep_memory"]) == 3 and len(md["pafs"]) == 2
    assert DEFAULT_POLICY[("standard", "plan")].deep_k == 10  # the shared default is untouched

    with pytest.raises(InvalidInputError):
        await memory.load_workflow_context(ctx(), "plan", "standard", policy={"deep_kk": 1})


async def test_context_is_not_mutated_and_keeps_its_fields(memory):
    original = ctx(feature="auth")
    original.state["step"] = 3
    enriched = await memory.load_workflow_context(original, "plan", "standard")
    assert original.metadata == {"feature": "auth"}
    assert enriched.metadata["feature"] == "auth" and enriched.state == {"step": 3}
    assert (enriched.workflow_id, enriched.session_id) == ("wf", "s1")
    # a plain dict works as the context too
    from_dict = await memory.load_workflow_context(
        {"workflow_id": "wf", "session_id": "s1"}, "plan", "standard"
    )
    assert set(from_dict.metadata) >= KEYS


async def test_render_orders_sections_and_includes_everything(memory):
    await memory.paf_primitive.add_paf("AUTH", "001", "Use PyJWT", "lightweight")
    await memory.create_deep_memory("Refresh tokens rotate on every use", tags=["jwt"])
    await memory.add_session_message("other", "assistant", "Yesterday: added login form")
    await memory.add_session_message("s1", "user", "Now implement refresh tokens")

    text = render_context(await memory.load_workflow_context(ctx(), "understand", "standard"))

    assert "- **AUTH-001**: Use PyJWT (why: lightweight)" in text
    assert "Refresh tokens rotate on every use [jwt]" in text
    assert "Yesterday: added login form" in text
    assert "user: Now implement refresh tokens" in text
    positions = [
        text.index(s)
        for s in ("AUTH-001", "Refresh tokens rotate", "Yesterday: added", "user: Now implement")
    ]
    assert positions == sorted(positions)


async def test_render_budget_drops_least_relevant_first_never_pafs(memory):
    long_paf = "Every endpoint requires authentication; " * 10
    await memory.paf_primitive.add_paf("SEC", "001", long_paf)
    await memory.create_deep_memories([{"text": f"deep memory number {i}"} for i in range(5)])
    for i in range(5):
        await memory.add_session_message("other", "user", f"cache line {i}")
    await memory.add_session_messages(
        "s1", [{"role": "user", "content": f"turn {i}"} for i in range(5)]
    )
    enriched = await memory.load_workflow_context(ctx(), "understand", "standard")
    full = render_context(enriched)

    budget = len(full) - 60
    cut = render_context(enriched, max_chars=budget)
    assert len(cut) <= budget
    assert long_paf.strip() in cut
    assert "cache line 0" not in cut and "cache line 4" in cut  # oldest activity dropped first
    assert all(f"turn {i}" in cut for i in range(5))  # conversation kept while others can go
    assert all(d.text in cut for d in enriched.metadata["deep_memory"])

    tiny = render_context(enriched, max_chars=10)
    assert long_paf.strip() in tiny  # PAFs are never dropped, even over budget
    assert "deep memory" not in tiny and "cache line" not in tiny and "turn " not in tiny


def test_render_empty_context_is_empty():
    assert render_context(ctx()) == ""


async def test_load_context_is_the_typed_twin_of_load_workflow_context(memory):
    await seed_memories(memory)
    await memory.paf_primitive.add_paf("AUTH", "001", "Use PyJWT")
    await memory.add_session_message("s1", "user", "how do we rotate tokens?")
    loaded = await memory.load_context(ctx(), "implement", "standard")
    enriched = await memory.load_workflow_context(ctx(), "implement", "standard")
    assert isinstance(loaded, LoadedContext)
    assert [p.id for p in loaded.pafs] == ["AUTH-001"]
    assert [m.content for m in loaded.session_context] == ["how do we rotate tokens?"]
    assert [m.id for m in loaded.deep_memory] == [m.id for m in enriched.metadata["deep_memory"]]
    assert loaded.query == enriched.metadata["memory_report"].query == "how do we rotate tokens?"
    assert [i.layer for i in loaded.items] == [i.layer for i in enriched.metadata["memories"]]
    assert render_context(enriched) == render_loaded(loaded)
