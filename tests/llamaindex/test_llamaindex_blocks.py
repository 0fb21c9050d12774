"""Memory blocks: PAFs (never truncated), stage-aware context, deep memory (flush + recall)."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.memory import Memory
from llama_index.core.memory.memory import BaseMemoryBlock
from llama_index.core.storage.chat_store.base_db import MessageStatus
from llama_index.core.utils import get_tokenizer
from tta_memory import MemoryWorkflowPrimitive, WorkflowMode
from tta_memory.errors import InvalidInputError

from tta_memory_llamaindex import (
    DeepMemoryBlock,
    PAFMemoryBlock,
    StageMemoryBlock,
    TTAChatStore,
)

CONVERSATION = [
    ("user", "We need login for the admin console. Which token library should we use?"),
    ("assistant", "PyJWT: it is small and well maintained; python-jose adds little for us."),
    ("user", "How long should access tokens live?"),
    ("assistant", "Fifteen minutes for access tokens, seven days for refresh tokens."),
    ("user", "Where do refresh tokens go on the client?"),
    ("assistant", "In an httpOnly, Secure, SameSite=strict cookie, never in localStorage."),
    ("user", "What about the database for sessions?"),
    ("assistant", "PostgreSQL 16 with a sessions table keyed by the refresh token hash."),
    ("user", "And rate limiting of the login endpoint?"),
    ("assistant", "Five attempts per minute per IP, enforced in the API gateway."),
    ("user", "Thanks. Let's implement the token endpoint next."),
    ("assistant", "Sure: POST /auth/token returns an access token and sets the cookie."),
]


def system_text(messages: list[ChatMessage]) -> str:
    assert messages and messages[0].role == "system", messages
    return messages[0].content or ""


def as_messages(pairs: list[tuple[str, str]]) -> list[ChatMessage]:
    return [ChatMessage(role=r, content=t) for r, t in pairs]


@pytest.fixture
async def pafs(memory: MemoryWorkflowPrimitive) -> None:
    await memory.paf_primitive.add_paf(
        "AUTH", "001", "Use PyJWT for token generation", rationale="lightweight"
    )
    await memory.paf_primitive.add_paf("DB", "001", "PostgreSQL is the only database")
    old = await memory.paf_primitive.add_paf("AUTH", "002", "Sessions live in memcached")
    await memory.paf_primitive.deprecate_paf(old.id, "moved to PostgreSQL")


def test_class() -> None:
    for cls in (PAFMemoryBlock, StageMemoryBlock, DeepMemoryBlock):
        assert issubclass(cls, BaseMemoryBlock), cls
        for name in ("_aget", "_aput"):
            assert getattr(cls, name) is not getattr(BaseMemoryBlock, name)


# --- PAF block ---------------------------------------------------------------------------


async def test_paf_block_renders_active_pafs(memory: MemoryWorkflowPrimitive, pafs: None) -> None:
    block = PAFMemoryBlock(memory=memory)
    assert block.priority == 0 and block.accept_short_term_memory is False
    text = await block.aget()
    assert "AUTH-001" in text and "Use PyJWT" in text and "DB-001" in text
    assert "memcached" not in text  # deprecated
    assert await block.atruncate(text, 10_000) == text
    only_db = await PAFMemoryBlock(memory=memory, categories=["DB"]).aget()
    assert "DB-001" in only_db and "AUTH-001" not in only_db
    with pytest.raises(InvalidInputError):
        PAFMemoryBlock(memory=memory, priority=3)


async def test_paf_block_is_never_truncated_by_memory(
    memory: MemoryWorkflowPrimitive, pafs: None
) -> None:
    deep = DeepMemoryBlock(memory=memory)
    await memory.create_deep_memory("JWT secrets rotate monthly " * 40, tags=["auth"])
    mem = Memory.from_defaults(
        session_id="s-paf",
        chat_store=TTAChatStore(memory=memory),
        memory_blocks=[PAFMemoryBlock(memory=memory), deep],
        token_limit=120,
    )
    await mem.aput(ChatMessage(role="user", content="how do JWT secrets rotate?"))
    text = system_text(await mem.aget())
    assert "AUTH-001" in text and "DB-001" in text
    assert "rotate monthly " * 40 not in text  # the deep block gave way


async def test_paf_block_empty_workspace(memory: MemoryWorkflowPrimitive) -> None:
    assert await PAFMemoryBlock(memory=memory).aget() == ""


# --- stage block -------------------------------------------------------------------------


@pytest.fixture
async def knowledge(memory: MemoryWorkflowPrimitive, pafs: None) -> None:
    await memory.create_deep_memories(
        [
            {
                "text": f"Token note {i}: refresh tokens rotate on every use ({i})",
                "tags": ["auth"],
                "memory_type": "decision",
            }
            for i in range(8)
        ]
        + [{"text": "The CI runs on two cores; keep tests under a minute", "tags": ["ci"]}]
    )
    await memory.add_session_messages(
        "stage-s1",
        [
            {"role": "user", "content": "Implement refresh token rotation"},
            {"role": "assistant", "content": "Starting with the token endpoint."},
        ],
    )


async def test_stage_block_loads_and_renders(
    memory: MemoryWorkflowPrimitive, knowledge: None
) -> None:
    block = StageMemoryBlock(memory=memory, stage="implement", mode=WorkflowMode.STANDARD)
    messages = [ChatMessage(role="user", content="Implement refresh token rotation")]
    text = await block.aget(messages, session_id="stage-s1")
    assert "AUTH-001" in text
    assert "refresh tokens rotate" in text
    assert "memcached" not in text
    # Per-call overrides through Memory.aget(**block_kwargs): RAPID loads no deep memories.
    rapid = await block.aget(messages, session_id="stage-s1", mode="rapid")
    assert "refresh tokens rotate on every use" not in rapid


async def test_stage_block_truncation_drops_least_relevant_first(
    memory: MemoryWorkflowPrimitive, knowledge: None
) -> None:
    block = StageMemoryBlock(memory=memory, stage="understand", mode="augster_rigorous")
    messages = [ChatMessage(role="user", content="refresh token rotation")]
    full = await block.aget(messages, session_id="stage-s1")
    shorter = await block.atruncate(full, 60)
    assert shorter is not None and 0 < len(shorter) < len(full)
    assert "AUTH-001" in shorter  # PAFs are never dropped
    # Most of the block survives a small cut: it is not dropped whole.
    assert len(shorter) > len(full) // 3
    assert await block.atruncate("text this block never rendered", 5) is None
    assert await block.atruncate(full, 0) == full


async def test_stage_block_in_memory_gives_way_before_pafs(
    memory: MemoryWorkflowPrimitive, knowledge: None
) -> None:
    mem = Memory.from_defaults(
        session_id="stage-s1",
        chat_store=TTAChatStore(memory=memory),
        memory_blocks=[
            PAFMemoryBlock(memory=memory),
            StageMemoryBlock(memory=memory, stage="understand", include_pafs=False),
        ],
        token_limit=400,
    )
    text = system_text(await mem.aget(input="refresh token rotation"))
    assert "AUTH-001" in text
    assert text.count("AUTH-001") == 1  # include_pafs=False: no duplicate


async def test_stage_block_bad_stage_is_typed(memory: MemoryWorkflowPrimitive) -> None:
    with pytest.raises(InvalidInputError):
        StageMemoryBlock(memory=memory, stage="deploy")
    with pytest.raises(InvalidInputError):
        StageMemoryBlock(memory=memory, mode="turbo")
    assert StageMemoryBlock(memory=memory, stage="validate").stage == "verify"
    ok = StageMemoryBlock(memory=memory)
    with pytest.raises(InvalidInputError):
        await ok.aget([], session_id="s", mode="turbo")


# --- deep block + Memory flush cycle -----------------------------------------------------


async def test_flush_cycle_writes_deep_memory_and_recalls_it(
    memory: MemoryWorkflowPrimitive, redis_url: str, workspace: str
) -> None:
    store = TTAChatStore(memory=memory)
    blocks = [PAFMemoryBlock(memory=memory), DeepMemoryBlock(memory=memory, tags=["chat"])]
    mem = Memory.from_defaults(
        session_id="day-1",
        chat_store=store,
        memory_blocks=blocks,
        token_limit=150,
        token_flush_size=40,
    )
    for m in as_messages(CONVERSATION):
        await mem.aput(m)

    archived = await store.count_messages("day-1", status=MessageStatus.ARCHIVED)
    active = await store.count_messages("day-1")
    assert archived > 0 and archived + active == len(CONVERSATION)
    stored = await memory.search_deep_memory("", limit=50, tags=["chat"])
    assert stored, "flushed messages were written to deep memory"
    assert all(m.session_id == "day-1" for m in stored)
    assert all(m.memory_type == "conversation" for m in stored)
    assert any("PyJWT" in m.text for m in stored)
    # Archived messages stay readable in order and were not duplicated.
    everything = await store.get_messages("day-1", status=None)
    assert [m.content for m in everything] == [t for _, t in CONVERSATION]

    # A new Memory object in a new session (new engine client, as in a new process).
    engine2 = MemoryWorkflowPrimitive(redis_url, user_id="test-user", workspace=workspace)
    mem2 = Memory.from_defaults(
        session_id="day-2",
        chat_store=TTAChatStore(memory=engine2),
        memory_blocks=[PAFMemoryBlock(memory=engine2), DeepMemoryBlock(memory=engine2)],
        token_limit=2000,
    )
    out = await mem2.aget(input="Which token library did we pick?")
    text = system_text(out)
    assert "PyJWT" in text
    # The first session is intact for the new object too.
    mem1_again = Memory.from_defaults(session_id="day-1", chat_store=TTAChatStore(memory=engine2))
    assert [m.content for m in await mem1_again.aget()] == [t for _, t in CONVERSATION[-active:]]


async def test_deep_block_session_only(memory: MemoryWorkflowPrimitive) -> None:
    block = DeepMemoryBlock(memory=memory, session_only=True)
    await block.aput(as_messages(CONVERSATION[:2]), session_id="only-a")
    other = DeepMemoryBlock(memory=memory)
    await other.aput(as_messages(CONVERSATION[2:4]), session_id="only-b")
    query = [ChatMessage(role="user", content="token library and token lifetime")]
    mine = await block.aget(query, session_id="only-a")
    assert "PyJWT" in mine and "Fifteen minutes" not in mine
    both = await other.aget(query, session_id="only-a")
    assert "PyJWT" in both and "Fifteen minutes" in both


async def test_deep_block_aput_ignores_textless_and_respects_flag(
    memory: MemoryWorkflowPrimitive,
) -> None:
    block = DeepMemoryBlock(memory=memory, accept_short_term_memory=False)
    await block.aput(as_messages(CONVERSATION[:2]), from_short_term_memory=True, session_id="x")
    assert await memory.search_deep_memory("", limit=5) == []
    await DeepMemoryBlock(memory=memory).aput([ChatMessage(role="assistant", blocks=[])])
    assert await memory.search_deep_memory("", limit=5) == []
    assert await DeepMemoryBlock(memory=memory).aget([]) == ""


async def test_deep_block_truncation_drops_the_least_relevant(
    memory: MemoryWorkflowPrimitive,
) -> None:
    block = DeepMemoryBlock(memory=memory, similarity_top_k=6)
    await block.aput(as_messages(CONVERSATION), session_id="t1")
    query = [ChatMessage(role="user", content="token library PyJWT")]
    full = await block.aget(query, session_id="t1")
    lines = full.split("\n")
    assert len(lines) >= 3 and "PyJWT" in lines[0]
    cut = await block.atruncate(full, 5)
    assert cut is not None and cut.split("\n") == lines[: len(cut.split("\n"))]
    assert len(cut) < len(full)
    assert await block.atruncate(full, 100_000) is None


async def test_deep_block_bad_input_writes_nothing(memory: MemoryWorkflowPrimitive) -> None:
    block = DeepMemoryBlock(memory=memory, tags=["ok", " bad "])
    with pytest.raises(InvalidInputError):
        await block.aput(as_messages(CONVERSATION[:4]), session_id="b1")
    assert await memory.search_deep_memory("", limit=5) == []


async def test_memory_shrinks_the_stage_block_first_and_never_pafs(
    memory: MemoryWorkflowPrimitive, knowledge: None
) -> None:
    def blocks() -> list[BaseMemoryBlock]:
        return [
            PAFMemoryBlock(memory=memory),
            StageMemoryBlock(memory=memory, stage="understand", include_pafs=False),
            DeepMemoryBlock(memory=memory, similarity_top_k=2),
        ]

    question = "refresh token rotation"
    probe = [ChatMessage(role="user", content=question)]
    paf, stage, deep = [await b.aget(probe, session_id="trunc-s") for b in blocks()]
    assert paf and stage and deep
    tokenize = get_tokenizer()
    total = sum(len(tokenize(text)) for text in (paf, stage, deep))
    mem = Memory.from_defaults(
        session_id="trunc-s",
        chat_store=TTAChatStore(memory=memory),
        memory_blocks=blocks(),
        token_limit=total - 25,
    )
    text = system_text(await mem.aget(input=question))
    assert paf in text and deep in text  # PAFs never shrink; the deep block outlasts the stage
    start = text.index("<StageContext>") + len("<StageContext>")
    kept = text[start : text.index("</StageContext>")].strip()
    assert kept and len(kept) < len(stage), "the stage block shrank instead of vanishing"


def test_chat_history_at_construction(redis_url: str, workspace: str) -> None:
    # Memory.from_defaults(chat_history=...) writes through the store from synchronous code.
    engine = MemoryWorkflowPrimitive(redis_url, user_id="test-user", workspace=workspace)
    mem = Memory.from_defaults(
        session_id="seeded",
        chat_store=TTAChatStore(memory=engine),
        chat_history=as_messages(CONVERSATION[:2]),
    )
    assert [m.content for m in mem.get_all()] == [t for _, t in CONVERSATION[:2]]
