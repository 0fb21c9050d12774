"""Session groups: named sets of sessions (a feature, a sprint, an investigation).

Each group is a hash indexed by tags, status and member sessions; membership changes are
bounded optimistic (``WATCH``) transactions on that one key.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from redisvl.query import FilterQuery
from redisvl.query.filter import FilterExpression

from tta_memory import replies
from tta_memory.context import ReadSpec, Store, watched
from tta_memory.errors import GroupClosedError, NotFoundError
from tta_memory.limits import read_json, read_time
from tta_memory.models import GroupStatus, SessionGroup
from tta_memory.names import Tag, check_name, check_tags
from tta_memory.schema import QUERY_DIALECT, TAG_SEPARATOR
from tta_memory.validation import check_choice, check_metadata, check_text

GROUP_FIELDS = [
    "group_id",
    "workspace",
    "name",
    "description",
    "tags",
    "status",
    "metadata",
    "session_ids",
    "author",
    "created",
    "updated_at",
    "closed_at",
    "summary",
]
STATUSES = tuple(s.value for s in GroupStatus)
MAX_GROUPS = 10_000
EXPORT_PAGE = 500


def _split(value: str | None) -> list[str]:
    return value.split(TAG_SEPARATOR) if value else []


def _ts(value: Any) -> datetime | None:
    # Tolerant: a stored time that does not decode is read as missing, never raises.
    return read_time(value)


def decode_group(doc: Mapping[str, Any]) -> SessionGroup:
    """Rebuild a :class:`SessionGroup` from its hash or a search result."""
    # Sortable fields come back from FT.SEARCH rounded; "created" keeps the exact value.
    created = _ts(doc.get("created") or doc.get("created_at")) or datetime.fromtimestamp(0, UTC)
    return SessionGroup(
        id=doc["group_id"],
        name=doc["name"],
        description=doc.get("description", ""),
        tags=_split(doc.get("tags")),
        status=GroupStatus(doc["status"]),
        metadata=read_json(doc.get("metadata"), {}),
        session_ids=_split(doc.get("session_ids")),
        author=doc["author"],
        created_at=created,
        updated_at=_ts(doc.get("updated_at")) or created,
        closed_at=_ts(doc.get("closed_at")),
        summary=doc.get("summary") or None,
    )


def encode_group(group: SessionGroup, workspace: str) -> dict[str, Any]:
    """The hash fields of a group (the inverse of :func:`decode_group`)."""
    created = repr(group.created_at.timestamp())
    return {
        "group_id": group.id,
        "workspace": workspace,
        "name": group.name,
        "description": group.description,
        "tags": TAG_SEPARATOR.join(group.tags),
        "status": group.status.value,
        "metadata": json.dumps(group.metadata, ensure_ascii=False),
        "session_ids": TAG_SEPARATOR.join(group.session_ids),
        "author": group.author,
        "created_at": created,
        "created": created,
        "updated_at": repr(group.updated_at.timestamp()),
        "closed_at": repr(group.closed_at.timestamp()) if group.closed_at else "",
        "summary": group.summary or "",
    }


def _decode_row(values: Sequence[Any]) -> dict[str, Any] | None:
    if values[0] is None:
        return None
    return {
        # Inline (a call per field costs more on the load path), lenient like replies.text:
        # bytes another client wrote that are not UTF-8 must not fail the read.
        k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else v)
        for k, v in zip(GROUP_FIELDS, values, strict=True)
        if v is not None
    }


class GroupStore(Store):
    """The session groups of one workspace (``memory.groups``)."""

    def _missing(self, group_id: str) -> NotFoundError:
        return NotFoundError(f"no session group {group_id!r} in workspace {self._ctx.workspace!r}")

    def _mine(self, row: Mapping[str, Any] | None) -> bool:
        return row is not None and row.get("workspace") == self._ctx.workspace

    def _query(self, f: FilterExpression, limit: int = MAX_GROUPS, asc: bool = False) -> Any:
        q = FilterQuery(filter_expression=f, return_fields=GROUP_FIELDS, num_results=limit)
        q.sort_by("created_at", asc=asc)
        q.dialect(QUERY_DIALECT)
        return q

    async def _search(self, f: FilterExpression) -> list[SessionGroup]:
        index = await self._ctx.backend.group_index(self._ctx.keys.partition)
        found = await index.query(self._query(f))
        return [decode_group(d) for d in found if self._mine(d)]

    async def _change(
        self, group_id: str, mutate: Callable[[SessionGroup], dict[str, Any]]
    ) -> SessionGroup:
        check_name("group_id", group_id)
        key = self._ctx.keys.group(group_id)

        async def read(pipe: Any) -> dict[str, Any]:
            row = _decode_row(await pipe.hmget(key, GROUP_FIELDS))
            if row is None or not self._mine(row):
                raise self._missing(group_id)
            return row

        def write(pipe: Any, row: dict[str, Any]) -> SessionGroup:
            changes = {**mutate(decode_group(row)), "updated_at": repr(time.time())}
            pipe.hset(key, mapping=changes)
            return decode_group({**row, **changes})

        result: SessionGroup = await watched(self._ctx, key, read, write)
        return result

    async def create(
        self,
        name: str,
        description: str = "",
        tags: list[str] | None = None,
        status: GroupStatus | str = GroupStatus.ACTIVE,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """Create a group and return its id (see ``SessionGroupPrimitive.create_group``)."""
        check_text("name", name)
        check_text("description", description, allow_empty=True)
        state = check_choice("status", status, STATUSES)
        now = datetime.now(UTC)
        group = SessionGroup(
            id=f"grp-{uuid.uuid4().hex[:16]}",
            name=name,
            description=description,
            tags=check_tags(tags),
            status=GroupStatus(state),
            metadata=check_metadata(metadata),
            author=self._ctx.user_id,
            created_at=now,
            updated_at=now,
            closed_at=now if state != "active" else None,
        )
        await self.restore([group])
        return group.id

    async def restore(self, groups: Sequence[SessionGroup]) -> None:
        """Write groups as they are (create and import)."""
        # The partition's group index exists before its first group (no scan at the first read).
        await self._ctx.backend.group_index(self._ctx.keys.partition)
        client = await self._ctx.client()
        async with client.pipeline(transaction=False) as pipe:
            for g in groups:
                pipe.hset(self._ctx.keys.group(g.id), mapping=encode_group(g, self._ctx.workspace))
            await pipe.execute()

    async def add_session(self, group_id: str, session_id: str) -> SessionGroup:
        """Add a session to an active group (twice is a no-op).

        Raises:
            GroupClosedError: The group is closed or archived.
        """
        check_name("session_id", session_id)

        def mutate(group: SessionGroup) -> dict[str, Any]:
            if group.status != GroupStatus.ACTIVE:
                raise GroupClosedError(
                    f"session group {group.id!r} is {group.status.value}: it takes no new "
                    "sessions (reopen it with update_group_status(…, GroupStatus.ACTIVE))"
                )
            ids = group.session_ids
            if session_id not in ids:
                ids = [*ids, session_id]
            return {"session_ids": TAG_SEPARATOR.join(ids)}

        return await self._change(group_id, mutate)

    async def remove_session(self, group_id: str, session_id: str) -> SessionGroup:
        """Remove a session from a group (``NotFoundError`` if it is not a member)."""
        check_name("session_id", session_id)

        def mutate(group: SessionGroup) -> dict[str, Any]:
            if session_id not in group.session_ids:
                raise NotFoundError(f"session {session_id!r} is not in group {group.id!r}")
            kept = [s for s in group.session_ids if s != session_id]
            return {"session_ids": TAG_SEPARATOR.join(kept)}

        return await self._change(group_id, mutate)

    async def update_status(
        self, group_id: str, status: GroupStatus | str, *, summary: str | None = None
    ) -> SessionGroup:
        """Set a group's status (and summary); closing records ``closed_at``."""
        state = check_choice("status", status, STATUSES)
        if summary is not None:
            check_text("summary", summary, allow_empty=True)

        def mutate(group: SessionGroup) -> dict[str, Any]:
            changes: dict[str, Any] = {"status": state}
            if state == "active":
                changes["closed_at"] = ""
            elif group.closed_at is None:
                changes["closed_at"] = repr(time.time())
            if summary is not None:
                changes["summary"] = summary
            return changes

        return await self._change(group_id, mutate)

    def get_spec(self, group_id: str) -> ReadSpec[SessionGroup | None]:
        """One group as a batched read (``None`` if absent)."""
        check_name("group_id", group_id)
        key = self._ctx.keys.group(group_id)

        def decode(replies: Sequence[Any]) -> SessionGroup | None:
            row = _decode_row(replies[0])
            return decode_group(row) if row is not None and self._mine(row) else None

        return ReadSpec(lambda pipe: pipe.hmget(key, GROUP_FIELDS), 1, decode)

    async def get(self, group_id: str) -> SessionGroup:
        """One group (``NotFoundError`` if absent)."""
        spec = self.get_spec(group_id)
        group = spec.decode(
            [await (await self._ctx.client()).hmget(self._ctx.keys.group(group_id), GROUP_FIELDS)]
        )
        if group is None:
            raise self._missing(group_id)
        return group

    async def list_groups(
        self, tags: list[str] | None = None, status: GroupStatus | str | None = None
    ) -> list[SessionGroup]:
        """Groups of the workspace, newest first, with any of ``tags`` and the given status."""
        f = Tag("workspace") == self._ctx.workspace
        tag_list = check_tags(tags)
        if tag_list:
            f &= Tag("tags") == tag_list
        if status is not None:
            f &= Tag("status") == check_choice("status", status, STATUSES)
        return await self._search(f)

    def _of_session_filter(self, session_id: str) -> FilterExpression:
        check_name("session_id", session_id)
        return (Tag("workspace") == self._ctx.workspace) & (Tag("session_ids") == session_id)

    async def of_session(self, session_id: str) -> list[SessionGroup]:
        """The groups a session belongs to, newest first."""
        return await self._search(self._of_session_filter(session_id))

    def of_session_spec(self, session_id: str) -> ReadSpec[list[SessionGroup]]:
        """:meth:`of_session` as a batched read (a raw ``FT.SEARCH``, see replies.py), so the
        context loader sends it in its first pipeline. A server without the index (it lost it,
        or nothing created it yet) fails the pipeline: the caller then reads through
        :meth:`of_session`, which creates it."""
        f = self._of_session_filter(session_id)
        args = replies.search_args(self._ctx.keys.index_name("group"), self._query(f))

        def decode(reply: Sequence[Any]) -> list[SessionGroup]:
            return [decode_group(d) for d in replies.documents(reply[0]) if self._mine(d)]

        return ReadSpec(lambda pipe: pipe.execute_command("FT.SEARCH", *args), 1, decode)

    async def delete(self, group_id: str) -> None:
        """Delete a group (its sessions and their messages stay)."""
        await self.get(group_id)
        await (await self._ctx.client()).delete(self._ctx.keys.group(group_id))

    async def export(self) -> list[SessionGroup]:
        """Every group of the workspace, oldest first."""
        index = await self._ctx.backend.group_index(self._ctx.keys.partition)
        q = self._query(Tag("workspace") == self._ctx.workspace, EXPORT_PAGE, asc=True)
        out: list[SessionGroup] = []
        async for page in index.paginate(q, page_size=EXPORT_PAGE):
            out += [decode_group(d) for d in page if self._mine(d)]
        return out
