"""The streamable-HTTP transport with bearer tokens: uvicorn on 127.0.0.1 (a random port) and
the SDK's client. Each token reaches exactly one workspace and user; no token, or an unknown
one, gets 401."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import TextResourceContents
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.mcp import Engines, TokenTable, http_app
from tta_memory.mcp.auth import new_token, token_entry_toml


class Tokens:
    """Two users in two workspaces, each with a token."""

    def __init__(self, workspace: str) -> None:
        self.alice, self.bob = new_token(), new_token()
        self.ws_a, self.ws_b = workspace, workspace + "-b"


@pytest.fixture
def tokens(workspace: str) -> Tokens:
    return Tokens(workspace)


@pytest.fixture
def base_url(redis_url: str, tokens: Tokens, tmp_path: Path) -> Iterator[str]:
    """The MCP endpoint of a server started for this test."""
    path = tmp_path / "tokens.toml"
    path.write_text(
        token_entry_toml(tokens.alice, tokens.ws_a, "alice", "alice laptop")
        + token_entry_toml(tokens.bob, tokens.ws_b, "bob")
    )
    app = http_app(Engines(redis_url), TokenTable.load(path), "127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def client(url: str, token: str | None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return Client(streamable_http_client(url, http_client=create_mcp_http_client(headers)))


async def call(c: Client, tool: str, **arguments: Any) -> Any:
    result = await c.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content.get("result", result.structured_content)


def raw_post(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """One JSON-RPC initialize request, as any HTTP client would send it."""
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "raw", "version": "0"},
            },
        }
    ).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            **headers,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


async def test_each_token_acts_in_its_own_workspace(
    base_url: str, tokens: Tokens, redis_url: str
) -> None:
    await MemoryWorkflowPrimitive(redis_url, "lead", workspace=tokens.ws_a).paf_primitive.add_paf(
        "BILL", "001", "Webhooks are idempotent"
    )
    async with client(base_url, tokens.alice) as a, client(base_url, tokens.bob) as b:
        pafs_a = (await a.read_resource("tta://pafs")).contents[0]
        pafs_b = (await b.read_resource("tta://pafs")).contents[0]
        with pytest.raises(MCPError, match="BILL-001"):
            await b.read_resource("tta://pafs/BILL-001")
        assert await call(b, "get_constraints") == []
        saved = await call(a, "save_memory", text="The billing service retries webhooks 5 times")
        await call(a, "append_to_session", session_id="shared-name", content="alice was here")
        await call(b, "append_to_session", session_id="shared-name", content="bob was here")
        found_a = await call(a, "search_memories", query="billing webhooks")
        found_b = await call(b, "search_memories", query="billing webhooks")
        context_b = await call(b, "load_context", session_id="shared-name")
    assert isinstance(pafs_a, TextResourceContents) and "BILL-001" in pafs_a.text
    assert isinstance(pafs_b, TextResourceContents) and "BILL-001" not in pafs_b.text
    assert [m["id"] for m in found_a] == [saved["id"]] and saved["author"] == "alice"
    assert found_b == []
    assert "bob was here" in context_b["text"] and "alice" not in context_b["text"]
    # what the engine holds, workspace by workspace
    mem_a = MemoryWorkflowPrimitive(redis_url, "check", workspace=tokens.ws_a)
    mem_b = MemoryWorkflowPrimitive(redis_url, "check", workspace=tokens.ws_b)
    assert [m.content for m in await mem_a.get_session_context("shared-name")] == ["alice was here"]
    assert [(m.content, m.user_id) for m in await mem_b.get_session_context("shared-name")] == [
        ("bob was here", "bob")
    ]
    assert await mem_b.search_deep_memory("billing webhooks") == []


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer ttam_not-a-real-token"},
        {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
    ],
    ids=["no-header", "empty-token", "unknown-token", "basic-auth"],
)
def test_missing_or_unknown_token_gets_401(base_url: str, headers: dict[str, str]) -> None:
    status, response_headers, body = raw_post(base_url, headers)
    assert status == 401
    assert response_headers.get("www-authenticate", "").startswith("Bearer")
    assert json.loads(body)["error"] == "invalid_token"


def test_a_known_token_gets_in(base_url: str, tokens: Tokens) -> None:
    status, _, _ = raw_post(base_url, {"Authorization": f"Bearer {tokens.alice}"})
    assert status == 200


def leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaves(inner)]
    return [exc]


async def test_sdk_client_with_an_unknown_token_is_refused(base_url: str, tokens: Tokens) -> None:
    with pytest.raises(BaseException) as caught:
        async with client(base_url, tokens.alice + "x") as c:
            await c.list_tools()
    # the SDK turns the 401 response into a protocol error; nothing was served
    assert any(isinstance(leaf, MCPError) for leaf in leaves(caught.value)), caught.value


def test_a_session_opened_by_one_token_cannot_be_used_by_another(
    base_url: str, tokens: Tokens
) -> None:
    status, headers, _ = raw_post(base_url, {"Authorization": f"Bearer {tokens.alice}"})
    session = {k.lower(): v for k, v in headers.items()}.get("mcp-session-id")
    assert status == 200 and session
    status, _, _ = raw_post(
        base_url, {"Authorization": f"Bearer {tokens.bob}", "Mcp-Session-Id": session}
    )
    assert status in (403, 404)  # refused; never served as alice


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_command_serves_http_with_tokens(redis_url: str, tmp_path: Path) -> None:
    """``python -m tta_memory.mcp --transport http``: the real entry point, as a process."""
    import os
    import subprocess
    import sys

    token = new_token()
    path = tmp_path / "tokens.toml"
    path.write_text(token_entry_toml(token, "ws-cmd", "carol"))
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "TTA_MEMORY_MCP_TOKENS": str(path),  # the token file through the environment
    }
    args = ["-m", "tta_memory.mcp", "--transport", "http", "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, *args, "--redis-url", redis_url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _, _ = raw_post(url, {})
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert status == 401
        assert raw_post(url, {"Authorization": f"Bearer {token}"})[0] == 200
        assert raw_post(url, {"Authorization": "Bearer " + token[:-1]})[0] == 401
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/mcp (1 token(s))" in err
