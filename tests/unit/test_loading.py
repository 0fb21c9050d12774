"""Context assembly without Redis: query derivation, turn ingestion, item order, the typed
loaded context and rendering budgets."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tta_memory.literals import LAYERS
from tta_memory.loading.ingest import turn_memories
from tta_memory.loading.loader import ordered_items
from tta_memory.loading.query import QUERY_CHARS, context_query, conversation_query
from tta_memory.loading.render import PAF_TITLE, render, render_context
from tta_memory.models import (
    PAF,
    CacheEntry,
    DeepMemory,
    LoadedContext,
    MemoryReport,
    SessionMessage,
    WorkflowContext,
    WorkflowMode,
)
from tta_memory.stores.sessions import MessageRows, decode_message

NOW = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)


def paf(i: int, rationale: str = "") -> PAF:
    return PAF(
        id=f"AUTH-{i:03d}",
        category="AUTH",
        fact_id=f"{i:03d}",
        description=f"rule {i}",
        rationale=rationale,
        author="u",
        created_at=NOW,
        updated_at=NOW,
    )


def deep(i: int) -> DeepMemory:
    return DeepMemory(
        id=f"d{i}", text=f"memory {i}", author="u", created_at=NOW, updated_at=NOW, score=1 / i
    )


def entry(i: int) -> CacheEntry:
    return CacheEntry(id=f"c{i}", kind="note", content=f"note {i}", user_id="u", created_at=NOW)


def message(i: int, role: str = "user") -> SessionMessage:
    return SessionMessage(
        id=f"m{i}", session_id="s", seq=i, role=role, content=f"msg {i}", user_id="u",
        created_at=NOW,
    )  # fmt: skip


def test_conversation_query_takes_the_latest_user_turns():
    turns = [("user", "a"), ("assistant", "b"), ("user", " "), ("user", "c"), ("user", "d")]
    assert conversation_query(turns, window=2) == "c\nd"
    assert conversation_query(turns, window=2, roles=None) == "c\nd"
    assert conversation_query([("assistant", "x")]) == ""
    assert len(conversation_query([("user", "x" * 5000)])) == QUERY_CHARS


def test_context_query_falls_back_in_order():
    assert context_query(["implement auth"], {"feature": "f"}, ["g"], "wf") == "implement auth"
    assert context_query([], {"feature": "f", "description": "d"}, ["g"], "wf") == "f d g"
    assert context_query([], {"feature": 3}, [""], "wf") == "wf"


def test_turn_memories_keep_question_with_answer():
    items = turn_memories(
        [
            ("assistant", "hello", None),
            ("user", "q1", "s1"),
            ("assistant", "a1", "s1"),
            ("tool", "", "s1"),
            ("user", "q2", None),
        ],
        tags=["chat"],
        source="test",
    )
    assert [i["text"] for i in items] == ["assistant: hello", "user: q1\nassistant: a1", "user: q2"]
    assert [i["session_id"] for i in items] == [None, "s1", None]
    assert items[1]["metadata"] == {"source": "test", "roles": ["user", "assistant"]}
    assert all(i["tags"] == ["chat"] and i["memory_type"] == "conversation" for i in items)


def test_items_follow_the_layer_order():
    items = ordered_items([paf(1)], [deep(1), deep(2)], [entry(1)], [message(1)])
    assert [i.layer for i in items] == ["paf", "deep", "deep", "cache", "session"]
    assert tuple(dict.fromkeys(i.layer for i in items)) == LAYERS


def test_loaded_context_round_trips_through_the_guides_metadata():
    loaded = LoadedContext(
        stage="plan",
        mode=WorkflowMode.STANDARD,
        query="q",
        pafs=[paf(1)],
        deep_memory=[deep(1)],
        items=ordered_items([paf(1)], [deep(1)], [], []),
        report=MemoryReport(stage="plan", mode=WorkflowMode.STANDARD, total_ms=1.0, query="q"),
    )
    md = loaded.metadata()
    assert set(md) >= {"session_context", "cache_memory", "deep_memory", "pafs", "memories"}
    assert LoadedContext.from_metadata(md) == loaded


def test_render_budget_drops_least_relevant_first_and_never_pafs():
    pafs = [paf(i, rationale="why") for i in range(1, 4)]
    full = render(
        pafs=pafs, deep=[deep(1), deep(2)], cache=[entry(1), entry(2)], messages=[message(1)]
    )
    assert full.index(PAF_TITLE) < full.index("memory 1") < full.index("note 1")
    assert "(why: why)" in full
    # cache goes first (oldest = last), then the weakest memory, then old conversation turns
    smaller = render(
        pafs=pafs,
        deep=[deep(1), deep(2)],
        cache=[entry(1), entry(2)],
        messages=[message(1)],
        max_chars=len(full) - 5,
    )
    assert "note 2" not in smaller and "note 1" in smaller and "memory 2" in smaller
    tiny = render(pafs=pafs, deep=[deep(1)], cache=[entry(1)], messages=[message(1)], max_chars=1)
    assert all(f"rule {i}" in tiny for i in range(1, 4))
    assert "memory 1" not in tiny and "note 1" not in tiny and "msg 1" not in tiny


def test_render_context_reads_the_metadata_load_workflow_context_wrote():
    md = {"pafs": [paf(1)], "session_context": [message(1)]}
    text = render_context(WorkflowContext(workflow_id="w", session_id="s", metadata=md))
    assert "rule 1" in text and "user: msg 1" in text
    assert render_context(WorkflowContext(workflow_id="w", session_id="s")) == ""


def test_message_rows_give_the_latest_user_turns_oldest_first_and_decode_like_one_message():
    def member(i: int, role: str) -> bytes:
        return json.dumps(
            {"id": f"m{i}", "role": role, "content": f"c{i}", "user_id": "u", "created_at": 1.0}
        ).encode()

    roles = ["user", "assistant", "user", "user", "assistant", "user", "tool"]
    rows = MessageRows("s1", [(member(i, r), float(i + 1)) for i, r in enumerate(roles)])
    assert rows.latest("user", 3) == ["c2", "c3", "c5"]
    assert rows.latest("user", 10) == ["c0", "c2", "c3", "c5"]
    assert rows.latest("system", 3) == []
    assert len(rows) == len(roles)
    assert rows.decode() == [decode_message("s1", m, score) for m, score in rows.rows]
    assert [m.seq for m in rows.decode()] == list(range(1, len(roles) + 1))
