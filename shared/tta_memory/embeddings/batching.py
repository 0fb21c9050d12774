"""Micro-batching: texts of concurrent callers go to a local model together.

A local model embeds a batch of 16 short texts in a fraction of 16 single calls' time, while
agents and chat stores write one memory per call. One worker thread owns the model: callers
queue their texts and await a future, so no event loop ever blocks on inference. The worker
takes every request already queued; when the previous batch had several callers (concurrency
is going on) it also waits up to ``max_wait`` for more, until ``max_batch`` texts. A lone caller
therefore never waits for company: its cost is one thread hand-off. When a batch fails, each
caller's texts are encoded again alone, so a text the model (or service) refuses fails only
its own caller.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

MAX_BATCH = 64
# Long enough for callers that just got their vectors to write and come back with the next
# text (one Redis round trip), short against a batch's model time (benchmarks/embed.py).
MAX_WAIT = 0.004


@dataclass
class _Request:
    texts: list[str]
    future: concurrent.futures.Future[np.ndarray] = field(default_factory=concurrent.futures.Future)


class MicroBatcher:
    """Runs ``encode`` in one worker thread on the texts of all callers queued together.

    Args:
        encode: Texts -> float32 array ``(len(texts), dims)``; called only by the worker.
        max_batch: Stop gathering once this many texts are in the batch.
        max_wait: Seconds to wait for more callers while concurrency is going on.
    """

    def __init__(
        self,
        encode: Callable[[list[str]], np.ndarray],
        max_batch: int = MAX_BATCH,
        max_wait: float = MAX_WAIT,
    ) -> None:
        self._encode = encode
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._queue: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._concurrent = False
        self.batches = 0  # model calls made (tests and benchmarks read these two)
        self.texts = 0

    def submit(self, texts: list[str]) -> concurrent.futures.Future[np.ndarray]:
        """Queue ``texts``; the future resolves to their vectors, in order."""
        request = _Request(list(texts))
        # A forked child inherits no worker thread: it starts its own (with a fresh queue).
        if self._thread is None or self._pid != os.getpid():
            with self._lock:
                if self._thread is None or self._pid != os.getpid():
                    self._queue = queue.SimpleQueue()
                    self._pid = os.getpid()
                    self._thread = threading.Thread(
                        target=self._run, args=(self._queue,), name="tta-memory-embed", daemon=True
                    )
                    self._thread.start()
        self._queue.put(request)
        return request.future

    async def embed(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` together with whatever other callers queue meanwhile."""
        return await asyncio.wrap_future(self.submit(texts))

    def _gather(self, pending: queue.SimpleQueue[_Request], first: _Request) -> list[_Request]:
        batch, size = [first], len(first.texts)
        deadline = time.monotonic() + self.max_wait if self._concurrent else 0.0
        while size < self.max_batch:
            try:
                request = pending.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    request = pending.get(timeout=remaining)
                except queue.Empty:
                    break
            batch.append(request)
            size += len(request.texts)
        return batch

    def _run(self, pending: queue.SimpleQueue[_Request]) -> None:
        while True:
            gathered = self._gather(pending, pending.get())
            self._concurrent = len(gathered) > 1
            # A caller cancelled meanwhile (its task was cancelled) needs no vectors.
            batch = [r for r in gathered if r.future.set_running_or_notify_cancel()]
            if not batch:
                continue
            texts = [t for request in batch for t in request.texts]
            try:
                vectors = self._encode(texts)
            except BaseException as exc:  # the worker lives on
                if len(batch) == 1:
                    batch[0].future.set_exception(exc)
                else:  # maybe one caller's text: each caller's texts alone, each its outcome
                    for request in batch:
                        self._alone(request)
                continue
            self.batches += 1
            self.texts += len(texts)
            lo = 0
            for request in batch:
                hi = lo + len(request.texts)
                request.future.set_result(vectors[lo:hi])
                lo = hi

    def _alone(self, request: _Request) -> None:
        try:
            vectors = self._encode(request.texts)
        except BaseException as exc:
            request.future.set_exception(exc)
            return
        self.batches += 1
        self.texts += len(request.texts)
        request.future.set_result(vectors)
