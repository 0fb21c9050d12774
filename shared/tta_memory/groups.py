"""``SessionGroupPrimitive``: the guide's session-group API, delegating to the group store (and
to the cross-layer reads of a group's sessions)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from tta_memory import crosslayer
from tta_memory.backend import guarded
from tta_memory.base import ScopedPrimitive
from tta_memory.models import GroupStatus, GroupSummary, SessionGroup, SessionMessage
from tta_memory.observability import instrument
from tta_memory.stores.groups import GroupStore
from tta_memory.stores.sessions import SessionStore
from tta_memory.sync import SyncProxy

if TYPE_CHECKING:
    from tta_memory.sync_api import SyncSessionGroupPrimitive

__all__ = ["GroupSummary", "SessionGroupPrimitive"]


@instrument
class SessionGroupPrimitive(ScopedPrimitive):
    """Create session groups, add sessions to them and read their combined context.

    Takes the arguments of :class:`~tta_memory.base.ScopedPrimitive`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._groups = GroupStore(self._ctx)
        self._sessions = SessionStore(self._ctx)

    @cached_property
    def sync(self) -> SyncSessionGroupPrimitive:
        """Blocking twins of every coroutine method, usable inside a running loop too."""
        return cast("SyncSessionGroupPrimitive", SyncProxy(self))

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
        return await self._groups.create(name, description, tags, status, metadata)

    @guarded
    async def add_session_to_group(self, group_id: str, session_id: str) -> SessionGroup:
        """Add a session to an active group (adding it twice is a no-op).

        Raises:
            GroupClosedError: The group is closed or archived.
        """
        return await self._groups.add_session(group_id, session_id)

    @guarded
    async def remove_session_from_group(self, group_id: str, session_id: str) -> SessionGroup:
        """Remove a session from a group (``NotFoundError`` if it is not a member)."""
        return await self._groups.remove_session(group_id, session_id)

    @guarded
    async def update_group_status(
        self, group_id: str, status: GroupStatus | str, *, summary: str | None = None
    ) -> SessionGroup:
        """Set a group's status (and optionally its summary); closing records ``closed_at``."""
        return await self._groups.update_status(group_id, status, summary=summary)

    @guarded
    async def get_group(self, group_id: str) -> SessionGroup:
        """Return one group."""
        return await self._groups.get(group_id)

    @guarded
    async def get_group_summary(self, group_id: str) -> GroupSummary:
        """A group with the message count of each of its sessions."""
        return await crosslayer.group_summary(self._ctx, self._groups, self._sessions, group_id)

    @guarded
    async def list_groups(
        self, tags: list[str] | None = None, status: GroupStatus | str | None = None
    ) -> list[SessionGroup]:
        """Groups of the workspace, newest first, with any of ``tags`` and the given status."""
        return await self._groups.list_groups(tags, status)

    @guarded
    async def get_session_groups(self, session_id: str) -> list[SessionGroup]:
        """The groups a session belongs to."""
        return await self._groups.of_session(session_id)

    @guarded
    async def get_grouped_context(
        self, group_id: str, max_messages_per_session: int = 20
    ) -> dict[str, list[SessionMessage]]:
        """The latest messages of every session of a group (one round trip).

        Returns:
            Session id -> its latest messages, oldest first.
        """
        return await crosslayer.grouped_context(
            self._ctx, self._groups, self._sessions, group_id, max_messages_per_session
        )

    @guarded
    async def delete_group(self, group_id: str) -> None:
        """Delete a group (its sessions and their messages stay)."""
        await self._groups.delete(group_id)
