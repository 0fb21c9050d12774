"""Session groups: named sets of sessions (a feature, a sprint, an investigation).

Each group is a hash indexed by tags, status and member sessions; membership changes are
optimistic (``WATCH``) transactions on that one key.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import Field
from redis.exceptions import WatchError
from redisvl.query import FilterQuery
from redisvl.query.filter import FilterExpression

from tta_memory.backend import Backend, guarded
from tta_memory.base import ScopedPrimitive
from tta_memory.errors import GroupClosedError, NotFoundError
from tta_memory.keys import Keys
from tta_memory.models import GroupStatus, SessionGroup, SessionMessage
from tta_memory.names import Tag
from tta_memory.schema import SORTED_DIALECT, TAG_SEPARATOR
from tta_memory.session import decode_message
from tta_memory.validation import (
    check_choice,
    check_id,
    check_metadata,
    check_positive,
    check_tags,
    check_text,
)

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


class GroupSummary(SessionGroup):
    """A group with the size of each member session."""

    message_counts: dict[str, int] = Field(default_factory=dict)
    total_messages: int = 0


def _split(value: str | None) -> list[str]:
    return value.split(TAG_SEPARATOR) if value else []


def _ts(value: Any) -> datetime | None:
    return datetime.fromtimestamp(float(value), UTC) if value not in (None, "") else None


def decode_group(doc: dict[str, Any]) -> SessionGroup:
    """Rebuild a :class:`SessionGroup` from its hash or a search result."""
    # Sortable fields come back from FT.SEARCH rounded; "created" keeps the exact value.
    created = _ts(doc.get("created") or doc.get("created_at"))
    assert created is not None
    return SessionGroup(
        id=doc["group_id"],
        name=doc["name"],
        description=doc.get("description", ""),
        tags=_split(doc.get("tags")),
        status=GroupStatus(doc["status"]),
        metadata=json.loads(doc.get("metadata") or "{}"),
        session_ids=_split(doc.get("session_ids")),
        author=doc["author"],
        created_at=created,
        updated_at=_ts(doc.get("updated_at")) or created,
        closed_at=_ts(doc.get("closed_at")),
        summary=doc.get("summary") or None,
    )


def encode_group(group: SessionGroup, workspace: str) -> Mapping[Any, Any]:
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


def _decode_row(values: list[Any]) -> dict[str, Any] | None:
    if values[0] is None:
        return None
    return {
        k: (v.decode() if isinstance(v, bytes) else v)
        for k, v in zip(GROUP_FIELDS, values, strict=True)
        if v is not None
    }


async def fetch_group(backend: Backend, keys: Keys, group_id: str) -> SessionGroup:
    """Load one group of ``keys.workspace`` (``NotFoundError`` if absent)."""
    check_id("group_id", group_id)
    client = await backend.client()
    row = _decode_row(await client.hmget(keys.group(group_id), GROUP_FIELDS))
    if row is None or row.get("workspace") != keys.workspace:
        raise NotFoundError(f"no session group {group_id!r} in workspace {keys.workspace!r}")
    return decode_group(row)


def group_filter(
    workspace: str,
    *,
    tags: list[str] | None = None,
    status: str | None = None,
    session_id: str | None = None,
) -> FilterExpression:
    """Filter for groups of a workspace by any of ``tags``, ``status`` and member session."""
    f = Tag("workspace") == workspace
    if tags:
        f &= Tag("tags") == tags
    if status:
        f &= Tag("status") == status
    if session_id:
        f &= Tag("session_ids") == session_id
    return f


def group_query(f: FilterExpression) -> FilterQuery:
    """Newest-first query over the group index."""
    q = FilterQuery(filter_expression=f, return_fields=GROUP_FIELDS, num_results=MAX_GROUPS)
    q.sort_by("created_at", asc=False)
    q.dialect(SORTED_DIALECT)
    return q


class SessionGroupPrimitive(ScopedPrimitive):
    """Create session groups, add sessions to them and read their combined context."""

    async def _change(
        self, group_id: str, mutate: Callable[[SessionGroup], dict[str, Any]]
    ) -> SessionGroup:
        check_id("group_id", group_id)
        key = self._keys.group(group_id)
        client = await self._backend.client()
        async with client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    row = _decode_row(await pipe.hmget(key, GROUP_FIELDS))
                    if row is None or row.get("workspace") != self.workspace:
                        raise NotFoundError(
                            f"no session group {group_id!r} in workspace {self.workspace!r}"
                        )
                    changes: Mapping[Any, Any] = mutate(decode_group(row))
                    changes = {**changes, "updated_at": repr(time.time())}
                    pipe.multi()
                    pipe.hset(key, mapping=changes)
                    await pipe.execute()
                    return decode_group({**row, **changes})
                except WatchError:
                    continue

    @guarded
    async def create_group(
        self,
        name: str,
        description: str = "",
        tags: list[str] | None = None,
        status: GroupStatus | str = GroupStatus.ACTIVE,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """Create a group.

        Args:
            name: Display name.
            description: What the group is about (used to focus stage-aware loading).
            tags: Tags; stage-aware loading focuses deep search on them.
            status: Initial status (default active).
            metadata: JSON-serialisable data.

        Returns:
            The new group's id.
        """
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
            author=self.user_id,
            created_at=now,
            updated_at=now,
            closed_at=now if state != "active" else None,
        )
        group_id = group.id
        doc = encode_group(group, self.workspace)
        await (await self._backend.client()).hset(self._keys.group(group_id), mapping=doc)
        return group_id

    @guarded
    async def add_session_to_group(self, group_id: str, session_id: str) -> SessionGroup:
        """Add a session to an active group (adding it twice is a no-op).

        Raises:
            GroupClosedError: The group is closed or archived.
        """
        check_id("session_id", session_id)

        def mutate(group: SessionGroup) -> dict[str, Any]:
            if group.status != GroupStatus.ACTIVE:
                raise GroupClosedError(
                    f"session group {group.id!r} is {group.status.value}: it takes no new "
                    "sessions (reopen it with update_group_status(…, GroupStatus.ACTIVE))"
                )
            ids = (
                group.session_ids
                if session_id in group.session_ids
                else [*group.session_ids, session_id]
            )
            return {"session_ids": TAG_SEPARATOR.join(ids)}

        return await self._change(group_id, mutate)

    @guarded
    async def remove_session_from_group(self, group_id: str, session_id: str) -> SessionGroup:
        """Remove a session from a group (``NotFoundError`` if it is not a member)."""
        check_id("session_id", session_id)

        def mutate(group: SessionGroup) -> dict[str, Any]:
            if session_id not in group.session_ids:
                raise NotFoundError(f"session {session_id!r} is not in group {group.id!r}")
            return {
                "session_ids": TAG_SEPARATOR.join(s for s in group.session_ids if s != session_id)
            }

        return await self._change(group_id, mutate)

    @guarded
    async def update_group_status(
        self, group_id: str, status: GroupStatus | str, *, summary: str | None = None
    ) -> SessionGroup:
        """Set a group's status (and optionally its summary); closing records ``closed_at``."""
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

    @guarded
    async def get_group(self, group_id: str) -> SessionGroup:
        """Return one group."""
        return await fetch_group(self._backend, self._keys, group_id)

    @guarded
    async def get_group_summary(self, group_id: str) -> GroupSummary:
        """A group with the message count of each of its sessions."""
        group = await fetch_group(self._backend, self._keys, group_id)
        client = await self._backend.client()
        async with client.pipeline(transaction=False) as pipe:
            for sid in group.session_ids:
                pipe.zcard(self._keys.session_active(sid))
            counts = await pipe.execute() if group.session_ids else []
        per = dict(zip(group.session_ids, map(int, counts), strict=True))
        return GroupSummary(
            **group.model_dump(), message_counts=per, total_messages=sum(per.values())
        )

    @guarded
    async def list_groups(
        self, tags: list[str] | None = None, status: GroupStatus | str | None = None
    ) -> list[SessionGroup]:
        """Groups of the workspace, newest first, with any of ``tags`` and the given status."""
        wanted = check_choice("status", status, STATUSES) if status is not None else None
        f = group_filter(self.workspace, tags=check_tags(tags), status=wanted)
        st = await self._backend.state()
        found = await st.group_index.query(group_query(f))
        return [decode_group(d) for d in found if d.get("workspace") == self.workspace]

    @guarded
    async def get_session_groups(self, session_id: str) -> list[SessionGroup]:
        """The groups a session belongs to."""
        f = group_filter(self.workspace, session_id=check_id("session_id", session_id))
        st = await self._backend.state()
        found = await st.group_index.query(group_query(f))
        return [decode_group(d) for d in found if d.get("workspace") == self.workspace]

    @guarded
    async def get_grouped_context(
        self, group_id: str, max_messages_per_session: int = 20
    ) -> dict[str, list[SessionMessage]]:
        """The latest messages of every session of a group (one round trip).

        Returns:
            Session id -> its latest messages, oldest first.
        """
        n = check_positive("max_messages_per_session", max_messages_per_session)
        group = await fetch_group(self._backend, self._keys, group_id)
        if not group.session_ids:
            return {}
        client = await self._backend.client()
        async with client.pipeline(transaction=False) as pipe:
            for sid in group.session_ids:
                pipe.zrange(self._keys.session_active(sid), -n, -1, withscores=True)
            rows = await pipe.execute()
        return {
            sid: [decode_message(sid, m, s) for m, s in r]
            for sid, r in zip(group.session_ids, rows, strict=True)
        }

    @guarded
    async def delete_group(self, group_id: str) -> None:
        """Delete a group (its sessions and their messages stay)."""
        await fetch_group(self._backend, self._keys, group_id)
        await (await self._backend.client()).delete(self._keys.group(group_id))
