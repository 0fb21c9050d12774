"""Execute the notebooks in place against a throwaway embedded Redis, so they are stored with
their outputs (``python scripts/execute_notebooks.py [NAME ...]``).

Each notebook uses its own fixed workspace and empties it first, so the stored outputs are what a
reader gets on a fresh server. Outputs are checked for warnings (a stderr stream or a
``Warning`` in the text) and the script fails if any cell shows one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
# benchmark_results is stored from real benchmark runs (python -m benchmarks), not from here.
DEFAULT = ["quickstart", "langchain_memory", "llamaindex_memory"]


def warnings_in(nb: object) -> list[str]:
    """Output texts of ``nb`` that hold a warning."""
    found = []
    for cell in getattr(nb, "cells", []):
        for out in cell.get("outputs", []):
            text = out.get("text", "")
            if (out.get("name") == "stderr" and text.strip()) or "Warning" in text:
                found.append(text.strip()[:300])
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=DEFAULT, help="notebook names (no .ipynb)")
    args = parser.parse_args(argv)
    import nbformat
    from nbclient import NotebookClient
    from tta_memory import EmbeddedRedis

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.pop("TTA_MEMORY_WORKSPACE", None)  # each notebook's own workspace
    failed = False
    with (
        tempfile.TemporaryDirectory(prefix="tta-nb-") as tmp,
        EmbeddedRedis(data_dir=Path(tmp) / "data", socket_dir=Path(tmp) / "run") as server,
    ):
        os.environ["TTA_MEMORY_REDIS_URL"] = server.url
        for name in args.names:
            path = NOTEBOOKS / f"{name}.ipynb"
            nb = nbformat.read(path, as_version=4)
            NotebookClient(
                nb,
                timeout=600,
                kernel_name="python3",
                resources={"metadata": {"path": str(NOTEBOOKS)}},
            ).execute()
            problems = warnings_in(nb)
            nbformat.write(nb, path)
            print(f"{name}: executed, {len(problems)} warning(s)")
            for text in problems:
                print(f"  {text}")
            failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
