"""Render a loaded :class:`WorkflowContext` as one prompt-ready text block.

Order: constraints (PAFs, never dropped), relevant memories (best first), recent activity
(newest first), then the conversation. Under a budget the least relevant items go first:
oldest recent activity, then lowest-scored memories, then the oldest conversation turns.
"""

from __future__ import annotations

from typing import Any

from tta_memory.models import PAF, CacheEntry, DeepMemory, SessionMessage, WorkflowContext


def _paf_line(p: PAF) -> str:
    why = f" (why: {p.rationale})" if p.rationale else ""
    return f"- **{p.id}**: {p.description}{why}"


def _deep_line(m: DeepMemory) -> str:
    tags = f" [{', '.join(m.tags)}]" if m.tags else ""
    return f"- {m.text}{tags}"


def _cache_line(e: CacheEntry) -> str:
    who = f"{e.role} " if e.role else ""
    where = f" ({e.session_id})" if e.session_id else ""
    return f"- {e.created_at:%Y-%m-%d %H:%M} {who}{where}: {e.content}".replace("  ", " ")


def _msg_line(m: SessionMessage) -> str:
    return f"{m.role}: {m.content}"


def render_context(context: WorkflowContext, max_chars: int | None = None) -> str:
    """Render the layers that ``load_workflow_context`` put into ``context.metadata``.

    Args:
        context: A context returned by ``load_workflow_context``.
        max_chars: Optional budget; items are dropped least relevant first, PAFs never.

    Returns:
        The text block (empty string if nothing was loaded).
    """
    md: dict[str, Any] = context.metadata
    pafs = [_paf_line(p) for p in md.get("pafs", [])]
    deep = [_deep_line(m) for m in md.get("deep_memory", [])]  # best first
    cache = [_cache_line(e) for e in md.get("cache_memory", [])]  # newest first
    convo = [_msg_line(m) for m in md.get("session_context", [])]  # oldest first

    def build() -> str:
        sections = [
            ("Constraints (permanent architectural facts — always apply)", pafs),
            ("Relevant memories", deep),
            ("Recent activity", cache),
            ("Conversation so far", convo),
        ]
        return "\n\n".join(f"## {title}\n" + "\n".join(lines) for title, lines in sections if lines)

    text = build()
    if max_chars is None:
        return text
    # Drop least relevant first; each pop removes the weakest remaining item of that layer.
    for layer, pop_index in ((cache, -1), (deep, -1), (convo, 0)):
        while len(text) > max_chars and layer:
            layer.pop(pop_index)
            text = build()
    return text
