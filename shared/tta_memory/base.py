"""What every public primitive shares: its engine context (scope, keys, backend, settings,
embedder)."""

from __future__ import annotations

from typing import Any, Self

from tta_memory.config import Settings
from tta_memory.context import EngineContext
from tta_memory.embeddings import Embedder
from tta_memory.errors import InvalidInputError


class ScopedPrimitive:
    """Base of the public primitives.

    Args:
        redis_url: Redis URL, or ``None`` for ``TTA_MEMORY_REDIS_URL`` / ``REDIS_URL`` or the
            embedded server. An ``http://`` URL is refused with an explanation.
        user_id: The actor, recorded as author of everything written.
        workspace: The tenant; no call ever sees another workspace's data. Default:
            ``TTA_MEMORY_WORKSPACE`` or ``"default"``.
        vectorizer: Embedding model (redisvl vectorizer, LangChain ``Embeddings``, LlamaIndex
            ``BaseEmbedding``); ``None`` for the offline default.
        settings: Engine settings (key prefix, timeouts, retention).
        context: An existing engine context to share (its connections and scope) instead of
            the arguments above.
    """

    def __init__(
        self,
        redis_url: str | None = None,
        user_id: str = "default",
        *,
        workspace: str | None = None,
        vectorizer: Any = None,
        settings: Settings | None = None,
        context: EngineContext | None = None,
    ) -> None:
        self._ctx = context or EngineContext(
            redis_url, user_id, workspace=workspace, vectorizer=vectorizer, settings=settings
        )

    @classmethod
    def resolve(
        cls,
        memory: Self | None = None,
        *,
        redis_url: str | None = None,
        user_id: str | None = None,
        workspace: str | None = None,
    ) -> Self:
        """Return ``memory`` if given, else a new engine for the given server and scope.

        The one way the adapters get hold of a primitive: the caller's instance (sharing its
        connections, workspace and user) or one built from ``redis_url``, ``user_id`` and
        ``workspace``, never a mix of both.

        Raises:
            InvalidInputError: ``memory`` is not an instance of this class, or is given
                together with ``redis_url``, ``user_id`` or ``workspace``.
        """
        if memory is not None:
            if not isinstance(memory, cls):
                raise InvalidInputError(
                    f"memory must be a {cls.__name__}, got {type(memory).__name__}"
                )
            if any(v is not None for v in (redis_url, user_id, workspace)):
                raise InvalidInputError(
                    "pass either memory= or redis_url/user_id/workspace, not both"
                )
            return memory
        kwargs: dict[str, Any] = {"redis_url": redis_url}
        if user_id is not None:
            kwargs["user_id"] = user_id
        if workspace is not None:
            kwargs["workspace"] = workspace
        return cls(**kwargs)

    @property
    def context(self) -> EngineContext:
        """The engine context (scope, keys, backend, settings, embedder) this primitive uses."""
        return self._ctx

    @property
    def user_id(self) -> str:
        """The actor."""
        return self._ctx.user_id

    @property
    def workspace(self) -> str:
        """The tenant."""
        return self._ctx.workspace

    @property
    def settings(self) -> Settings:
        """The engine settings."""
        return self._ctx.settings

    @property
    def embedder(self) -> Embedder:
        """The embedding model of this primitive (loaded on first use)."""
        return self._ctx.embedder

    async def aclose(self) -> None:
        """Close this event loop's connections to Redis (they reopen on the next call)."""
        await self._ctx.backend.aclose()

    @property
    def redis_url(self) -> str:
        """The Redis URL in use."""
        return self._ctx.backend.url

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(workspace={self.workspace!r}, user_id={self.user_id!r}, "
            f"prefix={self.settings.prefix!r})"
        )
