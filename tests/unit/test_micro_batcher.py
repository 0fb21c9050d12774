"""Micro-batching: concurrent callers share model calls and each gets its own text's vector."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from typing import Any

import numpy as np
import pytest
from tta_memory.embeddings import DEFAULT_DIMS, DEFAULT_MODEL, Embedder
from tta_memory.embeddings.batching import MicroBatcher
from tta_memory.embeddings.onnx import OnnxMiniLM
from tta_memory.errors import TTAMemoryError


class SlowModel:
    """A stand-in model whose vector encodes the text (so a mix-up shows) and that takes time."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.threads: set[str] = set()

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        self.threads.add(threading.current_thread().name)
        threading.Event().wait(0.02)
        return np.array([[float(len(t)), float(sum(map(ord, t)))] for t in texts], np.float32)


def _expected(text: str) -> list[float]:
    return [float(len(text)), float(sum(map(ord, text)))]


async def test_concurrent_callers_share_model_calls_and_get_their_own_rows() -> None:
    model = SlowModel()
    batcher = MicroBatcher(model, max_batch=64, max_wait=0.005)
    texts = [f"caller {i} says {'x' * i}" for i in range(16)]
    for _ in range(3):  # rounds of 16 concurrent single-text callers
        results = await asyncio.gather(*(batcher.embed([t]) for t in texts))
        for text, vec in zip(texts, results, strict=True):
            assert vec.shape == (1, 2)
            assert vec[0].tolist() == _expected(text)
    assert sum(len(c) for c in model.calls) == 48
    assert len(model.calls) < 48 / 4  # batched: far fewer model calls than callers
    assert model.threads == {"tta-memory-embed"}  # never the event loop's thread


async def test_a_batch_never_exceeds_max_batch_unless_one_caller_brings_more() -> None:
    model = SlowModel()
    batcher = MicroBatcher(model, max_batch=8, max_wait=0.005)
    await asyncio.gather(*(batcher.embed([f"t{i}", f"u{i}"]) for i in range(20)))
    assert max(len(c) for c in model.calls) <= 8
    big = await batcher.embed([f"big {i}" for i in range(30)])
    assert big.shape == (30, 2) and model.calls[-1] == [f"big {i}" for i in range(30)]


async def test_a_model_failure_reaches_its_caller_and_the_worker_survives() -> None:
    calls = 0

    def flaky(texts: list[str]) -> np.ndarray:
        nonlocal calls
        calls += 1
        if any("boom" in t for t in texts):
            raise RuntimeError("model exploded")
        return np.zeros((len(texts), 2), np.float32)

    batcher = MicroBatcher(flaky)
    with pytest.raises(RuntimeError, match="model exploded"):
        await batcher.embed(["boom"])
    assert (await batcher.embed(["fine"])).shape == (1, 2)


async def test_a_text_the_model_refuses_fails_only_its_own_caller() -> None:
    model = SlowModel()

    seen: list[list[str]] = []

    def picky(texts: list[str]) -> np.ndarray:
        seen.append(list(texts))
        if "poison" in texts:
            raise RuntimeError("model refused a text")
        return model(texts)

    batcher = MicroBatcher(picky, max_wait=0.005)
    texts = [f"caller {i}" for i in range(6)]
    texts.insert(3, "poison")
    results = await asyncio.gather(*(batcher.embed([t]) for t in texts), return_exceptions=True)
    assert isinstance(results[3], RuntimeError)
    for text, vec in zip(texts, results, strict=True):
        if text != "poison":
            assert isinstance(vec, np.ndarray) and vec[0].tolist() == _expected(text)
    assert any("poison" in c and len(c) > 1 for c in seen)  # it did share a batch


async def test_a_cancelled_caller_does_not_break_the_others() -> None:
    model = SlowModel()
    batcher = MicroBatcher(model, max_wait=0.005)
    first = asyncio.ensure_future(batcher.embed(["first"]))
    doomed = asyncio.ensure_future(batcher.embed(["doomed"]))
    await asyncio.sleep(0)
    doomed.cancel()
    kept = await asyncio.gather(*(batcher.embed([f"k{i}"]) for i in range(4)))
    assert [v[0].tolist() for v in kept] == [_expected(f"k{i}") for i in range(4)]
    assert (await first)[0].tolist() == _expected("first")


async def test_sync_callers_from_threads_are_batched_too() -> None:
    model = SlowModel()
    batcher = MicroBatcher(model, max_wait=0.005)
    out: dict[int, list[float]] = {}

    def call(i: int) -> None:
        out[i] = batcher.submit([f"thread {i}"]).result(timeout=30)[0].tolist()

    threads = [threading.Thread(target=call, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == {i: _expected(f"thread {i}") for i in range(12)}


@pytest.fixture(scope="module")
def onnx_model() -> OnnxMiniLM:
    return OnnxMiniLM()


async def test_real_model_each_concurrent_caller_gets_its_own_texts_vector(
    onnx_model: OnnxMiniLM,
) -> None:
    embedder = Embedder(onnx_model, DEFAULT_MODEL, DEFAULT_DIMS)
    topics = [
        "alpha release shipped",
        "invoice overdue",
        "cat adopted",
        "rain in Oslo",
        "kernel panic",
        "new hire onboarding",
        "quarterly review",
        "flaky test fixed",
        "lunch at noon",
        "VPN down",
        "migration done",
        "budget approved",
        "demo on Friday",
        "bug in parser",
        "oncall swap",
        "retro notes",
    ]
    texts = [f"note {i}: {topic}" for i, topic in enumerate(topics)]
    assert len(texts) == 16
    results = await asyncio.gather(*(embedder.embed_many([t], None) for t in texts))
    assert embedder.batcher is not None and embedder.batcher.batches < 16
    alone = onnx_model.encode(texts)
    for i, buffers in enumerate(results):
        got = np.frombuffer(buffers[0], dtype=np.float32)
        sims = alone @ got
        assert int(np.argmax(sims)) == i and sims[i] > 0.9999


async def test_model_failure_is_a_typed_error_naming_the_model() -> None:
    from redisvl.utils.vectorize import CustomVectorizer

    def broken(texts: list[str], **_: object) -> list[list[float]]:
        if texts == ["dimension test (many)"]:  # redisvl's probe when the vectorizer is built
            return [[0.0] * 4]
        raise RuntimeError("no GPU today")

    vectorizer = CustomVectorizer(embed=lambda t, **_: [0.0] * 4, embed_many=broken)
    embedder = Embedder(vectorizer, "broken-model", 4)
    assert embedder.batcher is not None  # sync-only functions run in the worker, off the loop
    with pytest.raises(TTAMemoryError, match=r"broken-model.*no GPU today"):
        await embedder.embed_many(["x"], None)


def _embed_in_child(batcher: MicroBatcher, out: Any) -> None:
    out.put(batcher.submit(["in the child"]).result(timeout=30)[0].tolist())


def test_a_forked_child_gets_its_own_worker() -> None:
    model = SlowModel()
    batcher = MicroBatcher(model)
    assert batcher.submit(["in the parent"]).result(timeout=30)[0].tolist() == _expected(
        "in the parent"
    )
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_embed_in_child, args=(batcher, out))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert out.get(timeout=5) == _expected("in the child")


class CountingModel(SlowModel):
    """SlowModel that refuses one text (as a service refuses an over-long input) or, when
    ``down``, fails every call the way a client fails when the service is unreachable."""

    def __init__(self, refuse: str = "poison", down: BaseException | None = None) -> None:
        super().__init__()
        self.refuse = refuse
        self.down = down

    def __call__(self, texts: list[str]) -> np.ndarray:
        if self.down is not None:
            self.calls.append(list(texts))
            raise self.down
        if self.refuse in texts:
            self.calls.append(list(texts))
            raise RuntimeError("model refused a text")
        return super().__call__(texts)


async def test_parts_of_one_request_share_a_call_and_fail_alone() -> None:
    model = CountingModel()
    batcher = MicroBatcher(model, max_wait=0.005)
    texts = ["first", "poison", "third", "fourth"]
    futures = [asyncio.wrap_future(f) for f in batcher.submit_each(texts)]
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert isinstance(results[1], RuntimeError)
    for text, vec in zip(texts, results, strict=True):
        if text != "poison":
            assert isinstance(vec, np.ndarray) and vec.tolist() == [_expected(text)]
    assert model.calls[0] == texts  # one model call for the request's parts
    # The refused text went to the model twice in all: in the batch, then alone.
    assert sum(c.count("poison") for c in model.calls) == 2


class ConnectError(Exception):
    """Named like httpx's: not a builtin ConnectionError."""


@pytest.mark.parametrize(
    "down",
    [ConnectionRefusedError("connection refused"), TimeoutError("read timed out"), ConnectError()],
)
async def test_an_unreachable_service_is_not_sent_each_text_again(down: BaseException) -> None:
    model = CountingModel(down=down)
    batcher = MicroBatcher(model, max_wait=0.005)
    futures = [asyncio.wrap_future(f) for f in batcher.submit_each(["a", "b", "c"])]
    futures.append(asyncio.wrap_future(batcher.submit(["d", "e"])))
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert all(isinstance(r, type(down)) for r in results)
    assert model.calls == [["a", "b", "c", "d", "e"]]  # one call; nothing sent again


async def test_embed_each_gives_each_text_its_vector_or_its_own_typed_error() -> None:
    model = CountingModel()
    embedder = Embedder(None, "counting", 2, loader=lambda: None)
    embedder.batcher = MicroBatcher(model, max_wait=0.005)
    out = await embedder.embed_each(["one", "poison", "one", "three"])
    assert isinstance(out[1], TTAMemoryError) and "counting" in str(out[1])
    assert isinstance(out[1].__cause__, RuntimeError)
    for i, text in ((0, "one"), (2, "one"), (3, "three")):
        assert np.frombuffer(out[i], dtype=np.float32).tolist() == _expected(text)  # type: ignore[arg-type]
    assert model.calls[0] == ["one", "poison", "three"]  # a repeated text is embedded once


async def test_embed_each_with_a_remote_service() -> None:
    from redisvl.utils.vectorize import CustomVectorizer

    calls: list[list[str]] = []
    down = False

    async def aembed_many(texts: list[str], **_: object) -> list[list[float]]:
        calls.append(list(texts))
        if down:
            raise ConnectError("service unreachable")
        if "poison" in texts:
            raise RuntimeError("input too long")
        return [_expected(t) for t in texts]

    service = CustomVectorizer(
        embed=lambda t, **_: _expected(t),
        embed_many=lambda ts, **_: [_expected(t) for t in ts],
        aembed_many=aembed_many,
    )
    embedder = Embedder(service, "remote", 2)
    assert embedder.batcher is None  # a native async service is awaited directly
    out = await embedder.embed_each(["a", "poison", "b"])
    assert isinstance(out[1], TTAMemoryError) and "input too long" in str(out[1])
    assert [np.frombuffer(out[i], dtype=np.float32).tolist() for i in (0, 2)] == [  # type: ignore[arg-type]
        _expected("a"),
        _expected("b"),
    ]
    assert sum(c.count("poison") for c in calls) == 2  # in the batch, then alone
    calls.clear()
    down = True
    out = await embedder.embed_each(["a", "b", "c"])
    assert all(isinstance(o, TTAMemoryError) and "service unreachable" in str(o) for o in out)
    assert len({id(o) for o in out}) == 3  # each caller its own error instance
    assert calls == [["a", "b", "c"]]  # an unreachable service is not asked again
