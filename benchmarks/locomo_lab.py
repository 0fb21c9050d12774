"""LoCoMo retrieval lab: measure indexing, fusion and re-scoring variants in seconds.

Tuning happens here, on the tuning split only (conversations 0-4 by default); ``python -m
benchmarks locomo`` then measures what ships, through the engine, on both splits.

How it stays fast: every text variant is embedded once and cached as ``.npy`` under
``--cache-dir`` (keyed by the texts' hash); KNN is exact cosine in numpy (the engine's HNSW is
exact at a conversation's ~600 memories); BM25 runs in a throwaway embedded Redis through the
same redisvl ``TextQuery`` the engine sends (stemming and stop words as in production), once per
text variant; fusion and re-scoring are pure Python over the cached rankings.

Run: ``python -m benchmarks.locomo_lab [--convs 0-4] [--cache-dir DIR]`` (indexing variants),
then ``python -m benchmarks.locomo_lab --tune [--vec NAME] [--text NAME]`` (fusion, recency).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.locomo_data import KS, Conversation, RecallAccumulator, load_locomo
from benchmarks.locomo_data import resolve_data_path as _resolve

REPO_ROOT = Path(__file__).resolve().parent.parent
DEPTH = 100


def parse_split(spec: str) -> list[int]:
    """``"0-4"`` or ``"5,7"`` → conversation indices."""
    out: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


class Embeddings:
    """The default model's vectors for lists of texts, cached on disk by content hash."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        cache_dir.mkdir(parents=True, exist_ok=True)
        self._model: Any = None

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:20]
        path = self.cache_dir / f"lab-{len(texts)}-{digest}.npy"
        if path.exists():
            return np.load(path)
        if self._model is None:
            from tta_memory.embeddings import make_embedder

            self._model = make_embedder()
        t0 = time.perf_counter()
        vecs = self._model.vectorizer.embed_many(list(texts), batch_size=64)
        arr = np.asarray(vecs, dtype=np.float32)
        arr /= np.linalg.norm(arr, axis=1, keepdims=True) + 1e-12
        print(f"    embedded {len(texts)} texts in {time.perf_counter() - t0:.1f} s")
        np.save(path, arr)
        return arr


class BM25Index:
    """One RediSearch index per text variant; returns BM25 rankings as turn positions."""

    def __init__(self, url: str) -> None:
        import redis

        from benchmarks.harness import redis_client_kwargs

        self.url = url
        self.client = redis.Redis(**redis_client_kwargs(url), decode_responses=True)

    def rankings(
        self,
        name: str,
        convs: list[Conversation],
        docs: dict[str, list[str]],
        queries: list[tuple[int, str]],
        weights: dict[str, float] | None = None,
        depth: int = DEPTH,
    ) -> list[list[int]]:
        """Index ``docs`` (field -> texts per turn, all conversations concatenated), then rank."""
        from redisvl.index import SearchIndex
        from redisvl.query import TextQuery
        from redisvl.query.filter import Tag

        fields: list[dict[str, Any]] = [{"name": "conv", "type": "tag"}]
        fields += [{"name": f, "type": "text"} for f in docs]
        schema = {
            "index": {"name": f"lab-{name}", "prefix": f"lab-{name}:", "storage_type": "hash"},
            "fields": fields,
        }
        index = SearchIndex.from_dict(schema, redis_url=self.url)
        index.create(overwrite=True, drop=True)
        rows, pos = [], 0
        for c, conv in enumerate(convs):
            for _ in conv.turns:
                row = {"conv": str(c), "pos": pos}
                for f, texts in docs.items():
                    row[f] = texts[pos]
                rows.append(row)
                pos += 1
        index.load(rows, keys=[f"lab-{name}:{r['pos']}" for r in rows])
        time.sleep(0.2)
        field: Any = weights or next(iter(docs))
        out = []
        for c, text in queries:
            try:
                q = TextQuery(
                    text=text,
                    text_field_name=field,
                    filter_expression=Tag("conv") == str(c),
                    return_fields=["pos"],
                    num_results=depth,
                )
                out.append([int(r["pos"]) for r in index.query(q)])
            except ValueError:  # stop words only
                out.append([])
        index.delete(drop=True)
        return out


def knn(qv: np.ndarray, dv: np.ndarray, spans: list[tuple[int, int]], qconv: list[int]) -> Any:
    """Cosine rankings (top DEPTH positions) and the full score rows, per question."""
    ranks, scores = [], []
    for i, c in enumerate(qconv):
        lo, hi = spans[c]
        s = dv[lo:hi] @ qv[i]
        order = np.argsort(-s, kind="stable")[:DEPTH] + lo
        ranks.append(order.tolist())
        scores.append(s)
    return ranks, scores


def rrf(rankings: list[list[int]], weights: Sequence[float], k: float, depth: int) -> list[int]:
    """Weighted reciprocal rank fusion over the first ``depth`` of each ranking."""
    fused: dict[int, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        for r, d in enumerate(ranking[:depth]):
            fused[d] = fused.get(d, 0.0) + w / (k + r + 1)
    return sorted(fused, key=lambda d: -fused[d])


def score(convs: list[Conversation], ranked: list[list[int]], turn_ids: list[str]) -> dict:
    """Recall per category (percent) for rankings given as global turn positions."""
    acc = RecallAccumulator()
    i = 0
    for conv in convs:
        for q in conv.questions:
            acc.add(q.category, [turn_ids[p] for p in ranked[i][: max(KS)]], q.evidence)
            i += 1
    return acc.result()


def line(name: str, res: dict) -> str:
    o = res["overall"]
    cats = " ".join(
        f"{c[:5]} {res[c]['R@10']:.1f}"
        for c in ("multi-hop", "temporal", "open-domain", "single-hop", "adversarial")
        if c in res
    )
    return f"{name:<48} {o['R@5']:5.1f} {o['R@10']:5.1f} {o['R@25']:5.1f}   R@10: {cats}"


def date_of(turn: Any) -> str:
    return turn.event_time.strftime("%-d %B %Y") if turn.event_time else ""


def neighbours(convs: list[Conversation], before: int, after: int) -> list[list[int]]:
    """Global positions of each turn's same-session neighbours (before, then after)."""
    out: list[list[int]] = []
    pos = 0
    for conv in convs:
        t = conv.turns
        for i in range(len(t)):
            nb = [
                pos + j - i
                for j in range(max(0, i - before), min(len(t), i + after + 1))
                if j != i and t[j].session == t[i].session
            ]
            out.append(nb)
        pos += len(t)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None)
    p.add_argument("--convs", default="0-4", help="the split to measure (tuning: 0-4)")
    p.add_argument("--cache-dir", default=str(REPO_ROOT / "benchmarks" / "results" / "cache"))
    args = p.parse_args(argv)
    allconvs = load_locomo(_resolve(args.data, REPO_ROOT))
    convs = [allconvs[i] for i in parse_split(args.convs)]
    print(f"split: conversations {args.convs} ({sum(len(c.questions) for c in convs)} questions)")
    turns = [t for c in convs for t in c.turns]
    turn_ids = [t.dia_id for t in turns]
    spans, pos = [], 0
    for c in convs:
        spans.append((pos, pos + len(c.turns)))
        pos += len(c.turns)
    queries = [(ci, q.question) for ci, c in enumerate(convs) for q in c.questions]
    qconv = [ci for ci, _ in queries]
    emb = Embeddings(Path(args.cache_dir))
    qv = emb([q for _, q in queries])
    prev = neighbours(convs, 1, 0)
    nxt = neighbours(convs, 0, 1)
    prev2 = neighbours(convs, 2, 0)
    nxt2 = neighbours(convs, 0, 2)
    texts = [t.text for t in turns]

    def join(parts: list[str]) -> str:
        return "\n".join(x for x in parts if x)

    variants: dict[str, Callable[[int], str]] = {
        "turn": lambda i: texts[i],
        "prev+turn": lambda i: join([*(texts[j] for j in prev[i]), texts[i]]),
        "prev+turn+date": lambda i: join(
            [*(texts[j] for j in prev[i]), texts[i], date_of(turns[i])]
        ),
        "date+prev+turn": lambda i: join(
            [date_of(turns[i]), *(texts[j] for j in prev[i]), texts[i]]
        ),
        "turn+next": lambda i: join([texts[i], *(texts[j] for j in nxt[i])]),
        "prev+turn+next": lambda i: join(
            [*(texts[j] for j in prev[i]), texts[i], *(texts[j] for j in nxt[i])]
        ),
        "prev+turn+next+date": lambda i: join(
            [*(texts[j] for j in prev[i]), texts[i], *(texts[j] for j in nxt[i]), date_of(turns[i])]
        ),
        "prev2+turn+next": lambda i: join(
            [*(texts[j] for j in prev2[i]), texts[i], *(texts[j] for j in nxt[i])]
        ),
        "prev+turn+next2": lambda i: join(
            [*(texts[j] for j in prev[i]), texts[i], *(texts[j] for j in nxt2[i])]
        ),
    }
    docs = {name: [f(i) for i in range(len(turns))] for name, f in variants.items()}
    # Embedding is the slow part (minutes per variant on a shared machine): only these.
    embedded = ("turn", "prev+turn", "prev+turn+date")
    vecs = {name: emb(docs[name]) for name in embedded}
    import contextlib

    from benchmarks.harness import redis_server

    with redis_server(None) as url:
        bm = BM25Index(url)
        text_rank = {
            name: bm.rankings(name.replace("+", "_"), convs, {"text": d}, queries)
            for name, d in docs.items()
        }
        # Several text fields, weighted: the turn itself and its context.
        ctxdoc = [
            join([*(texts[j] for j in prev[i]), date_of(turns[i])]) for i in range(len(turns))
        ]
        multi = {}
        for w in (0.3, 0.5, 1.0):
            multi[w] = bm.rankings(
                f"multi{int(w * 10)}",
                convs,
                {"text": texts, "ctx": ctxdoc},
                queries,
                weights={"text": 1.0, "ctx": w},
            )
        with contextlib.suppress(Exception):
            pass
    vec_rank = {}
    vec_scores = {}
    for name, v in vecs.items():
        vec_rank[name], vec_scores[name] = knn(qv, v, spans, qconv)
    # Vector mixing: the turn's own vector plus its predecessor's (no extra model work).
    base = vecs["turn"]
    mixes = {}
    for a in (0.3, 0.5, 0.7):
        for label, nbs in (
            ("p", prev),
            ("n", nxt),
            ("pn", [a_ + b_ for a_, b_ in zip(prev, nxt, strict=True)]),
        ):
            mixed = base.copy()
            for i, nb in enumerate(nbs):
                for j in nb:
                    mixed[i] += a * base[j]
            mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
            mixes[f"mix{label}{a}"] = mixed
            vec_rank[f"mix{label}{a}"], vec_scores[f"mix{label}{a}"] = knn(qv, mixed, spans, qconv)
        # Chained: each memory mixes in its predecessor's stored (already mixed) vector.
        chain = base.copy()
        for i, nb in enumerate(prev):
            for j in nb:
                chain[i] = base[i] + a * chain[j]
            chain[i] /= np.linalg.norm(chain[i])
        vec_rank[f"chain{a}"], vec_scores[f"chain{a}"] = knn(qv, chain, spans, qconv)

    print(f"{'variant':<48}   R@5  R@10  R@25")
    for name in vec_rank:
        print(line(f"vector {name}", score(convs, vec_rank[name], turn_ids)))
    for name in variants:
        print(line(f"bm25 {name}", score(convs, text_rank[name], turn_ids)))
    for w, r in multi.items():
        print(line(f"bm25 text+ctx*{w}", score(convs, r, turn_ids)))
    print("-- hybrid RRF k=2 depth 75 (vector variant x text variant)")
    results: dict[str, Any] = {}
    for vn in vec_rank:
        for tn in [*variants, *(f"multi{w}" for w in multi)]:
            tr = multi[float(tn[5:])] if tn.startswith("multi") else text_rank[tn]
            fused = [rrf([a, b], (1.0, 1.0), 2, 75) for a, b in zip(vec_rank[vn], tr, strict=True)]
            res = score(convs, fused, turn_ids)
            results[f"{vn} | {tn}"] = res
    print(line("BASELINE turn | turn", results["turn | turn"]))
    for name, res in sorted(results.items(), key=lambda kv: -kv[1]["overall"]["R@10"])[:30]:
        print(line(name, res))
    out = Path(args.cache_dir) / "lab-rankings.json"
    out.write_text(json.dumps({"vec": vec_rank, "text": text_rank}))


def tune(argv: Sequence[str] | None = None) -> None:
    """Fusion and re-scoring over the rankings the last ``main`` run saved."""
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=None)
    p.add_argument("--convs", default="0-4")
    p.add_argument("--cache-dir", default=str(REPO_ROOT / "benchmarks" / "results" / "cache"))
    p.add_argument("--vec", default="mixp0.5")
    p.add_argument("--text", default="prev+turn+next")
    args = p.parse_args(argv)
    allconvs = load_locomo(_resolve(args.data, REPO_ROOT))
    convs = [allconvs[i] for i in parse_split(args.convs)]
    turns = [t for c in convs for t in c.turns]
    turn_ids = [t.dia_id for t in turns]
    saved = json.loads((Path(args.cache_dir) / "lab-rankings.json").read_text())
    vec, text = saved["vec"], saved["text"]
    v, t = vec[args.vec], text[args.text]

    def run(label: str, fused: list[list[int]]) -> None:
        print(line(label, score(convs, fused, turn_ids)))

    for k in (1, 2, 5, 10, 60):
        for depth in (30, 75, 100):
            run(
                f"k={k} depth={depth}",
                [rrf([a, b], (1, 1), k, depth) for a, b in zip(v, t, strict=True)],
            )
    for wv in (0.6, 0.8, 1.25, 1.5):
        run(
            f"k=2 weights vec {wv}",
            [rrf([a, b], (wv, 1), 2, 75) for a, b in zip(v, t, strict=True)],
        )
    for extra in ("turn", "prev+turn", "chain0.5", "mixpn0.5"):
        if extra in vec:
            run(
                f"+ vector {extra}",
                [
                    rrf([a, b, c], (1, 1, 1), 2, 75)
                    for a, b, c in zip(v, t, vec[extra], strict=True)
                ],
            )
    for extra in ("turn", "prev+turn+date", "turn+next"):
        run(
            f"+ text {extra}",
            [rrf([a, b, c], (1, 1, 1), 2, 75) for a, b, c in zip(v, t, text[extra], strict=True)],
        )
    # Recency: fused score times 2^(-age / half-life), age from the conversation's last session.
    spans, pos = [], 0
    for c in convs:
        spans.append((pos, pos + len(c.turns)))
        pos += len(c.turns)
    qconv = [ci for ci, c in enumerate(convs) for _ in c.questions]
    stamps = [tt.event_time.timestamp() if tt.event_time else 0.0 for tt in turns]
    for half in (None, 30, 90, 180, 365):
        out = []
        for qi, (a, b) in enumerate(zip(v, t, strict=True)):
            lo, hi = spans[qconv[qi]]
            now = max(stamps[lo:hi])
            fused: dict[int, float] = {}
            for ranking in (a, b):
                for r, d in enumerate(ranking[:75]):
                    fused[d] = fused.get(d, 0.0) + 1 / (2 + r + 1)
            if half:
                for d in fused:
                    fused[d] *= 0.5 ** ((now - stamps[d]) / 86400 / half)
            out.append(sorted(fused, key=lambda d: -fused[d]))
        run(f"recency half-life {half} days", out)


if __name__ == "__main__":
    import sys

    if "--tune" in sys.argv:
        tune([a for a in sys.argv[1:] if a != "--tune"])
    else:
        main()
