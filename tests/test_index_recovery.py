"""A partition index dropped under a live engine is re-created by the next read, on one node
(the same check on the local cluster: tests/cluster/test_index_recovery_on_cluster.py)."""

from __future__ import annotations

from index_drop import drop_indexes_then_read
from tta_memory import MemoryWorkflowPrimitive


async def test_dropped_indexes_are_recreated_by_the_next_read(
    memory: MemoryWorkflowPrimitive,
) -> None:
    await drop_indexes_then_read(memory)
