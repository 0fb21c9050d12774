"""Round-trip deadlines kept by one timer per event loop instead of one timer per round trip.

``asyncio.timeout`` schedules a timer for every round trip and cancels it a fraction of a
millisecond later; the cancelled timers stay in the loop's heap until they reach its top, and
each push compares against them (a profile of 5,900 single-command round trips: 11 heap
comparisons and two timers per command, ~15 % of the client's own time). The deadlines of one
client share a length (``Settings.failure_bound``), so they expire in the order they start:
one timer, armed for the oldest running deadline, cancels every task past its own when it
fires and re-arms for the next one; with no round trip running it is not re-armed. A round
trip costs two dictionary updates.
"""

from __future__ import annotations

import asyncio


class Deadlines:
    """The running round trips of one event loop (task -> loop time of its deadline).

    Use :meth:`start` and :meth:`finish` around the round trip; when the round trip raises
    ``CancelledError``, :meth:`expired` says whether this deadline caused it (it then takes
    the cancellation back, and the caller raises its timeout error instead)."""

    __slots__ = ("_expired", "_loop", "_running", "_timer")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._running: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop these deadlines run on."""
        return self._loop

    def start(self, task: asyncio.Task[object], when: float) -> None:
        """``task`` starts a round trip that must end by loop time ``when`` (not earlier than
        any deadline already running: the deadlines share a length)."""
        self._running[task] = when
        if self._timer is None:
            self._timer = self._loop.call_at(when, self._fire)

    def finish(self, task: asyncio.Task[object]) -> None:
        """``task``'s round trip ended (in time or not)."""
        self._running.pop(task, None)
        self._expired.discard(task)  # a cancellation the round trip did not report

    def expired(self, task: asyncio.Task[object]) -> bool:
        """Whether ``task`` was cancelled by its deadline (the cancellation is then undone)."""
        if task not in self._expired:
            return False
        self._expired.discard(task)
        task.uncancel()
        return True

    def _fire(self) -> None:
        self._timer = None
        now = self._loop.time()
        running = self._running
        for task, when in list(running.items()):
            if when > now:  # the oldest one not yet due: wait for it
                self._timer = self._loop.call_at(when, self._fire)
                return
            del running[task]
            if not task.done():
                self._expired.add(task)
                task.cancel()
