"""The quickstart notebook runs top to bottom on the test server (a real Jupyter kernel)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def run_notebook(path: Path, redis_url: str, workspace: str) -> nbformat.NotebookNode:
    """Execute a notebook with the test server and a fresh workspace in its environment."""
    nb = nbformat.read(path, as_version=4)
    env = {"TTA_MEMORY_REDIS_URL": redis_url, "TTA_MEMORY_WORKSPACE": workspace,
           "HF_HUB_OFFLINE": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def outputs(nb: nbformat.NotebookNode) -> str:
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.get("outputs", []))


def test_quickstart_notebook(redis_url: str, workspace: str) -> None:
    nb = run_notebook(NOTEBOOKS / "quickstart.ipynb", redis_url, workspace)
    text = outputs(nb)
    # plan/STANDARD: the session message; its cache copy is not counted twice
    assert "Loaded 1 memories" in text
    assert "Active PAFs: 1" in text
    assert "**AUTH-001**: Use PyJWT" in text
    assert "Feature 'Authentication Feature' completed!" in text
    assert "1 messages in the day-2 session" in text
