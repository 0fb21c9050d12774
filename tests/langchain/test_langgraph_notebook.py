"""notebooks/langgraph_agent.ipynb runs top to bottom against the test server, twice (a re-run
on the same workspace gives the same stored state)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat
from tta_memory import MemoryWorkflowPrimitive

from tta_memory_langchain import TTAStore

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "langgraph_agent.ipynb"


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def test_notebook_executes_and_reruns(
    run_notebook: Callable[[Path], nbformat.NotebookNode], redis_url: str, workspace: str
) -> None:
    for _ in range(2):
        nb = run_notebook(NOTEBOOK)
    turns = [_text(c) for c in nb.cells if c.cell_type == "code" and "memory injected" in _text(c)]
    assert len(turns) == 4
    first, second, other_thread, rapid = turns
    assert "**AUTH-001**: Use PyJWT" in first and "Refresh tokens are stored hashed" in first
    assert "tool call: manage_memory" in first
    assert "Conversation so far" not in second  # the thread already holds its turns
    # A new thread sees the first thread's exchanges as recent activity, and finds the
    # preference the agent saved through the store.
    assert "## Recent activity" in other_thread
    assert "(refresh-tokens-design): We're adding refresh tokens." in other_thread
    assert "Alice wants access tokens to live 15 minutes" in other_thread.split("tool result:")[1]
    assert "verify/rapid" in rapid

    # What the notebook wrote is in the workspace it was given, once, after two runs.
    memory = MemoryWorkflowPrimitive(redis_url=redis_url, user_id="dev-alice", workspace=workspace)
    store = TTAStore(memory=memory)
    assert [i.value for i in store.search(("memories",))] == [
        {"content": "Alice wants access tokens to live 15 minutes"}
    ]
    for thread in ("refresh-tokens-design", "refresh-tokens-impl"):
        assert len(memory.sync.get_session_context(thread)) == 4
