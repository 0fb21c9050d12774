#!/usr/bin/env bash
# The README's test command: a fresh venv, the dev extra (no torch anywhere in it), then pytest.
# `scripts/test.sh --lint [pytest args]` first runs ruff check, ruff format --check and mypy in
# the same venv and stops at the first finding (what CI runs).
# With TTA_MEMORY_TEST_TORCH=1 (CI sets it in .ci/run) the sentence-transformers option is
# installed too, so its tests (same vectors as the default ONNX model) run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
lint=0
if [[ "${1:-}" == "--lint" ]]; then
    lint=1
    shift
fi
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e ".[dev]"
if [[ "${TTA_MEMORY_TEST_TORCH:-0}" == "1" ]]; then
    # torch pinned first: on Linux an unpinned `torch` from PyPI is a multi-GB CUDA build.
    .venv/bin/pip install -q torch==2.13.0
    .venv/bin/pip install -q -e ".[st]"
fi
if [[ $lint == 1 ]]; then
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    .venv/bin/mypy
fi
HF_HUB_OFFLINE=1 .venv/bin/python -m pytest -q "$@"
