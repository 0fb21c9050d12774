"""Smoke run of the embeddings benchmark (ONNX path): the harness works and reports sane figures.

Harness correctness only: tiny sizes, no timing assertions.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import __main__ as bench_main
from benchmarks import harness as h
from benchmarks.locomo_data import resolve_data_path


def _have_data() -> bool:
    try:
        resolve_data_path(None, h.REPO_ROOT)
    except FileNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _have_data(), reason="../shared/data/locomo10.json not present")
async def test_embed_smoke(
    redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks import embed

    args = bench_main.build_parser().parse_args(
        ["embed", "--smoke", "--out", str(tmp_path), "--paths", "onnx", "--no-plots"]
    )
    payload = await embed.run(args, redis_url)
    assert json.loads((tmp_path / "embed.json").read_text())["benchmark"] == "embed"
    res = payload["results"]
    assert res["first"]["onnx"]["first_call_s"] > 0
    assert res["throughput"]["onnx"] > 0
    overall = res["recall"]["onnx"]["overall"]
    assert overall["n"] > 0
    assert 0.0 <= overall["R@5"] <= overall["R@10"] <= overall["R@25"] <= 100.0
    mb = res["micro_batching"]
    # Every text went through the batcher, in fewer model calls than callers.
    assert mb["model_calls"] < embed.SIZES["smoke"]["singles"]
    assert "torch" not in res["first"]  # not asked for
    # The printed header names the server without its password (logs get shared).
    password = redis_url.partition("password=")[2]
    printed = capsys.readouterr().out
    assert password and password not in printed and "password=***" in printed
