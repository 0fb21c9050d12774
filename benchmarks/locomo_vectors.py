"""A disk cache of the default model's vectors for LoCoMo runs (experiments cost seconds).

The engine takes any LangChain-style embeddings object; this one answers from
``<cache-dir>/locomo-vectors-<model>.npz`` and asks the default model only for texts it has not
seen, under the default model's name (so the index records the model that made the vectors).
Ingest timings of a cached run measure the write path alone, and say so.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import numpy as np


def _key(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


class CachedEmbeddings:
    """``embed_documents`` / ``embed_query`` (and async twins) over a vector cache."""

    def __init__(self, cache_dir: Path) -> None:
        from tta_memory.embeddings import make_embedder

        self._embedder = make_embedder()
        self.model = self._embedder.model_name
        safe = "".join(c if c.isalnum() else "-" for c in self.model)[-60:]
        self.path = Path(cache_dir) / f"locomo-vectors-{safe}.npz"
        self._vectors: dict[str, np.ndarray] = {}
        self.misses = 0
        if self.path.exists():
            data = np.load(self.path)
            self._vectors = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
        self._dirty = False

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        missing = list(dict.fromkeys(t for t in texts if _key(t) not in self._vectors))
        if missing:
            self.misses += len(missing)
            vecs = self._embedder.vectorizer.embed_many(missing, batch_size=64)
            for text, vec in zip(missing, vecs, strict=True):
                self._vectors[_key(text)] = np.asarray(vec, dtype=np.float32)
            self._dirty = True
        return [self._vectors[_key(t)].tolist() for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        return (await self.aembed_documents([text]))[0]

    def save(self) -> None:
        """Write the cache if anything was added."""
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._vectors))
        vectors = np.stack(list(self._vectors.values()))
        np.savez(self.path, keys=keys, vectors=vectors)
        self._dirty = False

    @property
    def size(self) -> int:
        return len(self._vectors)


def describe(emb: Any) -> str:
    return f"{emb.size} cached vectors at {emb.path} ({emb.misses} embedded this run)"
