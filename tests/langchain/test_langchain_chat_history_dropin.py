"""Drop-in for langchain-redis' ``RedisChatMessageHistory``: the same assertions run on the peer
and on ``TTAChatMessageHistory``, on the same test Redis (the peer gets a key prefix and index
of its own per test; ours a fresh workspace). Then what only ours adds (workspaces, async)."""

from __future__ import annotations

import contextlib
import copy
import time
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import redis
from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.errors import InvalidInputError

from tta_memory_langchain import TTAChatMessageHistory

Make = Callable[..., BaseChatMessageHistory]
PUBLIC = {"messages", "add_message", "add_messages", "clear", "delete", "search_messages", "id"}


@pytest.fixture(params=["langchain-redis", "tta-memory"])
def make(request: pytest.FixtureRequest, redis_url: str, workspace: str) -> Make:
    """Build a history of the class under test, scoped to this test."""
    if request.param == "langchain-redis":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from langchain_redis import RedisChatMessageHistory

        built: list[BaseChatMessageHistory] = []

        def peer(session_id: str, **kwargs: Any) -> BaseChatMessageHistory:
            kwargs.setdefault("key_prefix", f"chat-{workspace}:")
            kwargs.setdefault("index_name", f"idx:{workspace}")
            if "redis_client" not in kwargs:
                kwargs["redis_url"] = redis_url
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    history = RedisChatMessageHistory(session_id, **kwargs)
                except AttributeError:
                    # langchain-redis 0.2.6 cannot open an existing index under redis-py 8
                    # (benchmarks/README.md): reuse the last instance for another session.
                    history = copy.copy(built[-1])
                    history.session_id = session_id  # type: ignore[attr-defined]
                    history.ttl = kwargs.get("ttl")  # type: ignore[attr-defined]
                    return history
            built.append(history)
            return history

        return peer

    def ours(session_id: str, **kwargs: Any) -> BaseChatMessageHistory:
        if "redis_client" not in kwargs:
            kwargs["redis_url"] = redis_url
        return TTAChatMessageHistory(session_id, workspace=workspace, **kwargs)

    return ours


def contents(history: BaseChatMessageHistory) -> list[tuple[str, Any]]:
    return [(m.type, m.content) for m in history.messages]


def test_has_every_public_method_of_the_peer() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langchain_redis import RedisChatMessageHistory
    peer = {n for n in dir(RedisChatMessageHistory) if not n.startswith("_")}
    assert peer >= PUBLIC
    missing = {n for n in peer if not hasattr(TTAChatMessageHistory, n)}
    assert missing == set()


def test_delete_removes_every_session(make: Make) -> None:
    one, two = make("one"), make("two")
    one.add_messages([HumanMessage(content="a"), AIMessage(content="b")])
    two.add_message(HumanMessage(content="c"))
    one.delete()
    # a history opened afterwards (the peer rebuilds its index) sees no session
    assert make("one").messages == [] and make("two").messages == []
    again = make("one")
    again.add_message(HumanMessage(content="after delete"))
    assert contents(make("one")) == [("human", "after delete")]


def test_search_messages_finds_words_in_this_session(make: Make) -> None:
    history, other = make("search"), make("elsewhere")
    history.add_messages(
        [
            HumanMessage(content="Hello, how are you?"),
            AIMessage(content="I'm doing well, thank you!"),
            HumanMessage(content="What's the WEATHER like today?"),
            AIMessage(content="Sunny; the weather stays dry."),
        ]
    )
    other.add_message(HumanMessage(content="weather in the other session"))
    found = history.search_messages("weather")
    assert sorted(r["content"] for r in found) == [
        "Sunny; the weather stays dry.",
        "What's the WEATHER like today?",
    ]
    assert {r["type"] for r in found} == {"human", "ai"}
    assert len(history.search_messages("Weather", limit=1)) == 1
    assert history.search_messages("nonexistent") == []
    assert history.search_messages("") == []


def test_search_messages_folds_word_endings(make: Make) -> None:
    history = make("stems")
    history.add_messages(
        [
            HumanMessage(content="Tell me about machine learning"),
            AIMessage(content="Neural networks learn from data"),
            HumanMessage(content="Unrelated question about lunch"),
        ]
    )
    found = [r["content"] for r in history.search_messages("learned network")]
    assert set(found) == {"Tell me about machine learning", "Neural networks learn from data"}
    if isinstance(history, TTAChatMessageHistory):
        # Ours ranks the message matching both words first. The peer promises no order and
        # ranked the other first once in ~10 full runs (session 7, on a busy shared server).
        assert found[0] == "Neural networks learn from data"


def test_redis_client_uses_its_connection(make: Make, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    via_client = make("shared-client", redis_client=client)
    via_client.add_messages([HumanMessage(content="Hello, AI!"), AIMessage(content="Hi!")])
    assert contents(make("shared-client")) == [("human", "Hello, AI!"), ("ai", "Hi!")]
    via_client.clear()


def test_ttl_zero_means_no_expiry(make: Make) -> None:
    forever, short = make("ttl-zero", ttl=0), make("ttl-one", ttl=1)
    forever.add_message(HumanMessage(content="kept"))
    short.add_message(HumanMessage(content="expires"))
    assert contents(forever) == [("human", "kept")]
    time.sleep(2.2)
    assert contents(make("ttl-zero")) == [("human", "kept")]
    # Poll (not a timing assert): on a loaded machine the index can still list the expired
    # message for a moment, and langchain-redis then fails on its missing fields (KeyError
    # 'type', seen while a 1M-memory build shared the machine); ours leaves such rows out.
    for _ in range(50):
        with contextlib.suppress(KeyError):
            if make("ttl-one").messages == []:
                break
        time.sleep(0.1)
    assert make("ttl-one").messages == []


def test_empty_messages_are_stored(make: Make) -> None:
    history = make("empty")
    history.add_message(HumanMessage(content="question"))
    history.add_message(AIMessage(content=""))  # a model sometimes replies with nothing
    history.add_message(HumanMessage(content=""))
    assert contents(history) == [("human", "question"), ("ai", ""), ("human", "")]
    assert len(history) == 3  # type: ignore[arg-type]


def test_adding_no_messages_does_nothing(make: Make) -> None:
    history = make("nothing")
    history.add_messages([])
    assert history.messages == []


def test_tool_and_system_messages_round_trip(make: Make) -> None:
    history = make("kinds")
    history.add_messages(
        [
            SystemMessage(content="Be brief."),
            ToolMessage(content="42", tool_call_id="call-1", status="success"),
        ]
    )
    system, tool = make("kinds").messages
    assert isinstance(system, SystemMessage) and system.content == "Be brief."
    assert isinstance(tool, ToolMessage) and (tool.content, tool.tool_call_id) == ("42", "call-1")


@pytest.mark.parametrize("session_id", ["", None])
def test_bad_session_id_is_a_value_error(make: Make, session_id: Any) -> None:
    with pytest.raises(ValueError):
        make(session_id)


# --- ours only ------------------------------------------------------------------------------


def test_delete_keeps_other_workspaces_and_layers(
    memory: MemoryWorkflowPrimitive, redis_url: str, workspace: str
) -> None:
    memory.sync.create_deep_memory("deep memories are not chat history")
    elsewhere = TTAChatMessageHistory("s", redis_url=redis_url, workspace=workspace + "-other")
    elsewhere.add_user_message("other workspace")
    mine = TTAChatMessageHistory("s", memory=memory)
    mine.add_user_message("mine")
    TTAChatMessageHistory("t", memory=memory).add_user_message("mine too")
    mine.delete()
    assert memory.sync.list_sessions() == []
    assert [m.content for m in elsewhere.messages] == ["other workspace"]
    assert [m.text for m in memory.sync.search_deep_memory("")] == [
        "deep memories are not chat history"
    ]


async def test_async_search_and_delete(memory: MemoryWorkflowPrimitive) -> None:
    history = TTAChatMessageHistory("async", memory=memory)
    await history.aadd_messages([HumanMessage(content="deploy on friday"), AIMessage(content="")])
    assert [r["content"] for r in await history.asearch_messages("Friday")] == ["deploy on friday"]
    await history.adelete()
    assert await history.aget_messages() == []


@pytest.mark.parametrize("ttl", [-1, 1.5, "60", True])
def test_bad_ttl_is_refused_at_construction(memory: MemoryWorkflowPrimitive, ttl: Any) -> None:
    with pytest.raises(InvalidInputError, match="ttl"):
        TTAChatMessageHistory("s", memory=memory, ttl=ttl)


def test_redis_client_with_memory_or_of_another_kind_is_refused(
    memory: MemoryWorkflowPrimitive, redis_url: str
) -> None:
    with pytest.raises(InvalidInputError, match="redis_client"):
        TTAChatMessageHistory("s", memory=memory, redis_client=redis.Redis.from_url(redis_url))
    with pytest.raises(InvalidInputError, match="redis_client"):
        TTAChatMessageHistory("s", redis_client=object())


def test_redis_client_attribute_reaches_the_same_server(memory: MemoryWorkflowPrimitive) -> None:
    history = TTAChatMessageHistory("s", memory=memory)
    assert history.redis_client.ping() is True
