"""The LlamaIndex notebook runs top to bottom on the test server (a real Jupyter kernel)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "llamaindex_memory.ipynb"


def _outputs(nb: nbformat.NotebookNode) -> str:
    return "\n".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )


def test_llamaindex_notebook(
    redis_url: str, workspace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel inherits this environment: the test server and a fresh workspace.
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
    text = _outputs(nb)
    assert "all checks passed" in text
    assert "**AUTH-001**" in text
    assert "flushed (archived): 0" not in text
