"""The shared world of the property tests: a victim workspace holding marked data in every
layer, the hostile values and strategies, and a snapshot of everything stored."""

from __future__ import annotations

import contextlib
import math
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from hypothesis import strategies as st
from servers import crash_report
from tta_memory import (
    EmbeddedRedis,
    MemoryWorkflowPrimitive,
    NotFoundError,
    SessionGroupPrimitive,
    Settings,
    run_sync,
)

PREFIX = f"prop{uuid.uuid4().hex[:6]}"
VICTIM_WS, VICTIM_USER = "acme", "alice"
MARK = f"SECRET{uuid.uuid4().hex[:8]}"  # in every item the victim workspace stores
PRIVATE = f"PRIVATE{uuid.uuid4().hex[:8]}"  # in alice's private memory only

# ---- hostile values -------------------------------------------------------------------------

NASTY_STRINGS = [
    "",
    " ",
    "\ud800",  # lone surrogate
    "a\udfffb",
    "\x00",
    "a\x1fb",
    "\t",
    "\r\n",
    "`",
    "acme`",
    "acme ",
    " acme",
    "ACME",
    "acme\u200b",
    "acme*",
    "acme|x",
    "@workspace:{acme}",
    "@text:(x) | @workspace:{*}",
    "*",
    "-",
    "{",
    "}",
    "\\",
    "%",
    '"',
    "$x",
    "~a",
    "x" * 600,
    "y" * 1_000_001,
    "🙂",
    "日本語",
    "OPS-001",
    "AUTH-1234567",
]
NASTY_NUMBERS = [
    math.nan,
    math.inf,
    -math.inf,
    1e20,
    10**30,
    -(10**30),
    2**63,
    2**64,
    -1,
    0,
    1.5,
    -0.0,
    True,
    10**20,
]
WRONG_TYPES = [None, b"bytes", [], {}, ["a", 1], {"a": object()}, ("t",), {"x"}, object()]

nasty_text = st.one_of(st.sampled_from(NASTY_STRINGS), st.text(max_size=40))
anything = st.one_of(
    nasty_text, st.sampled_from(NASTY_NUMBERS), st.sampled_from(WRONG_TYPES), st.integers()
)


def arg(*valid: Any) -> st.SearchStrategy[Any]:
    """A valid value (one of ``valid``) about two times in three, else a hostile one."""
    return st.one_of(st.sampled_from(valid), st.sampled_from(valid), anything)


def opt(*valid: Any) -> st.SearchStrategy[Any]:
    return arg(None, *valid)


def num(*valid: Any) -> st.SearchStrategy[Any]:
    """A numeric argument: valid, or one of the numbers Redis and datetime choke on."""
    return st.one_of(st.sampled_from(valid), st.sampled_from(NASTY_NUMBERS), anything)


# ---- the victim and the snapshot ------------------------------------------------------------


@dataclass
class World:
    url: str
    server: EmbeddedRedis
    ids: dict[str, str] = field(default_factory=dict)
    found: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def server_problems(self) -> list[str]:
        """``[]`` while the test server runs; else why it died (the tail of its log)."""
        if self.server.is_running():
            return []
        return [f"the test server died mid-run:\n{crash_report(self.server.log_file)}"]


def scope_settings() -> Settings:
    # A short failure bound: a mistake that hangs shows as a timeout, not a stuck suite.
    return Settings(prefix=PREFIX)


@pytest.fixture(scope="module")
def property_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmbeddedRedis]:
    """A server of the test module's own: the engine and the adapter property tests write
    look-alike workspaces and the same victim marker, and each snapshots every key of its
    prefix around each call, so sharing one server made each see the other's data (false
    leaks, "stored on error" from the other's writes) depending on the test order. Its log
    stays in pytest's temporary directory (the last 3 runs are kept) and a test prints its
    tail if the server died (:meth:`World.server_problems`)."""
    root = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    server = EmbeddedRedis(data_dir=root / "data", socket_dir=root / "run")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def world(property_server: EmbeddedRedis) -> Iterator[World]:
    redis_url = property_server.url
    memory = MemoryWorkflowPrimitive(
        redis_url, VICTIM_USER, workspace=VICTIM_WS, settings=scope_settings()
    )
    groups = SessionGroupPrimitive(
        redis_url, VICTIM_USER, workspace=VICTIM_WS, settings=scope_settings()
    )

    async def seed() -> dict[str, str]:
        msg = await memory.add_session_message("s1", "user", f"{MARK} launch is May 3")
        note = await memory.add_cache_entry(f"{MARK} note", session_id="s1", tags=["t"])
        shared = await memory.create_deep_memory(f"{MARK} shared memory", tags=["t"])
        private = await memory.create_deep_memory(
            f"{MARK} {PRIVATE} api key", tags=["t"], private=True
        )
        # An earlier test may have changed the victim's PAF through its own legitimate calls.
        with contextlib.suppress(NotFoundError):
            await memory.paf_primitive.delete_paf("OPS-001")
        await memory.paf_primitive.add_paf("OPS", "001", f"{MARK} deploys need review")
        group_id = await groups.create_group(f"{MARK} group", tags=["t"])
        await groups.add_session_to_group(group_id, "s1")
        return {
            "message": msg.id,
            "entry": note.id,
            "memory": shared.id,
            "private": private.id,
            "group": group_id,
        }

    yield World(url=redis_url, server=property_server, ids=run_sync(seed()))


def snapshot(url: str) -> dict[bytes, tuple[bytes | None, bool]]:
    """Every key under the test prefix (on the test module's own server): its serialized
    value and whether it expires.

    Left out: the embedding cache (model outputs, not user data) and the engine's bookkeeping
    that any first call of a process writes: the registry of workspace names (``workspace
    list``) and the layout/model record (``meta``). Each key's value and TTL are read in one
    ``MULTI``: read apart, a key expiring between the two looked like a key without a TTL that
    a failed call then deleted.
    """
    client = redis.Redis.from_url(url)
    bookkeeping = {f"{PREFIX}:workspaces".encode(), f"{PREFIX}:meta".encode()}
    try:
        keys = sorted(
            k
            for k in client.scan_iter(f"{PREFIX}:*", count=1000)
            if b":embcache" not in k and k not in bookkeeping
        )
        pipe = client.pipeline(transaction=True)
        for k in keys:
            pipe.dump(k)
            pipe.pttl(k)
        replies = pipe.execute()
        return {
            k: (value, pttl != -1)
            for k, value, pttl in zip(keys, replies[::2], replies[1::2], strict=True)
            if pttl != -2  # gone (expired) since the scan
        }
    finally:
        client.close()


def changed(before: dict[bytes, Any], after: dict[bytes, Any]) -> list[bytes]:
    """Keys written or deleted between two snapshots (a key that expired meanwhile is not)."""
    return [
        k
        for k in before.keys() | after.keys()
        if (k in after and before.get(k, (None,))[0] != after[k][0])
        or (k not in after and not before[k][1])
    ]


LOOKALIKE_WS = ["acme`", "ACME", "acme*", "acme|x", "@workspace:{acme}", "acme\u200b", "{acme}"]
LOOKALIKE_USERS = ["alice`", "ALICE", "alice*", "@author:{alice}", "mallory"]
