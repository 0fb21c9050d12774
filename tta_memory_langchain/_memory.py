"""How the adapters get hold of an engine instance."""

from __future__ import annotations

from typing import Any

from tta_memory import MemoryWorkflowPrimitive


def build_memory(
    memory: MemoryWorkflowPrimitive | None = None,
    *,
    redis_url: str | None = None,
    user_id: str | None = None,
    workspace: str | None = None,
) -> MemoryWorkflowPrimitive:
    """Return ``memory`` if given, else a new engine for the given connection and scope.

    Args:
        memory: An existing engine instance; when given, the other arguments are ignored.
        redis_url: Redis URL; ``None`` lets the engine pick (``TTA_MEMORY_REDIS_URL``,
            ``REDIS_URL``, else its embedded server).
        user_id: The acting user; ``None`` keeps the engine's default.
        workspace: The tenant; ``None`` keeps the engine's default.

    Returns:
        The engine instance the adapter will call.
    """
    if memory is not None:
        return memory
    kwargs: dict[str, Any] = {"redis_url": redis_url}
    if user_id is not None:
        kwargs["user_id"] = user_id
    if workspace is not None:
        kwargs["workspace"] = workspace
    return MemoryWorkflowPrimitive(**kwargs)


def memory_from_fields(data: dict[str, Any]) -> MemoryWorkflowPrimitive:
    """Pydantic ``default_factory`` for adapters' ``memory`` field.

    Builds the engine from the adapter's already-validated ``redis_url``, ``user_id`` and
    ``workspace`` fields when no ``memory`` was passed.

    Args:
        data: The adapter's validated fields so far.

    Returns:
        A new engine instance.
    """
    return build_memory(
        redis_url=data.get("redis_url"),
        user_id=data.get("user_id"),
        workspace=data.get("workspace"),
    )
