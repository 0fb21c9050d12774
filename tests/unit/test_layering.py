"""The engine's layering holds: sibling stores never import each other, stores never reach up
into loading, cross-layer code or the facades, and adapters use no store internals."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "shared" / "tta_memory"
UP = ("tta_memory.loading", "tta_memory.crosslayer", "tta_memory.workflow", "tta_memory.transfer")


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def store_of(path: Path) -> str:
    rel = path.relative_to(ENGINE / "stores").with_suffix("")
    return rel.parts[0]


STORE_FILES = sorted(p for p in (ENGINE / "stores").rglob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("path", STORE_FILES, ids=lambda p: str(p.relative_to(ENGINE)))
def test_a_store_imports_no_sibling_and_nothing_above_it(path):
    mine = store_of(path)
    for module in imports(path):
        if module.startswith("tta_memory.stores."):
            assert module.split(".")[2] == mine, module
        assert not module.startswith(UP), module
        assert module not in ("tta_memory.paf", "tta_memory.groups", "tta_memory.base"), module


@pytest.mark.parametrize("package", ["tta_memory_langchain", "tta_memory_llamaindex"])
def test_adapters_use_no_store_internals(package):
    for path in (ROOT / package).glob("*.py"):
        for module in imports(path):
            assert not module.startswith("tta_memory.stores"), (path.name, module)
