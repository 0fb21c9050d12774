"""The embedded server's pure helpers: polling until a condition holds, the module arguments of
a ``redis-server`` command line and reading a pid file (no server started)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tta_memory.server.launch import module_args
from tta_memory.server.process import read_pid, wait_until
from tta_memory.server.startup import still_loading


def test_wait_until_polls_until_the_check_holds() -> None:
    answers = iter([False, False, True])
    calls: list[int] = []

    def check() -> bool:
        calls.append(1)
        return next(answers)

    assert wait_until(check, time.monotonic() + 60, first=0.0, cap=0.0)
    assert len(calls) == 3


def test_wait_until_gives_up_after_the_deadline() -> None:
    calls: list[int] = []

    def check() -> bool:
        calls.append(1)
        return False

    # A deadline already past: one last look, then False (never an endless loop).
    assert not wait_until(check, time.monotonic() - 1, first=0.0, cap=0.0)
    assert len(calls) == 1


def test_wait_until_counts_tolerated_errors_as_not_yet() -> None:
    outcomes: list[BaseException | bool] = [ConnectionRefusedError("down"), True]

    def check() -> bool:
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    assert wait_until(check, time.monotonic() + 60, first=0.0, cap=0.0, tolerate=(OSError,))
    assert outcomes == []


def test_wait_until_lets_other_errors_through() -> None:
    def check() -> bool:
        raise ValueError("a bug, not a server starting")

    with pytest.raises(ValueError, match="a bug"):
        wait_until(check, time.monotonic() + 60, first=0.0, cap=0.0, tolerate=(OSError,))


def test_module_args_load_the_query_engine_and_json() -> None:
    assert module_args(Path("/opt/modules")) == [
        "--loadmodule",
        "/opt/modules/redisearch.so",
        "--loadmodule",
        "/opt/modules/rejson.so",
    ]


def test_module_args_are_empty_for_a_server_with_the_modules_built_in() -> None:
    assert module_args(None) == []


def test_read_pid(tmp_path: Path) -> None:
    pid_file = tmp_path / "redis.pid"
    assert read_pid(pid_file) is None  # no file yet
    pid_file.write_text("4242\n")
    assert read_pid(pid_file) == 4242
    pid_file.write_text("")  # the daemon created it but has not written the pid yet
    assert read_pid(pid_file) is None


def test_a_server_that_said_it_was_loading_is_still_loading_while_it_does_not_answer() -> None:
    # The end of a large load blocks the server for seconds: no answer then is not a hang.
    assert still_loading("loading", seen_loading=False)
    assert still_loading("down", seen_loading=True)
    assert not still_loading("down", seen_loading=False)
    assert not still_loading("auth", seen_loading=True)
