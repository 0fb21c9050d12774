"""``python -m tta_memory.mcp`` as a stdio subprocess driven by the SDK's client, and the
command's configuration errors."""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp_types import TextResourceContents
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.mcp import TokenTable, hash_token, main


def server_env(**extra: str) -> dict[str, str]:
    """The subprocess environment: this tree's sources first, offline model."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("TTA_MEMORY_")},
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "HF_HUB_OFFLINE": "1",
        **extra,
    }


async def test_stdio_subprocess_session(
    redis_url: str, workspace: str, memory: MemoryWorkflowPrimitive
) -> None:
    await memory.paf_primitive.add_paf("API", "001", "Every endpoint is versioned under /v1")
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "tta_memory.mcp", "--redis-url", redis_url, "--user", "carol"],
        # the workspace through the environment, the user through a flag
        env=server_env(TTA_MEMORY_WORKSPACE=workspace),
    )
    async with Client(params) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        saved = await client.call_tool("save_memory", {"text": "Pagination uses opaque cursors"})
        appended = await client.call_tool(
            "append_to_session", {"session_id": "stdio-1", "content": "add paging to /v1/items"}
        )
        context = await client.call_tool("load_context", {"session_id": "stdio-1", "stage": "plan"})
        bad = await client.call_tool("append_to_session", {"session_id": "", "content": "x"})
        pafs = await client.read_resource("tta://pafs")
    assert tools == {
        "save_memory", "search_memories", "get_constraints", "load_context", "append_to_session"
    }  # fmt: skip
    assert not saved.is_error and not appended.is_error and not context.is_error
    assert context.structured_content is not None
    text = context.structured_content["text"]
    assert "API-001" in text and "opaque cursors" in text and "add paging" in text
    assert bad.is_error and "session_id" in str(bad.content)
    (md,) = pafs.contents
    assert isinstance(md, TextResourceContents) and "API-001" in md.text
    # written by carol, in the configured workspace
    (message,) = await memory.get_session_context("stdio-1")
    assert message.user_id == "carol"


def test_new_token_appends_a_hash_only_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tokens.toml"
    assert (
        main(["new-token", "--workspace", "team-a", "--user", "alice", "--tokens", str(path)]) == 0
    )
    token_a = capsys.readouterr().out.strip()
    assert main(["new-token", "--workspace", "team-b", "--user", "bob", "--tokens", str(path)]) == 0
    token_b = capsys.readouterr().out.strip()
    stored = path.read_text()
    assert token_a not in stored and token_b not in stored  # only hashes are written
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    rows = tomllib.loads(stored)["token"]
    assert [r["sha256"] for r in rows] == [hash_token(token_a), hash_token(token_b)]
    table = TokenTable.load(path)
    entry_a, entry_b = table.lookup(token_a), table.lookup(token_b)
    assert entry_a is not None and (entry_a.workspace, entry_a.user_id) == ("team-a", "alice")
    assert entry_b is not None and (entry_b.workspace, entry_b.user_id) == ("team-b", "bob")
    assert table.lookup(token_a + "x") is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--transport", "http"], "token file"),
        (["--transport", "http", "--tokens", "/nonexistent/tokens.toml"], "does not exist"),
        (["--workspace", "bad\x00ws"], "workspace"),
        (["--redis-url", "http://localhost:8080"], "not a Redis URL"),
    ],
)
def test_configuration_errors_exit_2_without_traceback(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TTA_MEMORY_MCP_TOKENS", raising=False)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[[token]]\nsha256 = 'abc'\nworkspace = 'w'\nuser_id = 'u'\n", "sha256"),
        ("[[token]]\nsha256 = '" + "a" * 64 + "'\nuser_id = 'u'\n", "workspace"),
        ("[[token]]\nsha256 = '" + "a" * 64 + "'\nworkspace = ''\nuser_id = 'u'\n", "workspace"),
        ("token = 'x'\n", "[[token]]"),
        ("not toml at all [", "not valid TOML"),
        (2 * ("[[token]]\nsha256 = '" + "b" * 64 + "'\nworkspace = 'w'\nuser_id = 'u'\n"), "twice"),
        ("", "no tokens"),
    ],
    ids=[
        "short-hash",
        "no-workspace",
        "empty-workspace",
        "not-a-table",
        "bad-toml",
        "dup",
        "empty",
    ],
)
def test_bad_token_files_are_refused_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text(content)
    assert main(["--transport", "http", "--tokens", str(path), "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_readme_configuration_blocks_are_valid() -> None:
    """The MCP section's client configurations parse, and their arguments are the command's."""
    import json
    import re

    from tta_memory.mcp.command import _serve_parser

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## MCP\n(.*?)(?=^## )", readme, re.DOTALL | re.MULTILINE)
    assert section is not None
    configs = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", section.group(1), re.S)]
    servers = [c["mcpServers"]["tta-memory"] for c in configs]
    assert len(servers) == 2
    stdio, http = servers
    assert stdio["command"] == "tta-memory" and stdio["args"][0] == "mcp"
    args = _serve_parser().parse_args(stdio["args"][1:])
    assert (args.workspace, args.user, args.transport) == ("my-project", "alice", "stdio")
    assert http["url"].endswith("/mcp") and http["headers"]["Authorization"].startswith("Bearer ")
    (toml_block,) = re.findall(r"```toml\n(.*?)```", section.group(1), re.S)
    (entry,) = tomllib.loads(toml_block)["token"]
    assert set(entry) == {"name", "sha256", "workspace", "user_id"}


def test_without_the_mcp_extra_main_says_what_to_install() -> None:
    import subprocess

    code = (
        "import sys; sys.modules['mcp'] = None\n"  # as if the SDK were not installed
        "from tta_memory.mcp import main\n"
        "raise SystemExit(main(['--workspace', 'w']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=server_env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "pip install 'tta-memory[mcp]'" in done.stderr and "Traceback" not in done.stderr
