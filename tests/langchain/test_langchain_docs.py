"""The LangChain section's examples (the README's LangChain section) run as written, in order."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from tta_memory import MemoryWorkflowPrimitive

import tta_memory_langchain  # noqa: F401 - imports langchain_core before the test's warning filters apply

DOC = Path(__file__).resolve().parents[2] / "README.md"
SECTION = re.compile(r"^## LangChain\n(.*?)(?=^## )", re.DOTALL | re.MULTILINE)
_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def test_examples_run(redis_url: str, workspace: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTA_MEMORY_REDIS_URL", redis_url)
    blocks = _BLOCK.findall(SECTION.search(DOC.read_text(encoding="utf-8")).group(1))
    assert len(blocks) >= 6
    source = "\n".join(blocks).replace('"langchain-readme"', repr(workspace))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(source, str(DOC), "exec"), {"__name__": "__docs__"})
    out = printed.getvalue()
    assert "Sign with PyJWT." in out and "AUTH-001" in out and "Saved memory" in out

    memory = MemoryWorkflowPrimitive(redis_url=redis_url, user_id="dev-alice", workspace=workspace)
    assert len(memory.sync.get_session_context("readme-chat")) == 4
    assert len(memory.sync.get_session_context("auth-impl-1")) == 4
    assert memory.sync.get_session_context("user123") == []
