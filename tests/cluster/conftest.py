"""A local Redis Cluster (3 masters + 3 replicas on 127.0.0.1) from the embedded wheels."""

from __future__ import annotations

import resource
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


# How much a cluster test may grow the process's address space. The failover test once grew a
# CI process to 24 GB and the kernel killed the whole run; under this cap the same runaway
# fails its own test with MemoryError. Measured growth of the address space over a whole
# tests/cluster run: see the README's "Redis Cluster" section.
ADDRESS_SPACE_HEADROOM = 3 << 30


def _address_space() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


@pytest.fixture(autouse=True)
def bounded_memory() -> Iterator[None]:
    """Cap the test's address space at its current size plus ADDRESS_SPACE_HEADROOM."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _address_space() + ADDRESS_SPACE_HEADROOM
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if soft != resource.RLIM_INFINITY:
        cap = min(cap, soft)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
