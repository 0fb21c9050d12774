"""The engine's retry policy logs each retried failure (pure: the failures are made up)."""

from __future__ import annotations

import logging

import pytest
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from tta_memory.observability import LoggedRetry


async def test_each_retry_is_logged_and_the_result_comes_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []
    disconnects: list[str] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RedisConnectionError(f"connection reset #{len(calls)}")
        return "PONG"

    async def fail(error: Exception) -> None:
        disconnects.append(str(error))

    retry = LoggedRetry(NoBackoff(), 3)
    with caplog.at_level(logging.INFO, logger="tta_memory.retries"):
        assert await retry.call_with_retry(flaky, fail) == "PONG"
    assert disconnects == ["connection reset #1", "connection reset #2"]
    messages = [r.getMessage() for r in caplog.records if r.name == "tta_memory.retries"]
    assert messages == [
        "Redis call failed (ConnectionError: connection reset #1); retry 1 of 3",
        "Redis call failed (ConnectionError: connection reset #2); retry 2 of 3",
    ]


async def test_the_last_failure_is_raised_without_a_retry_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def down() -> None:
        raise RedisConnectionError("refused")

    async def fail(error: Exception) -> None:
        return None

    with (
        caplog.at_level(logging.INFO, logger="tta_memory.retries"),
        pytest.raises(RedisConnectionError, match="refused"),
    ):
        await LoggedRetry(NoBackoff(), 1).call_with_retry(down, fail)
    assert len([r for r in caplog.records if r.name == "tta_memory.retries"]) == 1
