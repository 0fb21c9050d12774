"""A local cluster whose node cannot start says so at once, with the node's log."""

from __future__ import annotations

from pathlib import Path

import pytest
from tta_memory.errors import BackendUnavailableError
from tta_memory.local_cluster import LocalCluster


def test_a_node_that_exits_at_start_is_reported_with_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Modules that are not shared objects: every redis-server exits while loading them.
    modules = tmp_path / "modules"
    modules.mkdir()
    for name in ("redisearch.so", "rejson.so"):
        (modules / name).write_bytes(b"not an ELF file")
    monkeypatch.setenv("TTA_MEMORY_REDIS_MODULES", str(modules))
    cluster = LocalCluster(tmp_path / "cluster", masters=1, replicas=0, start_timeout=8.0)
    with pytest.raises(BackendUnavailableError) as caught:
        cluster.start()
    message = str(caught.value)
    # Not "timed out waiting until ... answers": the exit and the log tail that explains it.
    assert "exited" in message, message
    assert "redisearch.so" in message or "Module" in message, message
    assert not any(node.alive() for node in cluster.nodes)
