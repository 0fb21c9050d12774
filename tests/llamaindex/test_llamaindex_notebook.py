"""The LlamaIndex notebook runs top to bottom on the test server (a real Jupyter kernel)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "llamaindex_memory.ipynb"


def _outputs(nb: nbformat.NotebookNode) -> str:
    return "\n".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )


def test_llamaindex_notebook(run_notebook: Callable[[Path], nbformat.NotebookNode]) -> None:
    nb = run_notebook(NOTEBOOK)
    text = _outputs(nb)
    assert "all checks passed" in text
    assert "**AUTH-001**" in text
    assert "flushed (archived): 0" not in text
