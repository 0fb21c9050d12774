"""Shared fixtures: one throwaway embedded Redis (with the Query Engine) per test run, and a
fresh workspace per test so that tests never see each other's data."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings as hypothesis_settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from servers import crash_report, throwaway_server
from tta_memory import EmbeddedRedis, MemoryWorkflowPrimitive, SessionGroupPrimitive

# Property tests draw the same examples on every run (CI and here alike), so a run is
# reproducible; HYPOTHESIS_PROFILE=explore draws fresh ones for a bug hunt.
hypothesis_settings.register_profile("repeatable", derandomize=True)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

if TYPE_CHECKING:
    from nbformat import NotebookNode


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    """A real Redis 8 + RediSearch + JSON server in a temporary directory."""
    with throwaway_server() as server:
        yield server


@pytest.fixture(autouse=True)
def _shared_server_survives(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test during which the shared server died, with the server's log, and start it
    again on its data (AOF) so that the tests after it still say something.

    Twice a CI run saw "connection refused" from one test to the end of the run (175 failures)
    and the log went with the temporary directory, so nobody could tell why it died; the log is
    also kept in ``$TMPDIR/tta-test-server-died-<pid>.log``.
    """
    yield
    if "redis_server" not in request.fixturenames:
        return
    server: EmbeddedRedis = request.getfixturevalue("redis_server")
    if server.is_running():
        return
    kept = Path(tempfile.gettempdir()) / f"tta-test-server-died-{os.getpid()}.log"
    with contextlib.suppress(OSError):
        shutil.copyfile(server.log_file, kept)
    report = crash_report(server.log_file)
    server.start()
    pytest.fail(f"the shared test server died during this test (log kept in {kept}):\n{report}")


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


@pytest.fixture
def run_notebook(
    redis_url: str, workspace: str, monkeypatch: pytest.MonkeyPatch
) -> Callable[[Path], NotebookNode]:
    """Execute a notebook top to bottom (a real Jupyter kernel) against the test server.

    The kernel is a subprocess that inherits the environment: ``TTA_MEMORY_REDIS_URL`` and
    ``TTA_MEMORY_WORKSPACE`` name the test server and this test's workspace (restored after
    the test), and the embedding model is loaded offline.
    """
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("TTA_MEMORY_REDIS_URL", redis_url)
    monkeypatch.setenv("TTA_MEMORY_WORKSPACE", workspace)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def run(path: Path) -> NotebookNode:
        nb = nbformat.read(path, as_version=4)
        NotebookClient(
            nb,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
        return nb

    return run
