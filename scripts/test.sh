#!/usr/bin/env bash
# The README's test command: a fresh venv, the CPU build of torch, the dev extra, then pytest.
# `scripts/test.sh --lint [pytest args]` first runs ruff check, ruff format --check and mypy in
# the same venv and stops at the first finding (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
lint=0
if [[ "${1:-}" == "--lint" ]]; then
    lint=1
    shift
fi
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
# The CPU wheel first: plain `torch` would pull a multi-GB CUDA build.
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e ".[dev]"
if [[ $lint == 1 ]]; then
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    .venv/bin/mypy
fi
HF_HUB_OFFLINE=1 .venv/bin/python -m pytest -q "$@"
