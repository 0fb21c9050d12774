"""The server survives a long run of valid public calls with churn: memories, messages, notes
(some expiring within seconds), groups and items written, updated, deleted and cleared between
searches, listings, windows and stage loads of every mode, in three workspaces of two users.

Every call must succeed. Before sorted listings left dialect 4 this run killed the server after
~1,250 calls (RediSearch's optimizer assertion, see schema.QUERY_DIALECT). The run has a server
of its own, so that a death here cannot take other tests with it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from servers import throwaway_server
from tta_memory import EmbeddedRedis, MemoryWorkflowPrimitive, SessionGroupPrimitive
from tta_memory.loading.policy import STAGES
from tta_memory.stores.items import ItemStore, ItemWrite

CALLS = 2_500
MODES = ("rapid", "standard", "augster_rigorous")
TAGS = ["auth", "db", "ui", "ops", "a|b", "x y"]
WORDS = [
    "deploy",
    "token",
    "cache",
    "redis",
    "login",
    "schema",
    "index",
    "latency",
    "tuesday",
    "rollback",
    "queue",
]
SESSIONS = ("s1", "s2", "s3")


@pytest.fixture(scope="module")
def own_server() -> Iterator[EmbeddedRedis]:
    with throwaway_server("tta-churn-") as server:
        yield server


class Churn:
    """One random actor over a few workspaces, remembering what it created."""

    def __init__(self, url: str, rng: random.Random) -> None:
        self.rng = rng
        spaces = [f"churn-{i}" for i in range(3)]
        self.memories = [
            MemoryWorkflowPrimitive(url, user_id=u, workspace=w)
            for w in spaces
            for u in ("u1", "u2")
        ]
        self.groups = {w: SessionGroupPrimitive(url, user_id="u1", workspace=w) for w in spaces}
        self.deep_ids: dict[int, list[str]] = {i: [] for i in range(len(self.memories))}
        self.group_ids: dict[str, list[str]] = {w: [] for w in spaces}

    def text(self) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(2, 12)))

    def tags(self, most: int) -> list[str]:
        return self.rng.sample(TAGS, self.rng.randint(0, most))

    async def step(self) -> None:
        rng = self.rng
        i = rng.randrange(len(self.memories))
        m, ids = self.memories[i], self.deep_ids[i]
        groups, group_ids = self.groups[m.workspace], self.group_ids[m.workspace]
        session = rng.choice(SESSIONS)
        op = rng.randrange(16)
        if op == 0 or (op in (1, 2) and not ids):
            created = await m.create_deep_memory(self.text(), tags=self.tags(3))
            if created.id not in ids:  # a text written before returns that memory (dedup)
                ids.append(created.id)
        elif op == 1:
            await m.delete_deep_memory(ids.pop(rng.randrange(len(ids))))
        elif op == 2:
            await m.update_deep_memory(rng.choice(ids), text=self.text())
        elif op == 3:
            await m.search_deep_memory(
                rng.choice(["", self.text()]),
                limit=rng.choice([1, 5, 50]),
                tags=self.tags(2) or None,
                search_mode=rng.choice(["hybrid", "text", "vector"]),
                session_id=rng.choice([None, session]),
                since=rng.choice([None, datetime.now(UTC) - timedelta(seconds=rng.randint(1, 99))]),
            )
        elif op in (4, 5):
            await m.add_session_message(session, rng.choice(["user", "assistant"]), self.text())
        elif op == 6:
            await m.add_cache_entry(
                self.text(),
                session_id=rng.choice([None, session]),
                ttl_seconds=rng.choice([1, 2, 3600]),
            )
        elif op == 7:
            await m.clear_session(session)
        elif op == 8:
            await m.get_cache_memory(
                session_id=rng.choice([None, session]),
                limit=rng.choice([3, 20, 100]),
                time_window_hours=rng.choice([0.001, 1, 24]),
            )
        elif op in (9, 10):
            ctx = {"workflow_id": "w", "session_id": session}
            if group_ids and rng.random() < 0.5:
                ctx["session_group_id"] = rng.choice(group_ids)
            await m.load_workflow_context(ctx, rng.choice(STAGES), rng.choice(MODES))
        elif op == 11:
            group_ids.append(await groups.create_group(self.text()[:30], tags=self.tags(1)))
            await groups.add_session_to_group(group_ids[-1], session)
        elif op == 12 and group_ids:
            await groups.delete_group(group_ids.pop(rng.randrange(len(group_ids))))
        elif op in (12, 13):
            await groups.list_groups()
        elif op == 14:
            writes = [
                ItemWrite(
                    namespace=("n", session),
                    key=f"k{rng.randrange(30)}",
                    value=None if rng.random() < 0.3 else {"v": self.text()},
                    texts=[self.text()],
                )
                for _ in range(rng.randint(1, 5))
            ]
            await ItemStore(m.context).put_items(writes)
        else:
            await ItemStore(m.context).search_items(
                ("n",),
                query=rng.choice([None, self.text()]),
                limit=rng.choice([1, 10, 50]),
                offset=rng.choice([0, 5]),
            )


async def test_the_server_survives_churn(own_server: EmbeddedRedis) -> None:
    churn = Churn(own_server.url, random.Random(7))
    for n in range(CALLS):
        await churn.step()
        if n % 100 == 0:
            assert own_server.is_running(), f"the server died within call {n}"
    assert own_server.is_running()
