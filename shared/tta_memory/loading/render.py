"""Render loaded memory as one prompt-ready text block.

Order: constraints (PAFs, never dropped), relevant memories (best first), recent activity
(newest first), then the conversation. Under a budget the least relevant items go first:
oldest recent activity, then lowest-scored memories, then the oldest conversation turns.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from tta_memory.models import (
    PAF,
    CacheEntry,
    DeepMemory,
    LoadedContext,
    SessionMessage,
    WorkflowContext,
)
from tta_memory.paf_text import paf_prompt_line
from tta_memory.tokens import TokenCounter, check_budget, resolve_counter

PAF_TITLE = "Constraints (permanent architectural facts — always apply)"


def deep_line(m: DeepMemory) -> str:
    """A deep memory as one prompt line: its text (newlines folded) and tags."""
    tags = f" [{', '.join(m.tags)}]" if m.tags else ""
    return f"- {m.text}{tags}"


def dated_deep_line(m: DeepMemory) -> str:
    """A deep memory as one prompt line led by the date of its event (or creation)."""
    when = (m.event_time or m.created_at).date().isoformat()
    return f"- [{when}] " + m.text.replace("\n", " | ")


def cache_line(e: CacheEntry) -> str:
    """A cache entry as one prompt line: time, role, session and content."""
    who = f"{e.role} " if e.role else ""
    where = f" ({e.session_id})" if e.session_id else ""
    return f"- {e.created_at:%Y-%m-%d %H:%M} {who}{where}: {e.content}".replace("  ", " ")


def message_line(m: SessionMessage) -> str:
    """A session message as ``role: content``."""
    return f"{m.role}: {m.content}"


class RenderedContext(BaseModel):
    """A rendered block and what the budgets did to it.

    Attributes:
        text: The text block.
        chars: Its length in characters.
        tokens: Its length in tokens (by the counter used), or ``None`` without a token budget.
        dropped: Items dropped per layer (``cache``, ``deep``, ``session``) to fit.
        over_budget: The constraints (PAFs, never dropped) alone exceed a budget: ``text``
            holds them in full and nothing else.
    """

    text: str
    chars: int
    tokens: int | None = None
    dropped: dict[str, int]
    over_budget: bool = False


def fit(
    *,
    pafs: Sequence[PAF] = (),
    deep: Sequence[DeepMemory] = (),
    cache: Sequence[CacheEntry] = (),
    messages: Sequence[SessionMessage] = (),
    max_chars: int | None = None,
    max_tokens: int | None = None,
    counter: TokenCounter | str | None = None,
) -> RenderedContext:
    """Render the given layers (PAFs by id, deep best first, cache newest first, messages
    oldest first) within the budgets given, and report what was dropped.

    The text is within every budget, unless the PAFs alone exceed one: then it holds the PAFs
    in full (and nothing else) and ``over_budget`` is set.

    Args:
        pafs: The constraints; never dropped.
        deep: Relevant memories, best first.
        cache: Recent activity, newest first.
        messages: The conversation, oldest first.
        max_chars: Optional budget in characters.
        max_tokens: Optional budget in tokens.
        counter: Token counter for ``max_tokens`` (see :mod:`tta_memory.tokens`; default:
            the offline estimate).

    Returns:
        The text and what the budgets did.
    """
    max_chars = check_budget("max_chars", max_chars)
    max_tokens = check_budget("max_tokens", max_tokens)
    count = resolve_counter(counter)
    paf_lines = [paf_prompt_line(p) for p in pafs]
    deep_lines = [deep_line(m) for m in deep]
    cache_lines = [cache_line(e) for e in cache]
    convo = [message_line(m) for m in messages]

    def build() -> str:
        sections = [
            (PAF_TITLE, paf_lines),
            ("Relevant memories", deep_lines),
            ("Recent activity", cache_lines),
            ("Conversation so far", convo),
        ]
        return "\n\n".join(f"## {title}\n" + "\n".join(lines) for title, lines in sections if lines)

    def too_long(text: str) -> bool:
        return (max_chars is not None and len(text) > max_chars) or (
            max_tokens is not None and count(text) > max_tokens
        )

    text = build()
    dropped = {"cache": 0, "deep": 0, "session": 0}
    # Drop least relevant first; each pop removes the weakest remaining item of that layer.
    for name, layer, pop_index in (
        ("cache", cache_lines, -1),
        ("deep", deep_lines, -1),
        ("session", convo, 0),
    ):
        while layer and too_long(text):
            layer.pop(pop_index)
            dropped[name] += 1
            text = build()
    return RenderedContext(
        text=text,
        chars=len(text),
        tokens=count(text) if max_tokens is not None else None,
        dropped=dropped,
        over_budget=too_long(text),
    )


def render(
    *,
    pafs: Sequence[PAF] = (),
    deep: Sequence[DeepMemory] = (),
    cache: Sequence[CacheEntry] = (),
    messages: Sequence[SessionMessage] = (),
    max_chars: int | None = None,
    max_tokens: int | None = None,
    counter: TokenCounter | str | None = None,
) -> str:
    """The text of :func:`fit`: the layers within the budgets, PAFs never dropped."""
    return fit(
        pafs=pafs,
        deep=deep,
        cache=cache,
        messages=messages,
        max_chars=max_chars,
        max_tokens=max_tokens,
        counter=counter,
    ).text


def fit_loaded(
    loaded: LoadedContext,
    max_chars: int | None = None,
    *,
    max_tokens: int | None = None,
    counter: TokenCounter | str | None = None,
) -> RenderedContext:
    """:func:`fit` a :class:`LoadedContext`."""
    return fit(
        pafs=loaded.pafs,
        deep=loaded.deep_memory,
        cache=loaded.cache_memory,
        messages=loaded.session_context,
        max_chars=max_chars,
        max_tokens=max_tokens,
        counter=counter,
    )


def render_loaded(
    loaded: LoadedContext,
    max_chars: int | None = None,
    *,
    max_tokens: int | None = None,
    counter: TokenCounter | str | None = None,
) -> str:
    """Render a :class:`LoadedContext` (see :func:`fit`)."""
    return fit_loaded(loaded, max_chars, max_tokens=max_tokens, counter=counter).text


def fit_context(
    context: WorkflowContext,
    max_chars: int | None = None,
    *,
    max_tokens: int | None = None,
    counter: TokenCounter | str | None = None,
) -> RenderedContext:
    """:func:`render_context` with a report of what the budgets dropped (see :func:`fit`)."""
    loaded = LoadedContext.from_metadata(context.metadata)
    return fit_loaded(loaded, max_chars, max_tokens=max_tokens, counter=counter)


def render_context(
    context: WorkflowContext,
    max_chars: int | None = None,
    *,
    max_tokens: int | None = None,
    counter: TokenCounter | str | None = None,
) -> str:
    """Render the layers that ``load_workflow_context`` put into ``context.metadata``.

    Args:
        context: A context returned by ``load_workflow_context``.
        max_chars: Optional budget in characters; items are dropped least relevant first,
            PAFs never.
        max_tokens: Optional budget in tokens (same rule).
        counter: Token counter for ``max_tokens`` (default: the offline estimate).

    Returns:
        The text block (empty string if nothing was loaded).
    """
    return fit_context(context, max_chars, max_tokens=max_tokens, counter=counter).text
