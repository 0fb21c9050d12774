"""What every primitive shares: its scope (workspace, user) and its backend."""

from __future__ import annotations

import os
from functools import cached_property
from typing import Any

from tta_memory.backend import Backend
from tta_memory.config import Settings
from tta_memory.embeddings import Embedder, make_embedder
from tta_memory.keys import Keys
from tta_memory.sync import SyncProxy
from tta_memory.validation import check_id

DEFAULT_WORKSPACE = "default"


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
    """

    def __init__(
        self,
        redis_url: str | None = None,
        user_id: str = "default",
        *,
        workspace: str | None = None,
        vectorizer: Any = None,
        settings: Settings | None = None,
    ) -> None:
        self.user_id = check_id("user_id", user_id)
        self.workspace = check_id(
            "workspace", workspace or os.environ.get("TTA_MEMORY_WORKSPACE") or DEFAULT_WORKSPACE
        )
        self.settings = settings or Settings()
        self._backend = Backend.shared(redis_url, self.settings)
        self._vectorizer_arg = vectorizer
        self._keys = Keys(self.settings.prefix, self.workspace)

    @cached_property
    def embedder(self) -> Embedder:
        """The embedding model of this primitive (loaded on first use)."""
        return make_embedder(self._vectorizer_arg)

    @cached_property
    def sync(self) -> Any:
        """Blocking twins of every coroutine method, usable inside a running loop too."""
        return SyncProxy(self)

    async def aclose(self) -> None:
        """Close this event loop's connections to Redis (they reopen on the next call)."""
        await self._backend.aclose()

    @property
    def redis_url(self) -> str:
        """The Redis URL in use."""
        return self._backend.url

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(workspace={self.workspace!r}, user_id={self.user_id!r}, "
            f"prefix={self.settings.prefix!r})"
        )
