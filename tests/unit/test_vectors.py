"""Stored-vector encoding (tta_memory.vectors): pure functions, no Redis."""

from __future__ import annotations

import numpy as np
from tta_memory import vectors

RNG = np.random.default_rng(7)


def _unit(n: int = 384) -> np.ndarray:
    v = RNG.standard_normal(n).astype(np.float32)
    return v / np.linalg.norm(v)


def test_float32_bytes_are_stored_as_given():
    v = _unit()
    assert vectors.encode(v.tobytes(), "float32") == v.tobytes()
    assert vectors.encode(list(map(float, v)), "float32") == v.tobytes()


def test_float16_halves_the_bytes_and_keeps_the_direction():
    v = _unit()
    stored = vectors.encode(v.tobytes(), "float16")
    assert len(stored) == 2 * v.size
    back = vectors.decode(stored, v.size)
    assert back is not None and back.dtype == np.float32
    assert float(back @ v) > 0.9999
    assert np.max(np.abs(back - v)) < 1e-3


def test_decode_reads_either_type_by_length():
    v = _unit(8)
    f32 = vectors.decode(v.tobytes(), 8)
    f16 = vectors.decode(v.astype(np.float16).tobytes(), 8)
    assert f32 is not None and np.array_equal(f32, v)
    assert f16 is not None and np.allclose(f16, v, atol=1e-3)


def test_decode_refuses_what_is_not_a_vector_of_that_size():
    assert vectors.decode(None, 8) is None
    assert vectors.decode(b"", 8) is None
    assert vectors.decode(b"\x00" * 12, 8) is None
    assert vectors.decode(b"\x00" * 32, 0) is None


def test_decoded_vectors_are_writable_copies():
    v = _unit(8)
    buf = v.tobytes()
    out = vectors.decode(buf, 8)
    assert out is not None
    out[0] = 5.0  # contextual.py mixes into the decoded vector in place
    assert np.frombuffer(buf, dtype=np.float32)[0] != 5.0
