"""The one family of PAF text formats: the prompt line and the markdown list.

``- **AUTH-001**: description`` is the markdown form (import and export); the prompt line adds
the rationale. Every renderer of PAFs (the context renderer, agent tools, memory blocks, the
CLI) uses these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from tta_memory.errors import InvalidInputError
from tta_memory.models import PAF

PAF_ID = r"[A-Z]{1,32}-[0-9]{1,6}"
_MD_LINE = re.compile(rf"^\s*[-*]\s+\*\*({PAF_ID})\*\*:\s?(.*?)\s*$")


def paf_prompt_line(paf: PAF) -> str:
    """``- **AUTH-001**: description (why: rationale)``, one line for a prompt."""
    why = f" (why: {paf.rationale})" if paf.rationale else ""
    return f"- **{paf.id}**: {paf.description}{why}"


def pafs_prompt(pafs: Iterable[PAF]) -> str:
    """The PAFs as prompt lines, one per line ("" when there are none)."""
    return "\n".join(paf_prompt_line(p) for p in pafs)


def paf_markdown_line(paf: PAF) -> str:
    """``- **AUTH-001**: description``, the markdown list item of a PAF."""
    return f"- **{paf.id}**: {paf.description}"


def pafs_to_markdown(pafs: Iterable[PAF]) -> str:
    """The PAFs as a markdown list, one line each (ending with a newline)."""
    return "".join(paf_markdown_line(p) + "\n" for p in pafs)


def parse_markdown(text: str) -> list[tuple[str, str]]:
    """The ``(paf_id, description)`` pairs of a markdown list; other lines are ignored.

    Raises:
        InvalidInputError: A line that starts like a PAF item but is malformed.
    """
    entries = []
    for line in text.splitlines():
        match = _MD_LINE.match(line)
        if match:
            entries.append((match.group(1), match.group(2)))
        elif line.strip().startswith(("- **", "* **")):
            raise InvalidInputError(f"malformed PAF line: {line!r}")
    return entries
