"""The README's LangGraph store and agent-middleware examples run as written and print what
the text says they print."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from tta_memory import MemoryWorkflowPrimitive

import tta_memory_langchain  # noqa: F401 - imports langchain_core before the warning filters apply

DOC = Path(__file__).resolve().parents[2] / "README.md"
# From the LangChain section's start to its first subsection after the LangGraph ones.
SECTION = re.compile(r"^## LangChain\n(.*?)(?=^### Chat message history)", re.DOTALL | re.MULTILINE)
_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def test_langgraph_examples_run(
    redis_url: str, workspace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TTA_MEMORY_REDIS_URL", redis_url)
    blocks = _BLOCK.findall(SECTION.search(DOC.read_text(encoding="utf-8")).group(1))
    assert len(blocks) == 4
    source = "\n".join(blocks).replace('"langchain-readme"', repr(workspace))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(source, str(DOC), "exec"), {"__name__": "__docs__"})
    lines = printed.getvalue().splitlines()
    assert lines[0] == "{'content': 'Alice writes code in Neovim'}"
    assert lines[1] == "['city']"
    assert lines[2] == "[('memories', 'alice'), ('memories', 'bob')]"
    assert "**AUTH-001**: Use PyJWT" in "\n".join(lines)
    assert lines[-1] == "Sign them with PyJWT, per AUTH-001."

    memory = MemoryWorkflowPrimitive(redis_url=redis_url, user_id="dev-alice", workspace=workspace)
    recorded = memory.sync.get_session_context("agent-thread-1")
    assert [m.role for m in recorded] == ["user", "assistant"]
