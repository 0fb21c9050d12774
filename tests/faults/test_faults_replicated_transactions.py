"""durability="replicated" on one server covers the WATCH/MULTI/EXEC edits too (PAFs, session
groups): each is on the replica when the call returns, and with the replica gone each raises
(typed) instead of being acknowledged. (The cluster twin: tests/cluster/test_durability.py.)"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import redis
from redis_proc import RedisProcess
from tta_memory import DurabilityError, MemoryWorkflowPrimitive, SessionGroupPrimitive, Settings
from tta_memory.errors import NotReplicatedError
from tta_memory.keys import Keys


async def test_paf_and_group_edits_wait_for_the_replica(
    replicated: tuple[RedisProcess, RedisProcess],
) -> None:
    primary, replica = replicated
    settings = Settings(prefix="replt", durability="replicated", socket_timeout=1.0)
    memory = MemoryWorkflowPrimitive(primary.url, "u", workspace="w", settings=settings)
    groups = SessionGroupPrimitive(primary.url, "u", workspace="w", settings=settings)
    keys = Keys("replt", "w")
    mirror = redis.Redis(unix_socket_path=str(replica.socket), decode_responses=True)

    await memory.paf_primitive.add_paf("AUTH", "001", "We use PyJWT")
    assert "PyJWT" in str(mirror.hget(keys.pafs(), "AUTH-001"))
    await memory.paf_primitive.update_paf("AUTH-001", rationale="audited library")
    assert "audited library" in str(mirror.hget(keys.pafs(), "AUTH-001"))
    group_id = await groups.create_group("release")
    await groups.add_session_to_group(group_id, "s1")
    assert "s1" in str(mirror.hget(keys.group(group_id), "session_ids"))
    mirror.close()

    replica.kill()
    edits: dict[str, Callable[[], Awaitable[Any]]] = {
        "add_paf": lambda: memory.paf_primitive.add_paf("AUTH", "002", "unconfirmed"),
        "update_paf": lambda: memory.paf_primitive.update_paf("AUTH-001", rationale="u"),
        "deprecate_paf": lambda: memory.paf_primitive.deprecate_paf("AUTH-001", "old"),
        "group_edit": lambda: groups.add_session_to_group(group_id, "s2"),
        "group_status": lambda: groups.update_group_status(group_id, "closed"),
    }
    outcomes: dict[str, str] = {}
    for name, edit in edits.items():
        try:
            await edit()
            outcomes[name] = "acknowledged"
        except NotReplicatedError:
            outcomes[name] = "refused"
        except DurabilityError as exc:  # pragma: no cover - the failure reported
            outcomes[name] = f"wrong error: {exc}"
    assert outcomes == dict.fromkeys(edits, "refused")
