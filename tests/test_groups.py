"""Session groups: create, membership, status lifecycle, listing, grouped context, summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tta_memory import GroupStatus, SessionGroupPrimitive
from tta_memory.errors import GroupClosedError, NotFoundError


async def test_create_and_get(groups):
    before = datetime.now(UTC)
    gid = await groups.create_group(
        name="Authentication Feature",
        description="JWT authentication with refresh tokens",
        tags=["auth", "security", "jwt"],
        status=GroupStatus.ACTIVE,
        metadata={"ticket": "A-1"},
    )

    group = await groups.get_group(gid)

    assert isinstance(gid, str) and group.id == gid and group["id"] == gid
    assert group.name == "Authentication Feature"
    assert group.description == "JWT authentication with refresh tokens"
    assert group.tags == ["auth", "security", "jwt"] and group.metadata == {"ticket": "A-1"}
    assert group.status == GroupStatus.ACTIVE and group.session_ids == []
    assert group.author == "test-user" and group.closed_at is None
    assert before - timedelta(seconds=1) <= group.created_at <= datetime.now(UTC)


async def test_add_sessions_in_order_twice_is_a_no_op(groups):
    gid = await groups.create_group("Sprint 12", tags=["sprint12"])
    for sid in ["story-123-auth", "story-124-profiles", "bug-fix-critical", "story-123-auth"]:
        await groups.add_session_to_group(gid, sid)
    assert (await groups.get_group(gid)).session_ids == [
        "story-123-auth",
        "story-124-profiles",
        "bug-fix-critical",
    ]


async def test_remove_session(groups):
    gid = await groups.create_group("G")
    await groups.add_session_to_group(gid, "a")
    await groups.add_session_to_group(gid, "b")
    updated = await groups.remove_session_from_group(gid, "a")
    assert updated.session_ids == ["b"] and (await groups.get_group(gid)).session_ids == ["b"]
    with pytest.raises(NotFoundError):
        await groups.remove_session_from_group(gid, "a")


@pytest.mark.parametrize("status", [GroupStatus.CLOSED, GroupStatus.ARCHIVED])
async def test_closed_or_archived_group_takes_no_new_sessions(groups, status):
    gid = await groups.create_group("Investigation: slow queries", tags=["investigation"])
    await groups.add_session_to_group(gid, "day1")
    closed = await groups.update_group_status(gid, status)

    assert closed.status == status and closed.closed_at is not None
    with pytest.raises(GroupClosedError, match=status.value):
        await groups.add_session_to_group(gid, "day2")
    assert (await groups.get_group(gid)).session_ids == ["day1"]

    reopened = await groups.update_group_status(gid, "active")
    assert reopened.closed_at is None
    await groups.add_session_to_group(gid, "day2")
    assert (await groups.get_group(gid)).session_ids == ["day1", "day2"]


async def test_status_change_with_summary(groups):
    gid = await groups.create_group("Feature: User Profiles")
    done = await groups.update_group_status(gid, GroupStatus.CLOSED, summary="Shipped avatars")
    assert done.summary == "Shipped avatars"
    assert (await groups.get_group(gid)).summary == "Shipped avatars"


async def test_list_groups_by_tags_and_status(groups):
    auth = await groups.create_group("Auth", tags=["auth", "security"])
    profiles = await groups.create_group("Profiles", tags=["profile", "user"])
    perf = await groups.create_group("Perf", tags=["performance", "database"])
    await groups.update_group_status(perf, GroupStatus.ARCHIVED)

    assert [g.id for g in await groups.list_groups()] == [perf, profiles, auth]  # newest first
    assert [g["id"] for g in await groups.list_groups(tags=["auth"])] == [auth]
    assert {g.id for g in await groups.list_groups(tags=["user", "database"])} == {profiles, perf}
    assert [g.id for g in await groups.list_groups(status="archived")] == [perf]
    assert [g.id for g in await groups.list_groups(status=GroupStatus.ACTIVE, tags=["auth"])] == [
        auth
    ]
    assert await groups.list_groups(tags=["nope"]) == []


async def test_listed_group_equals_the_stored_group(groups):
    gid = await groups.create_group("G", description="d", tags=["t"], metadata={"a": [1]})
    await groups.add_session_to_group(gid, "s")
    await groups.update_group_status(gid, GroupStatus.CLOSED, summary="done")
    assert await groups.list_groups(tags=["t"]) == [await groups.get_group(gid)]


async def test_get_session_groups(groups):
    g1 = await groups.create_group("One")
    g2 = await groups.create_group("Two")
    await groups.add_session_to_group(g1, "shared-session")
    await groups.add_session_to_group(g2, "shared-session")
    await groups.add_session_to_group(g2, "only-two")

    assert {g.id for g in await groups.get_session_groups("shared-session")} == {g1, g2}
    assert [g.id for g in await groups.get_session_groups("only-two")] == [g2]
    assert await groups.get_session_groups("lonely") == []


async def test_grouped_context_per_session(memory, groups):
    gid = await groups.create_group("Auth", tags=["auth"])
    await groups.add_session_to_group(gid, "day1")
    await groups.add_session_to_group(gid, "day2")
    await groups.add_session_to_group(gid, "day3-empty")
    await memory.add_session_messages(
        "day1", [{"role": "user", "content": f"d1 m{i}"} for i in range(5)]
    )
    await memory.add_session_message("day2", "assistant", "implemented rotation")

    ctx = await groups.get_grouped_context(group_id=gid, max_messages_per_session=3)

    assert list(ctx) == ["day1", "day2", "day3-empty"]
    assert [m["content"] for m in ctx["day1"]] == ["d1 m2", "d1 m3", "d1 m4"]
    assert [m.content for m in ctx["day2"]] == ["implemented rotation"]
    assert ctx["day3-empty"] == []
    assert await groups.get_grouped_context(await groups.create_group("Empty")) == {}


async def test_summary_counts_messages(memory, groups):
    gid = await groups.create_group("Auth")
    await groups.add_session_to_group(gid, "a")
    await groups.add_session_to_group(gid, "b")
    await memory.add_session_messages("a", [{"role": "user", "content": "x"}] * 3)
    await memory.add_session_message("b", "user", "y")

    summary = await groups.get_group_summary(gid)

    assert summary["name"] == "Auth" and summary["session_ids"] == ["a", "b"]
    assert summary.message_counts == {"a": 3, "b": 1} and summary.total_messages == 4
    assert summary["created_at"] <= summary["updated_at"]


async def test_delete_group_keeps_its_sessions(memory, groups):
    gid = await groups.create_group("Temp")
    await groups.add_session_to_group(gid, "s")
    await memory.add_session_message("s", "user", "still here")
    await groups.delete_group(gid)

    with pytest.raises(NotFoundError):
        await groups.get_group(gid)
    assert await groups.list_groups() == []
    assert [m.content for m in await memory.get_session_context("s")] == ["still here"]
    with pytest.raises(NotFoundError):
        await groups.delete_group(gid)


async def test_groups_are_shared_by_the_workspace_team(groups, redis_url, workspace):
    gid = await groups.create_group("Auth", tags=["auth"])
    reviewer = SessionGroupPrimitive(redis_url, user_id="reviewer-charlie", workspace=workspace)
    [found] = await reviewer.list_groups(tags=["auth"])
    assert found.id == gid and found.author == "test-user"


async def test_unknown_group(groups):
    for call in (groups.get_group, groups.get_group_summary, groups.get_grouped_context):
        with pytest.raises(NotFoundError):
            await call("grp-0000000000000000")
    with pytest.raises(NotFoundError):
        await groups.add_session_to_group("grp-0000000000000000", "s")
    with pytest.raises(NotFoundError):
        await groups.update_group_status("grp-0000000000000000", "closed")
