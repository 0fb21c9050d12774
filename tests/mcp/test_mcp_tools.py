"""The MCP server's tools and resources, through the SDK's client connected in-process."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent, TextResourceContents
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.mcp import Engines, build_server, fixed_identity

TOOLS = {"save_memory", "search_memories", "get_constraints", "load_context", "append_to_session"}


@pytest.fixture
def server(redis_url: str, workspace: str) -> MCPServer:
    return build_server(Engines(redis_url), fixed_identity(workspace, "test-user"))


def text_of(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


async def call(client: Client, tool: str, **arguments: Any) -> Any:
    """Call a tool that must succeed; return its structured result."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    structured = result.structured_content
    assert structured is not None
    return structured.get("result", structured)


async def test_lists_the_five_tools_with_schemas(server: MCPServer) -> None:
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description, tool.name
    assert tools["save_memory"].input_schema["required"] == ["text"]
    assert tools["load_context"].input_schema["required"] == ["session_id"]
    # no tool lets a caller pick the workspace or user: they come from configuration
    for tool in tools.values():
        assert not {"workspace", "user_id", "user"} & set(tool.input_schema["properties"])


# "legacy": JSON-RPC over in-memory streams after the initialize handshake; "auto": the SDK's
# direct in-process dispatch.
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_save_then_search_finds_the_memory(
    server: MCPServer, memory: MemoryWorkflowPrimitive, mode: str
) -> None:
    async with Client(server, mode=mode) as client:
        saved = await call(
            client,
            "save_memory",
            text="We sign JWTs with RS256 and rotate keys monthly",
            tags=["auth"],
            memory_type="decision",
        )
        await call(client, "save_memory", text="The CI pipeline caches pip wheels")
        found = await call(client, "search_memories", query="how are tokens signed?", limit=1)
    assert saved["author"] == "test-user" and saved["tags"] == ["auth"]
    assert [m["id"] for m in found] == [saved["id"]]
    # it is the engine's memory, in the configured workspace
    stored = await memory.get_deep_memory(saved["id"])
    assert stored.memory_type == "decision"


async def test_constraints_tool_and_resources(
    server: MCPServer, memory: MemoryWorkflowPrimitive
) -> None:
    await memory.paf_primitive.add_paf(
        "AUTH", "001", "Tokens expire after 15 minutes", rationale="limits replay"
    )
    await memory.paf_primitive.add_paf("DB", "002", "PostgreSQL is the only database")
    await memory.paf_primitive.add_paf("DB", "003", "Use MongoDB")
    await memory.paf_primitive.deprecate_paf("DB-003", reason="replaced")
    async with Client(server) as client:
        every = await call(client, "get_constraints")
        db = await call(client, "get_constraints", category="DB")
        listing = await client.list_resources()
        templates = await client.list_resource_templates()
        markdown = await client.read_resource("tta://pafs")
        one = await client.read_resource("tta://pafs/DB-003")
        with pytest.raises(MCPError, match="DB-999"):
            await client.read_resource("tta://pafs/DB-999")
    assert [p["id"] for p in every] == ["AUTH-001", "DB-002"]
    assert [p["id"] for p in db] == ["DB-002"]
    assert [str(r.uri) for r in listing.resources] == ["tta://pafs"]
    assert [t.uri_template for t in templates.resource_templates] == ["tta://pafs/{paf_id}"]
    (md,) = markdown.contents
    assert isinstance(md, TextResourceContents)
    assert md.text == (
        "- **AUTH-001**: Tokens expire after 15 minutes (why: limits replay)\n"
        "- **DB-002**: PostgreSQL is the only database\n"
    )
    (paf,) = one.contents
    assert isinstance(paf, TextResourceContents)
    assert json.loads(paf.text)["status"] == "deprecated"


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_append_then_load_stage_aware_context(
    server: MCPServer, memory: MemoryWorkflowPrimitive, mode: str
) -> None:
    await memory.paf_primitive.add_paf("AUTH", "001", "Tokens expire after 15 minutes")
    async with Client(server, mode=mode) as client:
        await call(client, "save_memory", text="Refresh tokens live in an httpOnly cookie")
        first = await call(client, "append_to_session", session_id="s1", content="Add refresh")
        await call(client, "append_to_session", session_id="s1", content="On it", role="assistant")
        loaded = await call(client, "load_context", session_id="s1", stage="implement")
        rapid = await call(client, "load_context", session_id="s1", stage="plan", mode="rapid")
        tight = await call(client, "load_context", session_id="s1", max_chars=10)
        tokens = await call(client, "load_context", session_id="s1", max_tokens=12)
    assert first["seq"] == 1 and first["role"] == "user"
    assert [m.content for m in await memory.get_session_context("s1")] == ["Add refresh", "On it"]
    text = loaded["text"]
    assert loaded["stage"] == "implement" and loaded["mode"] == "standard"
    assert text.index("AUTH-001") < text.index("httpOnly cookie") < text.index("user: Add refresh")
    assert loaded["counts"]["paf"] == 1 and loaded["counts"]["session"] == 2
    assert rapid["mode"] == "rapid" and "deep" not in rapid["counts"]
    # a tiny budget drops everything but the constraints
    assert "AUTH-001" in tight["text"] and "Add refresh" not in tight["text"]
    assert tight["over_budget"] is True
    # a token budget: the constraints stay whole, the rest must fit in what is left
    assert "AUTH-001" in tokens["text"] and "Add refresh" not in tokens["text"]
    assert loaded["over_budget"] is False


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("save_memory", {"text": ""}, "text"),
        ("save_memory", {"text": 42}, "text"),
        ("save_memory", {}, "text"),
        ("search_memories", {"query": "x", "limit": 0}, "limit"),
        ("get_constraints", {"category": "lower"}, "category"),
        ("load_context", {"session_id": "s", "stage": "dance"}, "stage"),
        ("load_context", {"session_id": "s", "mode": "ludicrous"}, "mode"),
        ("load_context", {"session_id": "", "stage": "plan"}, "session_id"),
        ("load_context", {"session_id": "s", "max_chars": -1}, "max_chars"),
        ("load_context", {"session_id": "s", "max_tokens": 0}, "max_tokens"),
        ("append_to_session", {"session_id": "s", "content": "hi", "role": "robot"}, "role"),
        ("append_to_session", {"session_id": "a\x00b", "content": "hi"}, "session_id"),
        ("no_such_tool", {}, "no_such_tool"),
    ],
)
async def test_bad_input_is_a_clean_tool_error(
    server: MCPServer,
    memory: MemoryWorkflowPrimitive,
    tool: str,
    arguments: dict[str, Any],
    message: str,
) -> None:
    async with Client(server) as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error
    text = text_of(result)
    assert message in text
    assert "Traceback" not in text and 'File "' not in text
    assert await memory.list_sessions() == []


async def test_identity_comes_from_configuration(redis_url: str, workspace: str) -> None:
    engines = Engines(redis_url)
    alice = build_server(engines, fixed_identity(workspace, "alice"))
    other = build_server(engines, fixed_identity(workspace + "-other", "bob"))
    async with Client(alice) as a, Client(other) as b:
        await call(a, "save_memory", text="alice's private note about the billing service")
        assert await call(b, "search_memories", query="billing service") == []
        found = await call(a, "search_memories", query="billing service")
    assert [m["author"] for m in found] == ["alice"]
