"""Render loaded memory as one prompt-ready text block.

Order: constraints (PAFs, never dropped), relevant memories (best first), recent activity
(newest first), then the conversation. Under a budget the least relevant items go first:
oldest recent activity, then lowest-scored memories, then the oldest conversation turns.
"""

from __future__ import annotations

from collections.abc import Sequence

from tta_memory.models import (
    PAF,
    CacheEntry,
    DeepMemory,
    LoadedContext,
    SessionMessage,
    WorkflowContext,
)
from tta_memory.paf_text import paf_prompt_line

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


def render(
    *,
    pafs: Sequence[PAF] = (),
    deep: Sequence[DeepMemory] = (),
    cache: Sequence[CacheEntry] = (),
    messages: Sequence[SessionMessage] = (),
    max_chars: int | None = None,
) -> str:
    """Render the given layers (PAFs by id, deep best first, cache newest first, messages
    oldest first) under an optional character budget that never drops a PAF."""
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

    text = build()
    if max_chars is None:
        return text
    # Drop least relevant first; each pop removes the weakest remaining item of that layer.
    for layer, pop_index in ((cache_lines, -1), (deep_lines, -1), (convo, 0)):
        while len(text) > max_chars and layer:
            layer.pop(pop_index)
            text = build()
    return text


def render_loaded(loaded: LoadedContext, max_chars: int | None = None) -> str:
    """Render a :class:`LoadedContext` (see :func:`render`)."""
    return render(
        pafs=loaded.pafs,
        deep=loaded.deep_memory,
        cache=loaded.cache_memory,
        messages=loaded.session_context,
        max_chars=max_chars,
    )


def render_context(context: WorkflowContext, max_chars: int | None = None) -> str:
    """Render the layers that ``load_workflow_context`` put into ``context.metadata``.

    Args:
        context: A context returned by ``load_workflow_context``.
        max_chars: Optional budget; items are dropped least relevant first, PAFs never.

    Returns:
        The text block (empty string if nothing was loaded).
    """
    return render_loaded(LoadedContext.from_metadata(context.metadata), max_chars)
