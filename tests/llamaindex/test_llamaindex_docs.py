"""The LlamaIndex section's examples (the README's LlamaIndex section) run as written, in order."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from tta_memory import MemoryWorkflowPrimitive

DOC = Path(__file__).resolve().parents[2] / "README.md"
SECTION = re.compile(r"^## LlamaIndex\n(.*?)(?=^## )", re.DOTALL | re.MULTILINE)
_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def test_examples_run(redis_url: str, workspace: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTA_MEMORY_REDIS_URL", redis_url)
    blocks = _BLOCK.findall(SECTION.search(DOC.read_text(encoding="utf-8")).group(1))
    assert len(blocks) >= 6  # setup, chat store (2), blocks, retriever, chat engine
    source = "\n".join(blocks).replace('"llamaindex-readme"', repr(workspace))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(source, str(DOC), "exec"), {"__name__": "__docs__"})
    out = printed.getvalue()
    assert "['I am Alice and I work on the auth service.', 'Hi Alice.']" in out
    assert "['message 0', 'message 1']" in out and "message 4" in out
    assert "reloaded: ['I am Alice and I work on the auth service.', 'Hi Alice.']" in out
    assert "turns flushed to deep memory" in out and "0 turns flushed" not in out
    assert "**AUTH-001**" in out and "RS256" in out  # PAFs and a flushed turn, in day 2
    assert "revokes the whole family" in out
    assert "['auth', 'jwt']" in out

    memory = MemoryWorkflowPrimitive(redis_url=redis_url, user_id="dev-alice", workspace=workspace)
    assert len(memory.sync.get_session_context("readme-chat")) == 2
    assert len(memory.sync.get_session_context("readme-rag")) == 2
    assert memory.sync.get_session_context("readme-store") == []
