"""The one family of PAF text formats: the prompt line here, the markdown list (import and
export, ``- **AUTH-001**: description`` with optional sub-items) in
:mod:`tta_memory.paf_markdown`. Every renderer of PAFs (the context renderer, agent tools,
memory blocks, the CLI) uses these.
"""

from __future__ import annotations

from collections.abc import Iterable

from tta_memory.models import PAF


def paf_prompt_line(paf: PAF) -> str:
    """``- **AUTH-001**: description (why: rationale)``, one line for a prompt."""
    why = f" (why: {paf.rationale})" if paf.rationale else ""
    return f"- **{paf.id}**: {paf.description}{why}"


def pafs_prompt(pafs: Iterable[PAF]) -> str:
    """The PAFs as prompt lines, one per line ("" when there are none)."""
    return "\n".join(paf_prompt_line(p) for p in pafs)
