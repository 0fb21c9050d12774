"""How the adapters get hold of an engine instance."""

from __future__ import annotations

from typing import Any

from tta_memory import MemoryWorkflowPrimitive
from tta_memory.errors import InvalidInputError

SCOPE_KEYS = ("redis_url", "user_id", "workspace")


def build_memory(
    memory: MemoryWorkflowPrimitive | None = None,
    *,
    redis_url: str | None = None,
    user_id: str | None = None,
    workspace: str | None = None,
) -> MemoryWorkflowPrimitive:
    """Return ``memory`` if given, else a new engine client for the given server and scope.

    Args:
        memory: An existing engine client (shares its connections, workspace and user).
        redis_url: Redis URL; ``None`` lets the engine choose (``TTA_MEMORY_REDIS_URL``,
            ``REDIS_URL``, else its embedded server).
        user_id: The acting user; ``None`` keeps the engine's default.
        workspace: The tenant; ``None`` keeps the engine's default.

    Returns:
        The engine client the adapter calls.

    Raises:
        InvalidInputError: ``memory`` is not an engine client, or is given with a scope.
    """
    if memory is not None:
        if not isinstance(memory, MemoryWorkflowPrimitive):
            raise InvalidInputError(
                f"memory must be a MemoryWorkflowPrimitive, got {type(memory).__name__}"
            )
        if any(v is not None for v in (redis_url, user_id, workspace)):
            raise InvalidInputError("pass either memory= or redis_url/user_id/workspace, not both")
        return memory
    kwargs: dict[str, Any] = {"redis_url": redis_url}
    if user_id is not None:
        kwargs["user_id"] = user_id
    if workspace is not None:
        kwargs["workspace"] = workspace
    return MemoryWorkflowPrimitive(**kwargs)


def with_memory(data: dict[str, Any]) -> dict[str, Any]:
    """Return pydantic constructor ``data`` with ``memory`` resolved from the scope keys."""
    data = dict(data)
    scope = {k: data.pop(k, None) for k in SCOPE_KEYS}
    data["memory"] = build_memory(data.get("memory"), **scope)
    return data
