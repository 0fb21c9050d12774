"""mem0 as a peer: ``infer=False`` (no LLM), the same local MiniLM model through its
HuggingFace embedder, and either its default local vector store (Qdrant, embedded) or its Redis
vector store on the benchmark's server. Nothing touches the network.

mem0 builds its LLM client even when ``infer=False`` never calls it; the OpenAI client only
needs a non-empty key string to be constructed, so a placeholder is passed (no request is made).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.corpus import DIMS, model_path

os.environ.setdefault("MEM0_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def available() -> str | None:
    """None when mem0 can be imported, else the reason."""
    try:
        import mem0  # noqa: F401
    except Exception as exc:  # ImportError or a broken transitive import
        return f"{type(exc).__name__}: {exc}"
    return None


def _redisvl_compat() -> bool:
    """Let mem0's Redis store run on redisvl 0.28.

    mem0ai 2.2.1's ``RedisDB`` calls ``SearchIndex.set_client(client)``, which redisvl 0.28
    removed (clients are now given to the constructor). This restores the method with the
    constructor's semantics (an injected client the index does not own). Nothing else changes.

    Returns:
        True when the shim was installed.
    """
    from redisvl.index import SearchIndex

    if hasattr(SearchIndex, "set_client"):
        return False

    def set_client(self: Any, client: Any) -> Any:
        self._SearchIndex__redis_client = client
        self._owns_redis_client = False
        self._client_was_injected = True
        return self

    setattr(SearchIndex, "set_client", set_client)  # noqa: B010 (a method redisvl removed)
    return True


#: Notes on what it took to run mem0 here, copied into every results JSON.
NOTES: list[str] = []


def build(store: str, *, url: str | None, collection: str, workdir: Path | None = None) -> Any:
    """A mem0 ``Memory`` configured for offline, no-LLM use.

    Args:
        store: ``"qdrant"`` (mem0's default local store) or ``"redis"``.
        url: Redis URL (for ``store="redis"``).
        collection: Collection / index name (unique per run).
        workdir: Folder for the local Qdrant files and mem0's SQLite history.

    Returns:
        The ``mem0.Memory``.
    """
    from mem0 import Memory

    # mem0 logs a warning per call about optional spaCy / fastembed extras it runs without.
    logging.getLogger("mem0").setLevel(logging.ERROR)
    work = workdir or Path(tempfile.mkdtemp(prefix="mem0-bench-"))
    if store == "qdrant":
        vector_store: dict[str, Any] = {
            "provider": "qdrant",
            "config": {
                "collection_name": collection,
                "embedding_model_dims": DIMS,
                "path": str(work / "qdrant"),
                "on_disk": False,
            },
        }
    elif store == "redis":
        if not url:
            raise ValueError("mem0's Redis store needs a URL")
        if _redisvl_compat():
            NOTES.append(
                "mem0ai's Redis store calls SearchIndex.set_client, removed in redisvl "
                "0.28; the benchmark restores it (sets the client as the constructor "
                "would) so the store runs unchanged otherwise"
            )
        vector_store = {
            "provider": "redis",
            "config": {
                "redis_url": url,
                "collection_name": collection,
                "embedding_model_dims": DIMS,
            },
        }
    else:
        raise ValueError(f"unknown mem0 store {store!r}")
    config = {
        "embedder": {
            "provider": "huggingface",
            "config": {"model": model_path(), "embedding_dims": DIMS},
        },
        "vector_store": vector_store,
        "history_db_path": str(work / "history.db"),
        # Never called with infer=False; the client only needs a non-empty key to be built.
        "llm": {"provider": "openai", "config": {"api_key": "offline-placeholder-not-used"}},
    }
    return Memory.from_config(config)


def add(
    memory: Any, texts: list[str], user_id: str, metadata: dict[str, Any] | None = None
) -> None:
    """Store texts verbatim (``infer=False``); one ``add`` call for the whole list.

    Args:
        memory: The mem0 ``Memory``.
        texts: One memory per text.
        user_id: mem0's namespace.
        metadata: Metadata stored with every text.
    """
    memory.add(
        [{"role": "user", "content": t} for t in texts],
        user_id=user_id,
        infer=False,
        metadata=metadata or {},
    )


def search(memory: Any, query: str, user_id: str, k: int) -> list[dict[str, Any]]:
    """Top-k memories of ``user_id`` for ``query`` (no score threshold).

    Args:
        memory: The mem0 ``Memory``.
        query: Query text.
        user_id: Namespace.
        k: How many.

    Returns:
        mem0's result dicts, best first.
    """
    out = memory.search(query, filters={"user_id": user_id}, top_k=k, threshold=0.0)
    return list(out["results"])
