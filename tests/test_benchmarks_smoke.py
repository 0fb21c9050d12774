"""Smoke runs of every benchmark: the harness works end to end and writes well-formed results.

Correctness of the harness only — tiny sizes, no timing assertions anywhere.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import __main__ as bench_main
from benchmarks import harness as h
from benchmarks.bm25 import BM25
from benchmarks.locomo_data import (
    RecallAccumulator,
    clean_evidence,
    load_locomo,
    parse_session_time,
    recall_at_k,
    resolve_data_path,
)

HAVE_PLOTS = importlib.util.find_spec("matplotlib") is not None


def _data_path() -> Path | None:
    try:
        return resolve_data_path(None, h.REPO_ROOT)
    except FileNotFoundError:
        return None


def _args(which: str, out: Path, *extra: str) -> Any:
    argv = [which, "--smoke", "--out", str(out), *extra]
    if not HAVE_PLOTS:
        argv.append("--no-plots")
    return bench_main.build_parser().parse_args(argv)


def _check_payload(payload: dict[str, Any], name: str, out: Path) -> None:
    latest = out / f"{name}.json"
    assert latest.is_file()
    assert json.loads(latest.read_text())["benchmark"] == name
    assert payload["machine"]["cores"]
    assert "|" in payload["table"]
    for png in payload.get("plots", []):
        assert Path(png).is_file() and Path(png).stat().st_size > 0


# ----------------------------------------------------------------------- pure helpers


def test_summarize_and_ratio() -> None:
    stats = h.summarize([0.001] * 98 + [0.010, 0.020], wall=0.128)
    assert stats.n == 100
    assert stats.p50 == pytest.approx(1.0)
    assert stats.p99 > stats.p95 >= stats.p50
    assert stats.ops_per_s == pytest.approx(100 / 0.128)
    assert h.summarize([]).n == 0
    assert h.ratio(2.0, 5.0) == "2.50×"
    assert h.ratio(None, 5.0) == "-"


def test_format_table_aligns_columns() -> None:
    table = h.format_table(["a", "bb"], [[1.23456, "x"], [12345.0, None]])
    lines = table.splitlines()
    assert len({len(line) for line in lines}) == 1
    assert "1.23" in table and "12,345" in table and "-" in lines[-1]


def test_clean_evidence_protocol_cases() -> None:
    known = {"D8:6", "D9:17", "D11:26", "D30:5", "D9:1", "D4:4"}
    assert clean_evidence(["D8:6; D9:17"], known) == {"D8:6", "D9:17"}
    assert clean_evidence(["D:11:26"], known) == {"D11:26"}
    assert clean_evidence(["D30:05"], known) == {"D30:5"}
    assert clean_evidence(["D9:1 D4:4 D4:6"], known) == {"D9:1", "D4:4"}
    assert clean_evidence(["D", "D99:1"], known) == frozenset()


def test_recall_and_accumulator() -> None:
    ev = frozenset({"D1:1", "D1:2"})
    assert recall_at_k(["D1:1", "x", "D1:2"], ev, 2) == 0.5
    acc = RecallAccumulator(ks=(1, 3))
    acc.add(4, ["D1:1", "x", "D1:2"], ev)
    acc.add(1, ["y"], ev)
    res = acc.result()
    assert res["single-hop"]["R@3"] == 100.0
    assert res["overall"]["R@1"] == 25.0 and res["overall"]["n"] == 2


def test_parse_session_time() -> None:
    when = parse_session_time("1:56 pm on 8 May, 2023")
    assert when is not None and (when.year, when.month, when.day, when.hour) == (2023, 5, 8, 13)
    assert parse_session_time("not a date") is None


def test_bm25_ranks_matching_document_first() -> None:
    bm25 = BM25(["the cat sat", "dogs bark loudly", "a cat and a dog"])
    assert bm25.top_k("cat", 2)[0] in (0, 2)
    assert bm25.top_k("bark", 1) == [1]


@pytest.mark.skipif(_data_path() is None, reason="../shared/data/locomo10.json not present")
def test_locomo_loader_and_bm25_reference_row() -> None:
    """The protocol code reproduces the README's counts and its BM25 row exactly."""
    path = _data_path()
    assert path is not None
    conversations = load_locomo(path)
    assert sum(len(c.turns) for c in conversations) == 5882
    assert sum(len(c.questions) for c in conversations) == 1982
    assert sum(c.dropped_questions for c in conversations) == 4
    acc = RecallAccumulator()
    for conv in conversations:
        bm25 = BM25([t.text for t in conv.turns])
        for q in conv.questions:
            acc.add(
                q.category, [conv.turns[i].dia_id for i in bm25.top_k(q.question, 25)], q.evidence
            )
    overall = acc.result()["overall"]
    assert [round(overall[f"R@{k}"], 1) for k in (5, 10, 25)] == [45.7, 53.3, 62.6]


async def test_command_recorder_groups_round_trips(redis_url: str) -> None:
    import redis.asyncio as aredis

    client = aredis.Redis.from_url(redis_url)
    try:
        await client.ping()
        with h.CommandRecorder() as rec:
            await client.set("bench:smoke:k", "v")
            async with client.pipeline(transaction=False) as pipe:
                pipe.get("bench:smoke:k")
                pipe.strlen("bench:smoke:k")
                await pipe.execute()
        assert len(rec.trips) == 2
        assert rec.command_names() == ["SET", "GET", "STRLEN"]
        assert [c[0] for c in h.replayable(rec.trips)] == ["SET", "GET", "STRLEN"]
        await client.delete("bench:smoke:k")
    finally:
        await client.aclose()


# ----------------------------------------------------------------------- smoke runs


async def test_session_layer_smoke(redis_url: str, tmp_path: Path) -> None:
    from benchmarks import session_layer

    payload = await session_layer.run(_args("session", tmp_path), redis_url)
    _check_payload(payload, "session_layer", tmp_path)
    engine = payload["results"]["tta-memory (async)"]
    assert engine["append"]["n"] == session_layer.SIZES["smoke"]["appends"]
    assert {"read50_of_50", "read50_of_long", "concurrent_4"} <= set(engine)


async def test_ingest_smoke(redis_url: str, tmp_path: Path) -> None:
    from benchmarks import ingest, ingest_paired

    payload = await ingest.run(_args("ingest", tmp_path), redis_url)
    _check_payload(payload, "ingest", tmp_path)
    engine = payload["results"]["tta-memory"]
    assert engine["batched"]["n"] == ingest.SIZES["smoke"]["batched"]
    assert engine["single"]["per_s"] > 0
    assert (
        engine["write_only_concurrent_16_singles"]["n"]
        == ingest.SIZES["smoke"]["write_only_singles"]
    )
    paired = payload["results"]["paired"]
    assert len(paired["rounds"]) == ingest.SIZES["smoke"]["paired_rounds"]
    assert set(paired["median_share"]) == set(ingest_paired.MODES)
    assert set(paired["median_cpu_share"]) == set(ingest_paired.MODES)
    assert paired["lone_n"] == ingest.SIZES["smoke"]["paired_lone"]
    # A peer that cannot run is reported, never given a made-up number.
    for name in ("mem0 (local Qdrant)", "mem0 (Redis)"):
        assert (name in payload["results"]) != (name in payload["errors"])


@pytest.mark.skipif(_data_path() is None, reason="../shared/data/locomo10.json not present")
async def test_locomo_smoke(redis_url: str, tmp_path: Path) -> None:
    from benchmarks import locomo

    payload = await locomo.run(_args("locomo", tmp_path), redis_url)
    _check_payload(payload, "locomo", tmp_path)
    engine = payload["results"]["tta-memory"]
    assert set(locomo.MODES) <= set(engine)
    for mode in locomo.MODES:
        overall = engine[mode]["recall"]["overall"]
        assert overall["n"] == payload["questions"] > 0
        assert 0.0 <= overall["R@5"] <= overall["R@10"] <= overall["R@25"] <= 100.0


async def test_context_loading_smoke(redis_url: str, tmp_path: Path) -> None:
    from benchmarks import context_loading

    payload = await context_loading.run(_args("context", tmp_path), redis_url)
    _check_payload(payload, "context_loading", tmp_path)
    by_size = payload["results"]["by_size"]
    largest = by_size[str(max(context_loading.SIZES["smoke"]["deep"]))]
    assert len(largest["cells"]) == len(context_loading.STAGES) * len(context_loading.MODES)
    target = largest["cells"]["understand/augster_rigorous"]
    assert target["round_trips"] >= 1 and target["baseline_commands"] >= 1
    assert target["loaded"]["deep"] > 0 and target["loaded"]["paf"] > 0
    rapid = largest["cells"]["verify/rapid"]
    assert set(rapid["loaded"]) == {"session"}


async def test_context_loading_narrow_corpus_smoke(redis_url: str, tmp_path: Path) -> None:
    from benchmarks import context_loading

    args = _args("context", tmp_path, "--corpus", "narrow", "--full-grid-at", "0")
    payload = await context_loading.run(args, redis_url)
    assert payload["sizes"]["corpus"] == "narrow"
    cells = payload["results"]["by_size"][str(max(context_loading.SIZES["smoke"]["deep"]))]["cells"]
    assert set(cells) == {f"{s}/{m}" for s, m in context_loading.HEADLINE}
    target = cells["understand/augster_rigorous"]
    assert target["loaded"]["deep"] > 0 and target["loaded"]["session"] > 0
    # The by-hand baseline runs every index query the load ran (groups, cache, KNN, BM25),
    # the ones the engine sends as raw FT.SEARCH included.
    assert target["baseline_queries"] >= 4


def test_results_notebook_runs_without_results(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no results folder the notebook runs the smoke benchmarks itself and plots them."""
    pytest.importorskip("matplotlib")
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    path = h.REPO_ROOT / "notebooks" / "benchmark_results.ipynb"
    nb = nbformat.read(path, as_version=4)
    monkeypatch.setenv("TTA_BENCH_RESULTS", str(tmp_path / "none"))
    monkeypatch.setenv("TTA_MEMORY_REDIS_URL", redis_url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    text = "\n".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert "bytes per added memory" in text
    images = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if "image/png" in o.get("data", {})
    ]
    assert images
