"""Micro-batching: texts of concurrent callers go to a local model together.

A local model embeds a batch of 16 short texts in a fraction of 16 single calls' time, while
agents and chat stores write one memory per call. One worker thread owns the model: callers
queue their texts and await a future, so no event loop ever blocks on inference. The worker
takes every request already queued; when the previous batch had several callers (concurrency
is going on) it also waits up to ``max_wait`` for more, until ``max_batch`` texts. A lone caller
therefore never waits for company: its cost is one thread hand-off.

A request may hold several parts, each with its own future (:meth:`MicroBatcher.submit_each`:
the write coalescer's texts, one per caller): the parts share the model call, and each gets
its own outcome. When a model call of several parts fails, each part is encoded once more
alone, so a text the model (or service) refuses fails only its own part; this is the one place
a refused text is retried (at most twice encoded in all). A failure that says the model cannot
be reached (a remote service's connection error or timeout) is everyone's: no part is sent
again.
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
class _Part:
    texts: list[str]
    future: concurrent.futures.Future[np.ndarray] = field(default_factory=concurrent.futures.Future)


#: What one ``put`` queues: parts that arrive together (so they are batched together).
_Request = list[_Part]


def unreachable(exc: BaseException) -> bool:
    """Whether a model failure says the model (a remote service) could not be reached or did not
    answer in time: no single text's fault, so sending each text again would fail again, slower.

    Recognised by type: the builtin ``ConnectionError`` and ``TimeoutError`` and, for client
    libraries whose errors do not derive from them (httpx ``ConnectError``/``ReadTimeout``,
    openai ``APIConnectionError``/``APITimeoutError``), any class of the error's type, cause or
    context named ``*Connect*`` or ``*Timeout*``.
    """
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, ConnectionError | TimeoutError):
            return True
        if any("Connect" in c.__name__ or "Timeout" in c.__name__ for c in type(error).__mro__):
            return True
        error = error.__cause__ or error.__context__
    return False


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
        (future,) = self._put([_Part(list(texts))])
        return future

    def submit_each(self, texts: list[str]) -> list[concurrent.futures.Future[np.ndarray]]:
        """Queue ``texts`` together, each with its own future (its vector, shape ``(1, dims)``,
        or its own failure)."""
        return self._put([_Part([t]) for t in texts])

    def _put(self, request: _Request) -> list[concurrent.futures.Future[np.ndarray]]:
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
        return [part.future for part in request]

    async def embed(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` together with whatever other callers queue meanwhile."""
        return await asyncio.wrap_future(self.submit(texts))

    def _gather(self, pending: queue.SimpleQueue[_Request], first: _Request) -> list[_Request]:
        batch, size = [first], _size(first)
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
            size += _size(request)
        return batch

    def _run(self, pending: queue.SimpleQueue[_Request]) -> None:
        while True:
            gathered = self._gather(pending, pending.get())
            self._concurrent = len(gathered) > 1
            # A caller cancelled meanwhile (its task was cancelled) needs no vectors.
            parts = [p for r in gathered for p in r if p.future.set_running_or_notify_cancel()]
            if not parts:
                continue
            failure = self._try(parts)  # the worker lives on, whatever the model raises
            if failure is None:
                continue
            if len(parts) == 1 or unreachable(failure):
                for part in parts:
                    part.future.set_exception(failure)
                continue
            for part in parts:  # maybe one part's text: each part alone, each its outcome
                alone = self._try([part])
                if alone is not None:
                    part.future.set_exception(alone)

    def _try(self, parts: list[_Part]) -> BaseException | None:
        """Encode ``parts`` in one model call and give each its rows; else return the failure."""
        texts = [t for part in parts for t in part.texts]
        try:
            vectors = self._encode(texts)
        except BaseException as exc:
            return exc
        self.batches += 1
        self.texts += len(texts)
        lo = 0
        for part in parts:
            hi = lo + len(part.texts)
            part.future.set_result(vectors[lo:hi])
            lo = hi
        return None


def _size(request: _Request) -> int:
    return sum(len(part.texts) for part in request)
