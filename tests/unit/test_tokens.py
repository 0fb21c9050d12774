"""Token counters and token budgets of the rendered context (no Redis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tta_memory import render_context
from tta_memory.errors import InvalidInputError
from tta_memory.loading.render import fit_context
from tta_memory.models import PAF, CacheEntry, DeepMemory, SessionMessage, WorkflowContext
from tta_memory.tokens import estimate_tokens, resolve_counter, wordpiece_counter

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_estimate_counts_ascii_by_length_and_other_scripts_per_character() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 2  # ceil(4 / 3.8)
    assert estimate_tokens("a" * 38) == 10
    assert estimate_tokens("東京でラーメン") == 7
    assert estimate_tokens("🚀") == 3
    assert estimate_tokens("x" * 38 + "é") == 11


def test_wordpiece_counter_counts_the_models_tokens() -> None:
    count = wordpiece_counter()
    assert count("hello world") == 2
    assert count("") == 0
    assert count("unaffable") > 1  # split into word pieces
    assert count("A long note. " * 400) == 1600  # no 256-token window here


def test_counters_resolve_by_name_or_callable() -> None:
    assert resolve_counter(None) is estimate_tokens
    assert resolve_counter("estimate") is estimate_tokens
    assert resolve_counter(lambda s: len(s.split()))("a b c") == 3
    with pytest.raises(InvalidInputError, match="unknown token counter"):
        resolve_counter("tiktoken")
    with pytest.raises(InvalidInputError):
        resolve_counter(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="count"):
        resolve_counter(lambda s: -1)("x")


def _context(
    pafs: list[str], deep: list[str], cache: list[str], convo: list[str]
) -> WorkflowContext:
    return WorkflowContext(
        workflow_id="w",
        session_id="s",
        metadata={
            "pafs": [
                PAF(
                    id=f"AUTH-{i:03d}",
                    category="AUTH",
                    fact_id=f"{i:03d}",
                    description=d,
                    author="u",
                    created_at=T0,
                    updated_at=T0,
                )
                for i, d in enumerate(pafs, 1)
            ],
            "deep_memory": [
                DeepMemory(
                    id=f"d{i}", text=t, author="u", created_at=T0, updated_at=T0, score=1 / (i + 1)
                )
                for i, t in enumerate(deep)
            ],
            "cache_memory": [
                CacheEntry(
                    id=f"c{i}",
                    kind="note",
                    content=t,
                    user_id="u",
                    created_at=T0 - timedelta(minutes=i),
                )
                for i, t in enumerate(cache)
            ],
            "session_context": [
                SessionMessage(
                    id=f"m{i}",
                    session_id="s",
                    seq=i,
                    role="user",
                    content=t,
                    user_id="u",
                    created_at=T0,
                )
                for i, t in enumerate(convo)
            ],
        },
    )


texts = st.lists(st.text(min_size=1, max_size=80).filter(str.strip), max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.text(min_size=1, max_size=60).filter(str.strip), max_size=3),
    texts,
    texts,
    texts,
    st.integers(min_value=1, max_value=400),
    st.sampled_from(["estimate", "words"]),
)
def test_budget_is_never_exceeded_and_pafs_never_dropped(
    pafs: list[str],
    deep: list[str],
    cache: list[str],
    convo: list[str],
    budget: int,
    counter_name: str,
) -> None:
    counter = estimate_tokens if counter_name == "estimate" else (lambda s: len(s.split()))
    ctx = _context(pafs, deep, cache, convo)
    fitted = fit_context(ctx, max_tokens=budget, counter=counter)
    for i, d in enumerate(pafs, 1):
        assert f"**AUTH-{i:03d}**: {d}" in fitted.text  # every PAF, in full
    if fitted.over_budget:
        # Only when the constraints alone do not fit: then nothing else is kept.
        assert counter(render_context(_context(pafs, [], [], []))) > budget
        assert fitted.text == render_context(_context(pafs, [], [], []))
    else:
        assert counter(fitted.text) <= budget
        assert fitted.tokens == counter(fitted.text)
    kept = len(deep) + len(cache) + len(convo) - sum(fitted.dropped.values())
    assert kept >= 0
    # Nothing is dropped when everything fits.
    if counter(render_context(ctx)) <= budget:
        assert fitted.text == render_context(ctx) and not any(fitted.dropped.values())


def test_least_relevant_items_go_first() -> None:
    ctx = _context(
        ["Use JWT"], ["best memory", "worst memory"], ["old note"], ["first turn", "last turn"]
    )
    full = estimate_tokens(render_context(ctx))
    fitted = fit_context(ctx, max_tokens=full - 1)
    assert fitted.dropped == {"cache": 1, "deep": 0, "session": 0}
    no_cache = _context(
        ["Use JWT"], ["best memory", "worst memory"], [], ["first turn", "last turn"]
    )
    tighter = fit_context(ctx, max_tokens=estimate_tokens(render_context(no_cache)) - 1)
    assert tighter.dropped == {"cache": 1, "deep": 1, "session": 0}
    assert "worst memory" not in tighter.text and "best memory" in tighter.text
    assert "Use JWT" in fit_context(ctx, max_tokens=1).text


def test_both_budgets_apply_and_bad_budgets_are_refused() -> None:
    ctx = _context([], ["a" * 100, "b" * 100], [], [])
    assert len(render_context(ctx, 150, max_tokens=1000)) <= 150
    assert estimate_tokens(render_context(ctx, 10_000, max_tokens=40)) <= 40
    for bad in (0, -5, 2.5, True):
        with pytest.raises(InvalidInputError):
            render_context(ctx, max_tokens=bad)  # type: ignore[arg-type]
