"""``PAFPrimitive``: the guide's PAF API (``memory.paf_primitive``), delegating to the PAF store."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from tta_memory.backend import guarded
from tta_memory.base import ScopedPrimitive
from tta_memory.models import PAF, PAFStatus
from tta_memory.observability import instrument
from tta_memory.stores.pafs import PAFStore
from tta_memory.sync import SyncProxy

if TYPE_CHECKING:
    from tta_memory.sync_api import SyncPAFPrimitive


@instrument
class PAFPrimitive(ScopedPrimitive):
    """Add, change, deprecate and list the PAFs of a workspace (``memory.paf_primitive``).

    Takes the arguments of :class:`~tta_memory.base.ScopedPrimitive`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pafs = PAFStore(self._ctx)

    @cached_property
    def sync(self) -> SyncPAFPrimitive:
        """Blocking twins of every coroutine method, usable inside a running loop too."""
        return cast("SyncPAFPrimitive", SyncProxy(self))

    @guarded
    async def add_paf(
        self,
        category: str,
        fact_id: str,
        description: str,
        rationale: str = "",
        *,
        status: PAFStatus | str = PAFStatus.ACTIVE,
    ) -> PAF:
        """Add a PAF with id ``f"{category}-{fact_id}"``. Adding the same fact again is a no-op.

        Args:
            category: Upper-case letters, e.g. ``AUTH``.
            fact_id: Digits, e.g. ``001``.
            description: The constraint (one line).
            rationale: Why it holds.
            status: ``active`` (default) or ``proposed``.

        Returns:
            The PAF.

        Raises:
            ConflictError: The id exists with another description.
        """
        return await self._pafs.add(category, fact_id, description, rationale, status=status)

    @guarded
    async def update_paf(
        self,
        paf_id: str,
        *,
        description: str | None = None,
        rationale: str | None = None,
        status: PAFStatus | str | None = None,
    ) -> PAF:
        """Change a PAF; the previous version is kept in ``history``. Returns the new version."""
        return await self._pafs.update(
            paf_id, description=description, rationale=rationale, status=status
        )

    @guarded
    async def deprecate_paf(
        self, paf_id: str, reason: str, *, replaced_by: str | None = None
    ) -> PAF:
        """Deprecate a PAF, or mark it replaced by another (which must exist). History is kept."""
        return await self._pafs.deprecate(paf_id, reason, replaced_by=replaced_by)

    @guarded
    async def get_paf(self, paf_id: str) -> PAF:
        """Return one PAF (``NotFoundError`` if absent)."""
        return await self._pafs.get(paf_id)

    @guarded
    async def list_pafs(
        self, category: str | None = None, status: PAFStatus | str | None = None
    ) -> list[PAF]:
        """All PAFs of the workspace, by id, optionally of one category and status."""
        return await self._pafs.list_pafs(category, status)

    @guarded
    async def delete_paf(self, paf_id: str) -> None:
        """Remove a PAF and its history for good (prefer :meth:`deprecate_paf`)."""
        await self._pafs.delete(paf_id)

    @guarded
    async def export_markdown(
        self, status: PAFStatus | str | None = PAFStatus.ACTIVE, *, full: bool = True
    ) -> str:
        """The PAFs as a markdown list: ``- **AUTH-001**: description`` items, with rationale,
        status, replaced_by and reason as sub-items unless ``full=False``."""
        return await self._pafs.export_markdown(status, full=full)

    @guarded
    async def import_markdown(self, text: str) -> list[PAF]:
        """Add or update the PAFs of a markdown list written as ``- **AUTH-001**: description``
        (any list style; the full form's sub-items restore rationale, status and replacement).

        Returns:
            The PAFs added or changed (unchanged ones are skipped); ``memory.pafs.
            import_markdown`` returns the full report (created / updated / unchanged).
        """
        return (await self._pafs.import_markdown(text)).pafs
