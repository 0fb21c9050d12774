"""TTAMemoryMiddleware: ``middleware | prompt | model`` injects memory and records the exchange."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    FakeListChatModelError,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import RunnableConfig, RunnableLambda
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.errors import InvalidInputError

from tta_memory_langchain import TTAChatMessageHistory, TTAMemoryChain, TTAMemoryMiddleware

PROMPT = ChatPromptTemplate.from_messages(
    [("system", "Project memory:\n{memory_context}"), ("human", "{input}")]
)


class PromptSpy(BaseCallbackHandler):
    """Records the messages every chat model call receives."""

    def __init__(self) -> None:
        self.prompts: list[list[BaseMessage]] = []

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], *, run_id: UUID,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        self.prompts.append(messages[0])

    @property
    def system(self) -> str:
        """The system message of the latest call (where the memory block goes)."""
        return str(self.prompts[-1][0].content)


def answers(*texts: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(content=t, id=f"ai-{i}") for i, t in
                                               enumerate(texts)]))  # fmt: skip


def cfg(session_id: str, spy: PromptSpy | None = None, **configurable: Any) -> RunnableConfig:
    config: RunnableConfig = {"configurable": {"session_id": session_id, **configurable}}
    if spy is not None:
        config["callbacks"] = [spy]
    return config


def stored(memory: MemoryWorkflowPrimitive, session_id: str) -> list[BaseMessage]:
    return TTAChatMessageHistory(session_id, memory=memory).messages


@pytest.fixture
def project(memory: MemoryWorkflowPrimitive) -> MemoryWorkflowPrimitive:
    memory.sync.paf_primitive.add_paf("AUTH", "001", "Use PyJWT for token signing")
    memory.sync.create_deep_memory(
        "Refresh tokens rotate on every use; reuse revokes the family.", tags=["auth"]
    )
    return memory


@pytest.fixture
def middleware(project: MemoryWorkflowPrimitive) -> TTAMemoryMiddleware:
    return TTAMemoryMiddleware(memory=project, stage="implement", mode="standard")


def test_pipe_builds_a_memory_chain(middleware: TTAMemoryMiddleware) -> None:
    chain = middleware | PROMPT | answers("x")
    assert isinstance(chain, TTAMemoryChain)
    assert isinstance(middleware.pipe(PROMPT, answers("x")), TTAMemoryChain)
    assert isinstance(middleware.wrap(PROMPT | answers("x")), TTAMemoryChain)
    longer = chain | StrOutputParser()
    assert isinstance(longer, TTAMemoryChain) and longer.middleware is middleware


def test_invoke_injects_context_and_records_exchange(
    middleware: TTAMemoryMiddleware, project: MemoryWorkflowPrimitive
) -> None:
    spy = PromptSpy()
    chain = middleware | PROMPT | answers("Sign with PyJWT and rotate refresh tokens.", "Yes.")
    first = chain.invoke({"input": "How do we handle refresh tokens?"}, cfg("s1", spy))
    assert first == AIMessage(content="Sign with PyJWT and rotate refresh tokens.", id="ai-0")
    assert "AUTH-001" in spy.system and "PyJWT" in spy.system
    assert "rotate on every use" in spy.system
    assert spy.prompts[-1][1] == HumanMessage(content="How do we handle refresh tokens?")
    assert stored(project, "s1") == [HumanMessage(content="How do we handle refresh tokens?"),
                                     first]  # fmt: skip
    # the next turn sees the first exchange in its context
    chain.invoke({"input": "And the signing key?"}, cfg("s1", spy))
    assert "How do we handle refresh tokens?" in spy.system
    assert [m.content for m in stored(project, "s1")][2:] == ["And the signing key?", "Yes."]


async def test_ainvoke(middleware: TTAMemoryMiddleware, project: MemoryWorkflowPrimitive) -> None:
    spy = PromptSpy()
    chain = middleware | PROMPT | answers("async answer")
    out = await chain.ainvoke({"input": "async question"}, cfg("s-async", spy))
    assert out.content == "async answer"
    assert "AUTH-001" in spy.system
    messages = await TTAChatMessageHistory("s-async", memory=project).aget_messages()
    assert [m.content for m in messages] == ["async question", "async answer"]


def test_batch_across_sessions(
    middleware: TTAMemoryMiddleware, project: MemoryWorkflowPrimitive
) -> None:
    chain = middleware | PROMPT | FakeListChatModel(responses=["r"])
    outs = chain.batch(
        [{"input": f"question {i}"} for i in range(3)], [cfg(f"batch-{i}") for i in range(3)]
    )
    assert [o.content for o in outs] == ["r", "r", "r"]
    for i in range(3):
        assert [m.content for m in stored(project, f"batch-{i}")] == [f"question {i}", "r"]


async def test_abatch(middleware: TTAMemoryMiddleware, project: MemoryWorkflowPrimitive) -> None:
    chain = middleware | PROMPT | FakeListChatModel(responses=["r"])
    await chain.abatch([{"input": "alpha"}, {"input": "beta"}], [cfg("ab-1"), cfg("ab-2")])
    assert [m.content for m in stored(project, "ab-1")] == ["alpha", "r"]
    assert [m.content for m in stored(project, "ab-2")] == ["beta", "r"]


def test_stream_records_the_aggregate_after_the_stream(
    middleware: TTAMemoryMiddleware, project: MemoryWorkflowPrimitive
) -> None:
    chain = middleware | PROMPT | answers("tokens rotate on every use")
    stream: Iterator[Any] = chain.stream({"input": "stream please"}, cfg("s-stream"))
    first = next(stream)
    assert isinstance(first, AIMessageChunk)
    assert stored(project, "s-stream") == []  # nothing written while streaming
    rest = list(stream)
    assert len(rest) >= 3
    assert "".join(str(c.content) for c in [first, *rest]) == "tokens rotate on every use"
    messages = stored(project, "s-stream")
    assert [type(m) for m in messages] == [HumanMessage, AIMessage]
    assert messages[1].content == "tokens rotate on every use" and messages[1].id == "ai-0"


async def test_astream(middleware: TTAMemoryMiddleware, project: MemoryWorkflowPrimitive) -> None:
    chain = middleware | PROMPT | answers("streamed async answer") | StrOutputParser()
    chunks = [chunk async for chunk in chain.astream({"input": "go"}, cfg("s-astream"))]
    assert len(chunks) > 1 and "".join(chunks) == "streamed async answer"
    messages = await TTAChatMessageHistory("s-astream", memory=project).aget_messages()
    assert [m.content for m in messages] == ["go", "streamed async answer"]
    assert isinstance(messages[1], AIMessage)


def test_string_output_is_recorded_as_ai_message(
    middleware: TTAMemoryMiddleware, project: MemoryWorkflowPrimitive
) -> None:
    chain = middleware | PROMPT | answers("plain") | StrOutputParser()
    assert chain.invoke("just a string", cfg("s-str")) == "plain"
    assert stored(project, "s-str") == [HumanMessage(content="just a string"),
                                        AIMessage(content="plain")]  # fmt: skip


def test_stage_and_mode_per_call(middleware: TTAMemoryMiddleware) -> None:
    spy = PromptSpy()
    chain = middleware | PROMPT | FakeListChatModel(responses=["ok"])
    chain.invoke({"input": "q"}, cfg("s-mode", spy, mode="rapid"))
    assert "AUTH-001" not in spy.system  # RAPID loads the session only
    chain.invoke({"input": "q"}, cfg("s-mode", spy, stage="review", mode="augster_rigorous"))
    assert "AUTH-001" in spy.system
    rapid = TTAMemoryMiddleware(memory=middleware.memory, mode="rapid")
    (rapid | PROMPT | FakeListChatModel(responses=["ok"])).invoke({"input": "q"}, cfg("s2", spy))
    assert "AUTH-001" not in spy.system


def test_session_from_input_or_default(
    middleware: TTAMemoryMiddleware, project: MemoryWorkflowPrimitive
) -> None:
    chain = middleware | PROMPT | FakeListChatModel(responses=["ok"])
    chain.invoke({"input": "from input", "session_id": "s-input"})
    assert [m.content for m in stored(project, "s-input")] == ["from input", "ok"]
    fixed = TTAMemoryMiddleware(memory=project, session_id="s-default")
    (fixed | PROMPT | FakeListChatModel(responses=["ok"])).invoke({"input": "default"})
    assert [m.content for m in stored(project, "s-default")] == ["default", "ok"]


def test_history_key_and_custom_keys(project: MemoryWorkflowPrimitive) -> None:
    TTAChatMessageHistory("s-hist", memory=project).add_messages(
        [HumanMessage(content="earlier"), AIMessage(content="earlier answer")]
    )
    prompt = ChatPromptTemplate.from_messages(
        [("system", "{ctx}"), MessagesPlaceholder("history"), ("human", "{question}")]
    )
    mw = TTAMemoryMiddleware(
        memory=project, input_key="question", context_key="ctx", history_key="history"
    )
    spy = PromptSpy()
    (mw | prompt | FakeListChatModel(responses=["now"])).invoke(
        {"question": "later"}, cfg("s-hist", spy)
    )
    assert [m.content for m in spy.prompts[-1][1:]] == ["earlier", "earlier answer", "later"]
    assert [m.content for m in stored(project, "s-hist")][-2:] == ["later", "now"]


def test_middleware_alone_only_injects(
    middleware: TTAMemoryMiddleware, project: MemoryWorkflowPrimitive
) -> None:
    values = middleware.invoke({"input": "tokens", "other": 1}, cfg("s-alone"))
    assert values["other"] == 1 and values["input"] == "tokens"
    assert "AUTH-001" in values["memory_context"]
    assert stored(project, "s-alone") == []
    bounded = TTAMemoryMiddleware(memory=project, max_chars=200).invoke("tokens", cfg("s-alone"))
    assert "AUTH-001" in bounded["memory_context"]  # PAFs are never dropped


async def test_middleware_alone_async(middleware: TTAMemoryMiddleware) -> None:
    values = await middleware.ainvoke("tokens", cfg("s-alone-async"))
    assert "AUTH-001" in values["memory_context"]


# --- failures store nothing --------------------------------------------------------------


def boom(_: Any) -> Any:
    raise RuntimeError("model down")


def test_failing_model_records_nothing(
    middleware: TTAMemoryMiddleware, project: MemoryWorkflowPrimitive
) -> None:
    with pytest.raises(RuntimeError, match="model down"):
        (middleware | PROMPT | RunnableLambda(boom)).invoke({"input": "q"}, cfg("s-fail"))
    failing_stream = FakeListChatModel(responses=["one two three"], error_on_chunk_number=3)
    with pytest.raises(FakeListChatModelError):
        list((middleware | PROMPT | failing_stream).stream({"input": "q"}, cfg("s-fail")))
    assert stored(project, "s-fail") == []


async def test_failing_model_records_nothing_async(
    middleware: TTAMemoryMiddleware, project: MemoryWorkflowPrimitive
) -> None:
    with pytest.raises(RuntimeError, match="model down"):
        await (middleware | PROMPT | RunnableLambda(boom)).ainvoke({"input": "q"}, cfg("s-fail"))
    failing_stream = FakeListChatModel(responses=["one two three"], error_on_chunk_number=3)
    with pytest.raises(FakeListChatModelError):
        async for _ in (middleware | PROMPT | failing_stream).astream(
            {"input": "q"}, cfg("s-fail")
        ):
            pass
    assert await TTAChatMessageHistory("s-fail", memory=project).aget_messages() == []


@pytest.mark.parametrize(
    ("chain_input", "config", "match"),
    [
        ({"input": "q"}, {}, "session"),
        ({"input": ""}, cfg("s-bad"), "content"),
        ({"input": "   "}, cfg("s-bad"), "content"),
        ({"question": "q"}, cfg("s-bad"), "input"),
        ({"input": "q"}, cfg(""), "session_id"),
        ({"input": "q"}, cfg("s-bad", stage="deploy"), "stage"),
        ({"input": "q"}, cfg("s-bad", mode="turbo"), "mode"),
        (["not", "a", "dict"], cfg("s-bad"), "dict"),
    ],
)
def test_bad_input_is_typed_and_the_model_never_runs(
    middleware: TTAMemoryMiddleware,
    project: MemoryWorkflowPrimitive,
    chain_input: Any,
    config: RunnableConfig,
    match: str,
) -> None:
    spy = PromptSpy()
    chain = middleware | PROMPT | FakeListChatModel(responses=["never"])
    with pytest.raises(InvalidInputError, match=match):
        chain.invoke(chain_input, {**config, "callbacks": [spy]})
    assert spy.prompts == []
    assert stored(project, "s-bad") == []


@pytest.mark.parametrize("session_id", ["@session_id:{*}|-x", "会话 🧠", "a*", "s:1;(x)"])
def test_hostile_session_ids(
    middleware: TTAMemoryMiddleware, project: MemoryWorkflowPrimitive, session_id: str
) -> None:
    chain = middleware | PROMPT | FakeListChatModel(responses=["ok"])
    chain.invoke({"input": "@text:(*) | -x"}, cfg(session_id))
    assert [m.content for m in stored(project, session_id)] == ["@text:(*) | -x", "ok"]
    assert stored(project, "a") == []
