"""Round-trip deadlines kept by one timer per loop (tta_memory.deadlines): a round trip past
its deadline is cancelled and reported as expired, one that ends in time is left alone, and a
cancellation from elsewhere stays a cancellation."""

from __future__ import annotations

import asyncio

import pytest
from tta_memory.deadlines import Deadlines


async def _round_trip(deadlines: Deadlines, bound: float, work: float) -> str:
    loop = asyncio.get_running_loop()
    task: asyncio.Task[object] = asyncio.current_task()  # type: ignore[assignment]
    deadlines.start(task, loop.time() + bound)
    try:
        await asyncio.sleep(work)
        return "done"
    except asyncio.CancelledError:
        if deadlines.expired(task):
            return "expired"
        raise
    finally:
        deadlines.finish(task)


async def test_a_round_trip_past_its_deadline_is_cut() -> None:
    deadlines = Deadlines(asyncio.get_running_loop())
    task = asyncio.create_task(_round_trip(deadlines, 0.05, 5.0))
    assert await asyncio.wait_for(task, 2.0) == "expired"
    assert task.cancelling() == 0  # the deadline's cancellation was taken back


async def test_round_trips_in_time_are_left_alone_and_the_timer_stops() -> None:
    deadlines = Deadlines(asyncio.get_running_loop())
    results = await asyncio.gather(*(_round_trip(deadlines, 0.05, 0.0) for _ in range(50)))
    assert results == ["done"] * 50
    await asyncio.sleep(0.1)  # the timer fires once, finds nothing running, is not re-armed
    assert deadlines._timer is None and deadlines._running == {}


async def test_overlapping_round_trips_each_get_their_own_deadline() -> None:
    deadlines = Deadlines(asyncio.get_running_loop())
    bound = 0.3  # one length for all, as for one client
    slow = asyncio.create_task(_round_trip(deadlines, bound, 5.0))
    await asyncio.sleep(0.2)
    # Started later, its deadline is later: it ends in time although the slow one expires.
    quick = asyncio.create_task(_round_trip(deadlines, bound, 0.15))
    assert await asyncio.wait_for(slow, 2.0) == "expired"
    assert await asyncio.wait_for(quick, 2.0) == "done"
    # Two slow ones: the timer, fired for the first, re-arms for the second.
    first = asyncio.create_task(_round_trip(deadlines, bound, 5.0))
    await asyncio.sleep(0.1)
    second = asyncio.create_task(_round_trip(deadlines, bound, 5.0))
    assert await asyncio.wait_for(first, 2.0) == "expired"
    assert await asyncio.wait_for(second, 2.0) == "expired"


async def test_a_cancellation_from_elsewhere_stays_one() -> None:
    deadlines = Deadlines(asyncio.get_running_loop())
    task = asyncio.create_task(_round_trip(deadlines, 5.0, 5.0))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert deadlines._running == {}
