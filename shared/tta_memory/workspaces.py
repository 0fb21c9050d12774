"""Workspaces as a whole: list them, count what each holds, delete one (``tta-memory workspace``).

No ``KEYS *`` and no keyspace ``SCAN``: the workspaces are the union of a small registry (a
sorted set ``<prefix>:workspaces``, workspace -> registration time; the engine context adds its
workspace on its first call, once per process, see :func:`ensure_registered`) and one
``FT.AGGREGATE … GROUPBY @workspace`` per index (answered from the index, in time proportional
to the number of workspaces; it also finds data written before the registry existed). Counts
come from the indexes (``LIMIT 0 0``), the workspace's session registry (``ZCARD``) and its PAF
hash (``HLEN``). A registered workspace that holds nothing (only read, or emptied) is left out of
the list and dropped from the registry.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from redis.exceptions import RedisError

from tta_memory import replies, scripts
from tta_memory.cluster import index_names
from tta_memory.keys import Keys, new_version
from tta_memory.names import escape_tag

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import Pipeline

    from tta_memory.base import ScopedPrimitive
    from tta_memory.context import EngineContext

__all__ = [
    "WorkspaceStats",
    "delete_workspace",
    "ensure_registered",
    "list_workspaces",
    "register_workspace",
    "workspace_stats",
]

logger = logging.getLogger("tta_memory.workspaces")

# Keys deleted per round trip while emptying a workspace.
_DELETE_PAGE = 500
# Index -> the WorkspaceStats field it counts.
_INDEX_FIELDS = {"deep": "deep_memories", "cache": "cache_entries", "group": "groups"}


class WorkspaceStats(BaseModel):
    """What one workspace holds.

    Attributes:
        workspace: Its name.
        sessions: Sessions with stored messages.
        messages: Session messages (active and archived); ``None`` when not counted (list).
        cache_entries: Cache-layer entries (recent messages and notes) still alive.
        deep_memories: Deep memories (private ones included).
        pafs: PAFs, any status.
        groups: Session groups, any status.
    """

    workspace: str
    sessions: int = 0
    messages: int | None = None
    cache_entries: int = 0
    deep_memories: int = 0
    pafs: int = 0
    groups: int = 0

    @property
    def total(self) -> int:
        """Records of every kind (messages counted only when known)."""
        return (
            (self.messages or 0) + self.cache_entries + self.deep_memories + self.pafs + self.groups
        )


def registry_key(prefix: str) -> str:
    """The sorted set of known workspaces of a key prefix."""
    return f"{prefix}:workspaces"


# (server URL, prefix, workspace) already registered by this process.
_registered: set[tuple[str, str, str]] = set()

# KEYS: a hash, its version key. ARGV: a new token. Sets it if the hash exists and has none.
VERSION_IF_MISSING = scripts.LuaScript(
    """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('SET', KEYS[2], ARGV[1], 'NX') end
return false
"""
)


def _register(target: Redis | Pipeline, prefix: str, workspace: str) -> Any:
    """Queue (on a pipeline) or send the registry's ``ZADD NX`` of ``workspace``."""
    return target.zadd(registry_key(prefix), {workspace: time.time()}, nx=True)


async def register_workspace(client: Redis, prefix: str, workspace: str) -> None:
    """Record ``workspace`` in the registry (idempotent; one ``ZADD NX``)."""
    await _register(client, prefix, workspace)


async def ensure_registered(ctx: EngineContext, client: Redis) -> None:
    """Register the context's workspace once per process (one round trip, the first time).

    Best effort: a server that refuses the write (out of memory, read-only replica) must not
    fail the caller's read; the index aggregation of :func:`list_workspaces` still finds the
    workspace's indexed data.
    """
    key = (ctx.backend.url, ctx.settings.prefix, ctx.workspace)
    if key not in _registered:
        _registered.add(key)
        keys = ctx.keys

        def queue(pipe: Pipeline) -> None:
            _register(pipe, ctx.settings.prefix, ctx.workspace)
            # PAFs written before PAF versions existed get one, so that their reads can be
            # answered "unchanged" (stores/pafs/reads.py); a write sets a new one anyway. Only
            # if the PAF hash exists: a read of a deleted workspace must leave no key behind.
            VERSION_IF_MISSING.queue(pipe, [keys.pafs(), keys.paf_version()], [new_version()])

        try:
            await scripts.execute(client, queue, [VERSION_IF_MISSING])
        except RedisError as exc:
            logger.debug("workspace %r not registered: %s", ctx.workspace, exc)


async def list_workspaces(scope: ScopedPrimitive) -> list[WorkspaceStats]:
    """Every workspace of the scope's key prefix, with its counts (messages not counted).

    Args:
        scope: Any primitive on the server and key prefix to inspect (its workspace is unused).

    Returns:
        One :class:`WorkspaceStats` per workspace, sorted by name.
    """
    client = await scope.context.client()
    prefix = scope.settings.prefix
    found: dict[str, WorkspaceStats] = {}
    for raw in await client.zrange(registry_key(prefix), 0, -1):
        name = replies.text(raw)
        found[name] = WorkspaceStats(workspace=name)
    for layer, index in await _indexes(client, prefix):
        reply = await client.execute_command(
            "FT.AGGREGATE", index, "*", "GROUPBY", "1", "@workspace",
            "REDUCE", "COUNT", "0", "AS", "n", "DIALECT", "2",
        )  # fmt: skip
        for fields in replies.aggregate_rows(reply):
            ws = fields.get("workspace")
            if ws is None:
                continue
            stats = found.setdefault(ws, WorkspaceStats(workspace=ws))
            field = _INDEX_FIELDS[layer]
            setattr(stats, field, getattr(stats, field) + int(fields.get("n", 0)))
    names = sorted(found)
    async with client.pipeline(transaction=False) as pipe:
        for name in names:
            keys = Keys(prefix, name)
            pipe.zcard(keys.sessions_registry())
            pipe.hlen(keys.pafs())
        counts = await pipe.execute()
    for i, name in enumerate(names):
        found[name].sessions = int(counts[2 * i])
        found[name].pafs = int(counts[2 * i + 1])
    empty = [n for n in names if not (found[n].total or found[n].sessions)]
    if empty:
        await client.zrem(registry_key(prefix), *empty)
    return [found[n] for n in names if n not in empty]


async def workspace_stats(scope: ScopedPrimitive) -> WorkspaceStats:
    """The counts of the scope's workspace, session messages included."""
    client = await scope.context.client()
    keys = scope.context.keys
    stats = WorkspaceStats(workspace=scope.workspace)
    query = f"@workspace:{{{escape_tag(scope.workspace)}}}"
    for layer, index in await _indexes(client, scope.settings.prefix):
        reply = await client.execute_command(
            "FT.SEARCH", index, query, "LIMIT", "0", "0", "DIALECT", "2"
        )
        field = _INDEX_FIELDS[layer]
        setattr(stats, field, getattr(stats, field) + replies.total(reply))
    sessions = [replies.text(s) for s in await client.zrange(keys.sessions_registry(), 0, -1)]
    async with client.pipeline(transaction=False) as pipe:
        pipe.hlen(keys.pafs())
        for session_id in sessions:
            pipe.zcard(keys.session_active(session_id))
            pipe.zcard(keys.session_archived(session_id))
        counts = await pipe.execute()
    stats.pafs = int(counts[0])
    stats.sessions = len(sessions)
    stats.messages = sum(int(n) for n in counts[1:])
    return stats


async def delete_workspace(scope: ScopedPrimitive) -> WorkspaceStats:
    """Delete everything the scope's workspace holds, and its registry entry.

    Other workspaces are untouched: documents are found by their exact workspace tag, keys by
    the workspace's own key names.

    Returns:
        What was there before the deletion.
    """
    before = await workspace_stats(scope)
    client = await scope.context.client()
    keys = scope.context.keys
    prefix = scope.settings.prefix
    query = f"@workspace:{{{escape_tag(scope.workspace)}}}"
    for _layer, index in await _indexes(client, prefix):
        await _delete_matching(client, index, query)
    sessions = [replies.text(s) for s in await client.zrange(keys.sessions_registry(), 0, -1)]
    session_keys = [
        key(s)
        for s in sessions
        for key in (keys.session_active, keys.session_archived, keys.session_seq)
    ]
    for start in range(0, len(session_keys), _DELETE_PAGE):
        await client.unlink(*session_keys[start : start + _DELETE_PAGE])
    async with client.pipeline(transaction=False) as pipe:
        # Not pipe.unlink: on a cluster pipeline it is a coroutine that queues nothing (the
        # PAFs of a deleted workspace survived there). One slot: the partition's hash tag.
        own = (
            keys.sessions_registry(),
            keys.pafs(),
            keys.paf_version(),
            keys.deep_stats(),
            keys.deep_tails(),
        )
        pipe.execute_command("UNLINK", *own)
        if before.deep_memories:
            pipe.hincrby(keys.deep_total(), "n", -before.deep_memories)
        pipe.zrem(registry_key(prefix), scope.workspace)
        await pipe.execute()
    # Writing to it again registers it again.
    _registered.discard((scope.context.backend.url, prefix, scope.workspace))
    return before


async def _indexes(client: Redis, prefix: str) -> list[tuple[str, str]]:
    """``(kind, name)`` of every deep, cache and group index of ``prefix`` on the server:
    ``<prefix>:idx:<kind>``, or one per partition (``<prefix>:idx:<partition>:<kind>``)."""
    found = []
    for name in await index_names(client):
        if not name.startswith(f"{prefix}:idx:"):
            continue
        kind = name.rsplit(":", 1)[-1]
        if kind in _INDEX_FIELDS:
            found.append((kind, name))
    return sorted(found)


async def _delete_matching(client: Redis, index: str, query: str) -> None:
    # Deleting a key removes its document from the index, so the first page is always next.
    while True:
        reply = await client.execute_command(
            "FT.SEARCH", index, query, "NOCONTENT", "LIMIT", "0", str(_DELETE_PAGE), "DIALECT", "2"
        )
        ids = replies.ids(reply)
        if not ids:
            return
        await client.unlink(*ids)
