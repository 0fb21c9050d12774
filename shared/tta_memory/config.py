"""Settings: where Redis is, how keys are named, and the timeouts that keep calls from hanging."""

from __future__ import annotations

import os

from pydantic import BaseModel, Field

from tta_memory.contextual import ContextualIndexing
from tta_memory.errors import UnsupportedURLError
from tta_memory.hygiene import HygieneThresholds

URL_ENV_VARS = ("TTA_MEMORY_REDIS_URL", "REDIS_URL")
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class Settings(BaseModel):
    """Engine settings. Every field can also come from a ``TTA_MEMORY_*`` environment variable.

    Args:
        prefix: Prefix of every key and index the engine writes.
        socket_timeout: Seconds a Redis command may take before it fails.
        connect_timeout: Seconds to establish a connection.
        retries: Retries (with exponential backoff) of a command that failed on a transient
            connection error.
        cache_retention_seconds: How long session messages stay in the cache layer.
        embedding_cache_ttl: Seconds an embedding stays in the Redis embedding cache.
        contextual: How deep memories are indexed with their session neighbours and date
            (:class:`~tta_memory.contextual.ContextualIndexing`; ``PLAIN`` = own text only).
        hygiene: Near-duplicate detection at write time
            (:class:`~tta_memory.hygiene.HygieneThresholds`; ``None``, the default, = off).
    """

    prefix: str = Field(default_factory=lambda: os.environ.get("TTA_MEMORY_PREFIX", "tta"))
    socket_timeout: float = Field(
        default_factory=lambda: float(os.environ.get("TTA_MEMORY_SOCKET_TIMEOUT", "5"))
    )
    connect_timeout: float = Field(
        default_factory=lambda: float(os.environ.get("TTA_MEMORY_CONNECT_TIMEOUT", "2"))
    )
    retries: int = 3
    cache_retention_seconds: int = 7 * 24 * 3600
    embedding_cache_ttl: int = 30 * 24 * 3600
    # Deep memories of a session are indexed with their neighbours and date (contextual.py):
    # LoCoMo hybrid R@10 61.2 -> 67.3 on the tuning split. PLAIN turns it off.
    contextual: ContextualIndexing = ContextualIndexing()
    # Near-duplicates of the same scope supersede the older memory (hygiene.py). Opt-in: its
    # KNN per new memory costs ~2.5 ms of write path per memory (LoCoMo ingest, vectors cached:
    # 1.6 -> 4.0 ms), which would take batched ingest well under 90 % of the model's rate.
    hygiene: HygieneThresholds | None = None


def check_redis_url(url: str, source: str | None = None) -> str:
    """Return ``url`` if it is a Redis URL, else raise a clear :class:`UnsupportedURLError`."""
    if not url.startswith(_REDIS_SCHEMES):
        origin = f" (from {source})" if source else ""
        raise UnsupportedURLError(
            f"{url!r}{origin} is not a Redis URL. tta-memory talks to Redis directly (it is not "
            "an HTTP memory server): pass redis://host:6379, rediss://… or "
            "unix:///path/redis.sock, or redis_url=None to use TTA_MEMORY_REDIS_URL / REDIS_URL "
            "or the embedded server."
        )
    return url


def configured_url() -> tuple[str | None, str]:
    """Return the configured Redis URL and where it came from (``None, "embedded"`` if unset)."""
    for var in URL_ENV_VARS:
        value = os.environ.get(var)
        if value:
            return check_redis_url(value, var), var
    return None, "embedded"
