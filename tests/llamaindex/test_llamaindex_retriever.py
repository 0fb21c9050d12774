"""TTAMemoryRetriever: deep memory as NodeWithScore, filters, query and chat engines."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.chat_engine import CondensePlusContextChatEngine
from llama_index.core.llms import MockLLM
from llama_index.core.memory import Memory
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.errors import InvalidInputError

from tta_memory_llamaindex import (
    DeepMemoryBlock,
    PAFMemoryBlock,
    StageMemoryBlock,
    TTAChatStore,
    TTAMemoryRetriever,
)

MEMORIES = [
    {
        "text": "PyJWT signs our access tokens with RS256",
        "tags": ["auth", "jwt"],
        "memory_type": "decision",
        "session_id": "s-auth",
    },
    {
        "text": "Refresh tokens rotate on every use",
        "tags": ["auth"],
        "memory_type": "pattern",
        "session_id": "s-auth",
    },
    {
        "text": "PostgreSQL 16 holds the sessions table",
        "tags": ["db"],
        "memory_type": "decision",
        "session_id": "s-db",
    },
    {
        "text": "Flaky test fixed by awaiting the token refresh",
        "tags": ["auth", "bug"],
        "memory_type": "bug-resolution",
        "session_id": "s-bug",
    },
]


@pytest.fixture
async def stored(memory: MemoryWorkflowPrimitive) -> dict[str, str]:
    created = await memory.create_deep_memories(MEMORIES)
    return {m.text: m.id for m in created}


def test_class() -> None:
    assert issubclass(TTAMemoryRetriever, BaseRetriever)
    # Native async: the base class's _aretrieve would call the blocking _retrieve.
    assert TTAMemoryRetriever._aretrieve is not BaseRetriever._aretrieve
    assert TTAMemoryRetriever._retrieve is not BaseRetriever._retrieve


async def test_nodes_have_memory_ids_scores_and_metadata(
    memory: MemoryWorkflowPrimitive, stored: dict[str, str]
) -> None:
    retriever = TTAMemoryRetriever(memory, similarity_top_k=3)
    nodes = await retriever.aretrieve("how are access tokens signed?")
    assert 0 < len(nodes) <= 3
    assert all(isinstance(n, NodeWithScore) and isinstance(n.node, TextNode) for n in nodes)
    top = nodes[0]
    assert top.node.node_id == stored["PyJWT signs our access tokens with RS256"]
    assert top.node.get_content() == "PyJWT signs our access tokens with RS256"
    assert top.score is not None and top.score > 0
    meta = top.node.metadata
    assert meta["layer"] == "deep" and meta["memory_id"] == top.node.node_id
    assert meta["tags"] == ["auth", "jwt"] and meta["memory_type"] == "decision"
    assert meta["session_id"] == "s-auth" and meta["author"] == "test-user"
    assert datetime.fromisoformat(meta["created_at"]).tzinfo is not None
    assert "memory_id" not in top.node.get_content(metadata_mode=MetadataMode.LLM)
    # Stable ids: the same memory is the same node on every call.
    again = await retriever.aretrieve("how are access tokens signed?")
    assert again[0].node.node_id == top.node.node_id


async def test_sync_retrieve_inside_a_running_loop(
    memory: MemoryWorkflowPrimitive, stored: dict[str, str]
) -> None:
    nodes = TTAMemoryRetriever(memory, similarity_top_k=2).retrieve("PostgreSQL sessions")
    assert nodes[0].node.node_id == stored["PostgreSQL 16 holds the sessions table"]


async def test_aretrieve_is_native(
    memory: MemoryWorkflowPrimitive, stored: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def blocking(self: TTAMemoryRetriever, query_bundle: QueryBundle) -> list[NodeWithScore]:
        raise AssertionError("aretrieve must not call the blocking _retrieve")

    monkeypatch.setattr(TTAMemoryRetriever, "_retrieve", blocking)
    retriever = TTAMemoryRetriever(memory, similarity_top_k=2)
    results = await asyncio.gather(*(retriever.aretrieve(q) for q in ("jwt", "postgres", "bug")))
    assert all(results)


async def test_constructor_filters(memory: MemoryWorkflowPrimitive, stored: dict[str, str]) -> None:
    def texts(nodes: list[NodeWithScore]) -> set[str]:
        return {n.node.get_content() for n in nodes}

    q = "tokens sessions test"
    db = await TTAMemoryRetriever(memory, tags=["db"]).aretrieve(q)
    assert texts(db) == {"PostgreSQL 16 holds the sessions table"}
    both = await TTAMemoryRetriever(memory, tags=["auth", "bug"], match_all_tags=True).aretrieve(q)
    assert texts(both) == {"Flaky test fixed by awaiting the token refresh"}
    decisions = await TTAMemoryRetriever(memory, memory_type="decision").aretrieve(q)
    assert texts(decisions) == {
        "PyJWT signs our access tokens with RS256",
        "PostgreSQL 16 holds the sessions table",
    }
    by_session = await TTAMemoryRetriever(memory, session_id="s-bug").aretrieve(q)
    assert texts(by_session) == {"Flaky test fixed by awaiting the token refresh"}
    future = datetime.now(UTC) + timedelta(days=1)
    assert await TTAMemoryRetriever(memory, since=future).aretrieve(q) == []
    assert len(await TTAMemoryRetriever(memory, until=future).aretrieve(q)) == 4
    assert await TTAMemoryRetriever(memory, author="someone-else").aretrieve(q) == []
    text_only = await TTAMemoryRetriever(memory, search_mode="text").aretrieve("PostgreSQL")
    assert texts(text_only) == {"PostgreSQL 16 holds the sessions table"}


async def test_metadata_filters(memory: MemoryWorkflowPrimitive, stored: dict[str, str]) -> None:
    q = "tokens sessions test"
    filters = MetadataFilters(
        filters=[
            MetadataFilter(key="tags", value=["auth"], operator=FilterOperator.ANY),
            MetadataFilter(
                key="memory_type", value=["pattern", "bug-resolution"], operator=FilterOperator.IN
            ),
            MetadataFilter(
                key="created_at",
                value=(datetime.now(UTC) - timedelta(hours=1)).isoformat(),
                operator=FilterOperator.GTE,
            ),
        ]
    )
    nodes = await TTAMemoryRetriever(memory, filters=filters).aretrieve(q)
    assert {n.node.get_content() for n in nodes} == {
        "Refresh tokens rotate on every use",
        "Flaky test fixed by awaiting the token refresh",
    }
    all_tags = MetadataFilters(
        filters=[MetadataFilter(key="tags", value=["auth", "jwt"], operator=FilterOperator.ALL)]
    )
    nodes = await TTAMemoryRetriever(memory, filters=all_tags).aretrieve(q)
    assert [n.node.get_content() for n in nodes] == ["PyJWT signs our access tokens with RS256"]


@pytest.mark.parametrize(
    "filters",
    [
        MetadataFilters(filters=[MetadataFilter(key="colour", value="red")]),
        MetadataFilters(
            filters=[MetadataFilter(key="tags", value="a", operator=FilterOperator.NE)]
        ),
        MetadataFilters(
            filters=[MetadataFilter(key="author", value="a", operator=FilterOperator.TEXT_MATCH)]
        ),
        MetadataFilters(
            filters=[MetadataFilter(key="tags", value="a"), MetadataFilter(key="tags", value="b")]
        ),
        MetadataFilters(
            filters=[
                MetadataFilter(key="tags", value="a"),
                MetadataFilter(key="author", value="b"),
            ],
            condition=FilterCondition.OR,
        ),
        MetadataFilters(filters=[MetadataFilters(filters=[MetadataFilter(key="tags", value="a")])]),
    ],
)
def test_unsupported_filters_are_typed_errors(
    memory: MemoryWorkflowPrimitive, filters: MetadataFilters
) -> None:
    with pytest.raises(InvalidInputError):
        TTAMemoryRetriever(memory, filters=filters)


async def test_bad_filter_values_are_typed_errors(
    memory: MemoryWorkflowPrimitive, stored: dict[str, str]
) -> None:
    with pytest.raises(InvalidInputError):
        TTAMemoryRetriever(memory, similarity_top_k=0)
    with pytest.raises(InvalidInputError):
        TTAMemoryRetriever(
            memory,
            tags=["auth"],
            filters=MetadataFilters(filters=[MetadataFilter(key="tags", value="db")]),
        )
    for bad in (
        TTAMemoryRetriever(memory, tags=[""]),
        TTAMemoryRetriever(memory, tags=["a\x00b"]),
        TTAMemoryRetriever(memory, since="yesterday"),
        TTAMemoryRetriever(memory, memory_type=""),
        TTAMemoryRetriever(memory, search_mode="fuzzy"),  # type: ignore[arg-type]
        TTAMemoryRetriever(memory, similarity_top_k=5000),
    ):
        with pytest.raises(InvalidInputError):
            await bad.aretrieve("tokens")
    assert len(await memory.search_deep_memory("", limit=10)) == len(MEMORIES)


@pytest.mark.parametrize(
    "hostile",
    [
        "auth | db",
        "*",
        "auth}|{db",
        "@tags:{db}",
        '"auth"',
        "-auth",
        "auth;db",
        "(auth|db)",
        "auth\\",
        "%auth%",
    ],
)
async def test_hostile_filter_strings_never_widen(
    memory: MemoryWorkflowPrimitive, stored: dict[str, str], hostile: str
) -> None:
    for retriever in (
        TTAMemoryRetriever(memory, tags=[hostile]),
        TTAMemoryRetriever(memory, memory_type=hostile),
        TTAMemoryRetriever(memory, session_id=hostile),
        TTAMemoryRetriever(memory, author=hostile),
    ):
        assert await retriever.aretrieve("tokens sessions") == []


async def test_hostile_tags_match_exactly(memory: MemoryWorkflowPrimitive) -> None:
    odd = ["auth | db", "@x:{y}", "c++", "naïve-ñ"]
    await memory.create_deep_memory("odd tags memory", tags=odd)
    await memory.create_deep_memory("plain memory", tags=["auth", "db"])
    for tag in odd:
        nodes = await TTAMemoryRetriever(memory, tags=[tag]).aretrieve("memory")
        assert [n.node.get_content() for n in nodes] == ["odd tags memory"]
        assert nodes[0].node.metadata["tags"] == odd


async def test_retriever_query_engine_with_mock_llm(
    memory: MemoryWorkflowPrimitive, stored: dict[str, str]
) -> None:
    retriever = TTAMemoryRetriever(memory, similarity_top_k=2)
    engine = RetrieverQueryEngine.from_args(retriever, llm=MockLLM())
    response = await engine.aquery("How are access tokens signed?")
    assert (
        response.source_nodes[0].node.node_id == stored["PyJWT signs our access tokens with RS256"]
    )
    # MockLLM echoes its prompt: the memory reached the LLM's context.
    assert "PyJWT signs our access tokens with RS256" in str(response)
    sync_response = engine.query("Where do sessions live?")
    assert "PostgreSQL 16 holds the sessions table" in str(sync_response)


async def test_condense_plus_context_chat_engine_with_mock_llm(
    memory: MemoryWorkflowPrimitive, stored: dict[str, str]
) -> None:
    chat_memory = Memory.from_defaults(
        session_id="chat-engine", chat_store=TTAChatStore(memory=memory), token_limit=3000
    )
    engine = CondensePlusContextChatEngine.from_defaults(
        retriever=TTAMemoryRetriever(memory, similarity_top_k=2),
        llm=MockLLM(),
        memory=chat_memory,
    )
    first = await engine.achat("How are access tokens signed?")
    assert "PyJWT signs our access tokens with RS256" in first.response
    assert first.source_nodes and first.source_nodes[0].node.metadata["layer"] == "deep"
    second = await engine.achat("And where do sessions live?")
    assert second.source_nodes
    # The exchange is in the session layer, in order.
    history = await memory.get_session_context("chat-engine", limit=None)
    assert [m.role for m in history] == ["user", "assistant", "user", "assistant"]
    assert history[0].content == "How are access tokens signed?"
    assert engine.chat_history[0].content == "How are access tokens signed?"
    assert isinstance(engine.chat_history[0], ChatMessage)


async def test_every_adapter_builds_its_engine_from_a_scope(
    memory: MemoryWorkflowPrimitive, stored: dict[str, str], redis_url: str, workspace: str
) -> None:
    scope: dict[str, Any] = {"redis_url": redis_url, "user_id": "test-user", "workspace": workspace}
    nodes = await TTAMemoryRetriever(**scope, similarity_top_k=1).aretrieve("PostgreSQL")
    assert nodes[0].node.node_id == stored["PostgreSQL 16 holds the sessions table"]
    store = TTAChatStore(**scope)
    await store.add_message("scoped", ChatMessage(role="user", content="hi"))
    assert [m.content for m in await memory.get_session_context("scoped")] == ["hi"]
    for cls in (PAFMemoryBlock, StageMemoryBlock, DeepMemoryBlock):
        block = cls(**scope)
        assert block.memory.workspace == workspace and block.memory.user_id == "test-user"
    other = TTAMemoryRetriever(redis_url=redis_url, workspace=workspace + "-other")
    assert await other.aretrieve("PostgreSQL") == []


def test_engine_arguments_are_checked(memory: MemoryWorkflowPrimitive) -> None:
    with pytest.raises(InvalidInputError):
        TTAMemoryRetriever(memory, workspace="elsewhere")
    with pytest.raises(InvalidInputError):
        TTAChatStore(memory, user_id="someone")
    with pytest.raises(InvalidInputError):
        TTAChatStore(memory=cast(Any, "redis://localhost"))
    for cls in (PAFMemoryBlock, StageMemoryBlock, DeepMemoryBlock):
        with pytest.raises(InvalidInputError):
            cls(memory=memory, workspace="elsewhere")
    with pytest.raises(InvalidInputError):
        TTAMemoryRetriever(workspace="bad\x00workspace")
