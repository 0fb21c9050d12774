"""kill -9 of Redis while writers append: with durability="strict" no acknowledged append is
lost; with the default (AOF everysec) the loss is counted and is only ever each writer's
latest appends, never a gap."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from redis_proc import RedisProcess
from tta_memory import BackendUnavailableError, MemoryWorkflowPrimitive, Settings

ROUNDS = 50
WRITERS = 4
WRITE_SECONDS = 0.15  # per round: enough for ~100 appends, little enough to keep 50 rounds short


async def crash_loop(root: Path, durability: str) -> tuple[int, list[str], bool]:
    """Run the rounds; return (acknowledged appends, lost ids, whether losses are tails)."""
    server = RedisProcess(root)
    server.start()
    settings = Settings(prefix="crash", durability=durability, socket_timeout=1.0, retries=1)
    memory = MemoryWorkflowPrimitive(server.url, "writer", workspace="crash", settings=settings)
    acked: dict[str, list[str]] = {}

    async def writer(session_id: str) -> None:
        ids = acked.setdefault(session_id, [])
        while True:
            try:
                message = await memory.add_session_message(session_id, "user", f"n{len(ids)}")
            except BackendUnavailableError:
                return  # the server died under this append: it was never acknowledged
            ids.append(message.id)

    try:
        for rnd in range(ROUNDS):
            tasks = [asyncio.create_task(writer(f"r{rnd}-w{i}")) for i in range(WRITERS)]
            await asyncio.sleep(WRITE_SECONDS)
            server.kill()
            await asyncio.gather(*tasks)
            server.start()  # replays the AOF of every round so far
        lost: list[str] = []
        tails_only = True
        for session_id, ids in acked.items():
            stored = {m.id for m in await memory.get_session_context(session_id, limit=None)}
            missing = [i for i in ids if i not in stored]
            lost += missing
            tails_only &= not missing or ids[len(ids) - len(missing) :] == missing
        return sum(map(len, acked.values())), lost, tails_only
    finally:
        await memory.aclose()
        server.kill()


@pytest.mark.parametrize("durability", ["strict", "everysec"])
async def test_kill_nine_loop(tmp_path: Path, durability: str) -> None:
    acknowledged, lost, tails_only = await crash_loop(tmp_path, durability)
    print(
        f"\n{durability}: {ROUNDS} kill -9 rounds, {acknowledged} acknowledged appends, "
        f"{len(lost)} lost"
    )
    assert acknowledged >= ROUNDS * WRITERS  # every writer got appends through every round
    if durability == "strict":
        assert lost == []
    assert tails_only  # whatever is lost is the newest appends, never one in the middle
