"""Blocking use of the async engine, in plain scripts and inside a running loop (Jupyter).

Coroutines run on one private event loop in a daemon thread, so the caller's loop (if any) is
never re-entered, the Redis clients bound to that private loop are reused across calls, and
blocking callers in different threads meet in the same loop (their single deep-memory creates
are batched together: ``stores/deep/coalesce.py``).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    loop = _loop
    if loop is not None and not loop.is_closed():
        return loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="tta-memory-sync", daemon=True).start()
            _loop = loop
        return _loop


class _Handoff:
    """One coroutine handed to the background loop and its outcome handed back.

    Lighter than ``asyncio.run_coroutine_threadsafe`` (a ``concurrent.futures.Future``, its
    condition variable and the two-way future chaining): a task, a done callback and a lock
    the caller blocks on (~10 us less per blocking call in ``benchmarks/append_lab.py``)."""

    __slots__ = ("coro", "done", "error", "loop", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any]) -> None:
        self.loop, self.coro = loop, coro
        self.task: asyncio.Task[Any] | None = None
        self.error: BaseException | None = None
        self.done = threading.Lock()
        self.done.acquire()

    def start(self) -> None:  # on the loop
        try:
            self.task = self.loop.create_task(self.coro)
        except BaseException as exc:  # a closing loop: the caller raises it
            self.coro.close()
            self.error = exc
            self.done.release()
        else:
            self.task.add_done_callback(self.finish)

    def finish(self, _: asyncio.Task[Any]) -> None:  # on the loop
        self.done.release()

    def wait(self) -> Any:  # in the caller's thread
        self.loop.call_soon_threadsafe(self.start)
        try:
            self.done.acquire()
        except BaseException:  # interrupted (Ctrl-C): stop the call rather than orphan it
            self.loop.call_soon_threadsafe(self.cancel)
            raise
        if self.error is not None:
            raise self.error
        if self.task is None:
            raise RuntimeError("the engine's loop did not start the call")
        return self.task.result()

    def cancel(self) -> None:  # on the loop
        if self.task is not None:
            self.task.cancel()


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on the engine's background loop and return its result.

    Args:
        coro: A coroutine of the engine.

    Returns:
        Whatever the coroutine returns; its exception is raised here.
    """
    loop = _background_loop()
    if asyncio._get_running_loop() is loop:  # the non-raising form of get_running_loop()
        coro.close()
        raise RuntimeError("a blocking call was made on the engine's own loop; await it instead")
    result: T = _Handoff(loop, coro).wait()
    return result


class SyncProxy:
    """Blocking twins of an object's coroutine methods: ``memory.sync.add_session_message(...)``."""

    def __init__(self, target: Any) -> None:
        self._target = target
        # name -> (the bound method, its blocking twin): building the twin (functools.wraps)
        # took ~4 us of every blocking call.
        self._twins: dict[str, tuple[Any, Callable[..., Any]]] = {}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        twin = self._twins.get(name)
        if twin is not None and twin[0] == attr:  # the same method of the same object
            return twin[1]
        if inspect.iscoroutinefunction(attr):
            blocking = _blocking(attr)
            self._twins[name] = (attr, blocking)
            return blocking
        if hasattr(attr, "sync") and isinstance(attr.sync, SyncProxy):
            return attr.sync
        return attr

    def __dir__(self) -> list[str]:
        return [n for n in dir(self._target) if not n.startswith("_")]


def _blocking(fn: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> T:
        return run_sync(fn(*args, **kwargs))

    return call
