"""TTAMemoryMiddleware (LCEL) token budgets: max_tokens with the default or a given counter."""

from __future__ import annotations

import pytest
from tta_memory import MemoryWorkflowPrimitive
from tta_memory.errors import InvalidInputError
from tta_memory.tokens import estimate_tokens

from tta_memory_langchain import TTAMemoryMiddleware


@pytest.fixture
def project(memory: MemoryWorkflowPrimitive) -> MemoryWorkflowPrimitive:
    memory.sync.paf_primitive.add_paf("AUTH", "001", "Use PyJWT for token signing")
    for i in range(10):
        memory.sync.create_deep_memory(f"Token note {i}: refresh tokens rotate every {i + 1} h")
    return memory


def context(middleware: TTAMemoryMiddleware) -> str:
    out = middleware.invoke("how do tokens rotate?", {"configurable": {"session_id": "s-t"}})
    return str(out["memory_context"])


def test_max_tokens_bounds_the_injected_block(project: MemoryWorkflowPrimitive) -> None:
    full = context(TTAMemoryMiddleware(memory=project))
    bounded = context(TTAMemoryMiddleware(memory=project, max_tokens=70))
    assert estimate_tokens(full) > 70 >= estimate_tokens(bounded)
    assert "AUTH-001" in bounded and "Token note" in bounded


def test_a_given_counter_counts(project: MemoryWorkflowPrimitive) -> None:
    def words(text: str) -> int:
        return len(text.split())

    text = context(TTAMemoryMiddleware(memory=project, max_tokens=25, token_counter=words))
    assert words(text) <= 25 and "AUTH-001" in text


def test_bad_budgets_fail_at_construction(project: MemoryWorkflowPrimitive) -> None:
    for kwargs in ({"max_tokens": 0}, {"max_chars": 0}, {"token_counter": 3}):
        with pytest.raises(InvalidInputError):
            TTAMemoryMiddleware(memory=project, **kwargs)
