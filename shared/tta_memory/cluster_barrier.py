"""The cluster client's pipelines under the same promises as the single-node client's
(:mod:`tta_memory.connection`): every round trip within :attr:`Settings.failure_bound`, and
every write followed by the durability barrier (:mod:`tta_memory.durability`) on the
connection that carried it — in plain pipelines and in ``WATCH``/``MULTI``/``EXEC``
transactions (PAF and group edits) alike.

**Why the pipeline follows redirections itself.** redis-py re-sends each command of a pipeline
that got ``MOVED``/``ASK``/``TRYAGAIN`` through ``client.execute_command``. When a write had to
be followed by ``WAIT`` on its connection, the client's ``execute_command`` wrapped it in a new
pipeline, which got ``MOVED`` again (the slot table is only patched on redis-py's single-command
path), and so on: an unbounded recursion. Its ``RecursionError`` was caught at every level by
redis-py, which prefixes the error's ``args`` with a message holding their ``repr`` — escaping
grows each level's copy, so the message doubled per level. That is the 24 GB failover test
(measured: 1.2 GB within 0.2 s of the first ``MOVED`` from the restarted old primary, then
OOM-killed at 22 GB; the stack was ~200 nested pipeline executions). Here a write pipeline
runs with redis-py's redirection off; the commands that were redirected are re-sent, with
their barrier, to the node the redirection names — after the slot table is patched from a
``MOVED`` reply, after ``ASKING`` for an ``ASK`` (a slot being migrated: the importing node
serves the one command that follows ``ASKING``) — at most :data:`MAX_REDIRECTS` times.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Iterator
from typing import TYPE_CHECKING, Any

from redis.asyncio.cluster import (
    ClusterNode,
    ClusterPipeline,
    PipelineStrategy,
    TransactionStrategy,
)
from redis.exceptions import AskError, ClusterDownError, MovedError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError

from tta_memory.connection import PipelineDeadline
from tta_memory.durability import Barrier, any_write, is_write

if TYPE_CHECKING:
    from redis.asyncio.cluster import PipelineCommand

    from tta_memory.cluster import PartitionedCluster

# Rounds of re-sending redirected commands before the call fails (typed): a failover moves a
# slot once; more redirections than this mean the topology is still changing.
MAX_REDIRECTS = 5
_REDIRECTS = (MovedError, AskError, TryAgainError)


@contextlib.contextmanager
def torn_connection_is_connection_error() -> Iterator[None]:
    """While redis-py re-reads the topology it closes every connection of the client; a
    command writing on one at that moment fails inside redis-py with ``AttributeError``
    (seen: "'NoneType' object has no attribute 'writelines'" in the failover test). It is a
    lost connection, and is reported as one."""
    try:
        yield
    except AttributeError as exc:
        raise RedisConnectionError(f"connection closed during a topology refresh ({exc})") from exc


def _new_command(position: int, *args: Any, **kwargs: Any) -> PipelineCommand:
    from redis.asyncio.cluster import PipelineCommand

    return PipelineCommand(position, *args, **kwargs)


class BarrierPipelineStrategy(PipelineStrategy):
    """redis-py's pipeline strategy, with a barrier per node written to."""

    _pipe: DurablePipeline

    async def _execute(
        self,
        client: Any,
        stack: list[PipelineCommand],
        raise_on_error: bool = True,
        allow_redirections: bool = True,
    ) -> list[Any]:
        barrier: Barrier | None = client.barrier
        if barrier is None or not any_write(c.args for c in stack):
            return await super()._execute(client, stack, raise_on_error, allow_redirections)
        pending = [c for c in stack if not c.result or isinstance(c.result, Exception)]
        # redis-py pops ``target_nodes`` from a command as it sends it: the caller's pins are
        # kept here, or a pinned command would be routed by its keys from the second round on.
        pins = {id(c): c.kwargs.get("target_nodes") for c in pending}
        redirects: dict[int, tuple[ClusterNode, bool]] = {}
        for attempt in range(MAX_REDIRECTS + 1):
            if attempt:
                await asyncio.sleep(0.05 * attempt)
            pending = await self._round(client, barrier, pending, pins, redirects)
            if not pending:
                break
        else:
            raise ClusterDownError(
                f"{len(pending)} command(s) were still redirected after {MAX_REDIRECTS} "
                "retries: the cluster's topology is changing"
            )
        if raise_on_error:
            for cmd in stack:
                if isinstance(cmd.result, Exception):
                    raise cmd.result
        return [cmd.result for cmd in stack]

    async def _round(
        self,
        client: Any,
        barrier: Barrier,
        pending: list[PipelineCommand],
        pins: dict[int, Any],
        redirects: dict[int, tuple[ClusterNode, bool]],
    ) -> list[PipelineCommand]:
        """Send ``pending`` plus a barrier per node written to; return the redirected ones.

        Each command goes where its last redirection said (after ``ASKING`` on the same
        connection for an ``ASK``: the importing node serves that one command only so), else
        where the caller pinned it, else — a write — to the node its keys route to
        (:meth:`PartitionedCluster.node_for`), pinned there so that its barrier follows it;
        reads are routed by redis-py. A pinned write gets no barrier, as on the
        single-command path.
        """
        writes: dict[str, list[PipelineCommand]] = {}
        nodes: dict[str, ClusterNode] = {}
        sent: list[PipelineCommand] = []
        for cmd in pending:
            cmd.result = None
            pin = pins[id(cmd)]
            node, asking = redirects.pop(id(cmd), (None, False))
            if node is not None and asking:
                sent.append(_new_command(-1, "ASKING", target_nodes=node))
            if node is None and pin is None and is_write(cmd.args[0]):
                node = await client.node_for(*cmd.args)
            if node is not None or pin is not None:
                cmd.kwargs["target_nodes"] = node if node is not None else pin
            if node is not None and pin is None and is_write(cmd.args[0]):
                nodes[node.name] = node
                writes.setdefault(node.name, []).append(cmd)
            sent.append(cmd)
        waits = {
            name: [_new_command(-1, *command, target_nodes=node) for command in barrier.commands]
            for name, node in nodes.items()
        }
        sent += [w for ws in waits.values() for w in ws]
        await super()._execute(client, sent, raise_on_error=False, allow_redirections=False)
        for name, cmds in writes.items():
            # Only a node that applied a write of this round answers for it; one whose
            # writes were all redirected confirms nothing (they get a barrier next round).
            if any(not isinstance(c.result, Exception) for c in cmds):
                barrier.check([w.result for w in waits[name]])
        redirected = [c for c in pending if isinstance(c.result, _REDIRECTS)]
        for cmd in redirected:
            error = cmd.result
            if isinstance(error, MovedError):  # the slot's new owner: patch the slot table
                await client.nodes_manager.move_slot(error)
            if isinstance(error, AskError):  # MOVED is an AskError too
                target = client.get_node(host=error.host, port=error.port)
                if target is not None:
                    redirects[id(cmd)] = (target, not isinstance(error, MovedError))
        return redirected


class BarrierTransactionStrategy(TransactionStrategy):
    """redis-py's ``MULTI``/``EXEC`` strategy (with ``WATCH``), followed by the barrier on the
    transaction's connection when it wrote."""

    async def _execute_transaction(self, stack: list[PipelineCommand], raise_on_error: bool) -> Any:
        barrier: Barrier | None = self._pipe.cluster_client.barrier  # type: ignore[attr-defined]
        data = await super()._execute_transaction(stack, raise_on_error)
        connection = self._transaction_connection
        wrote = any_write(c.args for c in stack)
        if barrier is not None and connection is not None and wrote:
            await barrier.on(connection)
        return data


class DurablePipeline(PipelineDeadline, ClusterPipeline):  # type: ignore[misc]
    """A cluster pipeline or transaction: bounded in time, with the durability barrier."""

    cluster_client: PartitionedCluster

    def __init__(self, client: PartitionedCluster, transaction: bool | None = None) -> None:
        super().__init__(client, transaction)
        self.settings = client.settings
        self._execution_strategy = (
            BarrierTransactionStrategy(self) if transaction else BarrierPipelineStrategy(self)
        )

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> Any:
        async with self._step():
            with torn_connection_is_connection_error():
                return await super().execute(raise_on_error, allow_redirections)

    async def initialize(self) -> ClusterPipeline:
        # Entering ``async with`` may re-read the topology (a node may be the stalled one).
        async with self._step():
            return await super().initialize()

    async def reset(self) -> None:  # type: ignore[override]
        # A transaction's reset sends UNWATCH on its connection, maybe to a stalled node (also
        # on leaving ``async with``, after execute): within the pipeline's deadline.
        async with self._last_step():
            await super().reset()

    async def watch(self, *names: Any) -> Any:  # type: ignore[override]
        async with self._step():
            return await super().watch(*names)

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        # Under WATCH a command runs at once: redis-py hands back its coroutine (a read of the
        # watched key, before MULTI), which gets the deadline too.
        result = super().execute_command(*args, **kwargs)
        if inspect.iscoroutine(result):
            return self._bounded(result)
        return result

    async def _bounded(self, call: Awaitable[Any]) -> Any:
        async with self._step():
            return await call
