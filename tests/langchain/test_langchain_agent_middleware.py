"""TTAAgentMiddleware through full create_agent loops with a fake tool-calling chat model:
what the model was shown, what the thread holds, and what the session recorded."""

from __future__ import annotations

from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import Field
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.errors import InvalidInputError
from tta_memory.tokens import estimate_tokens

from tta_memory_langchain import TTAAgentMiddleware, TTAMemoryContext


class ScriptedModel(GenericFakeChatModel):
    """Answers from a script and remembers every prompt it was given."""

    seen: list[list[BaseMessage]] = Field(default_factory=list)

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.seen.append(list(messages))
        return super()._generate(messages, *args, **kwargs)

    async def _agenerate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.seen.append(list(messages))
        return super()._generate(messages, *args, **kwargs)


def script(*replies: AIMessage | str) -> ScriptedModel:
    return ScriptedModel(messages=iter(replies))


def system_text(prompt: list[BaseMessage]) -> str:
    return "\n".join(str(m.text) for m in prompt if isinstance(m, SystemMessage))


@tool
def lookup_ticket(ticket: str) -> str:
    """Look a ticket up."""
    return f"{ticket}: add refresh tokens to the login flow"


@pytest.fixture
def project(memory: MemoryWorkflowPrimitive) -> MemoryWorkflowPrimitive:
    memory.paf_primitive.sync.add_paf("AUTH", "001", "Tokens are signed with RS256", "security")
    memory.sync.create_deep_memory("Refresh tokens live in Redis with a 7 day TTL", tags=["auth"])
    memory.sync.create_deep_memory("The billing service exports CSV reports nightly")
    return memory


def call_tool_then_answer(answer: str) -> ScriptedModel:
    return script(
        AIMessage(
            content="",
            tool_calls=[{"name": "lookup_ticket", "args": {"ticket": "T-7"}, "id": "c1"}],
        ),
        AIMessage(content=answer),
    )


def test_a_tool_calling_turn_sees_memory_in_every_model_call_and_records_the_exchange(
    project: MemoryWorkflowPrimitive,
) -> None:
    model = call_tool_then_answer("Refresh tokens go to Redis, signed with RS256.")
    agent = create_agent(
        model,
        tools=[lookup_ticket],
        system_prompt="You are a coding agent.",
        middleware=[TTAAgentMiddleware(memory=project)],
    )
    out = agent.invoke(
        {"messages": [HumanMessage("How should refresh tokens be stored?")]},
        config={"configurable": {"thread_id": "thread-1"}},
    )
    assert len(model.seen) == 2  # the tool call, then the answer
    for prompt in model.seen:
        system = system_text(prompt)
        assert system.startswith("You are a coding agent.")
        assert "**AUTH-001**: Tokens are signed with RS256" in system
        assert "Refresh tokens live in Redis with a 7 day TTL" in system
    # The memory went into the requests only: the thread's messages do not hold it.
    assert not any(isinstance(m, SystemMessage) for m in out["messages"])
    assert "AUTH-001" in out["memory_context"]
    report = out["memory_report"]
    assert report["session_id"] == "thread-1" and report["stage"] == "understand"
    assert report["layers"]["paf"] == 1 and report["layers"]["deep"] >= 1
    assert report["tokens"] == estimate_tokens(out["memory_context"])
    # One exchange recorded: the question and the final answer (not the tool traffic).
    recorded = project.sync.get_session_context("thread-1")
    assert [(m.role, m.content) for m in recorded] == [
        ("user", "How should refresh tokens be stored?"),
        ("assistant", "Refresh tokens go to Redis, signed with RS256."),
    ]


def test_stage_and_mode_per_call_through_the_runtime_context(
    project: MemoryWorkflowPrimitive,
) -> None:
    project.sync.add_session_message("s-9", "user", "earlier question about billing")
    model = script("first", "second")
    agent = create_agent(
        model,
        middleware=[TTAAgentMiddleware(memory=project)],
        context_schema=TTAMemoryContext,
    )
    rapid = agent.invoke(
        {"messages": [HumanMessage("verify the change")]},
        context=TTAMemoryContext(session_id="s-9", stage="verify", mode="rapid"),
    )
    assert rapid["memory_report"]["stage"] == "verify"
    assert rapid["memory_report"]["mode"] == "rapid"
    assert set(rapid["memory_report"]["layers"]) == {"session"}
    assert "AUTH-001" not in system_text(model.seen[0])
    assert "user: earlier question about billing" in system_text(model.seen[0])
    full = agent.invoke(
        {"messages": [HumanMessage("plan the refresh token work")]},
        context=TTAMemoryContext(session_id="s-9", stage="plan", mode="augster_rigorous"),
    )
    assert full["memory_report"]["stage"] == "plan"
    assert full["memory_report"]["mode"] == "augster_rigorous"
    assert "AUTH-001" in system_text(model.seen[1])
    with pytest.raises(InvalidInputError, match="stage"):
        agent.invoke(
            {"messages": [HumanMessage("x")]},
            context=TTAMemoryContext(session_id="s-9", stage="dance"),
        )
    # A failed call recorded nothing; the two good ones did.
    assert len(project.sync.get_session_context("s-9")) == 5


def test_token_budget_keeps_pafs_and_drops_the_least_relevant(
    project: MemoryWorkflowPrimitive,
) -> None:
    for i in range(12):
        project.sync.create_deep_memory(f"auth note {i}: tokens rotate every {i + 1} hours")
    model = script("ok", "ok")
    agent = create_agent(
        model,
        middleware=[TTAAgentMiddleware(memory=project, session_id="s-b", max_tokens=60)],
    )
    out = agent.invoke({"messages": [HumanMessage("how do auth tokens rotate?")]})
    block = out["memory_context"]
    assert estimate_tokens(block) <= 60
    assert "AUTH-001" in block
    assert out["memory_report"]["dropped"]["deep"] > 0
    # Per call, the runtime context can widen the budget.
    wide = agent.invoke(
        {"messages": [HumanMessage("how do auth tokens rotate?")]},
        context={"max_tokens": 5000},
    )
    assert wide["memory_report"]["max_tokens"] == 5000
    assert len(wide["memory_context"]) > len(block)
    assert wide["memory_report"]["dropped"]["deep"] == 0


def test_pafs_alone_over_budget_are_injected_whole_and_flagged(
    project: MemoryWorkflowPrimitive,
) -> None:
    agent = create_agent(
        script("ok"),
        middleware=[TTAAgentMiddleware(memory=project, session_id="s-t", max_tokens=3)],
    )
    out = agent.invoke({"messages": [HumanMessage("anything")]})
    assert out["memory_report"]["over_budget"] is True
    assert "Tokens are signed with RS256" in out["memory_context"]
    assert "billing" not in out["memory_context"]


async def test_two_threads_with_a_checkpointer_async(project: MemoryWorkflowPrimitive) -> None:
    model = script("Noted: PyJWT.", "Use PyJWT, as decided.", "Hello again.")
    agent = create_agent(
        model,
        middleware=[TTAAgentMiddleware(memory=project)],
        checkpointer=InMemorySaver(),
    )
    one = {"configurable": {"thread_id": "t-one"}}
    await agent.ainvoke({"messages": [HumanMessage("We sign JWTs with PyJWT.")]}, one)
    second = await agent.ainvoke({"messages": [HumanMessage("Which JWT library?")]}, one)
    # The thread already carries the first turn: the session's copy is not rendered again.
    assert second["memory_report"]["conversation_included"] is False
    assert "Conversation so far" not in system_text(model.seen[1])
    assert [m.content for m in model.seen[1] if not isinstance(m, SystemMessage)][:2] == [
        "We sign JWTs with PyJWT.",
        "Noted: PyJWT.",
    ]
    # Another thread (a new session) sees thread one's exchanges as recent activity.
    other = await agent.ainvoke(
        {"messages": [HumanMessage("hi")]}, {"configurable": {"thread_id": "t-two"}}
    )
    assert other["memory_report"]["session_id"] == "t-two"
    assert "We sign JWTs with PyJWT." in other["memory_context"]
    assert "## Recent activity" in other["memory_context"]
    recorded = await project.get_session_context("t-one")
    assert [m.content for m in recorded] == [
        "We sign JWTs with PyJWT.",
        "Noted: PyJWT.",
        "Which JWT library?",
        "Use PyJWT, as decided.",
    ]


def test_no_session_anywhere_is_a_clear_error(memory: MemoryWorkflowPrimitive) -> None:
    agent = create_agent(script("x"), middleware=[TTAAgentMiddleware(memory=memory)])
    with pytest.raises(InvalidInputError, match="session"):
        agent.invoke({"messages": [HumanMessage("hello")]})
    with pytest.raises(InvalidInputError, match="max_tokens"):
        TTAAgentMiddleware(memory=memory, max_tokens=0)


def test_an_empty_final_answer_records_the_question_only(memory: MemoryWorkflowPrimitive) -> None:
    agent = create_agent(
        script(AIMessage(content="")),
        middleware=[TTAAgentMiddleware(memory=memory, session_id="s-e")],
    )
    agent.invoke({"messages": [HumanMessage("say nothing")]})
    assert [m.content for m in memory.sync.get_session_context("s-e")] == ["say nothing"]
