"""Property-based tests over the public calls of the LangChain, LangGraph and LlamaIndex adapters.

The engine facade and its stores are covered by ``test_properties.py``; this file drives the
adapters with the same hostile values (``hostile_world``: lone surrogates, control characters,
RediSearch syntax, huge strings, NaN / inf / 1e20 / 10**30 / negative numbers, wrong types),
from a neighbour workspace next to the victim workspace that holds marked data. Each example
checks:

- the call succeeds, or raises a :class:`TTAMemoryError` that is not an :class:`InternalError`;
- nothing it returns carries the victim workspace's data;
- a call that raised stored nothing.

**The frameworks' own contracts.** LangChain, LangGraph and LlamaIndex validate arguments at
their own API layer before our code runs: a pydantic ``ValidationError`` from a message, tool
input schema or retriever field, LangGraph's ``InvalidNamespaceError`` for a namespace it
refuses, a ``TypeError`` from LangGraph's ``BaseStore.get/put/delete/list_namespaces`` iterating
a namespace that is not a tuple. Those are the documented behaviour of the framework a user
called, so they are accepted, but only when no frame of the engine or of an adapter
(``tta_memory``, ``tta_memory_langchain``, ``tta_memory_llamaindex``) is on the traceback:
anything that passed through our code must be a ``TTAMemoryError``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from hostile_world import (
    MARK,
    NASTY_NUMBERS,
    VICTIM_USER,
    VICTIM_WS,
    World,
    anything,
    changed,
    nasty_text,
    property_server,
    scope_settings,
    snapshot,
    world,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.store.base import InvalidNamespaceError
from llama_index.core.base.llms.types import ChatMessage
from pydantic import ValidationError
from tta_memory import InternalError, MemoryWorkflowPrimitive, TTAMemoryError, run_sync

from tta_memory_langchain import (
    TTAChatMessageHistory,
    TTALayeredRetriever,
    TTAMemoryRetriever,
    TTAMemoryToolkit,
)
from tta_memory_langchain.store import TTAStore
from tta_memory_llamaindex import TTAChatStore
from tta_memory_llamaindex import TTAMemoryRetriever as LlamaRetriever

EXAMPLES = 25
__all__ = ["property_server", "world"]  # the fixtures, imported for pytest

# Raised by the frameworks' own argument validation (see the module docstring).
FRAMEWORK_ERRORS: tuple[type[BaseException], ...] = (
    ValidationError,
    InvalidNamespaceError,
    # LangGraph's BaseStore.get/put/delete/list_namespaces index and iterate the namespace
    # before our code runs (a dict namespace gives KeyError, an int TypeError).
    TypeError,
    KeyError,
)
OUR_PACKAGES = tuple(
    f"{os.sep}{name}{os.sep}"
    for name in ("tta_memory", "tta_memory_langchain", "tta_memory_llamaindex")
)
# The neighbour's workspaces: a plain one and look-alikes the name rule accepts.
ATTACKER_WS = ["mallory-ws", "acme`", "ACME", "acme*", "{acme}"]

Call = Callable[[MemoryWorkflowPrimitive, dict[str, Any]], Any]


# Weighted towards valid values (3 in 4 per argument; Hypothesis alone favours the richer
# hostile branch of a ``one_of``): the adapters' calls take up to six arguments, and a call must
# succeed often enough for the leak check to see what it returns.
def _mostly(valid: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any]) -> Any:
    return st.tuples(st.integers(0, 3), valid, hostile).map(lambda t: t[1] if t[0] else t[2])


def arg(*valid: Any) -> st.SearchStrategy[Any]:
    return _mostly(st.sampled_from(valid), anything)


def opt(*valid: Any) -> st.SearchStrategy[Any]:
    return arg(None, *valid)


def num(*valid: Any) -> st.SearchStrategy[Any]:
    return _mostly(st.sampled_from(valid), st.one_of(st.sampled_from(NASTY_NUMBERS), anything))


def _ours_on_traceback(exc: BaseException) -> bool:
    """Whether the exception passed through the engine's or an adapter's code."""
    tb = exc.__traceback__
    while tb is not None:
        if any(p in tb.tb_frame.f_code.co_filename for p in OUR_PACKAGES):
            return True
        tb = tb.tb_next
    return False


# ---- hostile arguments ----------------------------------------------------------------------

SESSION = arg("s1", "s2", "s 1")
QUERY = arg("", "launch", "api key", "SECRET")
K = num(1, 4)
TAGS = st.one_of(st.none(), st.lists(arg("t", "ops"), max_size=3), anything)
NAMESPACE = st.one_of(
    st.tuples(arg("memories"), arg("alice")),
    st.tuples(arg("memories")),
    st.lists(nasty_text, max_size=3).map(tuple),
    anything,
)
VALUE = st.one_of(
    st.fixed_dictionaries({"content": arg("Alice uses Neovim")}),
    st.dictionaries(nasty_text, st.one_of(nasty_text, st.sampled_from(NASTY_NUMBERS)), max_size=3),
    anything,
)
FILTER = st.one_of(
    st.none(),
    st.fixed_dictionaries({"content": arg("x")}),
    st.fixed_dictionaries({"n": st.fixed_dictionaries({"$gt": num(1)})}),
    st.dictionaries(nasty_text, anything, max_size=2),
    anything,
)


def lc_messages(contents: list[Any]) -> list[Any]:
    """LangChain messages with hostile content (a wrong type fails in LangChain's model)."""
    return [
        HumanMessage(content=c) if i % 2 == 0 else AIMessage(content=c)
        for i, c in enumerate(contents)
    ]


def li_message(content: Any, role: Any = "user") -> ChatMessage:
    return ChatMessage(role=role, content=content)


CONTENTS = st.lists(arg("hello", ""), max_size=3)
LI_MESSAGES = st.one_of(
    st.lists(st.tuples(arg("hello"), arg("user", "assistant")), max_size=3), anything
)


def history(m: MemoryWorkflowPrimitive, a: dict[str, Any]) -> TTAChatMessageHistory:
    return TTAChatMessageHistory(a["session_id"], memory=m, ttl=a.get("ttl"), limit=a.get("limit"))


def tool(m: MemoryWorkflowPrimitive, name: str) -> Any:
    return {t.name: t for t in TTAMemoryToolkit(memory=m).get_tools()}[name]


def store(m: MemoryWorkflowPrimitive) -> TTAStore:
    return TTAStore(memory=m)


def chat_store(m: MemoryWorkflowPrimitive) -> TTAChatStore:
    return TTAChatStore(memory=m)


def li_messages(raw: Any) -> Any:
    if isinstance(raw, list) and all(isinstance(x, tuple) and len(x) == 2 for x in raw):
        return [li_message(c, r) for c, r in raw]
    return raw


HISTORY_ARGS = {"session_id": SESSION, "ttl": num(None, 0, 60), "limit": num(None, 5)}

CALLS: dict[str, tuple[st.SearchStrategy[dict[str, Any]], Call]] = {
    # --- LangChain chat history ---------------------------------------------------------------
    "history.messages": (
        st.fixed_dictionaries(HISTORY_ARGS),
        lambda m, a: history(m, a).messages,
    ),
    "history.add_messages": (
        st.fixed_dictionaries(
            {**HISTORY_ARGS, "contents": st.one_of(CONTENTS, st.lists(anything, max_size=2))}
        ),
        lambda m, a: history(m, a).add_messages(lc_messages(a["contents"])),
    ),
    "history.add_raw": (
        st.fixed_dictionaries(
            {**HISTORY_ARGS, "messages": st.one_of(anything, st.lists(anything))}
        ),
        lambda m, a: history(m, a).add_messages(a["messages"]),
    ),
    "history.search_messages": (
        st.fixed_dictionaries({**HISTORY_ARGS, "query": QUERY, "k": K}),
        lambda m, a: history(m, a).search_messages(a["query"], a["k"]),
    ),
    "history.clear": (
        st.fixed_dictionaries(HISTORY_ARGS),
        lambda m, a: history(m, a).clear(),
    ),
    "history.delete": (
        st.fixed_dictionaries(HISTORY_ARGS),
        lambda m, a: history(m, a).delete(),
    ),
    "history.len": (
        st.fixed_dictionaries(HISTORY_ARGS),
        lambda m, a: len(history(m, a)),
    ),
    # --- LangChain retrievers -----------------------------------------------------------------
    "retriever.invoke": (
        st.fixed_dictionaries(
            {
                "query": QUERY,
                "k": K,
                "tags": TAGS,
                "author": opt(VICTIM_USER),
                "session_id": opt("s1"),
                "search_mode": arg("hybrid", "text", "vector"),
            }
        ),
        lambda m, a: TTAMemoryRetriever(memory=m).invoke(
            a.pop("query"), **{k: v for k, v in a.items() if v is not None}
        ),
    ),
    "retriever.field_k": (
        st.fixed_dictionaries({"query": QUERY, "k": K}),
        lambda m, a: TTAMemoryRetriever(memory=m, k=a["k"]).invoke(a["query"]),
    ),
    "layered.invoke": (
        st.fixed_dictionaries(
            {
                "query": QUERY,
                "session_id": SESSION,
                "stage": arg("plan", "implement"),
                "mode": arg("standard", "rapid"),
            }
        ),
        lambda m, a: TTALayeredRetriever(memory=m).invoke(
            a["query"], session_id=a["session_id"], stage=a["stage"], mode=a["mode"]
        ),
    ),
    # --- LangChain agent tools ----------------------------------------------------------------
    "tool.save_memory": (
        st.fixed_dictionaries(
            {"text": arg("a fact"), "tags": TAGS, "memory_type": arg("decision", "observation")}
        ),
        lambda m, a: tool(m, "save_memory").invoke({k: v for k, v in a.items() if v is not None}),
    ),
    "tool.search_memory": (
        st.fixed_dictionaries(
            {"query": QUERY, "k": K, "tags": TAGS, "memory_type": opt("decision")}
        ),
        lambda m, a: tool(m, "search_memory").invoke(a),
    ),
    "tool.get_constraints": (
        st.fixed_dictionaries({"category": opt("OPS")}),
        lambda m, a: tool(m, "get_constraints").invoke(a),
    ),
    # --- LangGraph store ----------------------------------------------------------------------
    "store.put": (
        st.fixed_dictionaries(
            {
                "namespace": NAMESPACE,
                "key": arg("k1", "editor"),
                "value": VALUE,
                "ttl": num(None, 1),
                "index": st.one_of(st.none(), st.just(False), st.lists(arg("content", "$"))),
            }
        ),
        lambda m, a: store(m).put(
            a["namespace"], a["key"], a["value"], index=a["index"], ttl=a["ttl"]
        ),
    ),
    "store.get": (
        st.fixed_dictionaries({"namespace": NAMESPACE, "key": arg("k1", "editor")}),
        lambda m, a: store(m).get(a["namespace"], a["key"]),
    ),
    "store.search": (
        st.fixed_dictionaries(
            {
                "prefix": NAMESPACE,
                "query": opt("Neovim", "SECRET"),
                "filter": FILTER,
                "limit": num(10),
                "offset": num(0),
            }
        ),
        lambda m, a: store(m).search(
            a["prefix"], query=a["query"], filter=a["filter"], limit=a["limit"], offset=a["offset"]
        ),
    ),
    "store.list_namespaces": (
        st.fixed_dictionaries(
            {
                "prefix": opt(("memories",)),
                "suffix": opt(("alice",)),
                "max_depth": num(None, 2),
                "limit": num(100),
                "offset": num(0),
            }
        ),
        lambda m, a: store(m).list_namespaces(**a),
    ),
    "store.delete": (
        st.fixed_dictionaries({"namespace": NAMESPACE, "key": arg("k1", "editor")}),
        lambda m, a: store(m).delete(a["namespace"], a["key"]),
    ),
    # --- LlamaIndex chat store ----------------------------------------------------------------
    "chat_store.set_messages": (
        st.fixed_dictionaries({"key": SESSION, "messages": LI_MESSAGES}),
        lambda m, a: run_sync(chat_store(m).set_messages(a["key"], li_messages(a["messages"]))),
    ),
    "chat_store.get_messages": (
        st.fixed_dictionaries({"key": SESSION}),
        lambda m, a: run_sync(chat_store(m).get_messages(a["key"])),
    ),
    "chat_store.add_message": (
        st.fixed_dictionaries({"key": SESSION, "content": arg("hello"), "role": arg("user")}),
        lambda m, a: run_sync(
            chat_store(m).add_message(a["key"], li_message(a["content"], a["role"]))
        ),
    ),
    "chat_store.add_raw": (
        st.fixed_dictionaries({"key": SESSION, "message": anything}),
        lambda m, a: run_sync(chat_store(m).add_message(a["key"], a["message"])),
    ),
    "chat_store.delete_message": (
        st.fixed_dictionaries({"key": SESSION, "idx": num(0, -1)}),
        lambda m, a: run_sync(chat_store(m).delete_message(a["key"], a["idx"])),
    ),
    "chat_store.delete_messages": (
        st.fixed_dictionaries({"key": SESSION, "status": opt("active", "archived")}),
        lambda m, a: run_sync(chat_store(m).delete_messages(a["key"], a["status"])),
    ),
    "chat_store.count_messages": (
        st.fixed_dictionaries({"key": SESSION}),
        lambda m, a: run_sync(chat_store(m).count_messages(a["key"])),
    ),
    "chat_store.get_keys": (
        st.fixed_dictionaries({}),
        lambda m, a: run_sync(chat_store(m).get_keys()),
    ),
    # --- LlamaIndex retriever -----------------------------------------------------------------
    "llama_retriever.retrieve": (
        st.fixed_dictionaries(
            {
                "query": QUERY,
                "similarity_top_k": K,
                "tags": TAGS,
                "author": opt(VICTIM_USER),
                "session_id": opt("s1"),
            }
        ),
        lambda m, a: LlamaRetriever(
            memory=m, **{k: v for k, v in a.items() if k != "query"}
        ).retrieve(a["query"]),
    ),
}


def check_one(world: World, engines: dict[str, Any], name: str, ws: str, a: dict[str, Any]) -> None:
    """Run one call as the neighbour in workspace ``ws`` and record what went wrong."""
    if ws not in engines:
        engines[ws] = MemoryWorkflowPrimitive(
            world.url, "mallory", workspace=ws, settings=scope_settings()
        )
    memory = engines[ws]
    world.found["calls"] += 1
    before = snapshot(world.url)
    error: BaseException | None = None
    try:
        result = CALLS[name][1](memory, dict(a))
    except InternalError as exc:
        world.found["internal"] += 1
        world.problems.append(f"InternalError {exc.__cause__!r} for {a!r}")
        error = exc
    except TTAMemoryError as exc:
        world.found["typed errors"] += 1
        error = exc
    except FRAMEWORK_ERRORS as exc:
        error = exc
        if _ours_on_traceback(exc):
            world.found["untyped"] += 1
            world.problems.append(
                f"our code raised {type(exc).__name__}: {exc!r:.300} for {a!r:.300}"
            )
        else:
            world.found["framework errors"] += 1
    except Exception as exc:
        world.found["untyped"] += 1
        world.problems.append(f"untyped {type(exc).__name__}: {exc!r:.300} for {a!r:.300}")
        error = exc
    else:
        world.found["succeeded"] += 1
        if MARK in repr(result):
            world.found["leaks"] += 1
            world.problems.append(f"leak to workspace {ws!r}: {a!r:.300}")
    # The workspace registry (``<prefix>:workspaces``) records the caller's workspace on its
    # first call: bookkeeping of the name, not data the failed call stored.
    written = [
        k
        for k in (changed(before, snapshot(world.url)) if error is not None else [])
        if not k.endswith(b":workspaces")
    ]
    if written:
        world.found["stored on error"] += 1
        world.problems.append(f"wrote {written[:3]}, then raised {error!r:.200} for {a!r:.300}")


def victim_intact(url: str) -> list[str]:
    """The victim's session message and its store item are still there, unchanged."""
    victim = MemoryWorkflowPrimitive(
        url, VICTIM_USER, workspace=VICTIM_WS, settings=scope_settings()
    )
    texts = [m.content for m in victim.sync.get_session_context("s1", limit=None)]
    item = store(victim).get(("memories", VICTIM_USER), "editor")
    problems = []
    if not any(MARK in t for t in texts):
        problems.append("the victim's session message is gone")
    if item is None or MARK not in repr(item.value):
        problems.append("the victim's store item is gone or changed")
    return problems


@pytest.mark.parametrize("name", sorted(CALLS))
def test_adapter_call_with_hostile_input(world: World, name: str) -> None:
    world.found.clear()
    world.problems.clear()
    victim = MemoryWorkflowPrimitive(
        world.url, VICTIM_USER, workspace=VICTIM_WS, settings=scope_settings()
    )
    # The LangGraph store's victim item (the engine's world holds the other layers).
    store(victim).put(("memories", VICTIM_USER), "editor", {"content": f"{MARK} uses Neovim"})
    engines: dict[str, Any] = {}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    # Mostly a plain neighbour (its calls get through to the data), else a look-alike.
    @given(ws=st.one_of(st.just(ATTACKER_WS[0]), st.sampled_from(ATTACKER_WS)), a=CALLS[name][0])
    def run(ws: str, a: dict[str, Any]) -> None:
        check_one(world, engines, name, ws, a)

    run()
    print(f"\n{name}: {dict(world.found)}")
    # A dead server explains everything above; the victim cannot be read back then.
    problems = world.problems + (world.server_problems() or victim_intact(world.url))
    assert problems == [], "\n".join(dict.fromkeys(problems))
    assert world.found["calls"] >= len(ATTACKER_WS)
