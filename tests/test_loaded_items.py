"""A load's ``items`` (``metadata["memories"]``): items of stored things seen before are reused
across loads (loading/loader.py), so they must follow every change of what they show and be
immutable, since one caller's item is also the next caller's."""

from __future__ import annotations

import pydantic
import pytest

CTX = {"session_id": "s1", "workflow_id": "w1"}


async def _items(memory) -> dict[str, list[tuple[str, str]]]:
    loaded = await memory.load_context(CTX, "understand", "augster_rigorous")
    out: dict[str, list[tuple[str, str]]] = {}
    for item in loaded.items:
        out.setdefault(item.layer, []).append((item.id, item.text))
    return out


async def test_items_follow_every_change_of_what_they_show(memory):
    await memory.paf_primitive.add_paf("AUTH", "001", "Tokens expire after one hour")
    await memory.add_session_message("s1", "user", "how long do tokens live?")
    first = await _items(memory)
    assert first["paf"] == [("AUTH-001", "Tokens expire after one hour")]

    await memory.paf_primitive.update_paf("AUTH-001", description="Tokens expire after 15 min")
    await memory.add_session_message("s1", "assistant", "fifteen minutes")
    again = await _items(memory)
    assert again["paf"] == [("AUTH-001", "Tokens expire after 15 min")]
    assert [text for _, text in again["session"]] == [
        "how long do tokens live?",
        "fifteen minutes",
    ]
    # The same message with the same id, text and time is the same item; a replaced session
    # with new messages shows only them.
    await memory.replace_session_messages("s1", [{"role": "user", "content": "start over"}])
    assert [text for _, text in (await _items(memory))["session"]] == ["start over"]


async def test_an_item_cannot_be_changed_by_a_caller(memory):
    await memory.paf_primitive.add_paf("AUTH", "001", "Tokens expire after one hour")
    loaded = await memory.load_context(CTX, "understand", "augster_rigorous")
    [item] = loaded.items
    with pytest.raises(pydantic.ValidationError):
        item.text = "edited by the caller"
    again = await memory.load_context(CTX, "understand", "augster_rigorous")
    assert [i.text for i in again.items] == ["Tokens expire after one hour"]
