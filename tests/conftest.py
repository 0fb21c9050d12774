"""Shared fixtures: one throwaway embedded Redis (with the Query Engine) per test run, and a
fresh workspace per test so that tests never see each other's data."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tta_memory import EmbeddedRedis, MemoryWorkflowPrimitive, SessionGroupPrimitive  # noqa: E402


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    """A real Redis 8 + RediSearch + JSON server in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="tta-test-") as tmp:
        server = EmbeddedRedis(data_dir=Path(tmp) / "data", socket_dir=Path(tmp) / "run")
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: EmbeddedRedis) -> str:
    """URL of the test server."""
    return redis_server.url


@pytest.fixture
def workspace() -> str:
    """A workspace no other test uses."""
    return f"ws-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def memory(redis_url: str, workspace: str) -> MemoryWorkflowPrimitive:
    """The guide's memory primitive on the test server, in a fresh workspace."""
    return MemoryWorkflowPrimitive(redis_url=redis_url, user_id="test-user", workspace=workspace)


@pytest.fixture
def groups(redis_url: str, workspace: str) -> SessionGroupPrimitive:
    """The guide's session-group primitive on the test server, in the same workspace."""
    return SessionGroupPrimitive(redis_url=redis_url, user_id="test-user", workspace=workspace)
