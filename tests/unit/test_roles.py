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
from tta_memory.literals import ROLES

from tta_memory_langchain._convert import role_for
from tta_memory_llamaindex._messages import ROLE_TO_ENGINE, to_engine_message


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


def test_every_llamaindex_role_maps_to_an_engine_role():
    assert set(ROLE_TO_ENGINE.values()) <= set(ROLES)
    for role in MessageRole:
        engine = to_engine_message(LIChatMessage(role=role, content="x"))["role"]
        assert engine in ROLES
    assert to_engine_message(LIChatMessage(role=MessageRole.ASSISTANT, content="x"))["role"] == (
        "assistant"
    )
