"""PAFs as markdown: parse a list, render one, and plan what an import changes (pure: no Redis).

The simple form, one list item per PAF, in any list style::

    - **AUTH-001**: Use PyJWT for token generation and validation
    * **DB-002**: Postgres is the only database
    1. **API-004**: Errors are RFC 9457 problem+json

The full form (what :func:`render_markdown` writes) adds the fields that make an export
round-trip, as indented sub-items; a value that spans lines or has surrounding spaces is written
as a JSON string::

    - **AUTH-001**: Use PyJWT for token generation and validation
      - rationale: "Small, maintained.\\nReviewed in 2024."
      - status: replaced
      - replaced_by: AUTH-002
      - reason: moved to authlib

A line that looks like a PAF (a list item whose text starts with ``**`` or with an id such as
``AUTH-001``) but does not parse is reported with its line number, never skipped in silence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, Field

from tta_memory.models import PAF, PAFStatus

__all__ = [
    "FIELDS",
    "LineProblem",
    "PafChange",
    "PafEntry",
    "PafImportPlan",
    "ParsedPafs",
    "parse_markdown",
    "plan_import",
    "render_markdown",
]

ID_PATTERN = r"[A-Z]{1,32}-[0-9]{1,6}"
# The sub-item keys of the full form, and the PAF field each one fills.
FIELDS = {
    "rationale": "rationale",
    "status": "status",
    "replaced_by": "replaced_by",
    "reason": "deprecation_reason",
}
_STATUSES = tuple(s.value for s in PAFStatus)

_ITEM = re.compile(r"^(?P<indent>[ \t]*)(?:[-*+]|\d{1,9}[.)])[ \t]+(?P<body>.*?)[ \t]*$")
_PAF = re.compile(rf"^\*\*(?P<id>{ID_PATTERN})\*\*[ \t]*:[ \t]*(?P<text>.*)$")
_LOOKS_LIKE_PAF = re.compile(r"^(?:\*\*|`?[A-Za-z]{1,32}[-_ ]?[0-9]{1,6}\b)")
_FIELD = re.compile(r"^(?P<key>[A-Za-z_ ]+?)[ \t]*:[ \t]*(?P<value>.*)$")


class PafEntry(BaseModel):
    """One PAF read from markdown. A field left ``None`` was not in the file: an import keeps
    what is stored for it.

    Attributes:
        id: ``CATEGORY-NNN``.
        description: One line.
        rationale, status, replaced_by, deprecation_reason: From the full form's sub-items.
        line: 1-based line number of the item.
    """

    id: str
    description: str
    rationale: str | None = None
    status: PAFStatus | None = None
    replaced_by: str | None = None
    deprecation_reason: str | None = None
    line: int


class LineProblem(BaseModel):
    """A line that looks like part of a PAF but does not parse."""

    line: int
    text: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}: {self.text.strip()!r}"


class ParsedPafs(BaseModel):
    """What :func:`parse_markdown` found."""

    entries: list[PafEntry] = Field(default_factory=list)
    problems: list[LineProblem] = Field(default_factory=list)


class PafChange(BaseModel):
    """What an import does to one PAF: ``fields`` maps a PAF field to its new value."""

    id: str
    fields: dict[str, str | None] = Field(default_factory=dict)


class PafImportPlan(BaseModel):
    """An import, decided before anything is written.

    Attributes:
        created: PAFs to add (with their full-form fields).
        updated: Existing PAFs whose fields differ from the file.
        unchanged: Ids already stored exactly as the file says.
    """

    created: list[PafChange] = Field(default_factory=list)
    updated: list[PafChange] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)


def parse_markdown(text: str) -> ParsedPafs:
    """Read the PAFs of a markdown document.

    Args:
        text: Markdown; lines that are neither PAF items nor their sub-items are ignored
            (headings, prose, other lists).

    Returns:
        The entries in file order and the problems, each with its line number.
    """
    result = ParsedPafs()
    seen: dict[str, int] = {}
    current: PafEntry | None = None
    current_indent = 0
    for number, raw in enumerate(text.splitlines(), 1):
        item = _ITEM.match(raw)
        if item is None:
            if raw.strip() and not raw[:1].isspace():
                current = None  # prose at the margin ends the item's sub-list
            continue
        indent = len(item["indent"].expandtabs(4))
        body = item["body"]
        paf = _PAF.match(body)
        if current is not None and indent > current_indent and paf is None:
            _read_field(current, body, number, raw, result.problems)
            continue
        current = None
        if paf is None:
            if _LOOKS_LIKE_PAF.match(body):
                result.problems.append(LineProblem(line=number, text=raw, reason=_why(body)))
            continue
        description = paf["text"].strip()
        if not description:
            result.problems.append(LineProblem(line=number, text=raw, reason="empty description"))
            continue
        if paf["id"] in seen:
            result.problems.append(
                LineProblem(
                    line=number,
                    text=raw,
                    reason=f"{paf['id']} already appears on line {seen[paf['id']]}",
                )
            )
            continue
        seen[paf["id"]] = number
        current = PafEntry(id=paf["id"], description=description, line=number)
        current_indent = indent
        result.entries.append(current)
    return result


def _why(body: str) -> str:
    """Why a PAF-looking list item does not parse."""
    bold = re.match(r"^\*\*(?P<id>[^*]*)\*\*(?P<rest>.*)$", body)
    if bold is None:
        return "expected **CATEGORY-NNN**: description (the id in bold)"
    if not re.fullmatch(ID_PATTERN, bold["id"].strip()):
        return f"malformed PAF id {bold['id']!r}: expected CATEGORY-NNN such as AUTH-001"
    return "expected ':' and a description after the id"


def _read_field(
    entry: PafEntry, body: str, number: int, raw: str, problems: list[LineProblem]
) -> None:
    match = _FIELD.match(body)
    key = match["key"].strip().lower().replace(" ", "_") if match else ""
    if match is None or key not in FIELDS:
        problems.append(
            LineProblem(
                line=number,
                text=raw,
                reason=f"unknown sub-item under {entry.id} (expected one of "
                f"{', '.join(FIELDS)}: value)",
            )
        )
        return
    try:
        value = _decode(match["value"])
    except ValueError as exc:
        problems.append(LineProblem(line=number, text=raw, reason=str(exc)))
        return
    if key == "status":
        if value not in _STATUSES:
            problems.append(
                LineProblem(
                    line=number,
                    text=raw,
                    reason=f"unknown status {value!r} (valid: {', '.join(_STATUSES)})",
                )
            )
            return
        entry.status = PAFStatus(value)
    elif key == "replaced_by":
        if not re.fullmatch(ID_PATTERN, value):
            problems.append(
                LineProblem(line=number, text=raw, reason=f"replaced_by {value!r} is not a PAF id")
            )
            return
        entry.replaced_by = value
    else:
        setattr(entry, FIELDS[key], value)


def _decode(value: str) -> str:
    value = value.strip()
    if not value.startswith('"'):
        return value
    try:
        decoded = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"a quoted value must be a JSON string ({exc.msg})") from None
    if not isinstance(decoded, str):
        raise ValueError("a quoted value must be a JSON string")
    return decoded


def _encode(value: str) -> str:
    plain = value == value.strip() and "\n" not in value and "\r" not in value
    return value if plain and not value.startswith('"') else json.dumps(value, ensure_ascii=False)


def render_markdown(pafs: Iterable[PAF], *, full: bool = True) -> str:
    """The PAFs as a markdown list.

    Args:
        pafs: PAFs in the order to write them.
        full: Add the sub-items (rationale, status when not active, replaced_by, reason) that
            make an import of the output restore them; ``False`` writes only
            ``- **ID**: description`` lines.

    Returns:
        The markdown, one item per PAF, ending with a newline (empty for no PAFs).
    """
    lines: list[str] = []
    for paf in pafs:
        lines.append(f"- **{paf.id}**: {paf.description}")
        if not full:
            continue
        if paf.rationale:
            lines.append(f"  - rationale: {_encode(paf.rationale)}")
        if paf.status != PAFStatus.ACTIVE:
            lines.append(f"  - status: {PAFStatus(paf.status).value}")
        if paf.replaced_by:
            lines.append(f"  - replaced_by: {paf.replaced_by}")
        if paf.deprecation_reason:
            lines.append(f"  - reason: {_encode(paf.deprecation_reason)}")
    return "".join(line + "\n" for line in lines)


def plan_import(entries: Iterable[PafEntry], existing: Mapping[str, PAF]) -> PafImportPlan:
    """Decide which entries create, update or leave a PAF as it is.

    Args:
        entries: Parsed entries (ids unique).
        existing: The workspace's PAFs by id.

    Returns:
        The plan; a field the file does not mention never counts as a change.
    """
    plan = PafImportPlan()
    for entry in entries:
        wanted: dict[str, str | None] = {"description": entry.description}
        for name in ("rationale", "status", "replaced_by", "deprecation_reason"):
            value = getattr(entry, name)
            if value is not None:
                wanted[name] = value.value if isinstance(value, PAFStatus) else value
        current = existing.get(entry.id)
        if current is None:
            plan.created.append(PafChange(id=entry.id, fields=wanted))
            continue
        changed = {name: value for name, value in wanted.items() if _stored(current, name) != value}
        if changed:
            plan.updated.append(PafChange(id=entry.id, fields=changed))
        else:
            plan.unchanged.append(entry.id)
    return plan


def _stored(paf: PAF, name: str) -> str | None:
    value = getattr(paf, name)
    return value.value if isinstance(value, PAFStatus) else value
