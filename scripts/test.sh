#!/usr/bin/env bash
# The README's test command: a fresh venv, the CPU build of torch, the dev extra, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
# The CPU wheel first: plain `torch` would pull a multi-GB CUDA build.
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e ".[dev]"
HF_HUB_OFFLINE=1 .venv/bin/python -m pytest -q "$@"
