"""The quickstart notebook runs top to bottom on the test server (a real Jupyter kernel), twice
in the same workspace: it empties its workspace first, so a re-run shows the same results."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def outputs(nb: nbformat.NotebookNode) -> str:
    return "\n".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )


def images(nb: nbformat.NotebookNode) -> int:
    return sum(
        "image/png" in o.get("data", {})
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )


def stderr(nb: nbformat.NotebookNode) -> list[str]:
    return [
        o.get("text", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("name") == "stderr" or "Warning" in o.get("text", "")
    ]


def test_quickstart_notebook(
    run_notebook: Callable[[Path], nbformat.NotebookNode],
) -> None:
    for _ in range(2):  # the second run proves the reset: no ConflictError, same results
        nb = run_notebook(NOTEBOOKS / "quickstart.ipynb")
        text = outputs(nb)
        # plan/STANDARD: the session message; its cache copy is not counted twice
        assert "Loaded 1 memories" in text
        assert "Active PAFs: 1" in text
        assert "**AUTH-001**: Use PyJWT" in text
        assert "understand deep memories, R < S < A: [0, 10, 20]" in text
        assert "Feature 'Authentication Feature' completed!" in text
        assert "1 messages in the day-2 session" in text
        assert "password=" not in text or "password=***" in text
        assert images(nb) == 1  # what each stage and mode loads, per layer
        assert stderr(nb) == []


def test_stored_notebooks_are_executed_without_warnings() -> None:
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
        assert any(c.get("outputs") for c in code), f"{path.name} is stored without outputs"
        assert stderr(nb) == [], path.name
