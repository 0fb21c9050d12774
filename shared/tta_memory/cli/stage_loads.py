"""What one ``load_workflow_context`` call of the demo loaded, and the lines that show it.

:func:`stage_load` reads a loaded context's metadata (items per layer, and the per-layer
milliseconds of the engine's ``memory_report``) into a :class:`StageLoad`; :func:`header`,
:func:`row` and :func:`summary` print it in the demo's stage x mode table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tta_memory.models import MemoryReport, WorkflowMode

__all__ = ["LAYERS", "StageLoad", "header", "row", "stage_load", "summary"]

# metadata key of each layer in a loaded context, by the name memory_report uses.
LAYERS = {
    "session": "session_context",
    "cache": "cache_memory",
    "deep": "deep_memory",
    "paf": "pafs",
    "groups": "session_groups",
}


@dataclass
class StageLoad:
    """What one ``load_workflow_context`` call loaded.

    Attributes:
        stage: Workflow stage.
        mode: Workflow mode value.
        counts: Items per layer (``session``, ``cache``, ``deep``, ``paf``, ``groups``).
        ms: Milliseconds per layer, from the engine's ``memory_report`` (``None``: the
            stage/mode does not read that layer).
        total_ms: The report's total (the layers are read concurrently).
        memories: Length of ``metadata["memories"]``.
    """

    stage: str
    mode: str
    counts: dict[str, int]
    ms: dict[str, float | None]
    total_ms: float
    memories: int


def stage_load(stage: str, mode: WorkflowMode, metadata: Mapping[str, Any]) -> StageLoad:
    """The :class:`StageLoad` of a context loaded for ``stage`` and ``mode``, from its metadata."""
    report: MemoryReport = metadata["memory_report"]
    counts: dict[str, int] = {}
    ms: dict[str, float | None] = {}
    for layer, key in LAYERS.items():
        counts[layer] = len(metadata.get(key) or [])
        entry = report.layers.get(layer)
        ms[layer] = entry.ms if entry is not None else None
    return StageLoad(
        stage=stage,
        mode=mode.value,
        counts=counts,
        ms=ms,
        total_ms=report.total_ms,
        memories=len(metadata.get("memories") or []),
    )


_COLUMNS = tuple(LAYERS)


def header() -> str:
    """The table's header line."""
    cells = "".join(f"{name:>12}" for name in _COLUMNS)
    return f"{'stage':<11}{'mode':<17}{cells}{'memories':>10}{'total ms':>10}"


def _cell(load: StageLoad, layer: str) -> str:
    ms = load.ms[layer]
    return "-" if ms is None else f"{load.counts[layer]} ({ms:.1f})"


def row(load: StageLoad) -> str:
    """One table line: the items (milliseconds) of each layer, ``-`` for a layer not read."""
    cells = "".join(f"{_cell(load, name):>12}" for name in _COLUMNS)
    return f"{load.stage:<11}{load.mode:<17}{cells}{load.memories:>10}{load.total_ms:>10.1f}"


def summary(load: StageLoad) -> str:
    """One line naming the layers read, with their items and milliseconds, and the total."""
    parts = ", ".join(
        f"{name} {load.counts[name]} ({ms:.1f} ms)"
        for name in _COLUMNS
        if (ms := load.ms[name]) is not None
    )
    return f"{parts}; total {load.total_ms:.1f} ms"
