"""A local Redis Cluster (3 masters + 3 replicas on 127.0.0.1) from the embedded wheels."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tta_memory.local_cluster import LocalCluster


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[LocalCluster]:
    """One cluster for the whole run (tests that kill nodes start their own)."""
    with (
        tempfile.TemporaryDirectory(prefix="tta-cluster-") as tmp,
        LocalCluster(Path(tmp)) as cluster,
    ):
        yield cluster


@pytest.fixture
def fresh_cluster() -> Iterator[LocalCluster]:
    """A cluster of its own, for a test that kills or restarts nodes."""
    with (
        tempfile.TemporaryDirectory(prefix="tta-cluster-") as tmp,
        LocalCluster(Path(tmp)) as cluster,
    ):
        yield cluster


@pytest.fixture(scope="session")
def cluster_url(local_cluster: LocalCluster) -> str:
    """Engine URL of the shared cluster (``redis://127.0.0.1:<port>?cluster=true``)."""
    return local_cluster.url
