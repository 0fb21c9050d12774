"""Role mapping of the adapters without Redis: every framework role lands on an engine role."""

from __future__ import annotations

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from llama_index.core.base.llms.types import ChatMessage as LIChatMessage
from llama_index.core.base.llms.types import MessageRole
from tta_memory.literals import ROLE_ALIASES, ROLES, to_role

from tta_memory_langchain._convert import role_for
from tta_memory_llamaindex._messages import to_engine_message


@pytest.mark.parametrize(
    ("message", "role"),
    [
        (HumanMessage("x"), "user"),
        (AIMessage("x"), "assistant"),
        (AIMessageChunk(content="x"), "assistant"),
        (SystemMessage("x"), "system"),
        (ToolMessage("x", tool_call_id="1"), "tool"),
        (ChatMessage(content="x", role="developer"), "system"),
        (ChatMessage(content="x", role="critic"), "user"),
    ],
)
def test_langchain_roles(message, role):
    assert role_for(message) == role


def test_engine_role_names_and_aliases():
    assert [to_role(r) for r in ROLES] == list(ROLES)
    assert to_role("Human") == "user" and to_role("AI") == "assistant"
    assert to_role("developer") == "system" and to_role("function") == "tool"
    assert to_role("critic") == "user"
    assert set(ROLE_ALIASES.values()) <= set(ROLES)


def test_every_llamaindex_role_maps_to_an_engine_role():
    expected = {"developer": "system", "chatbot": "assistant", "model": "assistant"}
    for role in MessageRole:
        engine = to_engine_message(LIChatMessage(role=role, content="x"))["role"]
        assert engine == expected.get(role.value, role.value if role.value in ROLES else "tool")
    assert to_engine_message(LIChatMessage(role=MessageRole.ASSISTANT, content="x"))["role"] == (
        "assistant"
    )
