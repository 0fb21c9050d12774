"""Cache windows under churn, against a model: random notes, session messages, cleared sessions
and reads of several sizes and scopes. Every read returns exactly the model's newest entries of
its scope, whatever horizon the reads before it left (see stores/cache.py, _HORIZONS)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

import pytest
from tta_memory import MemoryWorkflowPrimitive

SESSIONS = ("a", "b", "c")
STEPS = 250


@dataclass
class Entry:
    content: str
    session: str | None


@pytest.mark.parametrize("seed", range(1, 7))
async def test_every_window_read_is_the_newest_of_its_scope(redis_url: str, seed: int) -> None:
    rng = random.Random(seed)
    memory = MemoryWorkflowPrimitive(
        redis_url, user_id="churner", workspace=f"ws-churn-{uuid.uuid4().hex[:8]}"
    )
    model: list[Entry] = []  # oldest first
    reads = 0
    for step in range(STEPS):
        op = rng.random()
        session = rng.choice(SESSIONS)
        if op < 0.35:
            note = await memory.add_cache_entry(f"note {step}")
            model.append(Entry(note.content, None))
        elif op < 0.6:
            await memory.add_session_message(session, "user", f"said {step}")
            model.append(Entry(f"said {step}", session))
        elif op < 0.7:
            await memory.clear_session(session)
            model = [e for e in model if e.session != session]
        else:
            limit = rng.choice([3, 10, 40])
            scope = rng.choice([None, session])
            got = await memory.get_cache_memory(session_id=scope, limit=limit)
            mine = [e for e in model if scope is None or e.session == scope]
            want = [e.content for e in reversed(mine)][:limit]
            assert [e.content for e in got] == want, (seed, step, scope, limit)
            reads += 1
    assert reads > 40
