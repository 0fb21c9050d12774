"""Fields the LangChain adapters share: the engine they call, and the stage they load for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tta_memory import MemoryWorkflowPrimitive, WorkflowContext, WorkflowMode
from tta_memory.errors import InvalidInputError


def _engine_from_fields(data: dict[str, Any]) -> MemoryWorkflowPrimitive:
    """``default_factory`` of ``memory``: the engine built from the validated scope fields."""
    return MemoryWorkflowPrimitive.resolve(
        redis_url=data.get("redis_url"),
        user_id=data.get("user_id"),
        workspace=data.get("workspace"),
    )


class EngineFields(BaseModel):
    """An engine instance, or the connection and scope to build one with."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    redis_url: str | None = Field(default=None, exclude=True)
    """Redis URL used when no ``memory`` is given (``None``: the engine's default)."""
    user_id: str | None = None
    """Acting user used when no ``memory`` is given."""
    workspace: str | None = None
    """Workspace used when no ``memory`` is given."""
    memory: MemoryWorkflowPrimitive = Field(default_factory=_engine_from_fields, exclude=True)
    """The engine instance called (built from the fields above when not given)."""


class StageFields(EngineFields):
    """What ``load_workflow_context`` is called with; session, stage, mode and workflow id
    can be overridden per call."""

    _SESSION_HINT: ClassVar[str] = "set session_id"
    """How to give a session id, in the error raised when there is none."""

    session_id: str | None = None
    """Session whose context is loaded (overridable per call)."""
    stage: str = "understand"
    """Workflow stage: understand, decompose, plan, implement, verify, review."""
    mode: WorkflowMode | str = WorkflowMode.STANDARD
    """Loading mode: ``rapid``, ``standard`` or ``augster_rigorous``."""
    workflow_id: str | None = None
    """Workflow id of the context (defaults to the session id)."""
    workflow_metadata: dict[str, Any] = Field(default_factory=dict)
    """``WorkflowContext.metadata`` (e.g. ``feature``, ``description``, ``group_id``)."""
    policy: Any = None
    """Optional ``StagePolicy`` overrides (dict or model) passed to the engine."""

    def _option(self, name: str, *sources: Mapping[str, Any]) -> Any:
        """``name`` from the first of ``sources`` that sets it (not ``None``), else the field."""
        for source in sources:
            if source.get(name) is not None:
                return source[name]
        return getattr(self, name)

    def _session(self, *sources: Mapping[str, Any]) -> Any:
        """The session id from ``sources`` or the field.

        Raises:
            InvalidInputError: No session id anywhere.
        """
        session_id = self._option("session_id", *sources)
        if session_id is None:
            raise InvalidInputError(
                f"{type(self).__name__} needs a session id: {self._SESSION_HINT}"
            )
        return session_id

    def _load_args(
        self, session_id: Any, query: str | None, *sources: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``load_workflow_context`` keyword arguments for one call.

        Args:
            session_id: The session to load (from :meth:`_session`).
            query: The deep-search query; ``None`` lets the engine derive one.
            *sources: Per-call settings, first match wins; the fields fill the rest.

        Returns:
            ``context``, ``stage``, ``mode``, ``query`` and ``policy``.
        """
        try:
            context = WorkflowContext(
                workflow_id=self._option("workflow_id", *sources) or session_id,
                session_id=session_id,
                metadata=dict(self.workflow_metadata),
                state={},
            )
        except ValidationError as exc:  # e.g. a session id that is not a string
            raise InvalidInputError(f"bad session_id or workflow_id: {exc}") from None
        return {
            "context": context,
            "stage": self._option("stage", *sources),
            "mode": self._option("mode", *sources),
            "query": query,
            "policy": self.policy,
        }
