"""Benchmark 4 — LoCoMo retrieval quality (protocol: ../shared/data/README.md).

recall@5/10/25 per category and overall, and search latency p50/p95, for the engine's deep-memory
search in each retrieval mode (vector, text, hybrid) and for mem0 (``infer=False``, same local
model) on the same turns, beside the README's BM25 and DRAGON reference rows and a pure-Python
BM25 re-derivation of the BM25 row (a check of the protocol code).

Run: ``python -m benchmarks.locomo [--smoke] [--data PATH] [--url URL]``
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import harness as h
from benchmarks import mem0_peer
from benchmarks.bm25 import BM25
from benchmarks.locomo_data import (
    KS,
    Conversation,
    RecallAccumulator,
    load_locomo,
    resolve_data_path,
)

NAME = "locomo"
MODES = ("vector", "text", "hybrid")
REFERENCE = {
    "BM25 (README reference)": {"R@5": 45.7, "R@10": 53.3, "R@25": 62.6},
    "DRAGON (LoCoMo paper, Table 3)": {"R@5": 56.7, "R@10": 66.2, "R@25": 76.7},
}
SMOKE_TURNS = 60
SMOKE_QUESTIONS = 12


def smoke_subset(conversations: list[Conversation]) -> list[Conversation]:
    """The first conversation cut to its first turns and the questions they answer."""
    conv = conversations[0]
    turns = conv.turns[:SMOKE_TURNS]
    known = {t.dia_id for t in turns}
    questions = [q for q in conv.questions if q.evidence <= known][:SMOKE_QUESTIONS]
    return [Conversation(conv.sample_id, turns, questions)]


def run_bm25(conversations: list[Conversation]) -> dict[str, Any]:
    """The pure-Python BM25 row (should reproduce the README's BM25 figures on the full set)."""
    acc = RecallAccumulator()
    samples: list[float] = []
    for conv in conversations:
        bm25 = BM25([t.text for t in conv.turns])
        for q in conv.questions:
            t0 = time.perf_counter()
            top = bm25.top_k(q.question, max(KS))
            samples.append(time.perf_counter() - t0)
            acc.add(q.category, [conv.turns[i].dia_id for i in top], q.evidence)
    return {"recall": acc.result(), "latency": h.summarize(samples).as_dict()}


# Tuning happens on conversations 0-4 only (benchmarks/locomo_lab.py); 5-9 are held out.
SPLITS = {"tuning 0-4": range(0, 5), "held-out 5-9": range(5, 10)}
# Engine configurations compared in one run: "plain" is the engine before contextual indexing
# and hygiene (turn text only), "default" today's defaults.
VARIANTS = ("plain", "default", "hygiene")
RECENCY_DAYS = 180.0


def variant_settings(name: str, prefix: str) -> Any:
    """The engine settings of a named variant."""
    from tta_memory import Settings
    from tta_memory.contextual import PLAIN
    from tta_memory.hygiene import HygieneThresholds

    if name == "plain":
        return Settings(prefix=prefix, contextual=PLAIN, hygiene=None)
    if name == "default":
        return Settings(prefix=prefix)
    if name == "hygiene":
        return Settings(prefix=prefix, hygiene=HygieneThresholds())
    raise ValueError(f"unknown variant {name!r} (choose from plain, default, hygiene)")


def split_of(position: int) -> str | None:
    """The split a conversation (by position in the file) belongs to."""
    return next((name for name, r in SPLITS.items() if position in r), None)


async def run_engine(
    conversations: list[Conversation],
    url: str,
    run_id: str,
    variant: str = "default",
    vectorizer: Any = None,
    positions: list[int] | None = None,
) -> dict[str, Any]:
    """Ingest every conversation into its own workspace, then search in every mode."""
    from tta_memory import MemoryWorkflowPrimitive

    # A key prefix of its own gives LoCoMo its own deep index. RediSearch's BM25 statistics
    # (IDF, average length) are per index, i.e. shared by every workspace of a prefix: other
    # benchmarks' memories on the same server would otherwise change the text ranking (measured:
    # text R@10 51.5 alone vs 46.9 after the ingest benchmark's 10k notes).
    settings = variant_settings(variant, f"bench-locomo-{run_id}-{variant}")
    positions = positions or list(range(len(conversations)))
    memories = {
        conv.sample_id: MemoryWorkflowPrimitive(
            url,
            user_id="locomo",
            workspace=f"locomo-{run_id}-{conv.sample_id}",
            settings=settings,
            vectorizer=vectorizer,
        )
        for conv in conversations
    }
    # Load the model before timing the ingest.
    await memories[conversations[0].sample_id].embedder.embed("warm up", None)
    t0 = time.perf_counter()
    turns = 0
    for conv in conversations:
        items = [
            {
                "text": t.text,
                "metadata": {"dia_id": t.dia_id, "session": t.session},
                "event_time": t.event_time,
                "session_id": f"session_{t.session}",
                "memory_type": "observation",
            }
            for t in conv.turns
        ]
        await memories[conv.sample_id].create_deep_memories(items)
        turns += len(items)
    ingest_s = time.perf_counter() - t0
    if vectorizer is not None:
        vectorizer.save()
    out: dict[str, Any] = {
        "ingest": {
            "memories": turns,
            "seconds": round(ingest_s, 2),
            "per_s": round(turns / ingest_s, 1),
            "vectors_cached": vectorizer is not None,
        }
    }
    # The first pass embeds every question (the engine's embedding cache is cold): it is the
    # vector mode's latency including the model. Every mode is then measured with the query
    # vector cached, so modes compare on their search alone (text mode never embeds).
    passes: list[tuple[str, str, float | None]] = [
        ("vector (query embedded)", "vector", None),
        *((m, m, None) for m in MODES),
    ]
    if variant == "default":
        passes.append((f"hybrid, recency {RECENCY_DAYS:.0f} d", "hybrid", RECENCY_DAYS))
    for label, mode, half_life in passes:
        acc = RecallAccumulator()
        by_split = {name: RecallAccumulator() for name in SPLITS}
        samples: list[float] = []
        first = conversations[0]
        for q in first.questions[:3]:  # warm-up: connections, query-path caches
            await memories[first.sample_id].search_deep_memory(
                q.question, limit=max(KS), search_mode=mode
            )
        for position, conv in zip(positions, conversations, strict=True):
            memory = memories[conv.sample_id]
            split = split_of(position)
            for q in conv.questions:
                t0 = time.perf_counter()
                found = await memory.search_deep_memory(
                    q.question,
                    limit=max(KS),
                    search_mode=mode,  # type: ignore[arg-type]
                    recency_half_life_days=half_life,
                )
                samples.append(time.perf_counter() - t0)
                ids = [m.metadata.get("dia_id", "") for m in found]
                acc.add(q.category, ids, q.evidence)
                if split:
                    by_split[split].add(q.category, ids, q.evidence)
        out[label] = {
            "recall": acc.result(),
            "splits": {name: a.result() for name, a in by_split.items() if a.result()},
            "latency": h.summarize(samples).as_dict(),
        }
        print(
            f"  tta-memory {variant} {label}: R@10 {out[label]['recall']['overall']['R@10']:.1f}"
            + "".join(
                f", {name} {r['overall']['R@10']:.1f}" for name, r in out[label]["splits"].items()
            )
            + f", p50 {out[label]['latency']['p50']:.2f} ms"
        )
    return out


def run_mem0(
    conversations: list[Conversation], store: str, url: str, run_id: str
) -> dict[str, Any]:
    """mem0 on the same turns: one ``add(infer=False)`` per turn (its metadata is per call)."""
    memory = mem0_peer.build(store, url=url, collection=f"bench_locomo_{store}_{run_id}")
    mem0_peer.add(memory, ["warm up"], user_id=f"warmup-{run_id}")
    t0 = time.perf_counter()
    turns = 0
    for conv in conversations:
        for t in conv.turns:
            mem0_peer.add(
                memory,
                [t.text],
                user_id=conv.sample_id,
                metadata={"dia_id": t.dia_id, "session": t.session},
            )
            turns += 1
    ingest_s = time.perf_counter() - t0
    acc = RecallAccumulator()
    samples: list[float] = []
    first = conversations[0]
    for q in first.questions[:3]:
        mem0_peer.search(memory, q.question, first.sample_id, max(KS))
    for conv in conversations:
        for q in conv.questions:
            t0 = time.perf_counter()
            found = mem0_peer.search(memory, q.question, conv.sample_id, max(KS))
            samples.append(time.perf_counter() - t0)
            acc.add(
                q.category, [(r.get("metadata") or {}).get("dia_id", "") for r in found], q.evidence
            )
    return {
        "ingest": {
            "memories": turns,
            "seconds": round(ingest_s, 2),
            "per_s": round(turns / ingest_s, 1),
        },
        "vector (query embedded)": {
            "recall": acc.result(),
            "latency": h.summarize(samples).as_dict(),
        },
    }


def rows_of(results: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """(label, recall-by-bucket, latency) for every measured retriever."""
    out = []
    for system, res in results.items():
        for mode, r in res.items():
            if mode == "ingest":
                continue
            label = system if mode == "-" else f"{system} [{mode}]"
            out.append((label, r["recall"], r.get("latency")))
    return out


def report(results: dict[str, Any]) -> str:
    """Overall table (with references), then per-category recall@10, then ingest."""
    rows = []
    for label, ref in REFERENCE.items():
        rows.append([label, ref["R@5"], ref["R@10"], ref["R@25"], None, None, "-", "-"])
    bm25, dragon = REFERENCE["BM25 (README reference)"], REFERENCE["DRAGON (LoCoMo paper, Table 3)"]
    for label, recall, lat in rows_of(results):
        o = recall["overall"]
        rows.append(
            [
                label,
                o["R@5"],
                o["R@10"],
                o["R@25"],
                lat and lat["p50"],
                lat and lat["p95"],
                f"{o['R@10'] - bm25['R@10']:+.1f}",
                f"{o['R@10'] - dragon['R@10']:+.1f}",
            ]
        )
    overall = h.format_table(
        [
            "retriever",
            "R@5",
            "R@10",
            "R@25",
            "search p50 ms",
            "search p95 ms",
            "R@10 vs BM25",
            "R@10 vs DRAGON",
        ],
        rows,
    )
    cats = ["multi-hop", "temporal", "open-domain", "single-hop", "adversarial", "overall"]
    crow = []
    for label, recall, _ in rows_of(results):
        crow.append(
            [
                label,
                *[
                    " / ".join(f"{recall[c][f'R@{k}']:.1f}" for k in KS) if c in recall else "-"
                    for c in cats
                ],
            ]
        )
    per_cat = h.format_table(["retriever (R@5 / R@10 / R@25)", *cats], crow)
    ing = [
        [s, r["ingest"]["memories"], r["ingest"]["seconds"], r["ingest"]["per_s"]]
        for s, r in results.items()
        if "ingest" in r
    ]
    ingest = h.format_table(["system", "turns", "ingest s", "turns/s"], ing)
    split_rows = []
    for label, _, _ in rows_of(results):
        system, _, mode = label.partition(" [")
        res = results[system].get(mode.rstrip("]"), {})
        splits = res.get("splits") or {}
        if not splits:
            continue
        split_rows.append(
            [label]
            + [
                " / ".join(f"{splits[n]['overall'][f'R@{k}']:.1f}" for k in KS)
                if n in splits
                else "-"
                for n in SPLITS
            ]
            + [" / ".join(f"{res['recall']['overall'][f'R@{k}']:.1f}" for k in KS)]
        )
    by_split = h.format_table(["retriever (R@5 / R@10 / R@25)", *SPLITS, "all"], split_rows)
    held = []
    for label, _, _ in rows_of(results):
        system, _, mode = label.partition(" [")
        res = results[system].get(mode.rstrip("]"), {})
        for n, rec in (res.get("splits") or {}).items():
            if "hybrid" in mode:
                held.append(
                    [f"{label} {n}"]
                    + [
                        " / ".join(f"{rec[c][f'R@{k}']:.1f}" for k in KS) if c in rec else "-"
                        for c in cats
                    ]
                )
    per_split_cat = h.format_table(["hybrid per split (R@5 / R@10 / R@25)", *cats], held)
    return "\n\n".join([overall, per_cat, by_split, per_split_cat, ingest])


def plot(results: dict[str, Any], out_dir: Any) -> list[str]:
    """Recall@10 per category, one bar per retriever."""
    cats = ["multi-hop", "temporal", "open-domain", "single-hop", "adversarial", "overall"]
    series = {
        label: [recall.get(c, {}).get("R@10", 0.0) for c in cats]
        for label, recall, _ in rows_of(results)
    }
    return [
        str(
            h.bar_chart(
                out_dir,
                f"{NAME}_recall10",
                "LoCoMo recall@10 per category",
                cats,
                series,
                "recall@10 (%)",
            )
        )
    ]


async def run(args: Any, url: str) -> dict[str, Any]:
    """Run the benchmark against ``url`` and return the JSON payload."""
    run_id = uuid.uuid4().hex[:8]
    info = h.machine_info()
    h.print_header("LoCoMo retrieval quality", info, url)
    path = resolve_data_path(args.data, h.REPO_ROOT)
    conversations = load_locomo(path)
    if args.smoke:
        conversations = smoke_subset(conversations)
    n_q = sum(len(c.questions) for c in conversations)
    print(
        f"  {len(conversations)} conversations, {sum(len(c.turns) for c in conversations)} "
        f"turns, {n_q} questions (dropped without evidence: "
        f"{sum(c.dropped_questions for c in conversations)})"
    )
    split_note = "; ".join(
        f"{name} = {', '.join(conversations[i].sample_id for i in r if i < len(conversations))}"
        for name, r in SPLITS.items()
    )
    print(f"  split: {split_note} (tuned on the first only; the rest reported once)")
    vectorizer = None
    if not args.no_vector_cache:
        from benchmarks.locomo_vectors import CachedEmbeddings

        vectorizer = CachedEmbeddings(args.cache_dir)
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    results["BM25 (pure Python, this code)"] = {"-": run_bm25(conversations)}
    for variant in args.variants.split(","):
        name = "tta-memory" if variant == "default" else f"tta-memory {variant}"
        results[name] = await run_engine(conversations, url, run_id, variant, vectorizer)
    if vectorizer is not None:
        vectorizer.save()
        from benchmarks.locomo_vectors import describe

        print(f"  vectors: {describe(vectorizer)}")
    if not args.no_peers:
        reason = mem0_peer.available()
        for store in args.mem0_stores.split(","):
            name = f"mem0 ({'local Qdrant' if store == 'qdrant' else 'Redis'})"
            if reason:
                errors[name] = reason
                continue
            try:
                results[name] = await asyncio.to_thread(run_mem0, conversations, store, url, run_id)
                o = results[name]["vector (query embedded)"]
                print(
                    f"  {name}: R@10 {o['recall']['overall']['R@10']:.1f}, "
                    f"p50 {o['latency']['p50']:.2f} ms"
                )
            except Exception as exc:  # report, do not fake a number
                errors[name] = f"{type(exc).__name__}: {exc}"
                print(f"  {name}: FAILED {errors[name]}")
    table = report(results)
    print(table)
    payload = {
        "benchmark": NAME,
        "machine": info,
        "data": str(path),
        "smoke": args.smoke,
        "questions": n_q,
        "splits": {name: list(r) for name, r in SPLITS.items()},
        "reference": REFERENCE,
        "results": results,
        "errors": errors,
        "notes": sorted(set(mem0_peer.NOTES)),
        "table": table,
    }
    if not args.no_plots:
        payload["plots"] = plot(results, args.out)
    payload["json"] = str(h.write_json(args.out, NAME, payload))
    return payload


def add_arguments(parser: Any) -> None:
    """LoCoMo's own options."""
    parser.add_argument(
        "--data",
        default=None,
        help="locomo10.json (default ../shared/data/locomo10.json from the repo root)",
    )
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help="engine configurations: plain (turn text only), default, hygiene (default + hygiene)",
    )
    if not any("--cache-dir" in a.option_strings for a in parser._actions):  # shared option
        parser.add_argument(
            "--cache-dir",
            type=Path,
            default=h.DEFAULT_OUT / "cache",
            help="where model vectors are cached between runs (default benchmarks/results/cache/)",
        )
    parser.add_argument(
        "--no-vector-cache",
        action="store_true",
        help="embed everything with the model (ingest timings then include the model)",
    )
    parser.add_argument(
        "--mem0-stores",
        default="qdrant",
        help="comma list of mem0 stores to run: qdrant (its default), redis",
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command-line entry point."""
    return h.cli(__doc__, NAME, run, argv, add_arguments)


if __name__ == "__main__":
    main()
