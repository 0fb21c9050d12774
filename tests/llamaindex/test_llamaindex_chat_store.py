"""TTAChatStore: LlamaIndex's AsyncDBChatStore interface over the session layer."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ImageBlock,
    MessageRole,
    TextBlock,
    ToolCallBlock,
)
from llama_index.core.memory import Memory
from llama_index.core.storage.chat_store.base_db import AsyncDBChatStore, MessageStatus
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.errors import InvalidInputError, NotFoundError

from tta_memory_llamaindex import TTAChatStore

ACTIVE, ARCHIVED = MessageStatus.ACTIVE, MessageStatus.ARCHIVED


def msg(text: str, role: str = "user", **kwargs: object) -> ChatMessage:
    return ChatMessage(role=role, content=text, additional_kwargs=dict(kwargs))


def texts(messages: list[ChatMessage]) -> list[str | None]:
    return [m.content for m in messages]


@pytest.fixture
def store(memory: MemoryWorkflowPrimitive) -> TTAChatStore:
    return TTAChatStore(memory=memory)


def test_class() -> None:
    assert issubclass(TTAChatStore, AsyncDBChatStore)
    assert TTAChatStore.class_name() == "TTAChatStore"
    abstract: frozenset[str] = getattr(AsyncDBChatStore, "__abstractmethods__", frozenset())
    assert abstract, "the base class declares its interface as abstract methods"
    for name in abstract:
        assert getattr(TTAChatStore, name) is not getattr(AsyncDBChatStore, name), name


async def test_add_get_count_in_order(store: TTAChatStore) -> None:
    await store.add_message("s1", msg("one"))
    await store.add_messages("s1", [msg("two", "assistant"), msg("three")])
    assert texts(await store.get_messages("s1")) == ["one", "two", "three"]
    assert await store.count_messages("s1") == 3
    assert await store.count_messages("s1", status=ARCHIVED) == 0
    assert await store.count_messages("s1", status=None) == 3
    assert await store.get_messages("unknown-session") == []
    assert await store.count_messages("unknown-session") == 0


async def test_limit_and_offset_count_from_the_oldest(store: TTAChatStore) -> None:
    await store.add_messages("s1", [msg(str(i)) for i in range(6)])
    assert texts(await store.get_messages("s1", limit=2)) == ["0", "1"]
    assert texts(await store.get_messages("s1", offset=4)) == ["4", "5"]
    assert texts(await store.get_messages("s1", limit=2, offset=3)) == ["3", "4"]
    assert await store.get_messages("s1", limit=0) == []
    assert await store.get_messages("s1", offset=10) == []


async def test_message_round_trips_exactly(store: TTAChatStore) -> None:
    original = [
        ChatMessage(role="system", content="be brief"),
        ChatMessage(
            role="user",
            blocks=[TextBlock(text="look"), ImageBlock(url="https://example.com/a.png")],
            additional_kwargs={"k": [1, {"x": "é"}]},
        ),
        ChatMessage(
            role="assistant",
            blocks=[ToolCallBlock(tool_call_id="c1", tool_name="search", tool_kwargs={"q": "x"})],
        ),
        ChatMessage(role="tool", content="result", additional_kwargs={"tool_call_id": "c1"}),
        ChatMessage(role=MessageRole.DEVELOPER, content="dev note"),
        ChatMessage(role=MessageRole.FUNCTION, content="fn"),
        ChatMessage(role=MessageRole.CHATBOT, content="bot"),
        ChatMessage(role=MessageRole.MODEL, content="model"),
    ]
    await store.add_messages("s1", original)
    back = await store.get_messages("s1")
    assert [m.model_dump(mode="json") for m in back] == [
        m.model_dump(mode="json") for m in original
    ]
    # The engine sees readable roles and text for its own views (stage loading, cache).
    stored = await store.memory.get_session_context("s1", limit=None)
    assert [m.role for m in stored] == [
        "system",
        "user",
        "assistant",
        "tool",
        "system",
        "tool",
        "assistant",
        "assistant",
    ]
    assert stored[0].content == "be brief"
    assert stored[2].content == "[tool_call]"


async def test_messages_written_by_the_engine_are_readable(
    store: TTAChatStore, memory: MemoryWorkflowPrimitive
) -> None:
    await memory.add_session_message("s1", "user", "written directly", metadata={"a": 1})
    (m,) = await store.get_messages("s1")
    assert m.role == MessageRole.USER and m.content == "written directly"


async def test_archive_oldest_and_status_views(store: TTAChatStore) -> None:
    await store.add_messages("s1", [msg(str(i)) for i in range(5)])
    moved = await store.archive_oldest_messages("s1", n=2)
    assert texts(moved) == ["0", "1"]
    assert texts(await store.get_messages("s1")) == ["2", "3", "4"]
    assert texts(await store.get_messages("s1", status=ARCHIVED)) == ["0", "1"]
    assert texts(await store.get_messages("s1", status=None)) == ["0", "1", "2", "3", "4"]
    assert await store.count_messages("s1", status=None) == 5
    assert texts(await store.archive_oldest_messages("s1", n=10)) == ["2", "3", "4"]
    assert await store.archive_oldest_messages("s1", n=1) == []
    assert await store.archive_oldest_messages("s1", n=0) == []


async def test_add_archived_messages(store: TTAChatStore) -> None:
    await store.add_messages("s1", [msg("a1"), msg("a2")])
    await store.add_message("s1", msg("old"), status=ARCHIVED)
    assert texts(await store.get_messages("s1", status=ARCHIVED)) == ["old"]
    assert texts(await store.get_messages("s1")) == ["a1", "a2"]
    assert await store.count_messages("s1", status=None) == 3


async def test_delete_message_by_position(store: TTAChatStore) -> None:
    await store.add_messages("s1", [msg(str(i)) for i in range(4)])
    deleted = await store.delete_message("s1", 1)
    assert deleted is not None and deleted.content == "1"
    last = await store.delete_message("s1", -1)
    assert last is not None and last.content == "3"
    assert texts(await store.get_messages("s1")) == ["0", "2"]


async def test_delete_oldest_messages(store: TTAChatStore) -> None:
    await store.add_messages("s1", [msg(str(i)) for i in range(4)])
    assert texts(await store.delete_oldest_messages("s1", 3)) == ["0", "1", "2"]
    assert texts(await store.get_messages("s1")) == ["3"]
    assert await store.count_messages("s1", status=ARCHIVED) == 0
    assert texts(await store.delete_oldest_messages("s1", 5)) == ["3"]
    assert await store.delete_oldest_messages("s1", 5) == []


async def test_delete_messages_by_status(store: TTAChatStore) -> None:
    await store.add_messages("s1", [msg(str(i)) for i in range(4)])
    await store.archive_oldest_messages("s1", 2)
    await store.delete_messages("s1", status=ARCHIVED)
    assert await store.count_messages("s1", status=ARCHIVED) == 0
    assert texts(await store.get_messages("s1")) == ["2", "3"]
    await store.archive_oldest_messages("s1", 1)
    await store.delete_messages("s1", status=ACTIVE)
    assert await store.count_messages("s1") == 0
    assert texts(await store.get_messages("s1", status=ARCHIVED)) == ["2"]
    await store.delete_messages("s1")
    assert await store.count_messages("s1", status=None) == 0


async def test_set_messages_replaces_the_session(store: TTAChatStore) -> None:
    await store.add_messages("s1", [msg("a"), msg("b"), msg("c")])
    await store.archive_oldest_messages("s1", 1)
    await store.set_messages("s1", [msg("x"), msg("y", "assistant")])
    assert texts(await store.get_messages("s1", status=None)) == ["x", "y"]
    await store.set_messages("s1", [msg("old")], status=ARCHIVED)
    assert texts(await store.get_messages("s1", status=None)) == ["old"]
    assert await store.count_messages("s1") == 0
    await store.set_messages("s1", [])
    assert await store.count_messages("s1", status=None) == 0


async def test_get_keys_lists_this_workspace_sessions(
    store: TTAChatStore, redis_url: str, workspace: str
) -> None:
    await store.add_message("s1", msg("a"))
    await store.add_message("s2", msg("b"))
    other = TTAChatStore(
        memory=MemoryWorkflowPrimitive(redis_url, user_id="x", workspace=workspace + "-other")
    )
    await other.add_message("s3", msg("c"))
    assert sorted(await store.get_keys()) == ["s1", "s2"]
    assert await other.get_keys() == ["s3"]
    await store.delete_messages("s1")
    assert await store.get_keys() == ["s2"]


async def test_bad_input_is_typed_and_changes_nothing(store: TTAChatStore) -> None:
    await store.add_messages("s1", [msg("a"), msg("b")])
    before = [m.model_dump() for m in await store.get_messages("s1", status=None)]

    with pytest.raises(NotFoundError):
        await store.delete_message("s1", 2)
    with pytest.raises(NotFoundError):
        await store.delete_message("s1", -3)
    with pytest.raises(NotFoundError):
        await store.delete_message("no-such-session", 0)
    with pytest.raises(InvalidInputError):
        await store.delete_message("s1", "0")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        await store.add_messages("s1", [msg("ok"), "not a message"])  # type: ignore[list-item]
    with pytest.raises(InvalidInputError):
        await store.set_messages("s1", [msg("ok"), None])  # type: ignore[list-item]
    with pytest.raises(InvalidInputError):
        await store.get_messages("s1", status="deleted")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        await store.add_message("s1", msg("x"), status="gone")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        await store.get_messages("s1", limit=-1)
    with pytest.raises(InvalidInputError):
        await store.archive_oldest_messages("s1", -1)
    with pytest.raises(InvalidInputError):
        await store.delete_oldest_messages("s1", -1)
    for bad_key in ("", "a\x00b"):
        with pytest.raises(InvalidInputError):
            await store.add_message(bad_key, msg("x"))
        with pytest.raises(InvalidInputError):
            await store.get_messages(bad_key)
    with pytest.raises(InvalidInputError):
        await store.add_message("s1", ChatMessage(role="user", content="x" * 1_000_001))

    assert [m.model_dump() for m in await store.get_messages("s1", status=None)] == before
    assert await store.get_keys() == ["s1"]


async def test_hostile_keys_are_plain_keys(store: TTAChatStore) -> None:
    keys = ["s*", "s1", '@tag:{x} | -y "q" ;', "会话-1"]
    for i, key in enumerate(keys):
        await store.add_message(key, msg(f"m{i}"))
    for i, key in enumerate(keys):
        assert texts(await store.get_messages(key)) == [f"m{i}"]
    assert sorted(await store.get_keys()) == sorted(keys)


async def test_memory_keeps_short_term_messages_in_redis(redis_url: str, workspace: str) -> None:
    def new_memory() -> Memory:
        engine = MemoryWorkflowPrimitive(redis_url, user_id="test-user", workspace=workspace)
        return Memory.from_defaults(
            session_id="chat-1", chat_store=TTAChatStore(memory=engine), token_limit=10_000
        )

    first = new_memory()
    await first.aput(msg("hello"))
    await first.aput_messages([msg("hi there", "assistant"), msg("what now?")])
    second = new_memory()
    assert texts(await second.aget()) == ["hello", "hi there", "what now?"]
    assert texts(await second.aget_all()) == ["hello", "hi there", "what now?"]
    await second.aset([msg("reset")])
    assert texts(await first.aget()) == ["reset"]
    await second.areset()
    assert await first.aget() == []


def test_memory_sync_api(redis_url: str, workspace: str) -> None:
    # Memory's blocking methods run each call on a fresh event loop; the store must cope.
    engine = MemoryWorkflowPrimitive(redis_url, user_id="test-user", workspace=workspace)
    mem = Memory.from_defaults(session_id="sync-1", chat_store=TTAChatStore(memory=engine))
    mem.put(msg("one"))
    mem.put_messages([msg("two", "assistant")])
    assert texts(mem.get()) == ["one", "two"]
    assert texts(engine.sync.get_session_context("sync-1")) == ["one", "two"]


def test_a_new_process_sees_the_messages(redis_url: str, workspace: str) -> None:
    engine = MemoryWorkflowPrimitive(redis_url, user_id="test-user", workspace=workspace)
    store = TTAChatStore(memory=engine)
    engine.sync.add_session_messages("proc-1", [{"role": "user", "content": "seed"}])
    code = (
        "import asyncio, json, sys\n"
        "from tta_memory import MemoryWorkflowPrimitive\n"
        "from tta_memory_llamaindex import TTAChatStore\n"
        "from llama_index.core.base.llms.types import ChatMessage\n"
        "async def main():\n"
        "    s = TTAChatStore(memory=MemoryWorkflowPrimitive(sys.argv[1], user_id='p',"
        " workspace=sys.argv[2]))\n"
        "    await s.add_message('proc-1', ChatMessage(role='assistant', content='from child'))\n"
        "    print(json.dumps([m.content for m in await s.get_messages('proc-1')]))\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code, redis_url, workspace],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["seed", "from child"]
    assert [m.content for m in engine.sync.get_session_context("proc-1")] == [
        "seed",
        "from child",
    ]
    assert store.memory is engine
