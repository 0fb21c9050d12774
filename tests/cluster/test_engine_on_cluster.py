"""The engine, unchanged, on a local Redis Cluster (3 masters + 3 replicas): the layer API,
stage-aware loading and both adapters over 30+ workspaces spread across every master, and
isolation between workspaces that share a partition."""

from __future__ import annotations

import asyncio

import pytest
from redis.crc import key_slot
from tta_memory import MemoryWorkflowPrimitive, SessionGroupPrimitive, WorkflowContext, WorkflowMode
from tta_memory.errors import NotFoundError
from tta_memory.local_cluster import LocalCluster
from tta_memory.partitions import PartitionLayout

WORKSPACES = 32


def _primitive(url: str, workspace: str, user: str = "dev") -> MemoryWorkflowPrimitive:
    return MemoryWorkflowPrimitive(redis_url=url, user_id=user, workspace=workspace)


async def _fill(m: MemoryWorkflowPrimitive, url: str) -> None:
    me = m.workspace
    await m.add_session_messages(
        "s1",
        [
            {"role": "user", "content": f"how do we rotate tokens in {me}?"},
            {"role": "assistant", "content": f"{me} rotates refresh tokens daily"},
        ],
    )
    await m.add_cache_entry(f"note of {me}", tags=["t"])
    await m.create_deep_memories(
        [
            {"text": f"{me} signs access tokens with RS256", "tags": ["auth"]},
            {"text": f"{me} private: the staging password is in the vault", "private": True},
        ]
    )
    await m.paf_primitive.add_paf("AUTH", "001", f"{me} uses PyJWT")
    groups = SessionGroupPrimitive(url, user_id="dev", workspace=me)
    group_id = await groups.create_group(f"group of {me}", tags=["t"])
    await groups.add_session_to_group(group_id, "s1")


async def _check(m: MemoryWorkflowPrimitive, url: str) -> None:
    me = m.workspace
    assert [x.content for x in await m.get_session_context("s1")] == [
        f"how do we rotate tokens in {me}?",
        f"{me} rotates refresh tokens daily",
    ]
    assert sorted(e.content for e in await m.get_cache_memory()) == sorted(
        [f"how do we rotate tokens in {me}?", f"{me} rotates refresh tokens daily", f"note of {me}"]
    )
    hits = await m.search_deep_memory("access tokens RS256", limit=10)
    assert {h.text for h in hits} == {
        f"{me} signs access tokens with RS256",
        f"{me} private: the staging password is in the vault",
    }
    assert [p.description for p in await m.get_active_pafs()] == [f"{me} uses PyJWT"]
    groups = SessionGroupPrimitive(url, user_id="dev", workspace=me)
    assert [g.name for g in await groups.get_session_groups("s1")] == [f"group of {me}"]
    ctx = WorkflowContext(workflow_id="wf", session_id="s1")
    loaded = await m.load_workflow_context(ctx, "understand", WorkflowMode.AUGSTER_RIGOROUS)
    md = loaded.metadata
    assert len(md["session_context"]) == 2
    assert [p.description for p in md["pafs"]] == [f"{me} uses PyJWT"]
    assert [g.name for g in md["session_groups"]] == [f"group of {me}"]
    assert {d.text for d in md["deep_memory"]} <= {h.text for h in hits}
    assert md["deep_memory"], "the deep layer loaded nothing"
    # Another user of the workspace sees the shared memory, not the private one.
    other = _primitive(url, me, user="someone-else")
    assert {h.text for h in await other.search_deep_memory("", limit=10)} == {
        f"{me} signs access tokens with RS256"
    }


def test_layers_and_loading_over_workspaces_on_every_master(
    local_cluster: LocalCluster, cluster_url: str
) -> None:
    names = [f"team-{i}" for i in range(WORKSPACES)]

    async def run() -> None:
        prims = [_primitive(cluster_url, n) for n in names]
        # Concurrently, as many agents would: the calls wait on the network, not the CPU.
        await asyncio.gather(*(_fill(m, cluster_url) for m in prims))
        await asyncio.gather(*(_check(m, cluster_url) for m in prims))
        await prims[0].aclose()

    asyncio.run(run())
    # The workspaces' partitions sit on every master of the cluster.
    layout = PartitionLayout()
    slots = {key_slot(layout.partition_for(n).hashtag.encode()) for n in names}
    owners = {local_cluster.node_for_slot(s).address for s in slots}
    assert owners == set(local_cluster.primaries())


def test_workspaces_sharing_a_partition_stay_apart(cluster_url: str) -> None:
    """Look-alike names in one shared partition, the same texts in each: each sees exactly its
    own rows, and storing a text another workspace holds stores it here (dedup never
    crosses)."""
    layout = PartitionLayout()
    target = layout.partition_for("acme")
    # Every workspace of the test lives in acme's partition (the worst case for isolation):
    # names around "acme" with RediSearch syntax, found by trying suffixes.
    bases = ["ACME", "acme*", "acme|x", "{acme}", "ac:me", "acme\\", "acme x", "acme-x"]
    mates = ["acme"]
    for base in bases:
        name = next(
            n
            for n in (base if i == 0 else f"{base}{i}" for i in range(2000))
            if layout.partition_for(n) == target
        )
        mates.append(name)

    async def run() -> None:
        text = "launch date is May 3"
        stored = {}
        for name in mates:
            m = _primitive(cluster_url, name, user="alice")
            await m.add_session_message("s1", "user", f"{text} ({name})")
            memory = await m.create_deep_memory(text, tags=["launch"])
            assert memory.text == text and memory.author == "alice"
            stored[name] = memory.id
            await m.create_deep_memory(f"{name} secret", private=True)
        assert len(set(stored.values())) == len(mates)  # one memory per workspace
        for name in mates:
            m = _primitive(cluster_url, name, user="alice")
            assert [x.content for x in await m.get_session_context("s1")] == [f"{text} ({name})"]
            assert [e.content for e in await m.get_cache_memory()] == [f"{text} ({name})"]
            hits = await m.search_deep_memory(text, limit=50)
            assert {(h.id, h.text) for h in hits} == {
                (stored[name], text),
                (hits[0].id if hits[0].text != text else hits[1].id, f"{name} secret"),
            }
            for other in [o for o in mates if o != name][:3]:
                with pytest.raises(NotFoundError):
                    await m.get_deep_memory(stored[other])
            mallory = _primitive(cluster_url, name, user="alice2")
            assert {h.text for h in await mallory.search_deep_memory("")} == {text}

    asyncio.run(run())


def test_adapters_on_the_cluster(cluster_url: str) -> None:
    from langchain_core.messages import AIMessage, HumanMessage

    from tta_memory_langchain import TTAChatMessageHistory, TTAMemoryRetriever
    from tta_memory_llamaindex import TTAChatStore
    from tta_memory_llamaindex import TTAMemoryRetriever as LlamaRetriever

    memory = _primitive(cluster_url, "adapters-ws")
    memory.sync.create_deep_memories(
        [
            {"text": "Access tokens are signed with RS256", "tags": ["auth"]},
            {"text": "The payments service retries webhooks three times", "tags": ["payments"]},
        ]
    )
    history = TTAChatMessageHistory("chat-1", memory=memory)
    history.add_messages([HumanMessage("hi"), AIMessage("hello")])
    assert [m.content for m in history.messages] == ["hi", "hello"]
    docs = TTAMemoryRetriever(memory=memory, k=1).invoke("how are tokens signed?")
    assert [d.page_content for d in docs] == ["Access tokens are signed with RS256"]

    async def llama() -> None:
        from llama_index.core.base.llms.types import ChatMessage

        store = TTAChatStore(memory=memory)
        await store.add_message("chat-2", ChatMessage(role="user", content="ping"))
        assert [m.content for m in await store.get_messages("chat-2")] == ["ping"]
        nodes = await LlamaRetriever(memory, similarity_top_k=1).aretrieve("webhook retries")
        assert [n.node.get_content() for n in nodes] == [
            "The payments service retries webhooks three times"
        ]
        await memory.aclose()

    asyncio.run(llama())
