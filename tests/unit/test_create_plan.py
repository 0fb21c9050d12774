"""The create plan's pure parts: the one visibility-scope rule, and dropping requests that
failed before anything was written (the write coalescer's refused texts)."""

from __future__ import annotations

from typing import Any

from tta_memory.stores.deep.dedup import CreatePlan
from tta_memory.stores.deep.records import scope_of


def _doc(text: str, author: str = "ann", visibility: str = "shared") -> dict[str, Any]:
    return {
        "text": text,
        "content_hash": f"h-{text}",
        "author": author,
        "visibility": visibility,
        "workspace": "ws",
        "created": "1.0",
    }


def test_scope_is_the_author_of_a_private_memory_only() -> None:
    assert scope_of(_doc("a", "ann", "private")) == "ann"
    assert scope_of(_doc("a", "ann", "shared")) == ""
    assert scope_of({"author": "bob"}) == ""  # a stored row without visibility is shared
    assert scope_of({"visibility": "private", "author": "bob", "text": "x"}) == "bob"


def _plan(docs: list[dict[str, Any]]) -> CreatePlan:
    """Every text new; a repeat of a text (same scope) shares the first one's memory."""
    scopes = [scope_of(d) for d in docs]
    first: dict[tuple[str, str], int] = {}
    new = []
    for i, (d, s) in enumerate(zip(docs, scopes, strict=True)):
        if (d["content_hash"], s) not in first:
            first[(d["content_hash"], s)] = i
            new.append(i)
    return CreatePlan(docs, scopes, [f"id-{i}" for i in range(len(docs))], {}, new, first)


def test_without_drops_a_failed_memory_and_its_repeats() -> None:
    docs = [_doc("a"), _doc("b"), _doc("c"), _doc("b"), _doc("b", visibility="private")]
    plan = _plan(docs)
    assert [plan.source(i) for i in range(5)] == [0, 1, 2, 1, 4]
    rest = plan.without({1})  # "b" (shared) failed: its repeat at 3 goes too, not the private one
    assert [d["text"] for d in rest.docs] == ["a", "c", "b"]
    assert rest.scopes == ["", "", "ann"]
    assert rest.ids == ["id-0", "id-2", "id-4"]
    assert rest.texts == ["a", "c", "b"]
    memories = rest.results(rest.payload([b"\0" * 4] * 3))
    assert [(m.id, m.text, m.private) for m in memories] == [
        ("id-0", "a", False),
        ("id-2", "c", False),
        ("id-4", "b", True),
    ]
