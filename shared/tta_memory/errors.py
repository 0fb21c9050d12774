"""Typed errors raised by tta_memory.

Every error derives from :class:`TTAMemoryError`; the ones a caller is likely to catch with a
builtin also derive from it (``ValueError``, ``KeyError``, ``ConnectionError``).
"""

from __future__ import annotations


class TTAMemoryError(Exception):
    """Base class of every error raised by tta_memory."""


class InvalidInputError(TTAMemoryError, ValueError):
    """An argument is malformed: empty or oversized content, unknown role/stage/mode, bad id."""


class NotFoundError(TTAMemoryError, KeyError):
    """The memory, group, PAF, message or position does not exist in this workspace."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ConflictError(TTAMemoryError):
    """The call conflicts with the current state (for example a PAF id that already exists)."""


class GroupClosedError(ConflictError):
    """A closed or archived session group takes no new sessions."""


class BackendUnavailableError(TTAMemoryError, ConnectionError):
    """Redis is down, restarting, unreachable or did not answer within the configured timeout."""


class BackendFullError(BackendUnavailableError):
    """Redis refused a write because it reached its memory limit (OOM)."""


class DurabilityError(BackendUnavailableError):
    """A write was applied but not confirmed as durable as ``Settings.durability`` asks (not
    fsynced, or not replicated, in time): it may be lost if the server crashes now."""


class QueryEngineMissingError(TTAMemoryError):
    """The Redis server lacks the Query Engine (RediSearch) or JSON module."""


class UnsupportedURLError(InvalidInputError):
    """The URL is not a Redis URL (for example the guide's ``http://`` memory-server URL)."""


class EmbeddingMismatchError(TTAMemoryError):
    """The deep-memory index was built with another embedding model or dimension."""


class ServerNotFoundError(TTAMemoryError):
    """No suitable redis-server binary (with the search and JSON modules) could be found."""


class InternalError(TTAMemoryError, RuntimeError):
    """An unexpected failure inside the engine (a bug): the original exception is chained."""


class NotReplicatedError(DurabilityError):
    """A write reached its primary but not the replicas the durability setting asks for in
    time (``durability="replicated"``, ``wait_replicas``): it was not acknowledged and may
    not survive a failover."""


class LayoutMismatchError(TTAMemoryError):
    """The data under this prefix is partitioned with another bucket count than configured."""


def causes(exc: BaseException, limit: int = 10) -> list[BaseException]:
    """``exc`` and what it was raised from or during (``__cause__``, else ``__context__``),
    innermost last, at most ``limit`` of them."""
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(out) < limit:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


class InvalidSettingError(InvalidInputError):
    """A ``TTA_MEMORY_*`` environment variable holds a value its setting refuses (the message
    names the variable and what it accepts)."""
