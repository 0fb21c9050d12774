"""A partition index dropped on its cluster node is re-created there by the next read (the
single-node twin: tests/test_index_recovery.py)."""

from __future__ import annotations

import uuid

from index_drop import drop_indexes_then_read
from tta_memory import MemoryWorkflowPrimitive


async def test_dropped_indexes_are_recreated_on_their_node(cluster_url: str) -> None:
    workspace = f"ws-{uuid.uuid4().hex[:12]}"
    memory = MemoryWorkflowPrimitive(redis_url=cluster_url, user_id="dev", workspace=workspace)
    try:
        await drop_indexes_then_read(memory)
    finally:
        await memory.aclose()
