"""Nothing acknowledged is lost across a server restart: write through the engine to a throwaway
server, stop it, start it again on the same data directory, read everything back."""

from __future__ import annotations

from tta_memory import (
    EmbeddedRedis,
    GroupStatus,
    MemoryWorkflowPrimitive,
    SessionGroupPrimitive,
    WorkflowContext,
)


async def test_everything_survives_a_restart(tmp_path):
    server = EmbeddedRedis(data_dir=tmp_path / "data")
    server.start()
    try:
        memory = MemoryWorkflowPrimitive(server.url, user_id="dev-alice", workspace="team")
        groups = SessionGroupPrimitive(server.url, user_id="dev-alice", workspace="team")

        msgs = await memory.add_session_messages(
            "s1",
            [
                {"role": "user", "content": "Implement JWT auth", "metadata": {"n": 1}},
                {"role": "assistant", "content": "Planned: PyJWT + refresh rotation"},
                {"role": "user", "content": "old turn"},
            ],
        )
        await memory.archive_session_messages("s1", 1)
        deep = await memory.create_deep_memories(
            [
                {"text": "Refresh tokens rotate on every use", "tags": ["jwt", "pattern"]},
                {"text": "Postgres needs a composite index on (user_id, created_at)"},
            ]
        )
        private = await memory.create_deep_memory("my private note", private=True)
        paf = await memory.paf_primitive.add_paf("AUTH", "001", "Use PyJWT", "lightweight")
        await memory.paf_primitive.update_paf("AUTH-001", rationale="reviewed")
        note = await memory.add_cache_entry("CI is flaky today", tags=["ci"], ttl_seconds=3600)
        gid = await groups.create_group("Auth", description="JWT", tags=["auth"])
        await groups.add_session_to_group(gid, "s1")
        await groups.update_group_status(gid, GroupStatus.CLOSED, summary="done")
    finally:
        server.stop()
    assert not server.is_running()

    server = EmbeddedRedis(data_dir=tmp_path / "data")
    server.start()
    try:
        memory = MemoryWorkflowPrimitive(server.url, user_id="dev-alice", workspace="team")
        groups = SessionGroupPrimitive(server.url, user_id="dev-alice", workspace="team")

        active = await memory.get_session_context("s1")
        assert [(m.id, m.seq, m.content, m.metadata) for m in active] == [
            (m.id, m.seq, m.content, m.metadata) for m in msgs[1:]
        ]
        assert [m.id for m in await memory.get_session_context("s1", archived=True)] == [msgs[0].id]
        assert (await memory.add_session_message("s1", "user", "after restart")).seq == 4
        assert await memory.list_sessions() == ["s1"]

        [hit] = await memory.search_deep_memory("how do refresh tokens rotate", limit=1)
        assert hit.id == deep[0].id and hit.tags == ["jwt", "pattern"]
        [by_text] = await memory.search_deep_memory("composite index", search_mode="text")
        assert by_text.id == deep[1].id
        assert await memory.get_deep_memory(private.id) == private
        assert len(await memory.search_deep_memory("", limit=100)) == 3

        got = await memory.paf_primitive.get_paf("AUTH-001")
        assert got.version == 2 and got.rationale == "reviewed" and got.created_at == paf.created_at
        assert [p.id for p in await memory.get_active_pafs()] == ["AUTH-001"]

        cache = await memory.get_cache_memory()
        assert note.id in {e.id for e in cache}

        group = await groups.get_group(gid)
        assert group.session_ids == ["s1"] and group.status == GroupStatus.CLOSED
        assert group.summary == "done"
        assert [g.id for g in await groups.list_groups(tags=["auth"])] == [gid]
        assert [g.id for g in await groups.get_session_groups("s1")] == [gid]

        ctx = WorkflowContext(workflow_id="wf", session_id="s1", metadata={}, state={})
        md = (await memory.load_workflow_context(ctx, "understand", "augster_rigorous")).metadata
        assert [p.id for p in md["pafs"]] == ["AUTH-001"]
        assert len(md["deep_memory"]) == 3 and [g.id for g in md["session_groups"]] == [gid]
    finally:
        server.stop()
