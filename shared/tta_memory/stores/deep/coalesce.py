"""Write coalescing: concurrent single deep-memory creates are written together.

Agents and chat stores write one memory per call, many calls at once. Alone, each call costs a
model call, a dedup lookup, maybe a contextual read and a ``MULTI``/``EXEC``, plus the engine's
Python work per round trip, all competing with the model for the same cores. The coalescer
queues every single create of an event loop and writes them in batches, like
``create_deep_memories`` does: one lookup per workspace, one model call, one ``MULTI`` per
partition (a transaction must stay in one Redis Cluster slot; a partition is one slot).

Batching without waiting, and without leaving the model idle: a batch starts as soon as the
previous batch's texts are queued for the model, and takes the creates queued meanwhile, at most
half of those in flight (and at most ``max_batch``). Two batches then alternate: one is embedded
while the other is looked up and written, and its callers come back with their next memory
before the model is free. (Taking every queued create instead put all 16 writers of the ingest
benchmark in one batch, and the model waited for that batch's writes and its callers'
turnaround every time: see benchmarks/README.md.) A lone caller never waits for company.
``max_wait`` (off by default) makes a batch also wait for more while writes are concurrent. The
writes of one partition (contextual indexing reads the session's stored tail, hygiene the
nearest stored memories) are serialised by a lock, so each batch sees the previous one's.

Each caller gets its own result and its own error: validation happens in the caller before
anything is queued; identical concurrent creates (same workspace, scope and text) wait for the
first one and share its memory; a text the model refuses fails its own caller only (the
embedder isolates it: ``Embedder.embed_each``), and the others are written; when a Redis step
fails for a reason that may be one request's (anything but an unreachable server), the batch's
requests are written again one by one, with the vectors already computed, so only the culprit
fails. A ``MULTI`` is all or nothing, so a failed batch stores nothing.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections import deque
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tta_memory.backend import translate
from tta_memory.errors import BackendFullError, BackendUnavailableError, InternalError
from tta_memory.models import DeepMemory
from tta_memory.stores.deep.dedup import CreatePlan
from tta_memory.stores.deep.records import scope_of

if TYPE_CHECKING:
    from tta_memory.stores.deep.storage import ContextWrites, DeepStorage

_Key = tuple[str, str, str]


@dataclass(eq=False)
class _Request:
    store: DeepStorage
    doc: dict[str, Any]
    future: asyncio.Future[DeepMemory]

    @property
    def key(self) -> _Key:
        """Requests with the same key create the same memory."""
        return (self.doc["workspace"], scope_of(self.doc), self.doc["content_hash"])


@dataclass(eq=False)
class _Group:
    """Requests of one workspace written with the same settings and model, once planned."""

    store: DeepStorage
    requests: list[_Request]
    plan: CreatePlan
    own: list[bytes] = field(default_factory=list)
    payload: list[dict[str, Any]] = field(default_factory=list)
    writes: ContextWrites | None = None
    error: Exception | None = None


def _group_key(store: DeepStorage) -> Hashable:
    ctx = store._ctx
    s = ctx.settings
    return (ctx.workspace, id(ctx.embedder), s.contextual, s.hygiene)


def _own_error(exc: BaseException) -> Exception:
    """A typed error of its own for one caller (the same instance is never raised twice)."""
    typed = translate(exc)
    if typed is None:
        typed = InternalError(f"{type(exc).__name__}: {exc}")
    typed.__cause__ = exc
    return typed


def _isolatable(exc: BaseException) -> bool:
    """Whether a failure may be one request's, so the others are worth writing alone.

    An unreachable server is everyone's: retrying each request would only make every caller
    wait out the failure bound twice. A full server (OOM) may refuse one big memory only.
    """
    typed = translate(exc)
    return not isinstance(typed, BackendUnavailableError) or isinstance(typed, BackendFullError)


class WriteCoalescer:
    """Writes the single creates of one event loop and backend in batches.

    Args:
        max_batch: Most requests per batch.
        max_wait: Seconds a batch waits for more requests while writes are concurrent.
    """

    def __init__(self, max_batch: int, max_wait: float) -> None:
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._pending: deque[_Request] = deque()
        self._arrived = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._leaders: dict[_Key, asyncio.Future[DeepMemory]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._concurrent = False
        self._in_flight = 0  # requests taken into batches and not settled yet
        self.batches = 0  # batches started and requests in them (tests and benchmarks read)
        self.requests = 0

    async def create(self, store: DeepStorage, doc: dict[str, Any]) -> DeepMemory:
        """Store one validated memory (``DeepStorage.encode``'s fields) with others queued."""
        request = _Request(store, doc, asyncio.get_running_loop().create_future())
        self._queue(request)
        return await request.future

    def _queue(self, request: _Request) -> None:
        self._pending.append(request)
        self._arrived.set()
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            if self._concurrent and self.max_wait > 0:
                deadline = loop.time() + self.max_wait
                while len(self._pending) < self.max_batch:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    self._arrived.clear()
                    try:
                        await asyncio.wait_for(self._arrived.wait(), remaining)
                    except TimeoutError:
                        break
            # At most half of the creates in flight: the other half is the next batch.
            cap = min(self.max_batch, max(1, (len(self._pending) + self._in_flight + 1) // 2))
            batch: list[_Request] = []
            while self._pending and len(batch) < cap:
                request = self._pending.popleft()
                if not request.future.done():  # a cancelled caller needs no memory
                    batch.append(request)
            if not batch:
                continue
            self._concurrent = len(batch) > 1
            self.batches += 1
            self.requests += len(batch)
            self._in_flight += len(batch)
            queued = asyncio.Event()
            task = loop.create_task(self._flush(batch, queued))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            # The next batch starts once this one's texts wait for the model.
            await queued.wait()

    def _lead(self, batch: list[_Request]) -> list[_Request]:
        """The requests to write; a repeat of one being written waits for its memory."""
        out = []
        for request in batch:
            key = request.key
            leader = self._leaders.get(key)
            if leader is not None and not leader.done():
                leader.add_done_callback(functools.partial(self._follow, request))
                continue
            self._leaders[key] = request.future
            request.future.add_done_callback(functools.partial(self._release, key))
            out.append(request)
        return out

    def _release(self, key: _Key, future: asyncio.Future[DeepMemory]) -> None:
        if self._leaders.get(key) is future:
            del self._leaders[key]

    def _follow(self, request: _Request, leader: asyncio.Future[DeepMemory]) -> None:
        if request.future.done():
            return
        if leader.cancelled() or leader.exception() is not None:
            self._queue(request)  # written on its own account in a later batch
        else:
            request.future.set_result(leader.result())

    async def _flush(self, batch: list[_Request], queued: asyncio.Event) -> None:
        groups: list[_Group] = []
        unplanned: list[tuple[list[_Request], Exception]] = []
        try:
            try:
                groups, unplanned = await self._plan(self._lead(batch))
                await self._embed(groups, queued)
            finally:
                queued.set()
            parts: dict[str, list[_Group]] = {}
            for g in groups:
                if g.error is None and g.requests:
                    parts.setdefault(g.store._ctx.keys.partition.hashtag, []).append(g)
            await asyncio.gather(*(self._write(tag, gs) for tag, gs in parts.items()))
            await asyncio.gather(
                *(self._settle(g) for g in groups),
                *(self._fail(rs, error, {}) for rs, error in unplanned),
            )
        except BaseException as exc:  # a bug or the loop shutting down: no caller hangs
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(_own_error(exc))
            if not isinstance(exc, Exception):
                raise
        finally:
            self._in_flight -= len(batch)

    async def _plan(
        self, requests: list[_Request]
    ) -> tuple[list[_Group], list[tuple[list[_Request], Exception]]]:
        """Dedup lookups, one per workspace: the planned groups, and the requests of the
        workspaces whose lookup failed, with the failure."""
        by_key: dict[Hashable, list[_Request]] = {}
        for request in requests:
            by_key.setdefault(_group_key(request.store), []).append(request)
        todo = list(by_key.values())
        plans = await asyncio.gather(
            *(rs[0].store._plan([r.doc for r in rs]) for rs in todo), return_exceptions=True
        )
        groups: list[_Group] = []
        failed: list[tuple[list[_Request], Exception]] = []
        for rs, plan in zip(todo, plans, strict=True):
            if isinstance(plan, Exception):
                failed.append((rs, plan))
            elif isinstance(plan, BaseException):
                raise plan
            else:
                groups.append(_Group(rs[0].store, rs, plan))
        return groups, failed

    async def _embed(self, groups: list[_Group], queued: asyncio.Event) -> None:
        """One model call per embedder for every new memory of the batch; ``queued`` is set
        once the texts are handed to the model. A text the model refuses fails its caller (the
        embedder already tried it alone) and leaves its group."""
        by_model: dict[int, list[_Group]] = {}
        for g in groups:
            by_model.setdefault(id(g.store._ctx.embedder), []).append(g)

        async def run(gs: list[_Group]) -> None:
            texts = [t for g in gs for t in g.plan.texts]
            if not texts:
                return
            try:
                outcomes = await gs[0].store._ctx.embedder.embed_each(texts)
            except Exception as exc:
                for g in gs:
                    g.error = exc
                return
            lo = 0
            for g in gs:
                mine, lo = outcomes[lo : lo + len(g.plan.new)], lo + len(g.plan.new)
                refused = {
                    i: o for i, o in zip(g.plan.new, mine, strict=True) if not isinstance(o, bytes)
                }
                g.own = [o for o in mine if isinstance(o, bytes)]
                if refused:
                    self._refuse(g, refused)

        jobs = [asyncio.ensure_future(run(gs)) for gs in by_model.values()]
        if jobs:
            # One loop turn lets each job queue its texts (a local model's worker thread).
            await asyncio.sleep(0)
        queued.set()
        await asyncio.gather(*jobs)

    def _refuse(self, group: _Group, refused: Mapping[int, Exception]) -> None:
        """Fail the requests whose text was refused; the group keeps the others."""
        plan, keep = group.plan, []
        for i, request in enumerate(group.requests):
            error = refused.get(plan.source(i))
            if error is None:
                keep.append(request)
            elif not request.future.done():
                request.future.set_exception(_own_error(error))
        group.requests, group.plan = keep, plan.without(set(refused))

    async def _write(self, tag: str, groups: list[_Group]) -> None:
        """Contextual indexing and hygiene, then one ``MULTI`` for the partition's groups."""
        lock = self._locks.setdefault(tag, asyncio.Lock())
        async with lock:
            await asyncio.gather(*(self._prepare(g) for g in groups))
            live = [g for g in groups if g.error is None and g.payload]
            if not live:
                return
            try:
                client = await live[0].store._ctx.client()
                async with client.pipeline(transaction=True) as pipe:
                    for g in live:
                        g.store._queue_writes(pipe, g.payload, g.writes)
                    await pipe.execute()
            except Exception as exc:
                for g in live:
                    g.error = exc

    async def _prepare(self, group: _Group) -> None:
        if not group.plan.new:
            return
        try:
            group.payload = group.plan.payload(group.own)
            group.writes = await group.store._index_in_context(group.payload, group.own)
        except Exception as exc:
            group.error = exc

    async def _settle(self, group: _Group) -> None:
        """Give each request of the group its memory or its own error."""
        if group.error is None:
            memories = group.plan.results(group.payload)
            for request, memory in zip(group.requests, memories, strict=True):
                if not request.future.done():
                    request.future.set_result(memory)
            return
        known = dict(zip(group.plan.texts, group.own, strict=False))
        await self._fail(group.requests, group.error, known)

    async def _fail(
        self, requests: list[_Request], error: Exception, known: dict[str, bytes]
    ) -> None:
        """A batch step failed for ``requests``: one by one again if it may be one request's
        (with the vectors already computed: ``known``), else each its own copy of the error."""
        if len(requests) > 1 and _isolatable(error):
            # One by one, as the module says: each retry reads the session tail the previous
            # one wrote (run together, they all chained to the same predecessor).
            for request in requests:
                await self._alone(request, known)
            return
        for request in requests:
            if not request.future.done():
                request.future.set_exception(_own_error(error))

    async def _alone(self, request: _Request, known: dict[str, bytes]) -> None:
        try:
            (memory,) = await request.store._create_batch([request.doc], known)
        except Exception as exc:
            if not request.future.done():
                request.future.set_exception(exc)
            return
        if not request.future.done():
            request.future.set_result(memory)


_coalescers: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[Hashable, WriteCoalescer]
] = weakref.WeakKeyDictionary()


def coalescer_for(store: DeepStorage) -> WriteCoalescer:
    """The running loop's coalescer for ``store``'s backend and coalescing bounds."""
    ctx = store._ctx
    s = ctx.settings
    per_loop = _coalescers.setdefault(asyncio.get_running_loop(), {})
    key = (ctx.backend, s.coalesce_max_batch, s.coalesce_max_wait_ms)
    coalescer = per_loop.get(key)
    if coalescer is None:
        coalescer = per_loop[key] = WriteCoalescer(
            s.coalesce_max_batch, s.coalesce_max_wait_ms / 1000
        )
    return coalescer
