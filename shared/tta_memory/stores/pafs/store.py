"""Layer 4 — PAFs, permanent architectural facts: a project's authoritative constraints.

A workspace's PAFs live in one hash (id -> JSON), so loading all of them is one read and every
change is a bounded optimistic (``WATCH``) transaction on that single key, which also sets the
workspace's PAF version token (:mod:`tta_memory.stores.pafs.reads`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tta_memory import scripts
from tta_memory.context import ReadSpec, Store, run_specs, watched
from tta_memory.errors import ConflictError, InvalidInputError, NotFoundError
from tta_memory.keys import new_version
from tta_memory.models import PAF, PAFStatus, PAFVersion, utcnow
from tta_memory.paf_import import PafImportReport, import_markdown
from tta_memory.paf_markdown import render_markdown
from tta_memory.stores.pafs.reads import read_spec, to_pafs
from tta_memory.validation import check_choice, check_text

_CATEGORY = re.compile(r"^[A-Z]{1,32}$")
_FACT_ID = re.compile(r"^[0-9]{1,6}$")
_PAF_ID = re.compile(r"^([A-Z]{1,32})-([0-9]{1,6})$")
STATUSES = tuple(s.value for s in PAFStatus)


def check_description(description: object) -> str:
    """A PAF description: non-empty, one line (it is exported as one markdown list item)."""
    text = check_text("description", description)
    if "\n" in text or "\r" in text:
        raise InvalidInputError(
            "a PAF description is one line (it is exported as a markdown list item); "
            "put details in the rationale"
        )
    return text


def check_paf_id(paf_id: object) -> str:
    """Return ``paf_id`` if it looks like ``AUTH-001``."""
    if not isinstance(paf_id, str) or not _PAF_ID.match(paf_id):
        raise InvalidInputError(
            f"malformed PAF id {paf_id!r}: expected CATEGORY-NNN such as 'AUTH-001'"
        )
    return paf_id


def check_category(category: object) -> str:
    """Upper-case letters such as ``AUTH``."""
    if not isinstance(category, str) or not _CATEGORY.match(category):
        raise InvalidInputError(f"category must be upper-case letters, got {category!r}")
    return category


# KEYS: the PAF hash, its version key. ARGV: PAF id, new token. A PAF that is not there
# changes nothing (no new token: a failed call stores nothing).
DELETE = scripts.LuaScript(
    """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1
"""
)


class PAFStore(Store):
    """The PAFs of one workspace (``memory.pafs``)."""

    def _missing(self, paf_id: str) -> NotFoundError:
        return NotFoundError(f"no PAF {paf_id} in workspace {self._ctx.workspace!r}")

    async def _change(self, paf_id: str, mutate: Callable[[PAF | None], PAF]) -> PAF:
        key = self._ctx.keys.pafs()

        async def read(pipe: Any) -> PAF | None:
            raw = await pipe.hget(key, paf_id)
            return PAF.model_validate_json(raw) if raw else None

        def write(pipe: Any, current: PAF | None) -> PAF:
            paf = mutate(current)
            if paf is not current:  # the same fact added again writes nothing
                pipe.hset(key, paf_id, paf.model_dump_json())
                pipe.set(self._ctx.keys.paf_version(), new_version())
            return paf

        result: PAF = await watched(self._ctx, key, read, write)
        return result

    def _snapshot(self, paf: PAF) -> PAFVersion:
        return PAFVersion(
            version=paf.version,
            description=paf.description,
            rationale=paf.rationale,
            status=paf.status,
            changed_by=paf.author if paf.version == 1 and not paf.history else self._ctx.user_id,
            changed_at=paf.updated_at,
        )

    async def add(
        self,
        category: str,
        fact_id: str,
        description: str,
        rationale: str = "",
        *,
        status: PAFStatus | str = PAFStatus.ACTIVE,
    ) -> PAF:
        """Add a PAF ``f"{category}-{fact_id}"``; the same fact again is a no-op.

        Raises:
            ConflictError: The id exists with another description.
        """
        check_category(category)
        if not isinstance(fact_id, str) or not _FACT_ID.match(fact_id):
            raise InvalidInputError(f"fact_id must be digits such as '001', got {fact_id!r}")
        check_description(description)
        check_text("rationale", rationale, allow_empty=True)
        state = PAFStatus(check_choice("status", status, STATUSES))
        paf_id = f"{category}-{fact_id}"

        def mutate(current: PAF | None) -> PAF:
            if current is not None:
                if current.description == description and current.rationale == rationale:
                    return current
                raise ConflictError(
                    f"PAF {paf_id} exists with another description; use update_paf to change it"
                )
            now = utcnow()
            return PAF(
                id=paf_id,
                category=category,
                fact_id=fact_id,
                description=description,
                rationale=rationale,
                status=state,
                author=self._ctx.user_id,
                created_at=now,
                updated_at=now,
            )

        return await self._change(paf_id, mutate)

    async def update(
        self,
        paf_id: str,
        *,
        description: str | None = None,
        rationale: str | None = None,
        status: PAFStatus | str | None = None,
    ) -> PAF:
        """Change a PAF; the previous version is kept in ``history``."""
        check_paf_id(paf_id)
        if description is not None:
            check_description(description)
        if rationale is not None:
            check_text("rationale", rationale, allow_empty=True)
        new_status = PAFStatus(check_choice("status", status, STATUSES)) if status else None

        def mutate(current: PAF | None) -> PAF:
            if current is None:
                raise self._missing(paf_id)
            return current.model_copy(
                update={
                    "description": description if description is not None else current.description,
                    "rationale": rationale if rationale is not None else current.rationale,
                    "status": new_status or current.status,
                    "version": current.version + 1,
                    "history": [*current.history, self._snapshot(current)],
                    "updated_at": utcnow(),
                }
            )

        return await self._change(paf_id, mutate)

    async def deprecate(self, paf_id: str, reason: str, *, replaced_by: str | None = None) -> PAF:
        """Deprecate a PAF, or mark it replaced by another (which must exist)."""
        check_paf_id(paf_id)
        check_text("reason", reason)
        if replaced_by is not None:
            check_paf_id(replaced_by)
            if replaced_by == paf_id:
                raise InvalidInputError("a PAF cannot replace itself")
            await self.get(replaced_by)

        def mutate(current: PAF | None) -> PAF:
            if current is None:
                raise self._missing(paf_id)
            return current.model_copy(
                update={
                    "status": PAFStatus.REPLACED if replaced_by else PAFStatus.DEPRECATED,
                    "replaced_by": replaced_by,
                    "deprecation_reason": reason,
                    "version": current.version + 1,
                    "history": [*current.history, self._snapshot(current)],
                    "updated_at": utcnow(),
                }
            )

        return await self._change(paf_id, mutate)

    async def get(self, paf_id: str) -> PAF:
        """One PAF (``NotFoundError`` if absent)."""
        check_paf_id(paf_id)
        raw = await (await self._ctx.client()).hget(self._ctx.keys.pafs(), paf_id)
        if raw is None:
            raise self._missing(paf_id)
        return PAF.model_validate_json(raw)

    def list_spec(
        self, categories: Sequence[str] | None = None, status: str | None = None
    ) -> ReadSpec[list[Mapping[str, Any]]]:
        """The PAFs of these categories and status, by id, as a batched read of their fields
        (:meth:`pafs_of` makes them PAFs)."""
        keys = self._ctx.keys
        cats = list(categories) if categories is not None else None
        return read_spec(keys.pafs(), keys.paf_version(), cats, status)

    @staticmethod
    def pafs_of(fields: Sequence[Mapping[str, Any]]) -> list[PAF]:
        """New PAFs (the caller's own) from the fields :meth:`list_spec` read."""
        return to_pafs(fields)

    async def list_pafs(
        self, category: str | None = None, status: PAFStatus | str | None = None
    ) -> list[PAF]:
        """All PAFs of the workspace, by id, optionally of one category and status."""
        if category is not None:
            check_category(category)
        wanted = check_choice("status", status, STATUSES) if status is not None else None
        spec = self.list_spec([category] if category else None, wanted)
        [fields] = await run_specs(self._ctx, [spec])
        return to_pafs(fields)

    async def delete(self, paf_id: str) -> None:
        """Remove a PAF and its history for good (prefer :meth:`deprecate`)."""
        check_paf_id(paf_id)
        keys = self._ctx.keys
        client = await self._ctx.client()
        found = await scripts.run(
            client, DELETE, [keys.pafs(), keys.paf_version()], [paf_id, new_version()]
        )
        if not found:
            raise self._missing(paf_id)

    async def export_markdown(
        self, status: PAFStatus | str | None = PAFStatus.ACTIVE, *, full: bool = True
    ) -> str:
        """The PAFs as a markdown list (see :mod:`tta_memory.paf_markdown`): one
        ``- **AUTH-001**: description`` item each, with rationale, status, replaced_by and reason
        as sub-items unless ``full=False``."""
        return render_markdown(await self.list_pafs(status=status), full=full)

    async def import_markdown(self, text: str, *, skip_invalid: bool = False) -> PafImportReport:
        """Add or update the PAFs of a markdown list (any list style, simple or full form).

        Returns:
            Which ids were created, updated or unchanged (and the PAFs written).

        Raises:
            InvalidInputError: Lines that look like PAFs but do not parse (all of them, with
                line numbers) unless ``skip_invalid``; nothing is written.
        """
        check_text("text", text, allow_empty=True)
        return await import_markdown(
            self, text, skip_invalid=skip_invalid, check_description=check_description
        )

    async def restore(self, pafs: Sequence[PAF]) -> None:
        """Write exported PAFs back as they were (import)."""
        if pafs:
            mapping = {p.id: p.model_dump_json() for p in pafs}
            keys = self._ctx.keys
            async with (await self._ctx.client()).pipeline(transaction=True) as pipe:
                pipe.hset(keys.pafs(), mapping=mapping)
                pipe.set(keys.paf_version(), new_version())
                await pipe.execute()
