"""TTAMemoryRetriever (deep memory) and TTALayeredRetriever (stage-aware context)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda
from langchain_tests.integration_tests import RetrieversIntegrationTests
from tta_memory import MemoryWorkflowPrimitive, WorkflowMode
from tta_memory.errors import InvalidInputError

from tta_memory_langchain import TTALayeredRetriever, TTAMemoryRetriever

SEED: list[dict[str, Any]] = [
    {
        "text": "PyJWT signs access tokens with RS256; refresh tokens rotate on every use.",
        "tags": ["auth", "jwt"],
        "memory_type": "decision",
        "session_id": "auth-s1",
    },
    {
        "text": "Token refresh failed because the clock skew leeway was zero; set leeway=30s.",
        "tags": ["auth", "bug"],
        "memory_type": "bug-resolution",
        "session_id": "auth-s2",
    },
    {
        "text": "Repositories return domain objects, never ORM rows.",
        "tags": ["architecture"],
        "memory_type": "pattern",
    },
    {
        "text": "The payments service retries webhooks with exponential backoff.",
        "tags": ["payments"],
        "memory_type": "observation",
    },
    {
        "text": "Login rate limiting uses a sliding window of 5 attempts per minute.",
        "tags": ["auth", "security"],
        "memory_type": "decision",
    },
]


def seed(memory: MemoryWorkflowPrimitive) -> None:
    memory.sync.create_deep_memories(SEED)


class TestTTAMemoryRetrieverStandard(RetrieversIntegrationTests):
    """LangChain's standard retriever suite, unmodified."""

    _params: ClassVar[dict[str, Any]] = {}

    @pytest.fixture(autouse=True)
    def _seeded(self, memory: MemoryWorkflowPrimitive) -> None:
        seed(memory)
        type(self)._params = {"memory": memory}

    @property
    def retriever_constructor(self) -> type[TTAMemoryRetriever]:
        return TTAMemoryRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return self._params

    @property
    def retriever_query_example(self) -> str:
        return "how are auth tokens refreshed?"


@pytest.fixture
def seeded(memory: MemoryWorkflowPrimitive) -> MemoryWorkflowPrimitive:
    seed(memory)
    return memory


def texts(docs: list[Document]) -> list[str]:
    return [d.page_content for d in docs]


def test_documents_carry_the_memory(seeded: MemoryWorkflowPrimitive) -> None:
    docs = TTAMemoryRetriever(memory=seeded, k=2).invoke("refresh token rotation")
    assert len(docs) == 2
    top = docs[0]
    stored = seeded.sync.get_deep_memory(top.metadata["id"])
    assert top.id == stored.id and top.page_content == stored.text
    meta = top.metadata
    assert meta["layer"] == "deep" and isinstance(meta["score"], float)
    assert meta["tags"] == stored.tags and meta["memory_type"] == stored.memory_type
    assert meta["author"] == "test-user"
    assert datetime.fromisoformat(meta["created_at"]) == stored.created_at
    assert datetime.fromisoformat(meta["updated_at"]) == stored.updated_at
    assert meta["event_time"] is None
    assert docs[0].metadata["score"] >= docs[1].metadata["score"]


def test_filters_as_fields_and_as_call_arguments(seeded: MemoryWorkflowPrimitive) -> None:
    auth = TTAMemoryRetriever(memory=seeded, k=10, filter_tags=["auth"])
    assert len(auth.invoke("tokens")) == 3
    assert all("auth" in d.metadata["tags"] for d in auth.invoke("tokens"))
    # per-call overrides win over the fields
    assert texts(auth.invoke("tokens", tags=["payments"])) == [SEED[3]["text"]]
    both = auth.invoke("anything", tags=["auth", "jwt"], match_all_tags=True)
    assert texts(both) == [SEED[0]["text"]]
    decisions = auth.invoke("tokens", memory_type="decision")
    assert {d.metadata["memory_type"] for d in decisions} == {"decision"}
    assert len(decisions) == 2
    assert texts(auth.invoke("tokens", session_id="auth-s2")) == [SEED[1]["text"]]
    assert auth.invoke("tokens", author="someone-else") == []
    assert len(auth.invoke("tokens", k=1)) == 1
    text_only = TTAMemoryRetriever(memory=seeded, k=10, search_mode="text")
    assert texts(text_only.invoke("webhooks")) == [SEED[3]["text"]]


def test_tracing_tags_are_not_a_filter(seeded: MemoryWorkflowPrimitive) -> None:
    """``tags`` is BaseRetriever's callback-tags field; it must not narrow the search."""
    traced = TTAMemoryRetriever(memory=seeded, k=10, tags=["my-trace"])
    assert len(traced.invoke("tokens")) == len(SEED)
    both = traced.invoke("tokens", filter_tags=["payments"])
    assert texts(both) == [SEED[3]["text"]]


def test_time_filters(seeded: MemoryWorkflowPrimitive) -> None:
    now = datetime.now(UTC)
    retriever = TTAMemoryRetriever(memory=seeded, k=10)
    assert len(retriever.invoke("", since=now - timedelta(hours=1))) == len(SEED)
    assert retriever.invoke("", since=now + timedelta(hours=1)) == []
    assert retriever.invoke("", until=now - timedelta(hours=1)) == []
    future = TTAMemoryRetriever(memory=seeded, k=10, since=now + timedelta(hours=1))
    assert future.invoke("tokens") == []


def test_empty_query_lists_newest_first(seeded: MemoryWorkflowPrimitive) -> None:
    docs = TTAMemoryRetriever(memory=seeded, k=10).invoke("")
    assert len(docs) == len(SEED)
    created = [d.metadata["created_at"] for d in docs]
    assert created == sorted(created, reverse=True)


async def test_async_is_native_and_matches_sync(seeded: MemoryWorkflowPrimitive) -> None:
    retriever = TTAMemoryRetriever(memory=seeded, k=3, filter_tags=["auth"])
    assert TTAMemoryRetriever._aget_relevant_documents is not (
        BaseRetriever._aget_relevant_documents
    )
    docs = await retriever.ainvoke("token refresh")
    assert [d.id for d in docs] == [d.id for d in retriever.invoke("token refresh")]
    assert [d.id for d in await retriever.ainvoke("token refresh", k=1)] == [docs[0].id]


def test_in_a_chain(seeded: MemoryWorkflowPrimitive) -> None:
    retriever = TTAMemoryRetriever(memory=seeded, k=2)

    def join(docs: list[Document]) -> str:
        return "\n".join(d.page_content for d in docs)

    chain = retriever | RunnableLambda(join)
    assert "webhooks" in chain.invoke("payments webhook retries")
    assert len(retriever.batch(["jwt", "webhooks", "orm"])) == 3


def test_connection_fields_build_the_engine(
    redis_url: str, seeded: MemoryWorkflowPrimitive
) -> None:
    retriever = TTAMemoryRetriever(
        redis_url=redis_url, user_id="test-user", workspace=seeded.workspace, k=1
    )
    assert texts(retriever.invoke("webhooks", search_mode="text")) == [SEED[3]["text"]]
    other = TTAMemoryRetriever(redis_url=redis_url, workspace=seeded.workspace + "-other")
    assert other.invoke("webhooks") == []


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hostile",
    ["auth|payments", "@tags:{auth}", "*", "auth}", "-auth", '"auth"', "au*", "a\\b", "(auth)"],
)
def test_hostile_tag_filters_match_nothing_but_exact_tags(
    seeded: MemoryWorkflowPrimitive, hostile: str
) -> None:
    retriever = TTAMemoryRetriever(memory=seeded, k=10)
    assert retriever.invoke("tokens", tags=[hostile]) == []
    stored = seeded.sync.create_deep_memory("tagged with syntax", tags=[hostile])
    found = retriever.invoke("tagged with syntax", tags=[hostile])
    assert [d.id for d in found] == [stored.id]
    assert found[0].metadata["tags"] == [hostile]


@pytest.mark.parametrize(
    "query",
    [
        "@text:(*) | -x",
        "*",
        "tokens) | (@tags:{payments}",
        '"',
        "{}",
        "%%%",
        "\\",
        "🧠 会话",
        "the",
        "is it",
        "a",
    ],
)
def test_hostile_queries_do_not_widen_filters(seeded: MemoryWorkflowPrimitive, query: str) -> None:
    """Query syntax and stopword-only queries neither fail nor escape the tag filter."""
    docs = TTAMemoryRetriever(memory=seeded, k=10, filter_tags=["payments"]).invoke(query)
    assert all(d.metadata["tags"] == ["payments"] for d in docs)


@pytest.mark.parametrize(
    "kwargs",
    [{"k": 0}, {"k": -3}, {"tags": "auth"}, {"tags": [""]}, {"search_mode": "fuzzy"},
     {"since": "yesterday"}, {"nonsense": 1}],
)  # fmt: skip
def test_bad_arguments_raise_typed_errors(seeded: MemoryWorkflowPrimitive, kwargs: dict) -> None:
    with pytest.raises(InvalidInputError):
        TTAMemoryRetriever(memory=seeded).invoke("tokens", **kwargs)


# --- layered retriever -------------------------------------------------------------------


@pytest.fixture
def project(seeded: MemoryWorkflowPrimitive) -> MemoryWorkflowPrimitive:
    pafs = seeded.sync.paf_primitive
    pafs.add_paf("AUTH", "001", "Use PyJWT for tokens", rationale="lightweight")
    pafs.add_paf("DATA", "001", "PostgreSQL is the only system of record")
    seeded.sync.add_session_messages(
        "auth-impl",
        [
            {"role": "user", "content": "Implement refresh token rotation"},
            {"role": "assistant", "content": "Rotating on every use, as decided."},
        ],
    )
    return seeded


def test_layered_returns_pafs_first_then_layers(project: MemoryWorkflowPrimitive) -> None:
    retriever = TTALayeredRetriever(memory=project, stage="implement", mode="standard")
    docs = retriever.invoke(
        "refresh token rotation", config={"configurable": {"session_id": "auth-impl"}}
    )
    layers = [d.metadata["layer"] for d in docs]
    assert layers[:2] == ["paf", "paf"]
    assert {d.id for d in docs[:2]} == {"AUTH-001", "DATA-001"}
    assert "deep" in layers and "session" in layers
    order = {"paf": 0, "deep": 1, "cache": 2, "session": 3}
    assert [order[layer] for layer in layers] == sorted(order[layer] for layer in layers)
    deep = [d for d in docs if d.metadata["layer"] == "deep"]
    assert 0 < len(deep) <= 5  # implement/STANDARD loads the top 5
    session = [d.page_content for d in docs if d.metadata["layer"] == "session"]
    assert session == ["Implement refresh token rotation", "Rotating on every use, as decided."]


async def test_layered_stage_and_mode_per_call(project: MemoryWorkflowPrimitive) -> None:
    retriever = TTALayeredRetriever(memory=project, session_id="auth-impl")
    rapid = await retriever.ainvoke("tokens", mode=WorkflowMode.RAPID)
    assert {d.metadata["layer"] for d in rapid} == {"session"}
    via_config = await retriever.ainvoke(
        "tokens", config={"configurable": {"stage": "verify", "mode": "rapid"}}
    )
    assert {d.metadata["layer"] for d in via_config} == {"session"}
    rigorous = await retriever.ainvoke("tokens", stage="understand", mode="augster_rigorous")
    assert len([d for d in rigorous if d.metadata["layer"] == "deep"]) == len(SEED)


def test_layered_layer_selection(project: MemoryWorkflowPrimitive) -> None:
    only_pafs = TTALayeredRetriever(memory=project, session_id="auth-impl", layers=("paf",))
    docs = sorted(only_pafs.invoke("anything"), key=lambda d: d.id or "")
    assert [d.page_content for d in docs] == [
        "AUTH-001: Use PyJWT for tokens",
        "DATA-001: PostgreSQL is the only system of record",
    ]
    assert docs[0].metadata["rationale"] == "lightweight"


def test_layered_bad_input(project: MemoryWorkflowPrimitive) -> None:
    retriever = TTALayeredRetriever(memory=project)
    with pytest.raises(InvalidInputError, match="session"):
        retriever.invoke("tokens")
    with pytest.raises(InvalidInputError):
        retriever.invoke("tokens", session_id="auth-impl", stage="deploy")
    with pytest.raises(InvalidInputError):
        retriever.invoke("tokens", session_id="auth-impl", mode="turbo")
    with pytest.raises(InvalidInputError):
        retriever.invoke("tokens", session_id="")
    with pytest.raises(InvalidInputError):
        retriever.invoke("tokens", session_id="auth-impl", k=3)
    # an unknown session has no messages but still gets the team's constraints
    docs = retriever.invoke("tokens", session_id="never-seen")
    assert {d.metadata["layer"] for d in docs} >= {"paf"}
    assert "session" not in {d.metadata["layer"] for d in docs}
