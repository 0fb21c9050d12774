"""The quickstart notebook runs top to bottom on the test server (a real Jupyter kernel)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def outputs(nb: nbformat.NotebookNode) -> str:
    return "\n".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )


def test_quickstart_notebook(
    run_notebook: Callable[[Path], nbformat.NotebookNode],
) -> None:
    nb = run_notebook(NOTEBOOKS / "quickstart.ipynb")
    text = outputs(nb)
    # plan/STANDARD: the session message; its cache copy is not counted twice
    assert "Loaded 1 memories" in text
    assert "Active PAFs: 1" in text
    assert "**AUTH-001**: Use PyJWT" in text
    assert "Feature 'Authentication Feature' completed!" in text
    assert "1 messages in the day-2 session" in text
