"""The name rule and tag escaping against a real Redis: the cross-tenant leaks of issue 8 stay
closed, and every RediSearch special character in a workspace, user, session or tag round-trips
exactly without widening any query."""

from __future__ import annotations

import string
import uuid

import pytest
from tta_memory import MemoryWorkflowPrimitive, SessionGroupPrimitive
from tta_memory.errors import InvalidInputError, TTAMemoryError

# Every printable ASCII character that is not a letter or digit (backtick included).
SPECIAL = [c for c in string.punctuation + " "]


def _stem() -> str:
    return f"acme{uuid.uuid4().hex[:8]}"


async def test_issue_repro_backtick_workspace_and_user_read_nothing_of_others(redis_url):
    ws = _stem()
    alice = MemoryWorkflowPrimitive(redis_url, "alice", workspace=ws)
    await alice.add_session_message("s1", "user", "acme: launch date is May 3")
    await alice.create_deep_memory("alice's private note: my API key is xyz", private=True)

    evil = MemoryWorkflowPrimitive(redis_url, "mallory", workspace=ws + "`")
    assert await evil.get_cache_memory(session_id="s1") == []
    assert await evil.search_deep_memory("") == []
    evil_alice = MemoryWorkflowPrimitive(redis_url, "alice`", workspace=ws)
    assert await evil_alice.search_deep_memory("") == []
    assert await evil_alice.search_deep_memory("API key") == []
    # the real owner still sees her own data
    assert [e.content for e in await alice.get_cache_memory(session_id="s1")] == [
        "acme: launch date is May 3"
    ]
    assert [m.text for m in await alice.search_deep_memory("")] == [
        "alice's private note: my API key is xyz"
    ]


@pytest.mark.parametrize(
    "name", [" acme", "acme ", "\tacme", "acme\n", "\u00a0acme", "acme\u3000", "a\x00b", "a\x1fb"]
)
async def test_names_redis_would_merge_are_refused(redis_url, name):
    with pytest.raises(InvalidInputError):
        MemoryWorkflowPrimitive(redis_url, "u", workspace=name)
    with pytest.raises(InvalidInputError):
        MemoryWorkflowPrimitive(redis_url, name, workspace="ok")
    with pytest.raises(InvalidInputError):
        SessionGroupPrimitive(redis_url, "u", workspace=name)
    memory = MemoryWorkflowPrimitive(redis_url, "u", workspace=_stem())
    with pytest.raises(InvalidInputError):
        await memory.add_session_message(name, "user", "hello")
    with pytest.raises(InvalidInputError):
        await memory.create_deep_memory("text", tags=[name])
    with pytest.raises(InvalidInputError):
        await memory.create_deep_memory("text", memory_type=name)
    with pytest.raises(InvalidInputError):
        await memory.search_deep_memory("", tags=[name])
    assert await memory.search_deep_memory("") == []
    assert await memory.list_sessions() == []


@pytest.mark.parametrize("bad", ["\ud800", "a\udfffb"])
async def test_lone_surrogates_are_a_typed_error_and_store_nothing(memory, bad):
    with pytest.raises(InvalidInputError):
        MemoryWorkflowPrimitive(memory.redis_url, bad, workspace=memory.workspace)
    with pytest.raises(InvalidInputError):
        await memory.add_session_message(bad, "user", "x")
    with pytest.raises(InvalidInputError):
        await memory.add_session_message("s", "user", bad)
    with pytest.raises(InvalidInputError):
        await memory.create_deep_memory(bad)
    with pytest.raises(InvalidInputError):
        await memory.create_deep_memory("fine", metadata={"k": bad})
    with pytest.raises(InvalidInputError):
        await memory.add_session_message("s", "user", "fine", metadata={bad: 1})
    with pytest.raises(InvalidInputError):
        await memory.search_deep_memory(bad)
    with pytest.raises(InvalidInputError):
        await memory.get_cache_memory(session_id=bad)
    assert await memory.list_sessions() == []
    assert await memory.search_deep_memory("") == []


async def test_dedup_never_returns_another_workspaces_memory(redis_url):
    ws = _stem()
    # " acme" is refused by the name rule, so the look-alike is now a name that only a broken
    # escaper would merge with ws: the content-hash lookup must not cross it either.
    other = MemoryWorkflowPrimitive(redis_url, "mallory", workspace=ws + "`")
    theirs = await other.create_deep_memory("the shared sentence")
    mine = MemoryWorkflowPrimitive(redis_url, "alice", workspace=ws)
    made = await mine.create_deep_memory("the shared sentence")
    assert made.author == "alice"
    assert made.id != theirs.id
    assert [m.author for m in await mine.search_deep_memory("")] == ["alice"]
    assert [m.author for m in await other.search_deep_memory("")] == ["mallory"]


@pytest.mark.parametrize("char", SPECIAL, ids=[f"0x{ord(c):02x}" for c in SPECIAL])
async def test_special_character_round_trips_and_never_widens(redis_url, char):
    stem = _stem()
    names = [stem, f"{stem}{char}x", f"x{char}{stem}"] + ([] if char == " " else [stem + char])
    if char != " ":
        names.append(char)
    stores = [MemoryWorkflowPrimitive(redis_url, f"u{char}v", workspace=n) for n in names]
    for m in stores:
        ws = m.workspace
        await m.add_session_message(f"s{char}v", "user", f"message of {ws}")
        await m.add_cache_entry(f"note of {ws}", session_id=f"s{char}v", tags=[f"t{char}v"])
        await m.create_deep_memory(
            f"memory of {ws}", tags=[f"t{char}v", char] if char != " " else [f"t{char}v"]
        )
        await m.create_deep_memory(f"private of {ws}", private=True)
        groups = SessionGroupPrimitive(redis_url, f"u{char}v", workspace=ws)
        gid = await groups.create_group(f"group of {ws}", tags=[f"t{char}v"])
        await groups.add_session_to_group(gid, f"s{char}v")

    for m in stores:
        ws = m.workspace
        assert [x.content for x in await m.get_session_context(f"s{char}v")] == [f"message of {ws}"]
        cached = await m.get_cache_memory(session_id=f"s{char}v")
        assert sorted(e.content for e in cached) == sorted([f"message of {ws}", f"note of {ws}"])
        hits = await m.search_deep_memory("", tags=[f"t{char}v"], limit=100)
        assert [h.text for h in hits] == [f"memory of {ws}"]
        everything = await m.search_deep_memory("", limit=100)
        assert sorted(h.text for h in everything) == sorted([f"memory of {ws}", f"private of {ws}"])
        groups = SessionGroupPrimitive(redis_url, f"u{char}v", workspace=ws)
        [group] = await groups.list_groups(tags=[f"t{char}v"])
        assert group.name == f"group of {ws}" and group.session_ids == [f"s{char}v"]
        assert [g.name for g in await groups.get_session_groups(f"s{char}v")] == [f"group of {ws}"]
        # another user with the character in its name sees no private memory
        peer = MemoryWorkflowPrimitive(redis_url, f"u{char}u", workspace=ws)
        assert [h.text for h in await peer.search_deep_memory("", limit=100)] == [f"memory of {ws}"]
    if char != " ":
        lone = stores[-1]
        hits = await lone.search_deep_memory("", tags=[char], limit=100)
        assert [h.text for h in hits] == [f"memory of {char}"]


@pytest.mark.parametrize("query", ["`", "``", "{`}", "@tags:{`}", "\\", "'", '"', "|", "*", "-"])
async def test_punctuation_queries_never_raise_untyped(memory, query):
    await memory.create_deep_memory("ordinary memory", tags=["keep"])
    for mode in ("hybrid", "text", "vector"):
        try:
            hits = await memory.search_deep_memory(query, search_mode=mode, tags=["keep"])
        except TTAMemoryError:
            continue
        assert all(h.text == "ordinary memory" for h in hits)
    assert await memory.get_cache_memory(session_id=query) == []
    groups = SessionGroupPrimitive(memory.redis_url, "u", workspace=memory.workspace)
    assert await groups.list_groups(tags=[query]) == []


@pytest.mark.parametrize("ttl", [10**20, 10**9, -1, 0, 1.5, True])
async def test_out_of_range_ttls_are_refused_and_store_nothing(memory, ttl):
    with pytest.raises(InvalidInputError):
        await memory.add_session_message("s", "user", "hello", ttl_seconds=ttl)
    with pytest.raises(InvalidInputError):
        await memory.add_cache_entry("note", ttl_seconds=ttl)
    assert await memory.get_session_context("s") == []
    assert await memory.get_cache_memory() == []
    await memory.add_cache_entry("a later note")
    assert [e.content for e in await memory.get_cache_memory()] == ["a later note"]
