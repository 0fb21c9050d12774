"""TTAChatMessageHistory: LangChain's BaseChatMessageHistory over the session layer."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.history import RunnableWithMessageHistory
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.errors import InvalidInputError

from tta_memory_langchain import TTAChatMessageHistory


def every_kind_of_message() -> list[BaseMessage]:
    """One of each LangChain message type, with ids, blocks, tool calls and metadata."""
    return [
        SystemMessage(content="You are terse.", id="sys-1"),
        HumanMessage(
            content=[
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            ],
            id="h-1",
            name="alice",
            additional_kwargs={"lang": "en"},
        ),
        AIMessage(
            content="",
            id="ai-1",
            tool_calls=[
                {"name": "search_memory", "args": {"query": "jwt"}, "id": "call-1"},
                {"name": "get_constraints", "args": {}, "id": "call-2"},
            ],
            response_metadata={"model_name": "fake", "finish_reason": "tool_calls"},
            usage_metadata={"input_tokens": 10, "output_tokens": 3, "total_tokens": 13},
        ),
        ToolMessage(content="Found 1 memories", tool_call_id="call-1", id="t-1", artifact={"n": 1}),
        ToolMessage(content="No active constraints.", tool_call_id="call-2", status="error"),
        AIMessage(
            content=[{"type": "text", "text": "Use PyJWT."}, {"type": "text", "text": " Done."}],
            id="ai-2",
        ),
        ChatMessage(role="critic", content="Too short."),
        AIMessageChunk(content="partial", id="chunk-1"),
    ]


@pytest.fixture
def history(memory: MemoryWorkflowPrimitive) -> TTAChatMessageHistory:
    return TTAChatMessageHistory("chat-1", memory=memory)


def test_is_a_chat_message_history_with_native_async() -> None:
    assert issubclass(TTAChatMessageHistory, BaseChatMessageHistory)
    for name in ("aget_messages", "aadd_messages", "aclear", "add_messages", "clear"):
        assert getattr(TTAChatMessageHistory, name) is not getattr(BaseChatMessageHistory, name)


def test_every_message_type_round_trips_sync(history: TTAChatMessageHistory) -> None:
    sent = every_kind_of_message()
    history.add_messages(sent)
    assert history.messages == sent
    assert [type(m) for m in history.messages] == [type(m) for m in sent]
    assert len(history) == len(sent)


async def test_every_message_type_round_trips_async(history: TTAChatMessageHistory) -> None:
    sent = every_kind_of_message()
    await history.aadd_messages(sent[:3])
    await history.aadd_messages(sent[3:])
    assert await history.aget_messages() == sent


async def test_session_layer_holds_roles_and_text(
    history: TTAChatMessageHistory, memory: MemoryWorkflowPrimitive
) -> None:
    await history.aadd_messages(every_kind_of_message())
    stored = await memory.get_session_context("chat-1", limit=None)
    assert [m.role for m in stored] == [
        "system", "user", "assistant", "tool", "tool", "assistant", "user", "assistant"
    ]  # fmt: skip
    assert stored[1].content == "What is in this picture?"
    # an AI message with only tool calls gets a readable stand-in, not an empty text
    assert "search_memory" in stored[2].content and '"jwt"' in stored[2].content
    assert stored[5].content == "Use PyJWT. Done."
    assert all(m.user_id == "test-user" for m in stored)


def test_add_user_and_ai_message_helpers(history: TTAChatMessageHistory) -> None:
    history.add_user_message("hi")
    history.add_ai_message("hello")
    history.add_message(HumanMessage(content="again"))
    assert [(m.type, m.content) for m in history.messages] == [
        ("human", "hi"),
        ("ai", "hello"),
        ("human", "again"),
    ]


def test_clear_only_touches_its_session(
    history: TTAChatMessageHistory, memory: MemoryWorkflowPrimitive
) -> None:
    history.add_messages([HumanMessage(content="a"), AIMessage(content="b")])
    other = TTAChatMessageHistory("chat-2", memory=memory)
    other.add_user_message("kept")
    history.clear()
    assert history.messages == []
    assert [m.content for m in other.messages] == ["kept"]


async def test_aclear(history: TTAChatMessageHistory) -> None:
    await history.aadd_messages([HumanMessage(content="a"), AIMessage(content="b")])
    await history.aclear()
    assert await history.aget_messages() == []


def test_limit_reads_the_latest(memory: MemoryWorkflowPrimitive) -> None:
    full = TTAChatMessageHistory("chat-limit", memory=memory)
    full.add_messages([HumanMessage(content=str(i)) for i in range(6)])
    window = TTAChatMessageHistory("chat-limit", memory=memory, limit=2)
    assert [m.content for m in window.messages] == ["4", "5"]


def test_messages_written_by_the_engine_are_read_by_role(memory: MemoryWorkflowPrimitive) -> None:
    memory.sync.add_session_messages(
        "native",
        [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "question"},
            {"role": "assistant", "content": "answer"},
            {"role": "tool", "content": "42", "metadata": {"tool_call_id": "c9"}},
        ],
    )
    messages = TTAChatMessageHistory("native", memory=memory).messages
    assert [type(m) for m in messages] == [SystemMessage, HumanMessage, AIMessage, ToolMessage]
    assert [m.content for m in messages] == ["sys", "question", "answer", "42"]
    assert isinstance(messages[3], ToolMessage) and messages[3].tool_call_id == "c9"
    assert all(m.id for m in messages)


def test_ttl_expires_the_session(memory: MemoryWorkflowPrimitive) -> None:
    history = TTAChatMessageHistory("short-lived", memory=memory, ttl=1)
    history.add_user_message("gone soon")
    assert len(history.messages) == 1
    time.sleep(2.2)
    assert history.messages == []


def test_drop_in_for_redis_chat_message_history(redis_url: str, workspace: str) -> None:
    """The calls of langchain-redis' RedisChatMessageHistory example work unchanged."""
    history = TTAChatMessageHistory(
        session_id="user123",
        redis_url=redis_url,
        ttl=3600,
        key_prefix="chat:",
        index_name="idx:chat_history",
        workspace=workspace,
    )
    history.add_message(HumanMessage(content="Hello, AI!"))
    history.add_message(AIMessage(content="Hello, human! How can I assist you today?"))
    assert [f"{m.type}: {m.content}" for m in history.messages] == [
        "human: Hello, AI!",
        "ai: Hello, human! How can I assist you today?",
    ]
    assert history.id == "user123" and len(history) == 2
    history.clear()
    assert len(history.messages) == 0
    with pytest.raises(TypeError, match="redis_clent"):
        TTAChatMessageHistory("x", redis_url=redis_url, redis_clent=None)


class PromptSpy(BaseCallbackHandler):
    """Records the messages every chat model call receives."""

    def __init__(self) -> None:
        self.prompts: list[list[BaseMessage]] = []

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kwargs: Any
    ) -> None:
        self.prompts.append(messages[0])


def _chain_with_history(memory: MemoryWorkflowPrimitive) -> RunnableWithMessageHistory:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Be brief."), MessagesPlaceholder("history"), ("human", "{question}")]
    )
    model = FakeListChatModel(responses=["first answer", "second answer", "third answer"])
    return RunnableWithMessageHistory(
        prompt | model,
        lambda session_id: TTAChatMessageHistory(session_id, memory=memory),
        input_messages_key="question",
        history_messages_key="history",
    )


def test_runnable_with_message_history_several_sessions(memory: MemoryWorkflowPrimitive) -> None:
    chain = _chain_with_history(memory)
    spy = PromptSpy()
    a: RunnableConfig = {"configurable": {"session_id": "rwmh-a"}, "callbacks": [spy]}
    b: RunnableConfig = {"configurable": {"session_id": "rwmh-b"}, "callbacks": [spy]}
    assert chain.invoke({"question": "q1"}, config=a).content == "first answer"
    assert chain.invoke({"question": "q2"}, config=b).content == "second answer"
    assert chain.invoke({"question": "q3"}, config=a).content == "third answer"
    # the third call's prompt held session a's history only
    assert [m.content for m in spy.prompts[-1]] == ["Be brief.", "q1", "first answer", "q3"]
    history_a = TTAChatMessageHistory("rwmh-a", memory=memory).messages
    history_b = TTAChatMessageHistory("rwmh-b", memory=memory).messages
    assert [m.content for m in history_a] == ["q1", "first answer", "q3", "third answer"]
    assert [m.content for m in history_b] == ["q2", "second answer"]


async def test_runnable_with_message_history_async(memory: MemoryWorkflowPrimitive) -> None:
    chain = _chain_with_history(memory)
    configs: list[RunnableConfig] = [
        {"configurable": {"session_id": f"rwmh-async-{i}"}} for i in range(3)
    ]
    answers = await asyncio.gather(
        *(chain.ainvoke({"question": f"q{i}"}, config=c) for i, c in enumerate(configs))
    )
    assert len(answers) == 3
    for i, config in enumerate(configs):
        stored = await TTAChatMessageHistory(
            config["configurable"]["session_id"], memory=memory
        ).aget_messages()
        assert [m.type for m in stored] == ["human", "ai"]
        assert stored[0].content == f"q{i}"
    # a second turn sees the first one as history
    second = await chain.ainvoke({"question": "again"}, config=configs[0])
    assert second.content
    stored = await TTAChatMessageHistory("rwmh-async-0", memory=memory).aget_messages()
    assert [m.content for m in stored] == ["q0", answers[0].content, "again", second.content]


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("session_id", ["", "   ", "a\x00b", "x" * 600])
def test_bad_session_ids_are_refused_at_construction(
    memory: MemoryWorkflowPrimitive, session_id: str
) -> None:
    with pytest.raises(InvalidInputError):
        TTAChatMessageHistory(session_id, memory=memory)


def test_unknown_session_is_empty(memory: MemoryWorkflowPrimitive) -> None:
    history = TTAChatMessageHistory("never-written", memory=memory)
    assert history.messages == [] and len(history) == 0
    history.clear()  # nothing to clear is not an error


@pytest.mark.parametrize(
    "bad",
    [
        [HumanMessage(content="ok"), "not a message"],
        [HumanMessage(content="ok"), None],
        [HumanMessage(content="ok"), HumanMessage(content="x", additional_kwargs={"o": object()})],
        [HumanMessage(content="ok"), HumanMessage(content="y" * 1_000_001)],
    ],
    ids=["not-a-message", "none", "not-json", "oversized"],
)
async def test_rejected_writes_are_typed_and_store_nothing(
    history: TTAChatMessageHistory, bad: list[BaseMessage]
) -> None:
    await history.aadd_messages([HumanMessage(content="before")])
    with pytest.raises(InvalidInputError):
        await history.aadd_messages(bad)
    with pytest.raises(InvalidInputError):
        await asyncio.to_thread(history.add_messages, bad)
    assert [m.content for m in await history.aget_messages()] == ["before"]


@pytest.mark.parametrize(
    "session_id",
    ["@session_id:{*} | -x", "chat:*", "ünïcødé 🧠 会话", '"quoted" (paren) ;', "a*"],
)
def test_hostile_session_ids_round_trip_and_stay_apart(
    memory: MemoryWorkflowPrimitive, session_id: str
) -> None:
    hostile = TTAChatMessageHistory(session_id, memory=memory)
    plain = TTAChatMessageHistory("a", memory=memory)
    plain.add_user_message("plain")
    hostile.add_messages([HumanMessage(content=session_id), AIMessage(content="@x:{y}|*")])
    assert [m.content for m in hostile.messages] == [session_id, "@x:{y}|*"]
    assert [m.content for m in plain.messages] == ["plain"]
    hostile.clear()
    assert [m.content for m in plain.messages] == ["plain"]


def test_workspaces_do_not_share_history(
    redis_url: str, memory: MemoryWorkflowPrimitive, workspace: str
) -> None:
    TTAChatMessageHistory("shared-name", memory=memory).add_user_message("mine")
    elsewhere = TTAChatMessageHistory(
        "shared-name", redis_url=redis_url, user_id="test-user", workspace=workspace + "-other"
    )
    assert elsewhere.messages == []
