"""How deep-memory vectors are stored: the index's element type and the bytes of each vector.

The embedder (and its Redis cache) always works in float32. A prefix's deep indexes store
``float32`` (the default) or ``float16`` vectors (``Settings.vector_dtype``), recorded once per
prefix beside the embedding model: FLOAT16 halves both copies of each vector (the hash's and the
HNSW graph's, 2 x 1,536 -> 2 x 768 B at 384 dims) with LoCoMo vector recall unchanged
(benchmarks/README.md, "Vector element type").

Stored vectors are decoded by their length, so hashes written under either type read back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np

VectorDtype = Literal["float32", "float16"]
# What a new prefix records when Settings.vector_dtype is unset.
DEFAULT_VECTOR_DTYPE: VectorDtype = "float32"
DTYPES: tuple[str, ...] = get_args(VectorDtype)
# The deep hash's vectors: the indexed one, and the memory's own where contextual indexing
# mixed a neighbour into the indexed one (hygiene compares own vectors).
FIELDS = ("embedding", "own_embedding")
_NUMPY = {"float32": np.float32, "float16": np.float16}


def encode(vector: bytes | Sequence[float] | np.ndarray, dtype: VectorDtype) -> bytes:
    """The stored bytes of ``vector`` (the embedder's float32 buffer, or floats) as ``dtype``."""
    if isinstance(vector, bytes):
        if dtype == "float32":
            return vector
        array = np.frombuffer(vector, dtype=np.float32)
    else:
        array = np.asarray(vector, dtype=np.float32)
    return array.astype(_NUMPY[dtype]).tobytes()


def decode(buf: Any, dims: int) -> np.ndarray | None:
    """A stored vector of ``dims`` elements as float32, whichever type stored it; ``None`` if
    ``buf`` is not such a vector (missing, or of another size)."""
    if not isinstance(buf, bytes) or dims <= 0:
        return None
    for dtype, width in (("float32", 4), ("float16", 2)):
        if len(buf) == width * dims:
            return np.frombuffer(buf, dtype=_NUMPY[dtype]).astype(np.float32)
    return None
