"""tta_memory — layered memory for LLM agents and coding workflows, on Redis.

Four layers (session, cache, deep, PAFs), session groups and stage-aware loading.
"""

from tta_memory.config import Settings
from tta_memory.embeddings import Embedder
from tta_memory.errors import (
    BackendFullError,
    BackendUnavailableError,
    ConflictError,
    DurabilityError,
    EmbeddingMismatchError,
    GroupClosedError,
    InternalError,
    InvalidInputError,
    NotFoundError,
    QueryEngineMissingError,
    ServerNotFoundError,
    TTAMemoryError,
    UnsupportedURLError,
)
from tta_memory.groups import GroupSummary, SessionGroupPrimitive
from tta_memory.literals import Layer, Role, SearchMode
from tta_memory.loading.policy import DEFAULT_POLICY, StagePolicy
from tta_memory.loading.render import RenderedContext, fit_context, render_context
from tta_memory.models import (
    PAF,
    CacheEntry,
    DeepMemory,
    GroupStatus,
    LoadedContext,
    LoadedItem,
    MemoryReport,
    PAFStatus,
    SessionGroup,
    SessionMessage,
    WorkflowContext,
    WorkflowMode,
)
from tta_memory.paf import PAFPrimitive
from tta_memory.stores.items import ItemSearchMode, ItemStore, ItemWrite, StoredItem
from tta_memory.sync import run_sync
from tta_memory.tokens import TokenCounter, estimate_tokens, resolve_counter
from tta_memory.workflow import MemoryWorkflowPrimitive


def __getattr__(name: str) -> object:
    # The embedded server is optional (the `embedded` extra); import it on first use.
    if name == "EmbeddedRedis":
        from tta_memory.server import EmbeddedRedis

        return EmbeddedRedis
    raise AttributeError(name)


__all__ = [
    "DEFAULT_POLICY",
    "PAF",
    "BackendFullError",
    "BackendUnavailableError",
    "CacheEntry",
    "ConflictError",
    "DeepMemory",
    "DurabilityError",
    "EmbeddedRedis",
    "Embedder",
    "EmbeddingMismatchError",
    "GroupClosedError",
    "GroupStatus",
    "GroupSummary",
    "InternalError",
    "InvalidInputError",
    "ItemSearchMode",
    "ItemStore",
    "ItemWrite",
    "Layer",
    "LoadedContext",
    "LoadedItem",
    "MemoryReport",
    "MemoryWorkflowPrimitive",
    "NotFoundError",
    "PAFPrimitive",
    "PAFStatus",
    "QueryEngineMissingError",
    "RenderedContext",
    "Role",
    "SearchMode",
    "ServerNotFoundError",
    "SessionGroup",
    "SessionGroupPrimitive",
    "SessionMessage",
    "Settings",
    "StagePolicy",
    "StoredItem",
    "TTAMemoryError",
    "TokenCounter",
    "UnsupportedURLError",
    "WorkflowContext",
    "WorkflowMode",
    "estimate_tokens",
    "fit_context",
    "render_context",
    "resolve_counter",
    "run_sync",
]
