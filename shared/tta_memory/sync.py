"""Blocking use of the async engine, in plain scripts and inside a running loop (Jupyter).

Coroutines run on one private event loop in a daemon thread, so the caller's loop (if any) is
never re-entered and the Redis clients bound to that private loop are reused across calls.
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
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="tta-memory-sync", daemon=True).start()
            _loop = loop
        return _loop


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on the engine's background loop and return its result.

    Args:
        coro: A coroutine of the engine.

    Returns:
        Whatever the coroutine returns; its exception is raised here.
    """
    loop = _background_loop()
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coro.close()
        raise RuntimeError("a blocking call was made on the engine's own loop; await it instead")
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


class SyncProxy:
    """Blocking twins of an object's coroutine methods: ``memory.sync.add_session_message(...)``."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if inspect.iscoroutinefunction(attr):
            return _blocking(attr)
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
