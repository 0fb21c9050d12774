"""Typed errors for bad input, unknown ids, closed groups, wrong URLs and a Redis that is down;
and a call that fails changes nothing stored."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
import redis
from tta_memory import (
    EmbeddedRedis,
    GroupStatus,
    MemoryWorkflowPrimitive,
    SessionGroupPrimitive,
    Settings,
    WorkflowContext,
)
from tta_memory.errors import (
    BackendFullError,
    BackendUnavailableError,
    ConflictError,
    GroupClosedError,
    InvalidInputError,
    NotFoundError,
    TTAMemoryError,
    UnsupportedURLError,
)

TOO_LONG = "x" * 1_000_001
CTX = WorkflowContext(workflow_id="wf", session_id="s1", metadata={}, state={})


def test_error_types_are_catchable_as_builtins():
    assert issubclass(InvalidInputError, ValueError) and issubclass(NotFoundError, KeyError)
    assert issubclass(BackendUnavailableError, ConnectionError)
    for err in (InvalidInputError, NotFoundError, BackendUnavailableError, GroupClosedError):
        assert issubclass(err, TTAMemoryError)


@pytest.mark.parametrize("content", ["", "   \n\t", TOO_LONG, None, 42])
async def test_bad_message_content(memory, content):
    with pytest.raises(InvalidInputError, match="content"):
        await memory.add_session_message("s", "user", content)
    assert await memory.get_session_context("s") == []
    assert await memory.get_cache_memory() == []


@pytest.mark.parametrize("text", ["", "  ", TOO_LONG])
async def test_bad_memory_and_note_text(memory, text):
    with pytest.raises(InvalidInputError):
        await memory.create_deep_memory(text)
    with pytest.raises(InvalidInputError):
        await memory.add_cache_entry(text)
    with pytest.raises(InvalidInputError):
        await memory.paf_primitive.add_paf("AUTH", "001", text)
    assert await memory.search_deep_memory("", limit=100) == []
    assert await memory.get_cache_memory() == []
    assert await memory.paf_primitive.list_pafs() == []


async def test_unknown_role_names_the_valid_ones(memory):
    with pytest.raises(InvalidInputError) as err:
        await memory.add_session_message("s", "human", "hello")
    assert "'human'" in str(err.value)
    assert all(role in str(err.value) for role in ("user", "assistant", "system", "tool"))


async def test_unknown_stage_names_the_valid_ones(memory):
    with pytest.raises(InvalidInputError) as err:
        await memory.load_workflow_context(CTX, stage="deploy")
    message = str(err.value)
    assert "'deploy'" in message
    for stage in ("understand", "decompose", "plan", "implement", "verify", "review"):
        assert stage in message


async def test_unknown_mode_names_the_valid_ones(memory):
    with pytest.raises(InvalidInputError) as err:
        await memory.load_workflow_context(CTX, stage="plan", mode="turbo")
    message = str(err.value)
    assert "'turbo'" in message
    assert all(mode in message for mode in ("rapid", "standard", "augster_rigorous"))


@pytest.mark.parametrize("session_id", ["", "  ", None, "a\x00b", "x" * 513])
async def test_bad_session_ids(memory, session_id):
    with pytest.raises(InvalidInputError):
        await memory.add_session_message(session_id, "user", "hello")


@pytest.mark.parametrize(
    "paf_id", ["auth-001", "AUTH001", "AUTH-", "-001", "AUTH-1a", "AU TH-001", "", None]
)
async def test_malformed_paf_ids(memory, paf_id):
    await memory.paf_primitive.add_paf("AUTH", "001", "Use PyJWT")
    for call in (
        memory.paf_primitive.get_paf(paf_id),
        memory.paf_primitive.update_paf(paf_id, description="x"),
        memory.paf_primitive.deprecate_paf(paf_id, "x"),
        memory.paf_primitive.deprecate_paf("AUTH-001", "x", replaced_by=paf_id or "bad"),
    ):
        with pytest.raises(InvalidInputError, match="AUTH-001"):
            await call
    assert (await memory.paf_primitive.get_paf("AUTH-001")).version == 1


@pytest.mark.parametrize(
    ("category", "fact_id"),
    [("auth", "001"), ("AUTH1", "001"), ("AUTH", "1a"), ("AUTH", ""), ("", "001")],
)
async def test_malformed_paf_parts(memory, category, fact_id):
    with pytest.raises(InvalidInputError):
        await memory.paf_primitive.add_paf(category, fact_id, "description")
    assert await memory.paf_primitive.list_pafs() == []


async def test_unknown_ids_are_not_found(memory, groups):
    with pytest.raises(NotFoundError, match="no deep memory"):
        await memory.get_deep_memory("0" * 32)
    with pytest.raises(NotFoundError):
        await memory.update_deep_memory("0" * 32, text="x")
    with pytest.raises(NotFoundError, match="no session group"):
        await groups.get_group("grp-0123456789abcdef")
    with pytest.raises(NotFoundError, match="AUTH-404"):
        await memory.paf_primitive.get_paf("AUTH-404")
    with pytest.raises(KeyError):  # NotFoundError is a KeyError too
        await memory.delete_session_message("s", position=0)


async def test_closed_and_archived_groups_refuse_sessions(groups):
    for status in (GroupStatus.CLOSED, GroupStatus.ARCHIVED):
        gid = await groups.create_group("done", status=status)
        with pytest.raises(GroupClosedError, match=status.value):
            await groups.add_session_to_group(gid, "late-session")
        assert (await groups.get_group(gid)).session_ids == []


async def test_unknown_group_status(groups):
    gid = await groups.create_group("g")
    with pytest.raises(InvalidInputError, match="active, closed, archived"):
        await groups.update_group_status(gid, "finished")
    assert (await groups.get_group(gid)).status == GroupStatus.ACTIVE


@pytest.mark.parametrize("url", ["http://localhost:8000", "https://memory.example.com"])
def test_http_url_is_refused_with_an_explanation(url):
    for cls in (MemoryWorkflowPrimitive, SessionGroupPrimitive):
        with pytest.raises(UnsupportedURLError) as err:
            cls(redis_url=url, user_id="dev")
        assert "Redis URL" in str(err.value) and "redis://" in str(err.value)
        assert isinstance(err.value, ValueError)


async def test_http_url_from_the_environment_is_refused(monkeypatch):
    monkeypatch.setenv("TTA_MEMORY_REDIS_URL", "http://localhost:8000")
    with pytest.raises(UnsupportedURLError, match=r"TTA_MEMORY_REDIS_URL.* not a Redis URL"):
        MemoryWorkflowPrimitive(user_id="dev")


async def test_backend_down_gives_a_typed_error(tmp_path):
    settings = Settings(socket_timeout=1, connect_timeout=1, retries=1)
    server = EmbeddedRedis(data_dir=tmp_path / "data")
    server.start()
    try:
        memory = MemoryWorkflowPrimitive(server.url, user_id="u", workspace="w", settings=settings)
        groups = SessionGroupPrimitive(server.url, user_id="u", workspace="w", settings=settings)
        await memory.add_session_message("s", "user", "written while up")
    finally:
        server.stop()

    calls = [
        memory.add_session_message("s", "user", "written while down"),
        memory.get_session_context("s"),
        memory.get_cache_memory(),
        memory.search_deep_memory("anything"),
        memory.create_deep_memory("a new memory"),
        memory.get_active_pafs(),
        memory.load_workflow_context(CTX, "understand", "augster_rigorous"),
        groups.create_group("g"),
        groups.list_groups(),
    ]
    for call in calls:
        # wait_for only guards against a hang; the call itself must fail with a typed error
        with pytest.raises(BackendUnavailableError, match="unreachable"):
            await asyncio.wait_for(call, timeout=60)
    with pytest.raises(BackendUnavailableError):
        memory.sync.get_session_context("s")


async def test_unresponsive_backend_times_out_with_a_typed_error(tmp_path):
    settings = Settings(socket_timeout=1, connect_timeout=1, retries=1)
    server = EmbeddedRedis(data_dir=tmp_path / "data")
    server.start()
    pid = server._pid()
    assert pid is not None
    memory = MemoryWorkflowPrimitive(server.url, user_id="u", workspace="w", settings=settings)
    await memory.add_session_message("s", "user", "written while up")
    os.kill(pid, signal.SIGSTOP)  # the server hangs: connections open, nothing answers
    try:
        for call in (memory.get_session_context("s"), memory.add_session_message("s", "user", "x")):
            with pytest.raises(BackendUnavailableError, match="did not answer in time"):
                await asyncio.wait_for(call, timeout=60)  # guards against a hang only
    finally:
        os.kill(pid, signal.SIGCONT)
        server.stop()


async def test_full_backend_gives_a_typed_error_and_keeps_reads(tmp_path):
    server = EmbeddedRedis(data_dir=tmp_path / "data")
    server.start()
    try:
        memory = MemoryWorkflowPrimitive(server.url, user_id="u", workspace="w")
        groups = SessionGroupPrimitive(server.url, user_id="u", workspace="w")
        await memory.add_session_message("s", "user", "written before the limit")
        admin = redis.Redis.from_url(server.url)  # an operator lowering the memory limit
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", "1")
        try:
            with pytest.raises(BackendFullError, match="out of memory"):
                await memory.add_session_message("s", "user", "no room")
            with pytest.raises(BackendFullError):
                await memory.paf_primitive.add_paf("AUTH", "001", "no room")
            with pytest.raises(BackendFullError):
                await groups.create_group("no room")
            assert [m.content for m in await memory.get_session_context("s")] == [
                "written before the limit"
            ]
        finally:
            admin.config_set("maxmemory", "0")
            admin.close()
        assert (await memory.add_session_message("s", "user", "room again")).seq == 2
    finally:
        server.stop()


async def test_failed_batch_append_stores_nothing(memory):
    await memory.add_session_message("s", "user", "first")
    batch = [{"role": "user", "content": "ok"}, {"role": "robot", "content": "bad role"}]
    with pytest.raises(InvalidInputError):
        await memory.add_session_messages("s", batch)
    with pytest.raises(InvalidInputError):
        await memory.add_session_messages("s", [{"role": "user", "content": "x"}, "not a dict"])
    with pytest.raises(InvalidInputError):
        await memory.add_session_messages("s", [])
    assert [m.content for m in await memory.get_session_context("s")] == ["first"]
    assert (await memory.add_session_message("s", "user", "second")).seq == 2  # no gap


async def test_failed_batch_create_stores_nothing(memory):
    items = [{"text": "good one"}, {"text": "bad tags", "tags": ["ok", ""]}]
    with pytest.raises(InvalidInputError):
        await memory.create_deep_memories(items)
    with pytest.raises(InvalidInputError):
        await memory.create_deep_memories([{"text": "good"}, {"text": "x", "colour": "red"}])
    assert await memory.search_deep_memory("", limit=100) == []


async def test_failed_update_changes_nothing(memory):
    made = await memory.create_deep_memory("original", tags=["t"], metadata={"k": 1})
    for kwargs in (
        {"text": "new text", "tags": [" padded "]},
        {"text": "", "tags": ["new"]},
        {"tags": ["new"], "metadata": {"bad": {1, 2}}},
        {"text": "new text", "memory_type": ""},
    ):
        with pytest.raises(InvalidInputError):
            await memory.update_deep_memory(made.id, **kwargs)
    assert await memory.get_deep_memory(made.id) == made
    assert [m.id for m in await memory.search_deep_memory("original", search_mode="text")] == [
        made.id
    ]


async def test_failed_paf_changes_change_nothing(memory):
    paf = await memory.paf_primitive.add_paf("AUTH", "001", "Use PyJWT", "light")
    with pytest.raises(ConflictError):
        await memory.paf_primitive.add_paf("AUTH", "001", "Use python-jose")
    with pytest.raises(InvalidInputError):
        await memory.paf_primitive.update_paf("AUTH-001", description="")
    with pytest.raises(InvalidInputError):
        await memory.paf_primitive.deprecate_paf("AUTH-001", "")
    with pytest.raises(InvalidInputError):
        await memory.paf_primitive.import_markdown("- **AUTH-002**: new\n- **Auth-3**: broken\n")
    assert await memory.paf_primitive.list_pafs() == [paf]


async def test_invalid_metadata_is_refused(memory, groups):
    bad = {"when": object()}
    with pytest.raises(InvalidInputError, match="JSON"):
        await memory.add_session_message("s", "user", "hi", metadata=bad)
    with pytest.raises(InvalidInputError, match="JSON"):
        await memory.create_deep_memory("hi", metadata={"nan": float("nan")})
    with pytest.raises(InvalidInputError):
        await groups.create_group("g", metadata=bad)
    assert await memory.get_session_context("s") == []
    assert await groups.list_groups() == []
