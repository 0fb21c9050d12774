"""The usage guide's import name: ``from tta_dev_primitives import MemoryWorkflowPrimitive``.

The guide's code runs unchanged on tta-memory; everything here is :mod:`tta_memory`.
"""

from tta_memory import (
    GroupStatus,
    MemoryWorkflowPrimitive,
    PAFPrimitive,
    SessionGroupPrimitive,
    WorkflowContext,
    WorkflowMode,
)

__all__ = [
    "GroupStatus",
    "MemoryWorkflowPrimitive",
    "PAFPrimitive",
    "SessionGroupPrimitive",
    "WorkflowContext",
    "WorkflowMode",
]
