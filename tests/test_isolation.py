"""Workspace isolation and hostile input: any Unicode and every RediSearch syntax character in
text, tags, ids and queries round-trips exactly and never widens a query."""

from __future__ import annotations

import uuid

import pytest
from tta_memory import MemoryWorkflowPrimitive, SessionGroupPrimitive
from tta_memory.errors import NotFoundError

SYNTAX = "@{}|-*()\":;,.<>[]~%$^\\'"
HOSTILE = [
    "a|b",
    "*",
    "@workspace:{other}",
    "x}|{y",
    "-neg",
    "(a)",
    '"quoted"',
    "a:b;c",
    "1.5,2",
    "<x>",
    "[0 9]",
    "~opt",
    "%fuzzy%",
    "$param",
    "^start",
    "back\\slash",
    "it's",
    "a b",
    "日本語",
    "emoji 😀",
    "ünïcödé",
    "mixed " + SYNTAX,
    SYNTAX,
    "{" + "}",
    "\\",
]


def _uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def neighbours(redis_url):
    """Two workspaces whose names are RediSearch syntax around a common stem."""
    stem = _uniq("team")
    names = [stem, f"{stem}|other", f"{stem}*", f"@workspace:{{{stem}}}", f"{stem} x"]
    return [MemoryWorkflowPrimitive(redis_url, user_id="u", workspace=n) for n in names]


async def test_hostile_workspace_names_see_only_their_own_data(neighbours, redis_url):
    for m in neighbours:
        await m.add_session_message("s", "user", f"message of {m.workspace}")
        await m.add_cache_entry(f"note of {m.workspace}", tags=["t"])
        await m.create_deep_memory(f"memory of {m.workspace}", tags=["t"])
        await m.paf_primitive.add_paf("WS", "001", f"paf of {m.workspace}")
        groups = SessionGroupPrimitive(redis_url, user_id="u", workspace=m.workspace)
        await groups.create_group(f"group of {m.workspace}", tags=["t"])

    for m in neighbours:
        me = m.workspace
        assert [x.content for x in await m.get_session_context("s")] == [f"message of {me}"]
        assert sorted(e.content for e in await m.get_cache_memory()) == [
            f"message of {me}",
            f"note of {me}",
        ]
        for query in ("", "memory of", "* | @workspace:{other}", me):
            hits = await m.search_deep_memory(query, tags=["t"], limit=100)
            assert [h.text for h in hits] == [f"memory of {me}"], query
        assert [p.description for p in await m.get_active_pafs()] == [f"paf of {me}"]
        groups = SessionGroupPrimitive(redis_url, user_id="u", workspace=me)
        assert [g.name for g in await groups.list_groups(tags=["t"])] == [f"group of {me}"]
        assert await m.list_sessions() == ["s"]


async def test_ids_from_another_workspace_are_not_found(neighbours, redis_url):
    a, b = neighbours[0], neighbours[1]
    made = await a.create_deep_memory("only in a")
    gid = await SessionGroupPrimitive(redis_url, user_id="u", workspace=a.workspace).create_group(
        "only in a"
    )
    entry = await a.add_cache_entry("note only in a")
    b_groups = SessionGroupPrimitive(redis_url, user_id="u", workspace=b.workspace)

    with pytest.raises(NotFoundError):
        await b.get_deep_memory(made.id)
    with pytest.raises(NotFoundError):
        await b.update_deep_memory(made.id, text="hijacked")
    with pytest.raises(NotFoundError):
        await b.delete_deep_memory(made.id)
    with pytest.raises(NotFoundError):
        await b_groups.get_group(gid)
    with pytest.raises(NotFoundError):
        await b_groups.add_session_to_group(gid, "intruder")
    with pytest.raises(NotFoundError):
        await b.get_cache_memory(group_id=gid)
    with pytest.raises(NotFoundError):
        await b.promote_cache_entry(entry.id)
    assert (await a.get_deep_memory(made.id)).text == "only in a"
    assert (
        await SessionGroupPrimitive(redis_url, "u", workspace=a.workspace).get_group(gid)
    ).session_ids == []


async def test_hostile_text_round_trips_in_every_layer(memory, groups):
    text = "Ünïcode ✓ 日本語 😀 " + SYNTAX + " \t tab and\nnewline  double  space "
    msg = await memory.add_session_message("s", "user", text, metadata={SYNTAX: [text]})
    note = await memory.add_cache_entry(text, metadata={"k": text})
    deep = await memory.create_deep_memory(text, metadata={"k": text})
    # A PAF description is one line (markdown export); everything else of the text is kept.
    one_line = text.replace("\n", " ")
    paf = await memory.paf_primitive.add_paf("TXT", "001", one_line, rationale=text)
    gid = await groups.create_group(text, description=text, metadata={"k": text})

    [got_msg] = await memory.get_session_context("s")
    assert (got_msg.content, got_msg.metadata) == (text, {SYNTAX: [text]}) and got_msg.id == msg.id
    cached = {e.id: e for e in await memory.get_cache_memory()}
    assert cached[note.id].content == text and cached[note.id].metadata == {"k": text}
    assert cached[msg.id].content == text
    assert (await memory.get_deep_memory(deep.id)).text == text
    [hit] = await memory.search_deep_memory(text)
    assert hit.text == text and hit.metadata == {"k": text}
    got_paf = await memory.paf_primitive.get_paf(paf.id)
    assert (got_paf.description, got_paf.rationale) == (one_line, text)
    group = await groups.get_group(gid)
    assert (group.name, group.description, group.metadata) == (text, text, {"k": text})


async def test_hostile_tags_match_exactly_and_never_widen(memory):
    plain = await memory.create_deep_memories(
        [{"text": "tagged a", "tags": ["a"]}, {"text": "tagged b", "tags": ["b"]}]
    )
    hostile = await memory.create_deep_memories(
        [{"text": f"memory tagged {i}", "tags": [tag]} for i, tag in enumerate(HOSTILE)]
    )
    for tag, made in zip(HOSTILE, hostile, strict=True):
        assert made.tags == [tag]
        for mode_query in ("", "memory tagged"):
            hits = await memory.search_deep_memory(mode_query, tags=[tag], limit=100)
            assert [h.id for h in hits] == [made.id], tag
        all_of = await memory.search_deep_memory("", tags=[tag, "a"], match_all_tags=True)
        assert all_of == [], tag
    # the plain tags do not pull in the hostile ones that contain them
    assert [h.id for h in await memory.search_deep_memory("", tags=["a"], limit=100)] == [
        plain[0].id
    ]
    assert [h.id for h in await memory.search_deep_memory("", tags=["b"], limit=100)] == [
        plain[1].id
    ]


async def test_hostile_queries_stay_inside_filters(memory, redis_url, workspace):
    other = MemoryWorkflowPrimitive(redis_url, user_id="u", workspace=f"{workspace}-other")
    await other.create_deep_memory("secret of the other workspace", tags=["x"])
    await memory.create_deep_memory("ordinary memory", tags=["keep"])
    await memory.create_deep_memory("second ordinary memory", tags=["keep"])
    mine = {"ordinary memory", "second ordinary memory"}
    queries = [*HOSTILE, "* | @workspace:{" + other.workspace + "}", "@tags:{x} | *", "-ordinary"]
    for q in queries:
        for mode in ("hybrid", "text", "vector"):
            hits = await memory.search_deep_memory(q, tags=["keep"], search_mode=mode, limit=100)
            assert {h.text for h in hits} <= mine, (q, mode)
            assert all("keep" in h.tags for h in hits)
        unfiltered = await memory.search_deep_memory(q, limit=100)
        assert "secret of the other workspace" not in {h.text for h in unfiltered}, q
    # syntax around real words is ignored, the words still match
    hits = await memory.search_deep_memory('"ordinary" | @workspace:{*}', search_mode="text")
    assert {h.text for h in hits} == mine


async def test_hostile_session_ids_round_trip_and_stay_apart(memory, groups):
    ids = [*HOSTILE, "s", "s*", "s|t", "t"]
    for sid in ids:
        await memory.add_session_message(sid, "user", f"in {sid}")
    gid = await groups.create_group("hostile sessions", tags=HOSTILE)
    for sid in HOSTILE:
        await groups.add_session_to_group(gid, sid)

    for sid in ids:
        assert [m.content for m in await memory.get_session_context(sid)] == [f"in {sid}"]
        assert [e.content for e in await memory.get_cache_memory(session_id=sid)] == [f"in {sid}"]
    assert sorted(await memory.list_sessions()) == sorted(ids)
    assert (await groups.get_group(gid)).session_ids == HOSTILE
    grouped = await groups.get_grouped_context(gid)
    assert {sid: [m.content for m in msgs] for sid, msgs in grouped.items()} == {
        sid: [f"in {sid}"] for sid in HOSTILE
    }
    assert {e.content for e in await memory.get_cache_memory(group_id=gid)} == {
        f"in {sid}" for sid in HOSTILE
    }
    for sid in HOSTILE:
        assert [g.id for g in await groups.get_session_groups(sid)] == [gid], sid
    assert await groups.get_session_groups("s") == []
    await memory.clear_session("s|t")
    assert [m.content for m in await memory.get_session_context("s")] == ["in s"]
    assert [m.content for m in await memory.get_session_context("t")] == ["in t"]


async def test_hostile_group_tags_and_filters(groups):
    plain = await groups.create_group("plain", tags=["a"])
    hostile = {tag: await groups.create_group(f"g {tag}", tags=[tag]) for tag in HOSTILE}
    for tag, gid in hostile.items():
        assert [g.id for g in await groups.list_groups(tags=[tag])] == [gid], tag
        assert (await groups.get_group(gid)).tags == [tag]
    assert [g.id for g in await groups.list_groups(tags=["a"])] == [plain]


async def test_hostile_author_type_and_session_filters(memory, redis_url, workspace):
    users = ["bob", "bob|alice", "*", "al ice"]
    for user in users:
        m = MemoryWorkflowPrimitive(redis_url, user_id=user, workspace=workspace)
        await m.create_deep_memory(
            f"written by {user}", memory_type=f"type {user}", session_id=f"sess {user}"
        )
        await m.create_deep_memory(f"secret of {user}", private=True)
    for user in users:
        by = await memory.search_deep_memory("", author=user, limit=100)
        assert [h.text for h in by] == [f"written by {user}"], user
        typed = await memory.search_deep_memory("", memory_type=f"type {user}")
        assert [h.text for h in typed] == [f"written by {user}"], user
        in_session = await memory.search_deep_memory("", session_id=f"sess {user}")
        assert [h.text for h in in_session] == [f"written by {user}"], user
    # private memories stay private whatever the author id looks like
    everything = await memory.search_deep_memory("secret", limit=100)
    assert not any(h.text.startswith("secret of") for h in everything)
    star = MemoryWorkflowPrimitive(redis_url, user_id="*", workspace=workspace)
    assert {h.text for h in await star.search_deep_memory("secret", limit=100)} & {
        f"secret of {u}" for u in users
    } == {"secret of *"}


@pytest.mark.parametrize("bad_id", ["../x", "*", "a|b", "{ws}", "%00", "x" * 100])
async def test_odd_memory_and_group_ids_are_just_not_found(memory, groups, bad_id):
    await memory.create_deep_memory("something")
    with pytest.raises(NotFoundError):
        await memory.get_deep_memory(bad_id)
    with pytest.raises(NotFoundError):
        await groups.get_group(bad_id)
