"""Import a PAF markdown list into a workspace: parse, plan, then write through the PAF store's
own calls (so history, validation and conflicts work as for any other change).

Nothing is written when any line has a problem: the caller sees every problem at once, with line
numbers, and fixes the file (``skip_invalid=True`` imports the valid entries anyway).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pydantic import BaseModel, Field

from tta_memory.errors import InvalidInputError
from tta_memory.models import PAF, PAFStatus
from tta_memory.paf_markdown import LineProblem, PafChange, parse_markdown, plan_import

__all__ = ["PafImportReport", "PafStore", "import_markdown"]

# Shown when the file marks a PAF deprecated or replaced without saying why.
DEFAULT_REASON = "imported from markdown"


class PafStore(Protocol):
    """The PAF store calls an import needs (:class:`~tta_memory.stores.pafs.PAFStore`)."""

    def list_pafs(
        self, category: str | None = None, status: Any = None
    ) -> Awaitable[list[PAF]]: ...

    def add(
        self,
        category: str,
        fact_id: str,
        description: str,
        rationale: str = "",
        *,
        status: Any = ...,
    ) -> Awaitable[PAF]: ...

    def update(
        self,
        paf_id: str,
        *,
        description: str | None = None,
        rationale: str | None = None,
        status: Any = None,
    ) -> Awaitable[PAF]: ...

    def deprecate(
        self, paf_id: str, reason: str, *, replaced_by: str | None = None
    ) -> Awaitable[PAF]: ...


class PafImportReport(BaseModel):
    """What an import did.

    Attributes:
        created: Ids of the PAFs added.
        updated: Ids of the PAFs changed (a new version each, history kept).
        unchanged: Ids already stored as the file says.
        problems: Lines that look like PAFs but do not parse (skipped with ``skip_invalid``).
        pafs: The PAFs created or updated, as stored now.
    """

    created: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    problems: list[LineProblem] = Field(default_factory=list)
    pafs: list[PAF] = Field(default_factory=list)

    def summary(self) -> str:
        """``"2 created, 1 updated, 3 unchanged"``."""
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged"
        )


async def import_markdown(
    store: PafStore,
    text: str,
    *,
    skip_invalid: bool = False,
    check_description: Callable[[str], object] | None = None,
) -> PafImportReport:
    """Add or update the PAFs of a markdown list (see :mod:`tta_memory.paf_markdown`).

    Args:
        store: The workspace's PAF store.
        text: The markdown.
        skip_invalid: Import the valid entries even when some lines have problems.
        check_description: The store's description rule, applied to every entry before
            anything is written.

    Returns:
        The report (created / updated / unchanged ids, problems).

    Raises:
        InvalidInputError: Some lines have problems (and ``skip_invalid`` is false), or a
            replaced_by names a PAF that neither the file nor the workspace holds. Nothing was
            written.
    """
    parsed = parse_markdown(text)
    if parsed.problems and not skip_invalid:
        listed = "; ".join(str(p) for p in parsed.problems[:10])
        more = f" (and {len(parsed.problems) - 10} more)" if len(parsed.problems) > 10 else ""
        raise InvalidInputError(
            f"{len(parsed.problems)} line(s) look like PAFs but do not parse: {listed}{more}. "
            "Nothing was imported."
        )
    if check_description is not None:
        for entry in parsed.entries:
            check_description(entry.description)
    existing = {p.id: p for p in await store.list_pafs(status=None)}
    plan = plan_import(parsed.entries, existing)
    known = set(existing) | {c.id for c in plan.created}
    for change in (*plan.created, *plan.updated):
        target = change.fields.get("replaced_by")
        if target is not None and target not in known:
            raise InvalidInputError(
                f"{change.id} is replaced by {target}, which is neither in the file nor in the "
                "workspace. Nothing was imported."
            )
    report = PafImportReport(
        created=[c.id for c in plan.created],
        updated=[c.id for c in plan.updated],
        unchanged=plan.unchanged,
        problems=parsed.problems,
    )
    stored: dict[str, PAF] = {}
    # New PAFs first: a status change may name one of them as its replacement.
    for change in plan.created:
        category, fact_id = change.id.split("-")
        stored[change.id] = await store.add(
            category,
            fact_id,
            str(change.fields["description"]),
            rationale=change.fields.get("rationale") or "",
        )
    for change in plan.created:
        fields = {k: v for k, v in change.fields.items() if k not in ("description", "rationale")}
        if fields.get("status") == PAFStatus.ACTIVE.value:
            fields.pop("status")
        if fields:
            stored[change.id] = await _apply(store, PafChange(id=change.id, fields=fields))
    for change in plan.updated:
        stored[change.id] = await _apply(store, change)
    report.pafs = [stored[i] for i in (*report.created, *report.updated)]
    return report


async def _apply(store: PafStore, change: PafChange) -> PAF:
    """Write one change: content and a plain status through ``update``, a retirement
    (deprecated, a reason, a replacement) through ``deprecate``."""
    fields = change.fields
    status = fields.get("status")
    replaced_by = fields.get("replaced_by")
    reason = fields.get("deprecation_reason")
    live = status in (PAFStatus.ACTIVE.value, PAFStatus.PROPOSED.value)
    retire = not live and (
        replaced_by is not None or reason is not None or status == PAFStatus.DEPRECATED.value
    )
    content = {k: fields[k] for k in ("description", "rationale") if k in fields}
    plain_status = status if status is not None and not retire else None
    paf: PAF | None = None
    if content or plain_status is not None:
        paf = await store.update(
            change.id,
            description=content.get("description"),
            rationale=content.get("rationale"),
            status=plain_status,
        )
    if retire:
        paf = await store.deprecate(change.id, reason or DEFAULT_REASON, replaced_by=replaced_by)
        if status == PAFStatus.REPLACED.value and replaced_by is None:
            # deprecate says "deprecated" unless it is given the replacement's id.
            paf = await store.update(change.id, status=status)
    if paf is None:
        raise InvalidInputError(f"nothing to change for {change.id}")
    return paf
