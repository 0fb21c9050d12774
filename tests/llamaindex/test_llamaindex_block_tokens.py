"""StageMemoryBlock token budgets: max_tokens, the counter, and truncation measured in the
tokens LlamaIndex's Memory counts."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.utils import get_tokenizer
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.errors import InvalidInputError

from tta_memory_llamaindex import StageMemoryBlock


def tokens(text: str) -> int:
    return len(get_tokenizer()(text))


@pytest.fixture
async def knowledge(memory: MemoryWorkflowPrimitive) -> None:
    await memory.paf_primitive.add_paf("AUTH", "001", "Tokens are signed with RS256")
    await memory.create_deep_memories(
        [{"text": f"Token note {i}: refresh tokens rotate every {i + 1} hours"} for i in range(10)]
    )


ASK = [ChatMessage(role="user", content="how do refresh tokens rotate?")]


async def test_max_tokens_bounds_the_block_in_memorys_tokens(
    memory: MemoryWorkflowPrimitive, knowledge: None
) -> None:
    full = await StageMemoryBlock(memory=memory).aget(ASK, session_id="s1")
    bounded = await StageMemoryBlock(memory=memory, max_tokens=50).aget(ASK, session_id="s1")
    assert tokens(full) > 50 >= tokens(bounded)
    assert "AUTH-001" in bounded and "Token note" in bounded


async def test_truncation_removes_at_least_what_memory_asks(
    memory: MemoryWorkflowPrimitive, knowledge: None
) -> None:
    block = StageMemoryBlock(memory=memory)
    full = await block.aget(ASK, session_id="s1")
    cut = await block.atruncate(full, 40)
    assert cut is not None and "AUTH-001" in cut
    assert tokens(full) - tokens(cut) >= 40
    assert tokens(full) - tokens(cut) < 40 + 30  # one note line, not the whole block


async def test_a_custom_counter_is_used(memory: MemoryWorkflowPrimitive, knowledge: None) -> None:
    def words(text: str) -> int:
        return len(text.split())

    block = StageMemoryBlock(memory=memory, max_tokens=30, token_counter=words)
    text = await block.aget(ASK, session_id="s1")
    assert words(text) <= 30 and "AUTH-001" in text


def test_bad_budgets_are_typed(memory: MemoryWorkflowPrimitive) -> None:
    for kwargs in ({"max_tokens": 0}, {"max_chars": -3}, {"token_counter": "nope"}):
        with pytest.raises(InvalidInputError):
            StageMemoryBlock(memory=memory, **kwargs)
