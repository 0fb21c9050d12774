"""Redis Cluster support: a client that sends each partition's index commands to its slot.

The Query Engine modules of Redis Stack (and the embedded server) have no search coordinator
on a cluster: an index sees only the keys of the node it was created on. The engine therefore
keeps each partition's keys *and* its index names under one hash tag (see
:mod:`tta_memory.partitions`), so the index and everything it covers share one slot.

redis-py marks ``FT.*`` commands as keyless and sends them to a random node; redisvl sends
``FT.CREATE`` and ``FT.SEARCH`` to the client's *default* node (it assumes a coordinator, as
Redis Software and Redis Cloud provide). Neither reaches the node holding a partition. The
:class:`PartitionedCluster` client below routes every ``FT.*`` command that names an index with
a hash tag to the primary that serves the slot of that tag, so redisvl's ``AsyncSearchIndex``
works unchanged on it. Failovers are followed by redis-py's own loop: a connection error or
``CLUSTERDOWN`` re-reads the topology and the next attempt asks the new primary.

A URL selects the cluster client with redisvl's convention: ``redis://host:port?cluster=true``
(or ``rediss://``); any one node is enough, the others are discovered.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.commands.policies import RequestPolicy
from redis.commands.search.index_definition import IndexDefinition, IndexType
from redis.exceptions import (
    ClusterDownError,
    RedisClusterException,
    ResponseError,
    SlotNotCoveredError,
    TryAgainError,
)
from redisvl.index import AsyncSearchIndex

from tta_memory.cluster_barrier import DurablePipeline, torn_connection_is_connection_error
from tta_memory.config import Settings
from tta_memory.connection import bounded, fsync_always
from tta_memory.durability import Barrier, is_write
from tta_memory.errors import BackendUnavailableError, TTAMemoryError, causes
from tta_memory.replies import text

# FT.* commands whose first argument is an index name (FT.CURSOR takes it second).
_INDEX_FIRST = frozenset(
    {
        "FT.CREATE", "FT.SEARCH", "FT.AGGREGATE", "FT.INFO", "FT.DROPINDEX", "FT.ALTER",
        "FT.EXPLAIN", "FT.EXPLAINCLI", "FT.PROFILE", "FT.TAGVALS", "FT.SPELLCHECK",
        "FT.SYNUPDATE", "FT.SYNDUMP", "FT.HYBRID",
    }
)  # fmt: skip
_INDEX_SECOND = frozenset({"FT.CURSOR"})
# What a missing index says: "no such index" (RediSearch 2.x), "unknown index name" (8.x), "index
# not found" (FT.INFO of some versions) — a node that came back empty, a slot moved to a node
# with no copy yet, or an FT.DROPINDEX. The caller re-creates it (Backend.recover) and retries.
_MISSING_INDEX = ("unknown index name", "no such index", "index not found")


def is_cluster_url(url: str) -> bool:
    """Whether ``url`` asks for Redis Cluster (``?cluster=true``, as redisvl spells it)."""
    query = dict(parse_qsl(urlsplit(url).query))
    return query.get("cluster", "").lower() in ("true", "1", "yes")


def _strip_cluster(url: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "cluster"]
    return urlunsplit(parts._replace(query=urlencode(query)))


def index_name_of(args: tuple[Any, ...]) -> str | None:
    """The index a raw ``FT.*`` command names, when it names one with a hash tag."""
    if not args:
        return None
    command = text(args[0]).upper()
    position = 1 if command in _INDEX_FIRST else 2 if command in _INDEX_SECOND else None
    if position is None or len(args) <= position:
        return None
    name = text(args[position])
    start = name.find("{")
    return name if start >= 0 and name.find("}", start + 2) > start else None


def is_missing_index(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it was raised from) says the index does not exist there: the
    engine's one check, on one server and on a cluster alike."""
    text = " ".join(str(e) for e in causes(exc)).lower()
    return any(marker in text for marker in _MISSING_INDEX)


class PartitionedCluster(RedisCluster):
    """Async Redis Cluster client that routes ``FT.*`` commands by their index's hash tag.

    Every other command is routed by redis-py as usual (by key slot, following MOVED/ASK).
    Like the single-node client (:mod:`tta_memory.connection`), every round trip ends within
    :attr:`Settings.failure_bound`, and every write — single command, pipeline or
    ``WATCH``/``MULTI``/``EXEC`` transaction — is acknowledged only after the durability
    barrier of the settings (``WAITAOF``, ``WAIT``) on the node and connection that took it
    (:mod:`tta_memory.cluster_barrier`).
    """

    settings: Settings
    barrier: Barrier | None = None

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> ClusterPipeline:
        if shard_hint:
            return super().pipeline(transaction, shard_hint)  # raises redis-py's own error
        return DurablePipeline(self, transaction)  # type: ignore[abstract]

    def index_node(self, index_name: str) -> ClusterNode:
        """The primary serving the slot of ``index_name``'s hash tag."""
        return self.nodes_manager.get_node_from_slot(self.keyslot(index_name))

    async def node_for(self, *args: Any) -> ClusterNode:
        """The node a keyed command is sent to: :meth:`_determine_nodes`, the one routing of
        this client (redis-py's pipelines and single commands use it too)."""
        nodes = await self._determine_nodes(*args, request_policy=RequestPolicy.DEFAULT_KEYED)
        if len(nodes) != 1:
            raise RedisClusterException(f"{text(args[0])} is not sent to one node: {nodes}")
        return nodes[0]

    async def _determine_nodes(
        self, command: str, *args: Any, node_flag: str | None = None, **kwargs: Any
    ) -> list[ClusterNode]:
        # Called for plain commands and for every command queued in a pipeline.
        name = index_name_of((command, *args))
        if name is not None:
            return [self.index_node(name)]
        if str(command).upper() in ("EVALSHA_RO", "EVAL_RO") and len(args) > 2 and int(args[1]):
            # redis-py special-cases EVAL/EVALSHA only: for their read-only forms it asks a
            # node for the keys (COMMAND GETKEYS), a round trip more. A script's keys share
            # one slot (or the node refuses it), so the first key decides.
            return [self.nodes_manager.get_node_from_slot(self.keyslot(args[2]))]
        return await super()._determine_nodes(command, *args, node_flag=node_flag, **kwargs)

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        # redisvl pins FT.SEARCH to the default node (target_nodes=...): drop the pin so the
        # command goes to its partition's node, with redis-py's retries and topology refresh.
        if "target_nodes" in kwargs and index_name_of(args) is not None:
            kwargs.pop("target_nodes")
        if self.barrier is not None and "target_nodes" not in kwargs and is_write(args[0]):
            # The barrier must follow the write on its connection: a one-command pipeline.
            pipe = self.pipeline()
            pipe.execute_command(*args, **kwargs)
            return (await pipe.execute())[0]
        async with bounded(self.settings):
            with torn_connection_is_connection_error():
                return await super().execute_command(*args, **kwargs)


def make_cluster_client(
    url: str, settings: Settings, *, max_connections: int
) -> PartitionedCluster:
    """A :class:`PartitionedCluster` for ``url`` (``?cluster=true`` is removed first).

    Args:
        url: ``redis://`` or ``rediss://`` URL of any node, with ``?cluster=true``.
        settings: Timeouts (``socket_timeout``, ``connect_timeout``), ``retries`` (attempts
            after the first on a connection error or ``CLUSTERDOWN``; each re-reads the
            topology, which is how a promoted replica is found), the round-trip deadline
            (``failure_bound``) and the durability barrier (``durability``,
            ``wait_replicas``, ``wait_timeout_ms``).
        max_connections: Connections per node.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise BackendUnavailableError(
            f"Redis Cluster needs a redis:// or rediss:// URL of a node, not {parts.scheme}://"
        )
    extra: dict[str, Any] = {}
    if settings.durability == "strict":  # every node's connections ask for fsync-always
        extra["redis_connect_func"] = fsync_always
    client = PartitionedCluster.from_url(
        _strip_cluster(url),
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=settings.connect_timeout,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), settings.retries),
        max_connections=max_connections,
        # During a failover the dead primary's slots are uncovered for a moment: keep serving
        # the others instead of refusing to (re)initialise.
        require_full_coverage=False,
        protocol=2,  # as make_client (connection.py): flat replies cost the client less
        **extra,
    )
    cluster = cast(PartitionedCluster, client)  # from_url is typed as returning the base class
    cluster.settings = settings
    cluster.barrier = Barrier.of(settings)
    # FT._LIST names no key: redis-py sends it anywhere only until it has read the topology,
    # then refuses it ("Missing key"), which broke the Query Engine check that re-runs after
    # an index is re-created (backend.recover). Any primary answers it.
    cluster.command_flags["FT._LIST"] = RedisCluster.RANDOM
    return cluster


async def create_index(client: Any, index: AsyncSearchIndex) -> bool:
    """Send ``FT.CREATE`` for ``index`` through ``client``; ``False`` if it already existed.

    One round trip (redisvl's ``create`` first lists every index), and on a
    :class:`PartitionedCluster` it reaches the partition's primary (redisvl's cluster path
    sends it to the default node).
    """
    schema = index.schema
    prefix = schema.index.prefix
    index_type = IndexType.JSON if schema.index.storage_type.value == "json" else IndexType.HASH
    definition = IndexDefinition(
        prefix=prefix if isinstance(prefix, list) else [prefix], index_type=index_type
    )
    try:
        await client.ft(index.name).create_index(
            fields=schema.redis_fields, definition=definition, stopwords=schema.index.stopwords
        )
    except ResponseError as exc:
        if "already exists" in str(exc).lower():
            return False
        raise
    return True


async def index_names(client: Any) -> list[str]:
    """Every index on the server; on a cluster, those of every primary (a node lists only its
    own: ``FT._LIST`` sent to one of 3 primaries saw a third of the partitions)."""
    if not isinstance(client, PartitionedCluster):
        return [text(n) for n in await client.execute_command("FT._LIST")]
    reply = await client.execute_command("FT._LIST", target_nodes=client.get_primaries())
    lists = reply.values() if isinstance(reply, dict) else [reply]
    return sorted({text(n) for names in lists for n in names})


async def wait_indexed(client: Any, name: str, timeout: float) -> None:
    """Wait (at most ``timeout`` s) until index ``name`` has no background indexing left."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        info = await client.ft(name).info()
        indexing = info.get("indexing", info.get(b"indexing", 0))
        if float(text(indexing) or 0) == 0 or time.monotonic() >= deadline:
            return
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.1)


def translate_cluster_error(err: BaseException) -> TTAMemoryError | None:
    """The typed error for a cluster-specific failure (``None`` when it is not one)."""
    if isinstance(err, ClusterDownError | SlotNotCoveredError | TryAgainError):
        return BackendUnavailableError(
            f"Redis Cluster cannot serve this partition right now ({type(err).__name__}: "
            f"{err}); a failover is probably in progress. Retry in a few seconds."
        )
    if isinstance(err, RedisClusterException):
        return BackendUnavailableError(f"Redis Cluster error ({type(err).__name__}: {err})")
    if isinstance(err, ResponseError) and str(err).startswith(("MOVED", "ASK", "CLUSTERDOWN")):
        return BackendUnavailableError(f"Redis Cluster is reconfiguring: {err}")
    return None  # connection errors and timeouts: the generic translation covers them
