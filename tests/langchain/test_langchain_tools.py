"""Agent tools: save_memory, search_memory, get_constraints as StructuredTools."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, ToolCall, ToolMessage
from langchain_core.tools import BaseTool, StructuredTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.errors import InvalidInputError

from tta_memory_langchain import TTAMemoryToolkit, create_memory_tools


@pytest.fixture
def tools(memory: MemoryWorkflowPrimitive) -> dict[str, BaseTool]:
    return {t.name: t for t in TTAMemoryToolkit(memory=memory).get_tools()}


def call(name: str, args: dict[str, Any], call_id: str = "call-1") -> ToolCall:
    return ToolCall(name=name, args=args, id=call_id, type="tool_call")


def test_tools_have_typed_schemas_without_injected_scope(tools: dict[str, BaseTool]) -> None:
    assert set(tools) == {"save_memory", "search_memory", "get_constraints"}
    assert all(isinstance(t, StructuredTool) for t in tools.values())
    save = convert_to_openai_tool(tools["save_memory"])["function"]
    assert set(save["parameters"]["properties"]) == {"text", "tags", "memory_type"}
    assert save["parameters"]["required"] == ["text"]
    assert save["parameters"]["properties"]["tags"]["type"] == "array"
    search = convert_to_openai_tool(tools["search_memory"])["function"]
    assert set(search["parameters"]["properties"]) == {"query", "k", "tags", "memory_type"}
    assert search["parameters"]["properties"]["k"]["type"] == "integer"
    constraints = convert_to_openai_tool(tools["get_constraints"])["function"]
    assert set(constraints["parameters"]["properties"]) == {"category"}
    for tool in tools.values():
        schema = str(convert_to_openai_tool(tool))
        for hidden in ("session_id", "user_id", "workspace", "config"):
            assert hidden not in schema
        assert tool.description


def test_save_through_a_tool_call_with_injected_session(
    tools: dict[str, BaseTool], memory: MemoryWorkflowPrimitive
) -> None:
    args = {"text": "Use PyJWT for tokens", "tags": ["auth"], "memory_type": "decision"}
    result = tools["save_memory"].invoke(call("save_memory", {**args, "session_id": "s-7"}))
    assert isinstance(result, ToolMessage) and result.tool_call_id == "call-1"
    saved = memory.sync.search_deep_memory("", limit=10)
    assert len(saved) == 1
    assert result.content == f"Saved memory {saved[0].id} (tags: auth)."
    assert saved[0].session_id == "s-7" and saved[0].author == "test-user"
    assert saved[0].memory_type == "decision" and saved[0].tags == ["auth"]


def test_session_from_config_then_toolkit_default(memory: MemoryWorkflowPrimitive) -> None:
    save = TTAMemoryToolkit(memory=memory, session_id="default-s").get_tools()[0]
    save.invoke(call("save_memory", {"text": "from the default"}))
    save.invoke(
        call("save_memory", {"text": "from the config"}),
        config={"configurable": {"session_id": "config-s"}},
    )
    by_text = {m.text: m.session_id for m in memory.sync.search_deep_memory("", limit=10)}
    assert by_text == {"from the default": "default-s", "from the config": "config-s"}


def test_search_through_a_tool_call(
    tools: dict[str, BaseTool], memory: MemoryWorkflowPrimitive
) -> None:
    jwt = memory.sync.create_deep_memory("Refresh tokens rotate on every use", tags=["auth"])
    memory.sync.create_deep_memory("Webhooks retry with backoff", tags=["payments"])
    result = tools["search_memory"].invoke(
        call("search_memory", {"query": "token rotation", "k": 1})
    )
    assert result.content == (
        f"Found 1 memories:\n1. [{jwt.id}] Refresh tokens rotate on every use (tags: auth)"
    )
    none = tools["search_memory"].invoke({"query": "tokens", "tags": ["nothing-here"]})
    assert none == "No matching memories."


def test_get_constraints(tools: dict[str, BaseTool], memory: MemoryWorkflowPrimitive) -> None:
    assert tools["get_constraints"].invoke({}) == "No active constraints."
    pafs = memory.sync.paf_primitive
    pafs.add_paf("AUTH", "001", "Use PyJWT", rationale="lightweight")
    pafs.add_paf("DATA", "001", "PostgreSQL only")
    pafs.add_paf("AUTH", "002", "Old rule")
    pafs.deprecate_paf("AUTH-002", "superseded")
    everything = tools["get_constraints"].invoke(call("get_constraints", {})).content
    assert everything.splitlines() == [
        "Active constraints (must be followed):",
        "- **AUTH-001**: Use PyJWT (why: lightweight)",
        "- **DATA-001**: PostgreSQL only",
    ]
    only_data = tools["get_constraints"].invoke({"category": "DATA"})
    assert only_data.splitlines()[1:] == ["- **DATA-001**: PostgreSQL only"]


async def test_async_tools(memory: MemoryWorkflowPrimitive) -> None:
    save, search, constraints = create_memory_tools(memory, session_id="async-s")
    message = await save.ainvoke(call("save_memory", {"text": "Async saved fact"}))
    assert message.content.startswith("Saved memory ")
    found = await search.ainvoke(call("search_memory", {"query": "async fact"}, "c2"))
    assert "Async saved fact" in found.content
    assert await constraints.ainvoke({}) == "No active constraints."
    stored = await memory.search_deep_memory("", limit=5)
    assert [m.session_id for m in stored] == ["async-s"]


def test_tool_calls_from_a_model_message(tools: dict[str, BaseTool]) -> None:
    """The loop an agent runs: execute each tool call of an AI message."""
    ai = AIMessage(
        content="",
        tool_calls=[
            call("save_memory", {"text": "Cache keys share one hash slot"}, "a"),
            call("search_memory", {"query": "hash slot"}, "b"),
        ],
    )
    results = [tools[c["name"]].invoke(c) for c in ai.tool_calls]
    assert [r.tool_call_id for r in results] == ["a", "b"]
    assert "Cache keys share one hash slot" in results[1].content


def test_long_memories_are_clipped(memory: MemoryWorkflowPrimitive) -> None:
    memory.sync.create_deep_memory("word " * 500)
    search = TTAMemoryToolkit(memory=memory, max_chars_per_memory=50).get_tools()[1]
    line = search.invoke({"query": "word"}).splitlines()[1]
    assert line.endswith("…") and len(line) < 100


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("save_memory", {"text": ""}),
        ("save_memory", {"text": "   "}),
        ("save_memory", {"text": "ok", "tags": ["bad\x00tag"]}),
        ("save_memory", {"text": "ok", "tags": [""]}),
        ("save_memory", {"text": "ok", "session_id": "a\x00b"}),
        ("search_memory", {"query": "x", "k": 0}),
        ("get_constraints", {"category": "auth lower"}),
    ],
)
def test_bad_input_is_typed_and_stores_nothing(
    tools: dict[str, BaseTool], memory: MemoryWorkflowPrimitive, name: str, args: dict
) -> None:
    with pytest.raises(InvalidInputError):
        tools[name].invoke(call(name, args))
    assert memory.sync.search_deep_memory("", limit=10) == []


@pytest.mark.parametrize("hostile", ["auth|x", "@tags:{auth}", "*", "-auth", "a}b{c"])
def test_hostile_tags_round_trip(
    tools: dict[str, BaseTool], memory: MemoryWorkflowPrimitive, hostile: str
) -> None:
    memory.sync.create_deep_memory("plain auth memory", tags=["auth"])
    saved = tools["save_memory"].invoke({"text": "tagged oddly", "tags": [hostile]})
    found = tools["search_memory"].invoke({"query": "memory", "tags": [hostile], "k": 10})
    assert found.splitlines()[0] == "Found 1 memories:"
    assert "tagged oddly" in found and saved.startswith("Saved memory ")
