"""notebooks/langchain_memory.ipynb runs top to bottom against the test server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat
from tta_memory import MemoryWorkflowPrimitive

from tta_memory_langchain import TTAChatMessageHistory

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "langchain_memory.ipynb"


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def test_notebook_executes(
    run_notebook: Callable[[Path], nbformat.NotebookNode], redis_url: str, workspace: str
) -> None:
    nb = run_notebook(NOTEBOOK)

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
