"""LlamaIndex components dump their scope (server, workspace, user, prefix) and reload to the
same memory, without a password in the dump."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.memory import Memory
from tta_memory import EmbeddedRedis, InvalidInputError, MemoryWorkflowPrimitive

from tta_memory_llamaindex import (
    DeepMemoryBlock,
    PAFMemoryBlock,
    StageMemoryBlock,
    TTAChatStore,
    TTAMemoryRetriever,
)
from tta_memory_llamaindex._block import EngineMemoryBlock
from tta_memory_llamaindex._scope import redact, restore

PASSWORD = "s3cr3t-p@ss:word"


@pytest.fixture(scope="module")
def locked_url() -> Iterator[str]:
    """A second throwaway server that requires a password; its URL carries none."""
    with tempfile.TemporaryDirectory(prefix="tta-pw-") as tmp:
        server = EmbeddedRedis(data_dir=Path(tmp) / "data", socket_dir=Path(tmp) / "run")
        server.start()
        bare = server.url.split("?", 1)[0]  # the embedded server's own password is in the query
        admin = redis.Redis.from_url(server.url)
        admin.config_set("requirepass", PASSWORD)
        try:
            yield bare
        finally:
            admin = redis.Redis.from_url(bare, password=PASSWORD)
            admin.config_set("requirepass", "")
            server.stop()


def with_password(url: str) -> str:
    return url.replace("unix://", f"unix://:{PASSWORD.replace('@', '%40').replace(':', '%3A')}@")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in ("TTA_MEMORY_REDIS_URL", "REDIS_URL", "TTA_MEMORY_REDIS_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


async def test_chat_store_dump_names_its_scope_and_reloads(
    memory: MemoryWorkflowPrimitive, redis_url: str, workspace: str
) -> None:
    store = TTAChatStore(memory=memory)
    await store.add_messages("s1", [ChatMessage(role="user", content="hello")])
    dump = store.model_dump()
    assert dump == {
        "redis_url": redis_url,
        "workspace": workspace,
        "user_id": "test-user",
        "prefix": memory.settings.prefix,
    }
    again = TTAChatStore.model_validate_json(store.model_dump_json())
    assert [m.content for m in await again.get_messages("s1")] == ["hello"]
    assert again.memory.workspace == workspace and again.memory.user_id == "test-user"
    assert [m.content for m in await TTAChatStore(**dump).get_messages("s1")] == ["hello"]


async def test_a_default_scope_is_dumped_in_full(
    redis_url: str, workspace: str, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("TTA_MEMORY_WORKSPACE", workspace)
    store = TTAChatStore(redis_url=redis_url)
    await store.add_message("s", ChatMessage(role="user", content="x"))
    dump = store.model_dump()
    # the workspace came from the environment; the dump names it, so a changed variable
    # cannot point the reloaded store elsewhere
    clean_env.setenv("TTA_MEMORY_WORKSPACE", workspace + "-changed")
    assert dump["workspace"] == workspace and dump["user_id"] == "default"
    assert [m.content for m in await TTAChatStore.model_validate(dump).get_messages("s")] == ["x"]


async def test_memory_configuration_reloads_the_conversation(
    memory: MemoryWorkflowPrimitive,
) -> None:
    mem = Memory.from_defaults(session_id="chat-7", chat_store=TTAChatStore(memory=memory))
    await mem.aput_messages(
        [ChatMessage(role="user", content="q1"), ChatMessage(role="assistant", content="a1")]
    )
    # Memory's own dump leaves its chat store out (exclude=True): a saved configuration
    # keeps the store's dump next to it
    saved = json.loads(
        json.dumps({"session_id": mem.session_id, "chat_store": mem.sql_store.model_dump()})
    )
    reloaded = Memory.from_defaults(
        session_id=saved["session_id"], chat_store=TTAChatStore.model_validate(saved["chat_store"])
    )
    assert [m.content for m in await reloaded.aget_all()] == ["q1", "a1"]


async def test_password_is_never_dumped_and_comes_back_from_the_environment(
    locked_url: str, workspace: str, clean_env: pytest.MonkeyPatch
) -> None:
    store = TTAChatStore(redis_url=with_password(locked_url), workspace=workspace)
    await store.add_message("s", ChatMessage(role="user", content="behind a password"))
    dumped = store.model_dump_json()
    assert PASSWORD not in dumped and "s3cr3t" not in dumped
    assert json.loads(dumped)["redis_url"] == locked_url
    assert "s3cr3t" not in repr(store)

    # no password in the environment: the reloaded store has none, and the server refuses it
    # (checked with a plain client; the engine says the same as a BackendUnavailableError)
    bare = TTAChatStore.model_validate_json(dumped).memory.redis_url
    assert bare == locked_url
    with pytest.raises(redis.ConnectionError, match=r"(?i)auth"):
        redis.Redis.from_url(bare).ping()
    # from TTA_MEMORY_REDIS_PASSWORD
    clean_env.setenv("TTA_MEMORY_REDIS_PASSWORD", PASSWORD)
    via_password = TTAChatStore.model_validate_json(dumped)
    assert [m.content for m in await via_password.get_messages("s")] == ["behind a password"]
    # from the configured URL of the same server
    clean_env.delenv("TTA_MEMORY_REDIS_PASSWORD")
    clean_env.setenv("TTA_MEMORY_REDIS_URL", with_password(locked_url))
    via_url = TTAChatStore.model_validate_json(dumped)
    assert [m.content for m in await via_url.get_messages("s")] == ["behind a password"]
    # re-dumping a reloaded store still carries no password
    assert "s3cr3t" not in via_url.model_dump_json()


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("redis://:pw@h:6379/0", "redis://h:6379/0"),
        ("rediss://alice:p%40ss@h:6380/2", "rediss://alice@h:6380/2"),
        ("unix://:pw@/run/r.sock?db=1", "unix:///run/r.sock?db=1"),
        ("redis://h:6379/0", "redis://h:6379/0"),
        (None, None),
    ],
)
def test_redact(url: str | None, public: str | None) -> None:
    assert redact(url) == public


def test_restore_only_takes_credentials_of_the_same_server(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("TTA_MEMORY_REDIS_URL", "redis://alice:envpw@h:6379/5")
    assert restore("redis://h:6379/0") == "redis://alice:envpw@h:6379/0"
    assert restore("redis://other:6379/0") == "redis://other:6379/0"
    assert restore("redis://:given@h:6379/0") == "redis://:given@h:6379/0"
    clean_env.setenv("TTA_MEMORY_REDIS_PASSWORD", "p@ss")
    assert restore("redis://bob@other:6379/0") == "redis://bob:p%40ss@other:6379/0"
    assert restore(None) is None


# --- memory blocks and the retriever ------------------------------------------------------

SCOPE = {"redis_url", "workspace", "user_id", "prefix"}


def block_examples(memory: MemoryWorkflowPrimitive) -> list[EngineMemoryBlock]:
    return [
        PAFMemoryBlock(memory=memory, categories=["AUTH"], name="Rules"),
        DeepMemoryBlock(memory=memory, similarity_top_k=3, tags=["chat"], session_only=True),
        StageMemoryBlock(
            memory=memory, stage="plan", mode="rapid", max_chars=500, policy={"deep_k": 2}
        ),
    ]


async def test_blocks_dump_their_scope_and_fields_and_reload(
    memory: MemoryWorkflowPrimitive, redis_url: str, workspace: str
) -> None:
    await memory.paf_primitive.add_paf("AUTH", "001", "Tokens expire after 15 minutes")
    for block in block_examples(memory):
        dump = block.model_dump()
        assert "memory" not in dump
        assert {k: dump[k] for k in SCOPE} == {
            "redis_url": redis_url,
            "workspace": workspace,
            "user_id": "test-user",
            "prefix": memory.settings.prefix,
        }
        again = type(block).model_validate(json.loads(block.model_dump_json()))
        assert again.model_dump() == dump
        assert (again.memory.workspace, again.memory.user_id) == (workspace, "test-user")
        assert again.memory.redis_url == redis_url
    rules = PAFMemoryBlock.model_validate(block_examples(memory)[0].model_dump())
    assert "AUTH-001" in await rules.aget()


async def test_a_block_built_from_a_scope_reloads_to_it(
    redis_url: str, workspace: str, memory: MemoryWorkflowPrimitive
) -> None:
    await memory.paf_primitive.add_paf("DB", "001", "PostgreSQL only")
    block = PAFMemoryBlock(redis_url=redis_url, workspace=workspace, user_id="reader")
    again = PAFMemoryBlock.model_validate_json(block.model_dump_json())
    assert again.memory.user_id == "reader" and "DB-001" in await again.aget()
    with pytest.raises(InvalidInputError):
        PAFMemoryBlock(memory=memory, workspace=workspace)


async def test_block_password_is_never_dumped(
    locked_url: str, workspace: str, clean_env: pytest.MonkeyPatch
) -> None:
    block = PAFMemoryBlock(redis_url=with_password(locked_url), workspace=workspace)
    await block.memory.paf_primitive.add_paf("SEC", "001", "Secrets live in the vault")
    dumped = block.model_dump_json()
    assert "s3cr3t" not in dumped and json.loads(dumped)["redis_url"] == locked_url
    clean_env.setenv("TTA_MEMORY_REDIS_PASSWORD", PASSWORD)
    assert "SEC-001" in await PAFMemoryBlock.model_validate_json(dumped).aget()


async def test_retriever_config_round_trips(
    memory: MemoryWorkflowPrimitive, redis_url: str, workspace: str
) -> None:
    keep = await memory.create_deep_memory("Sessions expire after 30 minutes", tags=["auth"])
    await memory.create_deep_memory("Sessions of the build farm are pinned", tags=["ci"])
    retriever = TTAMemoryRetriever(
        memory=memory, similarity_top_k=2, tags=["auth"], since=datetime(2020, 1, 1, tzinfo=UTC)
    )
    config = json.loads(json.dumps(retriever.to_dict()))
    assert {k: config[k] for k in SCOPE} == {
        "redis_url": redis_url,
        "workspace": workspace,
        "user_id": "test-user",
        "prefix": memory.settings.prefix,
    }
    assert config["tags"] == ["auth"] and config["similarity_top_k"] == 2
    again = TTAMemoryRetriever.from_dict(config)
    assert again.to_dict() == config
    found = await again.aretrieve("session expiry")
    assert [n.node.node_id for n in found] == [keep.id]


async def test_retriever_password_is_never_in_its_config(
    locked_url: str, workspace: str, clean_env: pytest.MonkeyPatch
) -> None:
    retriever = TTAMemoryRetriever(redis_url=with_password(locked_url), workspace=workspace)
    await retriever.memory.create_deep_memory("The vault rotates secrets daily")
    config = json.dumps(retriever.to_dict())
    assert "s3cr3t" not in config
    clean_env.setenv("TTA_MEMORY_REDIS_URL", with_password(locked_url))
    found = await TTAMemoryRetriever.from_dict(json.loads(config)).aretrieve("vault")
    assert [n.node.text for n in found] == ["The vault rotates secrets daily"]
