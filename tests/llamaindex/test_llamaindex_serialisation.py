"""LlamaIndex components dump their scope (server, workspace, user, prefix) and reload to the
same memory, without a password in the dump."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.memory import Memory
from tta_memory import EmbeddedRedis, MemoryWorkflowPrimitive

from tta_memory_llamaindex import TTAChatStore
from tta_memory_llamaindex._scope import redact, restore

PASSWORD = "s3cr3t-p@ss:word"


@pytest.fixture(scope="module")
def locked_url() -> Iterator[str]:
    """A second throwaway server that requires a password; its URL carries none."""
    with tempfile.TemporaryDirectory(prefix="tta-pw-") as tmp:
        server = EmbeddedRedis(data_dir=Path(tmp) / "data", socket_dir=Path(tmp) / "run")
        server.start()
        admin = redis.Redis.from_url(server.url)
        admin.config_set("requirepass", PASSWORD)
        try:
            yield server.url
        finally:
            admin = redis.Redis.from_url(server.url, password=PASSWORD)
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
    # (checked with a plain client: the engine's pool currently retries an auth failure
    # without end, reported to the engine's owners)
    bare = TTAChatStore.model_validate_json(dumped).memory.redis_url
    assert bare == locked_url
    with pytest.raises(redis.ConnectionError, match="auth"):
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
