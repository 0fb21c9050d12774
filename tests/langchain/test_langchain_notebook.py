"""notebooks/langchain_memory.ipynb runs top to bottom against the test server."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from tta_memory import MemoryWorkflowPrimitive

from tta_memory_langchain import TTAChatMessageHistory

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "langchain_memory.ipynb"


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def test_notebook_executes(redis_url: str, workspace: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel is a subprocess: it inherits these variables.
    monkeypatch.setenv("TTA_MEMORY_REDIS_URL", redis_url)
    monkeypatch.setenv("TTA_MEMORY_WORKSPACE", workspace)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()

    output = "\n".join(_text(cell) for cell in nb.cells if cell.cell_type == "code")
    assert "memory injected into the prompt" in output
    assert "AUTH-001" in output
    assert "Saved memory" in output
    assert "TTAMemoryChain" in output

    # What the notebook wrote is in the workspace it was given, nowhere else.
    memory = MemoryWorkflowPrimitive(redis_url=redis_url, user_id="dev-alice", workspace=workspace)
    day1 = TTAChatMessageHistory("auth-research-day1", memory=memory).messages
    day2 = TTAChatMessageHistory("auth-impl-day2", memory=memory).messages
    assert [m.type for m in day1] == ["human", "ai", "human", "ai"]
    assert len(day2) == 6
    assert day2[-1].content == "Done: tokens are signed with PyJWT."
