"""Typed records returned by the engine. Each is a pydantic model that is also subscriptable."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tta_memory.literals import ROLES as ROLES  # re-exported for older imports
from tta_memory.literals import Layer, Role


def utcnow() -> datetime:
    return datetime.now(UTC)


class Record(BaseModel):
    """A result record: attribute access (``m.text``) and mapping access (``m["text"]``)."""

    model_config = ConfigDict(populate_by_name=True)

    def __getitem__(self, key: str) -> Any:
        if key in type(self).model_fields:
            return getattr(self, key)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        """Return the field ``key`` or ``default``, like ``dict.get``."""
        return getattr(self, key) if key in type(self).model_fields else default

    def __contains__(self, key: object) -> bool:
        return key in type(self).model_fields

    def keys(self) -> Iterator[str]:
        """Field names, so ``dict(record)`` and ``**record`` work."""
        return iter(type(self).model_fields)


class WorkflowMode(StrEnum):
    """How much context a workflow stage loads."""

    RAPID = "rapid"
    STANDARD = "standard"
    AUGSTER_RIGOROUS = "augster_rigorous"


class GroupStatus(StrEnum):
    """Lifecycle of a session group. Closed and archived groups take no new sessions."""

    ACTIVE = "active"
    CLOSED = "closed"
    ARCHIVED = "archived"


class PAFStatus(StrEnum):
    """Lifecycle of a permanent architectural fact."""

    PROPOSED = "proposed"
    ACTIVE = "active"
    DEPRECATED = "deprecated"
    REPLACED = "replaced"


class SessionMessage(Record):
    """One message of a session (layer 1), ordered by ``seq``."""

    id: str
    session_id: str
    seq: int
    role: Role
    content: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    user_id: str
    created_at: datetime


class CacheEntry(Record):
    """A recent item of the cache layer (layer 2): a session message or a short-lived note."""

    id: str
    kind: Literal["message", "note"]
    content: str
    role: str | None = None
    session_id: str | None = None
    user_id: str
    tags: list[str] = Field(default_factory=list)
    importance: float = 0.5
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    expires_at: datetime | None = None


class DeepMemory(Record):
    """A long-term memory (layer 3). ``score`` is set on search results (higher is better)."""

    id: str
    text: str
    tags: list[str] = Field(default_factory=list)
    memory_type: str = "observation"
    metadata: dict[str, Any] = Field(default_factory=dict)
    author: str
    session_id: str | None = None
    private: bool = False
    created_at: datetime
    updated_at: datetime
    event_time: datetime | None = None
    score: float | None = None
    #: Hygiene (hygiene.py): the older memory this one restates or updates, and the reverse.
    supersedes: str | None = None
    superseded_by: str | None = None
    #: When the memory's fact holds: from its event time (else creation) until superseded.
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    def flat_metadata(self) -> dict[str, Any]:
        """The memory's attributes as flat, JSON-ready metadata for retrieval frameworks.

        What the LangChain documents and LlamaIndex nodes of a deep memory carry in common;
        each adapter adds its own keys (the id, the score, the memory's own ``metadata``).

        Returns:
            ``layer`` (``"deep"``), ``tags``, ``memory_type``, ``author``, ``session_id``,
            ``private``, and ``created_at``, ``updated_at``, ``event_time`` as ISO 8601
            strings (``event_time`` ``None`` when unset).
        """
        return {
            "layer": "deep",
            "tags": list(self.tags),
            "memory_type": self.memory_type,
            "author": self.author,
            "session_id": self.session_id,
            "private": self.private,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "event_time": self.event_time.isoformat() if self.event_time is not None else None,
        }


class PAFVersion(Record):
    """A past state of a PAF, kept when it is updated, deprecated or replaced."""

    version: int
    description: str
    rationale: str
    status: PAFStatus
    changed_by: str
    changed_at: datetime


class PAF(Record):
    """A permanent architectural fact (layer 4), id ``CATEGORY-NNN`` such as ``AUTH-001``."""

    id: str
    category: str
    fact_id: str
    description: str
    rationale: str = ""
    status: PAFStatus = PAFStatus.ACTIVE
    replaced_by: str | None = None
    deprecation_reason: str | None = None
    version: int = 1
    history: list[PAFVersion] = Field(default_factory=list)
    author: str
    created_at: datetime
    updated_at: datetime


class SessionGroup(Record):
    """A named set of sessions (a feature, a sprint, an investigation)."""

    id: str
    name: str
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    status: GroupStatus = GroupStatus.ACTIVE
    metadata: dict[str, Any] = Field(default_factory=dict)
    session_ids: list[str] = Field(default_factory=list)
    author: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    summary: str | None = None


class GroupSummary(SessionGroup):
    """A group with the size of each member session."""

    message_counts: dict[str, int] = Field(default_factory=dict)
    total_messages: int = 0


class LayerReport(Record):
    """What one layer contributed to a loaded context."""

    count: int
    ms: float
    query: str | None = None
    skipped: bool = False


class WorkflowContext(Record):
    """The state a workflow carries between stages; ``load_workflow_context`` fills ``metadata``."""

    workflow_id: str
    session_id: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    state: dict[str, Any] = Field(default_factory=dict)


class LoadedItem(Record):
    """One item of a loaded context, tagged with the layer it came from (immutable: the loader
    hands the same item to every load that finds the same stored item)."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    layer: Layer
    id: str
    text: str
    score: float | None = None
    created_at: datetime | None = None


class MemoryReport(Record):
    """What :meth:`load_workflow_context` loaded, per layer, and how long it took."""

    stage: str
    mode: WorkflowMode
    total_ms: float
    query: str | None = None
    layers: dict[str, LayerReport] = Field(default_factory=dict)
    #: Deep memories of the workspace that newer ones superseded (hygiene.py), hidden from the
    #: deep search; ``search_deep_memory(include_superseded=True)`` shows them.
    superseded_hidden: int = 0


class LoadedContext(Record):
    """What :meth:`~tta_memory.MemoryWorkflowPrimitive.load_context` loaded, typed per layer.

    ``items`` lists everything in the engine's order (PAFs, deep memories best first, cache
    newest first, session oldest first), each tagged with its layer.
    """

    stage: str
    mode: WorkflowMode
    query: str | None = None
    session_context: list[SessionMessage] = Field(default_factory=list)
    cache_memory: list[CacheEntry] = Field(default_factory=list)
    deep_memory: list[DeepMemory] = Field(default_factory=list)
    pafs: list[PAF] = Field(default_factory=list)
    session_groups: list[SessionGroup] = Field(default_factory=list)
    items: list[LoadedItem] = Field(default_factory=list)
    report: MemoryReport

    def metadata(self) -> dict[str, Any]:
        """The guide's ``WorkflowContext.metadata`` keys, filled from this context."""
        return {
            "stage": self.stage,
            "mode": self.mode.value,
            "session_context": self.session_context,
            "cache_memory": self.cache_memory,
            "deep_memory": self.deep_memory,
            "pafs": self.pafs,
            "session_groups": self.session_groups,
            "memories": self.items,
            "memory_report": self.report,
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> LoadedContext:
        """Read back what :meth:`metadata` wrote (missing layers are empty)."""
        report = metadata.get("memory_report")
        if not isinstance(report, MemoryReport):
            report = MemoryReport(stage="", mode=WorkflowMode.STANDARD, total_ms=0.0)
        return cls(
            stage=report.stage,
            mode=report.mode,
            query=report.query,
            session_context=list(metadata.get("session_context") or []),
            cache_memory=list(metadata.get("cache_memory") or []),
            deep_memory=list(metadata.get("deep_memory") or []),
            pafs=list(metadata.get("pafs") or []),
            session_groups=list(metadata.get("session_groups") or []),
            items=list(metadata.get("memories") or []),
            report=report,
        )
