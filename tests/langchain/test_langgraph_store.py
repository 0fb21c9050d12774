"""TTAStore against the semantics LangGraph's InMemoryStore defines: the same operations run
on both stores and their answers are compared (values, namespaces, filters, ranking)."""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings
from langgraph.store.base import (
    GetOp,
    InvalidNamespaceError,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchOp,
)
from langgraph.store.memory import InMemoryStore
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.errors import InvalidInputError
from tta_memory.sync import run_sync

from tta_memory_langchain import TTAStore

DIMS = 64


class BagOfWords(Embeddings):
    """Deterministic embeddings: words hashed into buckets, so cosine similarity follows
    word overlap. Both stores embed with it, so their vector rankings must agree."""

    def _one(self, text: str) -> list[float]:
        vec = [0.0] * DIMS
        for word in text.lower().replace('"', " ").replace(":", " ").split():
            vec[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIMS] += 1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._one(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._one(text)


INDEX: Any = {"dims": DIMS, "embed": BagOfWords(), "fields": ["text"]}


@pytest.fixture
def ours(memory: MemoryWorkflowPrimitive) -> TTAStore:
    return TTAStore(memory=memory, index=INDEX, search_mode="vector")


@pytest.fixture
def theirs() -> InMemoryStore:
    return InMemoryStore(index=INDEX)


def both(ours: TTAStore, theirs: InMemoryStore) -> tuple[TTAStore, InMemoryStore]:
    return ours, theirs


def view(item: Any) -> Any:
    return None if item is None else (item.namespace, item.key, item.value)


DOCS = [
    (("docs", "alice"), "d1", {"text": "python asyncio event loop", "n": 1, "tag": "code"}),
    (("docs", "alice"), "d2", {"text": "cooking pasta with garlic", "n": 2, "tag": "food"}),
    (("docs", "bob"), "d3", {"text": "python type hints and mypy", "n": 3, "tag": "code"}),
    (("docs", "bob", "drafts"), "d4", {"text": "garlic bread recipe", "n": 4, "tag": "food"}),
    (("notes",), "n1", {"text": "meeting at noon", "n": 5, "meta": {"k": "v"}}),
]


def load(*stores: Any) -> None:
    for store in stores:
        for ns, key, value in DOCS:
            store.put(ns, key, value)


def test_put_get_overwrite_delete_match_in_memory_store(
    ours: TTAStore, theirs: InMemoryStore
) -> None:
    load(ours, theirs)
    for ns, key, _ in [*DOCS, (("docs", "alice"), "absent", None), (("nope",), "d1", None)]:
        assert view(ours.get(ns, key)) == view(theirs.get(ns, key))
    first = ours.get(("docs", "alice"), "d1")
    assert first is not None
    for store in (ours, theirs):
        store.put(("docs", "alice"), "d1", {"text": "rewritten", "n": 9})
        store.delete(("docs", "bob"), "d3")
        store.delete(("docs", "bob"), "never-existed")
    assert view(ours.get(("docs", "alice"), "d1")) == view(theirs.get(("docs", "alice"), "d1"))
    assert ours.get(("docs", "bob"), "d3") is None and theirs.get(("docs", "bob"), "d3") is None
    again = ours.get(("docs", "alice"), "d1")
    assert again is not None and again.value == {"text": "rewritten", "n": 9}
    # An overwrite keeps the creation time (as LangGraph's Postgres store does).
    assert again.created_at == first.created_at and again.updated_at > first.updated_at


async def test_async_api_matches(ours: TTAStore, theirs: InMemoryStore) -> None:
    for store in (ours, theirs):
        for ns, key, value in DOCS:
            await store.aput(ns, key, value)
        await store.adelete(("docs", "alice"), "d2")
    for ns, key, _ in DOCS:
        assert view(await ours.aget(ns, key)) == view(await theirs.aget(ns, key))
    assert await ours.alist_namespaces() == await theirs.alist_namespaces()
    got = await ours.asearch(("docs",), filter={"tag": "food"})
    want = await theirs.asearch(("docs",), filter={"tag": "food"})
    assert sorted(map(view, got)) == sorted(map(view, want))


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"prefix": ("docs",)},
        {"prefix": ("docs", "bob")},
        {"prefix": ("docs", "*", "drafts")},
        {"suffix": ("alice",)},
        {"suffix": ("*",)},
        {"prefix": ("docs",), "suffix": ("bob",)},
        {"max_depth": 1},
        {"prefix": ("docs",), "max_depth": 2},
        {"limit": 2},
        {"limit": 2, "offset": 1},
        {"offset": 10},
        {"prefix": ("absent",)},
    ],
)
def test_list_namespaces_matches(
    ours: TTAStore, theirs: InMemoryStore, kwargs: dict[str, Any]
) -> None:
    load(ours, theirs)
    assert ours.list_namespaces(**kwargs) == theirs.list_namespaces(**kwargs)


def test_deleting_the_last_item_removes_its_namespace(
    ours: TTAStore, theirs: InMemoryStore
) -> None:
    load(ours, theirs)
    for store in (ours, theirs):
        store.delete(("notes",), "n1")
    assert ("notes",) not in ours.list_namespaces()
    # InMemoryStore keeps an emptied namespace listed; ours lists namespaces that hold items.
    assert ours.list_namespaces() == [n for n in theirs.list_namespaces() if n != ("notes",)]


@pytest.mark.parametrize(
    "prefix,filter",
    [
        (("docs",), None),
        ((), None),
        (("docs",), {"tag": "code"}),
        ((), {"n": {"$gte": 2, "$lt": 5}}),
        ((), {"n": {"$ne": 3}}),
        ((), {"meta": {"k": "v"}}),
        ((), {"tag": "code", "n": 3}),
        (("docs", "bob"), {"n": {"$gt": 100}}),
        ((), {"missing": {"$eq": None}}),
    ],
)
def test_search_without_query_filters_like_in_memory_store(
    ours: TTAStore, theirs: InMemoryStore, prefix: tuple[str, ...], filter: Any
) -> None:
    load(ours, theirs)
    got = ours.search(prefix, filter=filter, limit=50)
    want = theirs.search(prefix, filter=filter, limit=50)
    assert sorted(map(view, got)) == sorted(map(view, want))
    # Ours lists the most recently updated first.
    assert [i.updated_at for i in got] == sorted((i.updated_at for i in got), reverse=True)
    assert all(i.score is None for i in got)


def test_listing_pages_cover_every_match_once(ours: TTAStore) -> None:
    for i in range(23):
        ours.put(("bulk",), f"k{i:02d}", {"text": f"item {i}", "even": i % 2 == 0})
    pages = [ours.search(("bulk",), limit=5, offset=o) for o in range(0, 30, 5)]
    keys = [i.key for page in pages for i in page]
    assert sorted(keys) == [f"k{i:02d}" for i in range(23)]
    evens = [ours.search(("bulk",), filter={"even": True}, limit=4, offset=o) for o in (0, 4, 8)]
    even_keys = [i.key for page in evens for i in page]
    assert sorted(even_keys) == [f"k{i:02d}" for i in range(0, 23, 2)]


@pytest.mark.parametrize(
    "query,prefix,filter",
    [
        ("python code", ("docs",), None),
        ("garlic", (), None),
        ("python mypy hints", (), {"tag": "code"}),
        ("meeting noon", (), None),
        ("garlic pasta", ("docs", "alice"), None),
    ],
)
def test_vector_ranking_matches_in_memory_store(
    ours: TTAStore,
    theirs: InMemoryStore,
    query: str,
    prefix: tuple[str, ...],
    filter: Any,
) -> None:
    load(ours, theirs)
    got = ours.search(prefix, query=query, filter=filter, limit=3)
    want = theirs.search(prefix, query=query, filter=filter, limit=3)
    assert [view(i) for i in got] == [view(i) for i in want]
    for a, b in zip(got, want, strict=True):
        assert a.score == pytest.approx(b.score, abs=1e-4)


def test_per_item_index_override_and_unindexed_items(ours: TTAStore, theirs: InMemoryStore) -> None:
    for store in (ours, theirs):
        store.put(("kb",), "a", {"text": "alpha beta", "title": "zeta"}, index=["title"])
        store.put(("kb",), "b", {"text": "zeta zeta"})
        store.put(("kb",), "c", {"text": "zeta"}, index=False)
    got = ours.search(("kb",), query="zeta", limit=5)
    want = theirs.search(("kb",), query="zeta", limit=5)
    assert [view(i) for i in got] == [view(i) for i in want]
    # The unindexed item comes after the ranked ones, without a score.
    assert got[-1].key == "c" and got[-1].score is None
    assert all(i.score is not None for i in got[:-1])


def test_an_item_is_as_good_as_its_best_text(ours: TTAStore, theirs: InMemoryStore) -> None:
    for store in (ours, theirs):
        store.put(("kb",), "multi", {"parts": ["red apple", "blue sky"]}, index=["parts[*]"])
        store.put(("kb",), "single", {"parts": ["blue sea"]}, index=["parts[*]"])
    got = ours.search(("kb",), query="blue sky", limit=2)
    want = theirs.search(("kb",), query="blue sky", limit=2)
    assert [view(i) for i in got] == [view(i) for i in want]
    assert got[0].key == "multi"


def test_hybrid_search_ranks_an_exact_rare_term_first(memory: MemoryWorkflowPrimitive) -> None:
    store = TTAStore(memory=memory, index=INDEX)  # hybrid is the default
    store.put(("kb",), "x", {"text": "the deploy uses kubectl rollout restart"})
    store.put(("kb",), "y", {"text": "the deploy uses the deploy script for the deploy"})
    hits = store.search(("kb",), query="kubectl", limit=2)
    assert [h.key for h in hits] == ["x", "y"]
    assert hits[0].score is not None and hits[0].score > (hits[1].score or 0)


def test_batch_reads_see_the_state_before_its_writes(ours: TTAStore, theirs: InMemoryStore) -> None:
    ops = [
        PutOp(("b",), "k", {"text": "first"}),
        GetOp(("b",), "k"),
        PutOp(("b",), "k", {"text": "second"}),
        SearchOp(("b",)),
    ]
    got, want = ours.batch(ops), theirs.batch(ops)
    assert got[0] is None and got[1] is None and got[3] == []
    assert [r if r is None or r == [] else 0 for r in got] == [
        r if r is None or r == [] else 0 for r in want
    ]
    assert view(ours.get(("b",), "k")) == view(theirs.get(("b",), "k"))
    assert view(ours.get(("b",), "k"))[2] == {"text": "second"}


def test_ttl_expires_and_reads_refresh_it(memory: MemoryWorkflowPrimitive) -> None:
    store = TTAStore(memory=memory, index=INDEX, ttl={"refresh_on_read": True})
    ttl_min = 3 / 60  # three seconds
    store.put(("t",), "short", {"text": "short lived"}, ttl=ttl_min)
    store.put(("t",), "kept", {"text": "no ttl"})
    key = store.items.item_key(("t",), "short")

    async def pttl(k: str) -> int:
        return int(await (await memory.context.client()).pttl(k))

    first = run_sync(pttl(key))
    assert 0 < first <= 3000
    time.sleep(1.2)
    store.get(("t",), "short", refresh_ttl=False)
    assert run_sync(pttl(key)) < first - 1000  # a read without refresh leaves the clock
    store.get(("t",), "short")  # refresh_on_read
    assert run_sync(pttl(key)) > first - 500
    time.sleep(1.2)
    store.search(("t",), query="short lived")  # a search refreshes what it returns
    assert run_sync(pttl(key)) > first - 500
    assert run_sync(pttl(store.items.item_key(("t",), "kept"))) == -1
    time.sleep(3.3)
    assert store.get(("t",), "short") is None
    assert [i.key for i in store.search(("t",), query="short lived")] == ["kept"]
    assert store.list_namespaces() == [("t",)]


def test_default_ttl_from_ttl_config(memory: MemoryWorkflowPrimitive) -> None:
    store = TTAStore(memory=memory, index=INDEX, ttl={"default_ttl": 1 / 60})
    store.put(("t",), "a", {"text": "gone soon"})
    store.put(("t",), "b", {"text": "stays"}, ttl=None)
    time.sleep(1.5)
    assert store.get(("t",), "a") is None
    assert store.get(("t",), "b") is not None


def test_workspaces_never_see_each_other(redis_url: str, workspace: str) -> None:
    a = TTAStore(redis_url=redis_url, user_id="u", workspace=workspace, index=INDEX)
    b = TTAStore(redis_url=redis_url, user_id="u", workspace=workspace + "-b", index=INDEX)
    a.put(("memories", "u"), "k", {"text": "secret of a"})
    assert b.get(("memories", "u"), "k") is None
    assert b.search((), query="secret") == [] and b.search(()) == []
    assert b.list_namespaces() == []
    b.put(("memories", "u"), "k", {"text": "b's own"})
    assert a.get(("memories", "u"), "k").value == {"text": "secret of a"}  # type: ignore[union-attr]


def test_labels_with_separators_and_query_syntax_round_trip(ours: TTAStore) -> None:
    odd = ("a/b", "c%2Fd", "{x}|`y`", "é *")
    ours.put(odd, "k:1", {"text": "odd"})
    ours.put(("a", "b"), "k:1", {"text": "plain"})
    assert ours.get(odd, "k:1").value == {"text": "odd"}  # type: ignore[union-attr]
    assert ours.list_namespaces(prefix=("a/b",)) == [odd]
    assert sorted(ours.list_namespaces()) == sorted([odd, ("a", "b")])
    assert [i.value for i in ours.search(("a",))] == [{"text": "plain"}]


def test_bad_input_is_refused_and_stores_nothing(ours: TTAStore) -> None:
    with pytest.raises(InvalidNamespaceError):
        ours.put(("bad.label",), "k", {"text": "x"})
    with pytest.raises(InvalidNamespaceError):
        ours.put((), "k", {"text": "x"})
    with pytest.raises(InvalidInputError):
        ours.batch(
            [PutOp(("ok",), "k1", {"text": "fine"}), PutOp(("ok",), "k2", {"x": float("nan")})]
        )
    assert ours.get(("ok",), "k1") is None
    with pytest.raises(InvalidInputError):
        ours.search(("ok",), filter={"n": {"$regex": "x"}})
    with pytest.raises(ValueError):
        ours.put(("ok",), "k", {"bad": object()})
    for ttl in (0.001, -1.0, float("inf"), 10.0**12):  # minutes; 1 s .. 10 years is allowed
        with pytest.raises(InvalidInputError, match="ttl"):
            ours.put(("ok",), "k", {"text": "x"}, ttl=ttl)
    assert ours.list_namespaces() == []


def test_index_dims_must_match_the_model(memory: MemoryWorkflowPrimitive) -> None:
    with pytest.raises(InvalidInputError, match="dims"):
        TTAStore(memory=memory, index={"dims": 7, "embed": BagOfWords()})


def test_default_model_finds_memories_by_meaning(memory: MemoryWorkflowPrimitive) -> None:
    store = TTAStore(memory=memory)  # the engine's offline model over the whole value
    store.put(("memories", "alice"), "1", {"content": "Alice writes code in Neovim"})
    store.put(("memories", "alice"), "2", {"content": "Alice's cat is called Miso"})
    hits = store.search(("memories", "alice"), query="which text editor does she use?")
    assert hits[0].key == "1"
    assert store.memory_scope == (memory.workspace, "test-user")


async def test_concurrent_overwrites_leave_one_consistent_item(
    memory: MemoryWorkflowPrimitive,
) -> None:
    store = TTAStore(memory=memory, index={**INDEX, "fields": ["parts[*]"]})
    # Writers race on one key with different numbers of indexed texts.
    values = [{"parts": [f"w{i} part {j}" for j in range(i % 4 + 1)], "i": i} for i in range(16)]
    await asyncio.gather(*(store.aput(("race",), "k", v) for v in values))
    final = await store.aget(("race",), "k")
    assert final is not None and final.value in values
    # Only the surviving version's texts are indexed: every other writer's text finds nothing.
    for v in values:
        hits = await store.asearch(("race",), query=v["parts"][-1], limit=5)
        assert [h.value for h in hits] == [final.value]
        assert len(hits) == 1
    client = await memory.context.client()
    base = store.items.item_key(("race",), "k")
    texts = [k async for k in client.scan_iter(match=f"{base}:v*")]
    assert len(texts) == len(final.value["parts"])


def test_mixed_batch_answers_each_op_in_place(ours: TTAStore, theirs: InMemoryStore) -> None:
    load(ours, theirs)
    ops = [
        SearchOp(("docs", "bob"), filter={"tag": "code"}),
        GetOp(("notes",), "n1"),
        ListNamespacesOp(match_conditions=(MatchCondition("prefix", ("docs",)),), max_depth=2),
        PutOp(("notes",), "n2", {"text": "new"}),
        GetOp(("docs", "alice"), "absent"),
    ]
    got, want = ours.batch(ops), theirs.batch(ops)
    assert [view(i) for i in got[0]] == [view(i) for i in want[0]]
    assert view(got[1]) == view(want[1])
    assert got[2] == want[2] == [("docs", "alice"), ("docs", "bob")]
    assert got[3] is None and got[4] is None and want[4] is None


def test_text_mode_ranks_by_bm25_only(memory: MemoryWorkflowPrimitive) -> None:
    store = TTAStore(memory=memory, index=INDEX, search_mode="text")
    store.put(("kb",), "a", {"text": "redis cluster slots and hash tags"})
    store.put(("kb",), "b", {"text": "postgres vacuum"})
    hits = store.search(("kb",), query="hash slots")
    assert [h.key for h in hits] == ["a"]  # BM25 finds only the text with the words
    with pytest.raises(InvalidInputError, match="search_mode"):
        TTAStore(memory=memory, index=INDEX, search_mode="fuzzy")  # type: ignore[arg-type]
