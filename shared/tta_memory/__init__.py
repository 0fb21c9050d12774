"""tta_memory — layered memory for LLM agents and coding workflows, on Redis.

Four layers (session, cache, deep, PAFs), session groups and stage-aware loading.

The public names are imported on first use (PEP 562), so that ``import tta_memory.cli`` and
``tta-memory --help`` do not pay for redis, redisvl and numpy (~2.5 s measured on this
machine's 2 cores before this change); ``from tta_memory import X`` works as before.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

# Silent unless the application configures logging (see tta_memory.observability).
logging.getLogger("tta_memory").addHandler(logging.NullHandler())

# Public name -> the module that defines it.
_EXPORTS = {
    "Settings": "tta_memory.config",
    "Embedder": "tta_memory.embeddings",
    "BackendFullError": "tta_memory.errors",
    "BackendUnavailableError": "tta_memory.errors",
    "ConflictError": "tta_memory.errors",
    "EmbeddingMismatchError": "tta_memory.errors",
    "GroupClosedError": "tta_memory.errors",
    "InvalidInputError": "tta_memory.errors",
    "NotFoundError": "tta_memory.errors",
    "QueryEngineMissingError": "tta_memory.errors",
    "ServerNotFoundError": "tta_memory.errors",
    "TTAMemoryError": "tta_memory.errors",
    "UnsupportedURLError": "tta_memory.errors",
    "GroupSummary": "tta_memory.groups",
    "SessionGroupPrimitive": "tta_memory.groups",
    "Layer": "tta_memory.literals",
    "Role": "tta_memory.literals",
    "SearchMode": "tta_memory.literals",
    "DEFAULT_POLICY": "tta_memory.loading.policy",
    "StagePolicy": "tta_memory.loading.policy",
    "render_context": "tta_memory.loading.render",
    "PAF": "tta_memory.models",
    "CacheEntry": "tta_memory.models",
    "DeepMemory": "tta_memory.models",
    "GroupStatus": "tta_memory.models",
    "LoadedContext": "tta_memory.models",
    "LoadedItem": "tta_memory.models",
    "MemoryReport": "tta_memory.models",
    "PAFStatus": "tta_memory.models",
    "SessionGroup": "tta_memory.models",
    "SessionMessage": "tta_memory.models",
    "WorkflowContext": "tta_memory.models",
    "WorkflowMode": "tta_memory.models",
    "PAFPrimitive": "tta_memory.paf",
    "run_sync": "tta_memory.sync",
    "MemoryWorkflowPrimitive": "tta_memory.workflow",
    "DurabilityError": "tta_memory.errors",
    "InternalError": "tta_memory.errors",
    "RenderedContext": "tta_memory.loading.render",
    "fit_context": "tta_memory.loading.render",
    "ItemSearchMode": "tta_memory.stores.items",
    "ItemStore": "tta_memory.stores.items",
    "ItemWrite": "tta_memory.stores.items",
    "StoredItem": "tta_memory.stores.items",
    "check_namespace": "tta_memory.stores.items.records",
    "TokenCounter": "tta_memory.tokens",
    "estimate_tokens": "tta_memory.tokens",
    "resolve_counter": "tta_memory.tokens",
    "EmbeddedRedis": "tta_memory.server",  # optional: the `embedded` extra
}

if TYPE_CHECKING:
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
    from tta_memory.groups import (
        GroupSummary,
        SessionGroupPrimitive,
    )
    from tta_memory.literals import (
        Layer,
        Role,
        SearchMode,
    )
    from tta_memory.loading.policy import (
        DEFAULT_POLICY,
        StagePolicy,
    )
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
    from tta_memory.server import EmbeddedRedis
    from tta_memory.stores.items import ItemSearchMode, ItemStore, ItemWrite, StoredItem
    from tta_memory.stores.items.records import check_namespace
    from tta_memory.sync import run_sync
    from tta_memory.tokens import TokenCounter, estimate_tokens, resolve_counter
    from tta_memory.workflow import MemoryWorkflowPrimitive


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tta_memory' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
    "check_namespace",
    "estimate_tokens",
    "fit_context",
    "render_context",
    "resolve_counter",
    "run_sync",
]
