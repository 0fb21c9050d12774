"""TTAStore where agents use it: a create_agent tool reading the runtime's store, a
StateGraph node with get_store(), and LangMem's manage/search memory tools."""

from __future__ import annotations

import json
from typing import Any, TypedDict

from langchain.agents import create_agent
from langchain.tools import ToolRuntime
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.config import get_store
from langgraph.graph import END, START, StateGraph
from langmem import create_manage_memory_tool, create_search_memory_tool
from tta_memory import MemoryWorkflowPrimitive

from tta_memory_langchain import TTAAgentMiddleware, TTAStore


class ToolCallingModel(GenericFakeChatModel):
    def bind_tools(self, tools: Any, **kwargs: Any) -> ToolCallingModel:
        return self


def calls(name: str, args: dict[str, Any], call_id: str = "c1") -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}])


def tool_outputs(out: dict[str, Any]) -> list[str]:
    return [str(m.content) for m in out["messages"] if isinstance(m, ToolMessage)]


def test_create_agent_tool_reads_and_writes_the_runtime_store(
    memory: MemoryWorkflowPrimitive,
) -> None:
    store = TTAStore(memory=memory)

    @tool
    def remember(fact: str, runtime: ToolRuntime) -> str:
        """Remember a fact about the user."""
        assert runtime.store is not None
        runtime.store.put(("facts", "alice"), "latest", {"fact": fact})
        return "ok"

    @tool
    def recall(runtime: ToolRuntime) -> str:
        """Recall the latest fact."""
        assert runtime.store is not None
        item = runtime.store.get(("facts", "alice"), "latest")
        return item.value["fact"] if item else "nothing"

    model = ToolCallingModel(
        messages=iter(
            [
                calls("remember", {"fact": "Alice deploys on Fridays"}),
                calls("recall", {}, "c2"),
                AIMessage(content="done"),
            ]
        )
    )
    agent = create_agent(model, tools=[remember, recall], store=store)
    out = agent.invoke({"messages": [HumanMessage("remember and recall")]})
    assert tool_outputs(out) == ["ok", "Alice deploys on Fridays"]
    assert store.get(("facts", "alice"), "latest").value == {"fact": "Alice deploys on Fridays"}  # type: ignore[union-attr]


def test_state_graph_node_uses_get_store(memory: MemoryWorkflowPrimitive) -> None:
    class State(TypedDict):
        text: str
        found: list[str]

    def save(state: State) -> dict[str, Any]:
        get_store().put(("notes",), "n1", {"text": state["text"]})
        return {}

    def search(state: State) -> dict[str, Any]:
        hits = get_store().search(("notes",), query="which database holds sessions?")
        return {"found": [h.value["text"] for h in hits]}

    graph = StateGraph(State)
    graph.add_node("save", save)
    graph.add_node("search", search)
    graph.add_edge(START, "save")
    graph.add_edge("save", "search")
    graph.add_edge("search", END)
    app = graph.compile(store=TTAStore(memory=memory))
    out = app.invoke({"text": "Sessions are kept in Redis", "found": []})
    assert out["found"] == ["Sessions are kept in Redis"]


async def test_langmem_memory_tools_create_update_search_delete(
    memory: MemoryWorkflowPrimitive,
) -> None:
    store = TTAStore(memory=memory)
    ns = ("memories", "{langgraph_user_id}")
    tools = [create_manage_memory_tool(namespace=ns), create_search_memory_tool(namespace=ns)]
    config = {"configurable": {"langgraph_user_id": "alice"}}

    def agent(*script: AIMessage) -> Any:
        return create_agent(ToolCallingModel(messages=iter(script)), tools=tools, store=store)

    created = await agent(
        calls("manage_memory", {"content": "Alice prefers dark mode", "action": "create"}),
        calls("manage_memory", {"content": "Alice's laptop runs Fedora", "action": "create"}, "c2"),
        AIMessage(content="saved"),
    ).ainvoke({"messages": [HumanMessage("I like dark mode; my laptop runs Fedora")]}, config)
    assert all(o.startswith("created memory ") for o in tool_outputs(created))
    saved = await store.asearch(("memories", "alice"))
    assert sorted(i.value["content"] for i in saved) == [
        "Alice prefers dark mode",
        "Alice's laptop runs Fedora",
    ]
    theme_id = next(i.key for i in saved if "dark" in i.value["content"])

    found = await agent(
        calls("search_memory", {"query": "which colour theme does she use?"}),
        AIMessage(content="dark"),
    ).ainvoke({"messages": [HumanMessage("what theme?")]}, config)
    hits = json.loads(tool_outputs(found)[0])
    assert hits[0]["value"]["content"] == "Alice prefers dark mode"
    assert hits[0]["namespace"] == ["memories", "alice"] and hits[0]["score"] is not None

    await agent(
        calls(
            "manage_memory",
            {"content": "Alice switched to light mode", "action": "update", "id": theme_id},
        ),
        calls("manage_memory", {"action": "delete", "id": theme_id}, "c2"),
        AIMessage(content="ok"),
    ).ainvoke({"messages": [HumanMessage("update then forget it")]}, config)
    assert await store.aget(("memories", "alice"), theme_id) is None
    # Another user's namespace is untouched and separate.
    assert await store.asearch(("memories", "bob")) == []
    assert await store.alist_namespaces() == [("memories", "alice")]


def test_store_and_middleware_together(memory: MemoryWorkflowPrimitive) -> None:
    store = TTAStore(memory=memory)
    ns = ("memories", "{langgraph_user_id}")
    model = ToolCallingModel(
        messages=iter(
            [
                calls("manage_memory", {"content": "Prefers tabs", "action": "create"}),
                AIMessage(content="Noted."),
            ]
        )
    )
    agent = create_agent(
        model,
        tools=[create_manage_memory_tool(namespace=ns)],
        store=store,
        middleware=[TTAAgentMiddleware(memory=memory)],
    )
    agent.invoke(
        {"messages": [HumanMessage("I prefer tabs")]},
        {"configurable": {"thread_id": "th-1", "langgraph_user_id": "alice"}},
    )
    assert [i.value["content"] for i in store.search(("memories", "alice"))] == ["Prefers tabs"]
    assert [m.content for m in memory.sync.get_session_context("th-1")] == [
        "I prefer tabs",
        "Noted.",
    ]
