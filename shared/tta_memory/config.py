"""Settings: where Redis is, how keys are named, and the timeouts that keep calls from hanging."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from tta_memory.contextual import ContextualIndexing
from tta_memory.errors import InvalidSettingError, UnsupportedURLError
from tta_memory.hygiene import HygieneThresholds
from tta_memory.vectors import VectorDtype

URL_ENV_VARS = ("TTA_MEMORY_REDIS_URL", "REDIS_URL")
# The settings that also come from the environment (README "Configuration").
ENV_VARS = {
    name: f"TTA_MEMORY_{name.upper()}"
    for name in (
        "prefix",
        "socket_timeout",
        "connect_timeout",
        "durability",
        "partition_buckets",
        "wait_replicas",
        "wait_timeout_ms",
        "dedicated_workspaces",
        "coalesce_writes",
        "vector_dtype",
    )
}
# What pydantic's message for a refused boolean leaves out.
_BOOLEANS = "1/0, true/false, yes/no, on/off (any case)"
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class Settings(BaseModel):
    """Engine settings. ``prefix``, the two timeouts, ``durability``, ``partition_buckets``,
    ``dedicated_workspaces``, ``coalesce_writes``, ``vector_dtype`` and the ``wait_*`` fields
    also come from ``TTA_MEMORY_<FIELD>`` environment variables (:data:`ENV_VARS`, README
    "Configuration") when not given; the others are set in code. A variable whose value its
    field refuses raises :class:`~tta_memory.errors.InvalidSettingError`, naming it and what
    it accepts.

    Args:
        prefix: Prefix of every key and index the engine writes.
        socket_timeout: Seconds a Redis reply may take before the attempt fails.
        connect_timeout: Seconds to establish a connection.
        retries: Retries of a round trip that failed on a connection error or timeout (a
            restarted server is reached again on the retry).
        durability: What an acknowledged write survives (README "Durability"): ``everysec``
            (the server's AOF policy; a kill -9 may lose the last second), ``strict`` (the
            write is fsynced to the AOF before it is acknowledged: ``WAITAOF 1 0``) or
            ``replicated`` (a replica has it before it is acknowledged: ``WAIT 1``).
        cache_retention_seconds: How long session messages stay in the cache layer.
        embedding_cache_ttl: Seconds an embedding stays in the Redis embedding cache.
        embedding_cache_size: Most query vectors the Redis embedding cache holds (one key each,
            ~1.7 KB at 384 dims).
        partition_buckets: Shared partitions small workspaces hash into (fixed for the life of
            a deployment; see :mod:`tta_memory.partitions`).
        dedicated_workspaces: Workspaces with a partition (indexes, BM25 statistics, slot) of
            their own; ``TTA_MEMORY_DEDICATED_WORKSPACES`` is comma-separated.
        wait_replicas: Replicas every write must reach before it is acknowledged (``WAIT``,
            on one server or a cluster); 0 (default) acknowledges on the primary's answer
            (``durability="replicated"`` asks for at least 1).
        wait_timeout_ms: How long a write waits for those replicas before it fails with
            ``NotReplicatedError`` (a ``DurabilityError``); capped at 0.8 x
            ``socket_timeout``.
        contextual: How deep memories are indexed with their session neighbours and date
            (:class:`~tta_memory.contextual.ContextualIndexing`; ``PLAIN`` = own text only).
        hygiene: Near-duplicate detection at write time
            (:class:`~tta_memory.hygiene.HygieneThresholds`; ``None``, the default, = off).
        coalesce_writes: Write concurrent single ``create_deep_memory`` calls together (one
            model call, one lookup, one ``MULTI`` per partition); ``TTA_MEMORY_COALESCE_WRITES=0``
            turns it off.
        coalesce_max_batch: Most single creates written together.
        coalesce_max_wait_ms: How long a batch waits for more creates while writes are
            concurrent (0: it takes what is queued when the previous batch's model call ends).
        vector_dtype: Element type of the deep index's vectors, ``float32`` or ``float16``
            (half the vector bytes, same LoCoMo recall; :mod:`tta_memory.vectors`). Recorded by
            a prefix's first deep-memory call; ``None`` (default) uses the recorded type, or
            ``float32`` for a new prefix. ``TTA_MEMORY_VECTOR_DTYPE``.
    """

    prefix: str = "tta"
    socket_timeout: float = 4.0
    connect_timeout: float = 2.0
    retries: int = 1
    durability: Literal["everysec", "strict", "replicated"] = "everysec"
    cache_retention_seconds: int = 7 * 24 * 3600
    embedding_cache_ttl: int = 30 * 24 * 3600
    embedding_cache_size: int = 10_000

    partition_buckets: int = Field(default=16, ge=1, le=16384)
    wait_replicas: int = Field(default=0, ge=0)
    wait_timeout_ms: int = Field(default=1000, gt=0)
    dedicated_workspaces: frozenset[str] = frozenset()

    # Deep memories of a session are indexed with their neighbours and date (contextual.py):
    # LoCoMo hybrid R@10 61.2 -> 67.3 on the tuning split. PLAIN turns it off.
    contextual: ContextualIndexing = ContextualIndexing()
    # Near-duplicates of the same scope supersede the older memory (hygiene.py). Opt-in: its
    # KNN per new memory costs ~2.5 ms of write path per memory (LoCoMo ingest, vectors cached:
    # 1.6 -> 4.0 ms), which would take batched ingest well under 90 % of the model's rate.
    hygiene: HygieneThresholds | None = None
    # Concurrent single deep-memory creates are written together: one model call, one lookup
    # and one MULTI per partition for all of them (tta_memory.stores.deep.coalesce).
    # pydantic's bool parsing: 1/0, true/false, yes/no, on/off (any case); anything else refused.
    coalesce_writes: bool = True
    coalesce_max_batch: int = Field(default=64, ge=1, le=4096)
    coalesce_max_wait_ms: float = Field(default=0.0, ge=0.0, le=1000.0)
    vector_dtype: VectorDtype | None = None

    def __init__(self, **data: Any) -> None:
        # A field not given takes its TTA_MEMORY_<FIELD> variable (empty means the default),
        # validated like an argument: TTA_MEMORY_DURABILITY=bogus or TTA_MEMORY_COALESCE_WRITES=
        # maybe used to be taken as given, silently, and TTA_MEMORY_SOCKET_TIMEOUT=soon raised
        # a bare ValueError from float().
        env = {
            name: value
            for name, var in ENV_VARS.items()
            if name not in data and (value := os.environ.get(var, "").strip())
        }
        try:
            super().__init__(**data, **env)
        except ValidationError as exc:
            raise _setting_error(exc, env) or exc from None

    @field_validator("dedicated_workspaces", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):  # TTA_MEMORY_DEDICATED_WORKSPACES=a,b
            return frozenset(w.strip() for w in value.split(",") if w.strip())
        return value

    @property
    def failure_bound(self) -> float:
        """Seconds after which one Redis round trip (waiting for a pooled connection,
        connecting, the command and its retries) gives up: ``connect_timeout + (retries + 1)
        * socket_timeout`` (defaults: 2 + 2 x 4 = 10 s). A call raises
        :class:`~tta_memory.errors.BackendUnavailableError` at most this long after the server
        stops answering (its first unanswered round trip ends it)."""
        return self.connect_timeout + (self.retries + 1) * self.socket_timeout


def _setting_error(exc: ValidationError, env: dict[str, str]) -> InvalidSettingError | None:
    """The error naming the environment variable behind the first refused value, if any."""
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        if name in env:
            if error["type"] == "bool_parsing":
                accepted = f"it should be one of {_BOOLEANS}"
            else:  # pydantic names what it takes: "Input should be 'everysec', 'strict' or …"
                accepted = error["msg"].replace("Input should be", "it should be", 1)
            default = Settings.model_fields[name].default
            return InvalidSettingError(
                f"invalid setting {ENV_VARS[name]}={env[name]!r}: {accepted} "
                f"(unset it for the default, {default!r})"
            )
    return None


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
