"""Layer 4 — PAFs: add/get/list/update/deprecate/replace with history, markdown in and out."""

from __future__ import annotations

import pytest
from tta_memory import MemoryWorkflowPrimitive, PAFStatus
from tta_memory.errors import ConflictError, InvalidInputError, NotFoundError


async def test_add_and_get(memory):
    paf = await memory.paf_primitive.add_paf(
        category="AUTH",
        fact_id="001",
        description="Use PyJWT for token generation and validation",
        rationale="Lightweight, well-maintained, sufficient for our needs",
    )

    assert paf.id == "AUTH-001" and paf.category == "AUTH" and paf.fact_id == "001"
    assert paf.status == PAFStatus.ACTIVE and paf.version == 1 and paf.history == []
    assert paf.author == "test-user" and paf.created_at == paf.updated_at
    assert await memory.paf_primitive.get_paf("AUTH-001") == paf
    assert paf.description == "Use PyJWT for token generation and validation"  # guide: attribute


async def test_adding_the_same_fact_again_is_a_no_op(memory):
    first = await memory.paf_primitive.add_paf("AUTH", "001", "Use PyJWT", "light")
    again = await memory.paf_primitive.add_paf("AUTH", "001", "Use PyJWT", "light")
    assert again == first
    assert len(await memory.paf_primitive.list_pafs()) == 1


async def test_adding_a_different_fact_under_an_existing_id_conflicts(memory):
    await memory.paf_primitive.add_paf("AUTH", "001", "Use PyJWT")
    with pytest.raises(ConflictError):
        await memory.paf_primitive.add_paf("AUTH", "001", "Use python-jose")
    assert (await memory.paf_primitive.get_paf("AUTH-001")).description == "Use PyJWT"


async def test_active_pafs_by_category_in_full(memory):
    long_text = "Every service must " + "validate input, " * 2000 + "always."
    await memory.paf_primitive.add_paf("AUTH", "002", "Tokens expire after 15 minutes")
    await memory.paf_primitive.add_paf("AUTH", "001", "Use PyJWT")
    await memory.paf_primitive.add_paf("DB", "001", long_text)
    await memory.paf_primitive.add_paf("DB", "002", "Maybe shard later", status="proposed")

    assert [p.id for p in await memory.get_active_pafs()] == ["AUTH-001", "AUTH-002", "DB-001"]
    assert [p.id for p in await memory.get_active_pafs(category="AUTH")] == ["AUTH-001", "AUTH-002"]
    [db] = await memory.get_active_pafs(category="DB")
    assert db.description == long_text  # never truncated
    assert [p.id for p in await memory.paf_primitive.list_pafs(status="proposed")] == ["DB-002"]


async def test_update_bumps_version_and_keeps_history(memory):
    await memory.paf_primitive.add_paf("API", "001", "REST only", "simplicity")
    updated = await memory.paf_primitive.update_paf("API-001", description="REST and gRPC")
    again = await memory.paf_primitive.update_paf("API-001", rationale="internal services")

    assert updated.version == 2 and again.version == 3
    assert (again.description, again.rationale) == ("REST and gRPC", "internal services")
    assert [(h.version, h.description, h.rationale) for h in again.history] == [
        (1, "REST only", "simplicity"),
        (2, "REST and gRPC", "simplicity"),
    ]
    assert again.created_at < again.updated_at
    assert await memory.paf_primitive.get_paf("API-001") == again


async def test_deprecate_keeps_history_and_leaves_active_list(memory):
    await memory.paf_primitive.add_paf("CACHE", "001", "Use memcached")
    dep = await memory.paf_primitive.deprecate_paf("CACHE-001", "Redis does it all")

    assert dep.status == PAFStatus.DEPRECATED and dep.deprecation_reason == "Redis does it all"
    assert dep.version == 2 and dep.history[0].description == "Use memcached"
    assert await memory.get_active_pafs() == []
    assert [p.id for p in await memory.paf_primitive.list_pafs(status="deprecated")] == [
        "CACHE-001"
    ]


async def test_replace_points_to_the_successor(memory):
    await memory.paf_primitive.add_paf("AUTH", "001", "Sessions in cookies")
    await memory.paf_primitive.add_paf("AUTH", "002", "Stateless JWT")
    old = await memory.paf_primitive.deprecate_paf(
        "AUTH-001", "moved to JWT", replaced_by="AUTH-002"
    )
    assert old.status == PAFStatus.REPLACED and old.replaced_by == "AUTH-002"
    assert [p.id for p in await memory.get_active_pafs()] == ["AUTH-002"]


async def test_replace_by_unknown_or_self_is_refused(memory):
    await memory.paf_primitive.add_paf("AUTH", "001", "Sessions in cookies")
    with pytest.raises(NotFoundError):
        await memory.paf_primitive.deprecate_paf("AUTH-001", "x", replaced_by="AUTH-999")
    with pytest.raises(InvalidInputError):
        await memory.paf_primitive.deprecate_paf("AUTH-001", "x", replaced_by="AUTH-001")
    assert (await memory.paf_primitive.get_paf("AUTH-001")).status == PAFStatus.ACTIVE


async def test_unknown_paf(memory):
    with pytest.raises(NotFoundError):
        await memory.paf_primitive.get_paf("AUTH-404")
    with pytest.raises(NotFoundError):
        await memory.paf_primitive.update_paf("AUTH-404", description="x")
    with pytest.raises(NotFoundError):
        await memory.paf_primitive.deprecate_paf("AUTH-404", "x")


async def test_export_markdown(memory):
    await memory.paf_primitive.add_paf("AUTH", "001", "Use PyJWT")
    await memory.paf_primitive.add_paf("DB", "001", "Postgres 16 **only**: no MySQL")
    await memory.paf_primitive.add_paf("DB", "002", "old idea")
    await memory.paf_primitive.deprecate_paf("DB-002", "dropped")

    assert await memory.paf_primitive.export_markdown() == (
        "- **AUTH-001**: Use PyJWT\n- **DB-001**: Postgres 16 **only**: no MySQL\n"
    )


async def test_markdown_round_trips_into_another_workspace(memory, redis_url, workspace):
    await memory.paf_primitive.add_paf("AUTH", "001", "Use PyJWT")
    await memory.paf_primitive.add_paf("OBS", "017", "Structured JSON logs — with ünïcode ✓")
    text = await memory.paf_primitive.export_markdown()

    other = MemoryWorkflowPrimitive(redis_url, user_id="test-user", workspace=f"{workspace}-copy")
    imported = await other.paf_primitive.import_markdown(text)

    assert [p.id for p in imported] == ["AUTH-001", "OBS-017"]
    assert [(p.id, p.description) for p in await other.get_active_pafs()] == [
        ("AUTH-001", "Use PyJWT"),
        ("OBS-017", "Structured JSON logs — with ünïcode ✓"),
    ]
    assert await other.paf_primitive.export_markdown() == text


async def test_import_updates_changed_and_skips_unchanged(memory):
    await memory.paf_primitive.add_paf("AUTH", "001", "Use PyJWT")
    await memory.paf_primitive.add_paf("AUTH", "002", "15 minute tokens")
    changed = await memory.paf_primitive.import_markdown(
        "# Facts\n\nSome prose.\n\n- **AUTH-001**: Use PyJWT\n* **AUTH-002**: 10 minute tokens\n"
    )
    assert [(p.id, p.version) for p in changed] == [("AUTH-002", 2)]
    assert (await memory.paf_primitive.get_paf("AUTH-002")).description == "10 minute tokens"


async def test_malformed_markdown_line_changes_nothing(memory):
    with pytest.raises(InvalidInputError):
        await memory.paf_primitive.import_markdown(
            "- **AUTH-001**: fine\n- **auth-2**: lower-case id\n"
        )
    assert await memory.paf_primitive.list_pafs() == []


async def test_pafs_are_shared_by_the_workspace_team(memory, redis_url, workspace):
    await memory.paf_primitive.add_paf("AUTH", "001", "Use PyJWT")
    reviewer = MemoryWorkflowPrimitive(redis_url, user_id="reviewer-charlie", workspace=workspace)
    [paf] = await reviewer.get_active_pafs(category="AUTH")
    assert paf.author == "test-user"
    updated = await reviewer.paf_primitive.update_paf("AUTH-001", rationale="reviewed")
    assert updated.history[0].changed_by == "test-user"
    assert (await memory.paf_primitive.get_paf("AUTH-001")).rationale == "reviewed"


async def test_multiline_description_is_refused_so_markdown_export_stays_importable(memory):
    with pytest.raises(InvalidInputError, match="one line"):
        await memory.paf_primitive.add_paf("AUTH", "009", "first line\nsecond line")
    assert await memory.paf_primitive.list_pafs() == []
