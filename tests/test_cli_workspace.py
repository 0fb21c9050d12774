"""``tta-memory workspace list | stats | delete`` on the tests' server: counts that match what was
written, and a delete that empties one workspace and leaves its neighbour alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from tta_memory import MemoryWorkflowPrimitive, SessionGroupPrimitive
from tta_memory.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _fill(url: str, workspace: str, n_memories: int) -> None:
    alice = MemoryWorkflowPrimitive(url, user_id="alice", workspace=workspace)
    bob = MemoryWorkflowPrimitive(url, user_id="bob", workspace=workspace)
    alice.sync.add_session_messages("s1", [{"role": "user", "content": "a"}] * 3)
    alice.sync.archive_session_messages("s1", 1)
    bob.sync.add_session_message("s2", "user", "b")
    alice.sync.add_cache_entry("a short-lived note", ttl_seconds=3600)
    alice.sync.create_deep_memories(
        [{"text": f"{workspace} memory {i}"} for i in range(n_memories)]
    )
    # Private memories of another author are counted (and deleted) too.
    bob.sync.create_deep_memory(f"{workspace} bob's private note", private=True)
    alice.sync.paf_primitive.add_paf("AUTH", "001", "Use PyJWT")
    groups = SessionGroupPrimitive(url, user_id="alice", workspace=workspace)
    gid = groups.sync.create_group("Auth")
    groups.sync.add_session_to_group(gid, "s1")


@pytest.fixture
def two_workspaces(redis_url: str) -> tuple[str, str]:
    # Names with characters a tag query must escape, to show each is matched exactly.
    first = f"team-a.{uuid.uuid4().hex[:8]}"
    second = f"{first}-b"
    _fill(redis_url, first, 4)
    _fill(redis_url, second, 2)
    return first, second


def test_stats_count_what_was_written(
    redis_url: str, two_workspaces: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    first, _ = two_workspaces
    code, out, _ = _run(capsys, "workspace", "stats", first, "--url", redis_url, "--json")
    assert code == 0
    assert json.loads(out) == {
        "workspace": first,
        "sessions": 2,
        "messages": 4,
        "cache_entries": 5,  # four session messages (one archived still cached) and a note
        "deep_memories": 5,
        "pafs": 1,
        "groups": 1,
    }
    code, out, _ = _run(capsys, "workspace", "stats", "-w", first, "--url", redis_url)
    assert code == 0 and "deep memories: 5" in out and f"workspace:     {first}" in out


def test_list_shows_every_workspace_with_its_counts(
    redis_url: str, two_workspaces: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = two_workspaces
    code, out, _ = _run(capsys, "workspace", "list", "--url", redis_url, "--json")
    assert code == 0
    rows = {row["workspace"]: row for row in json.loads(out)}
    assert rows[first]["deep_memories"] == 5 and rows[second]["deep_memories"] == 3
    assert rows[first]["sessions"] == 2 and rows[first]["pafs"] == 1
    code, out, _ = _run(capsys, "workspace", "list", "--url", redis_url)
    assert code == 0 and out.splitlines()[0].split() == [
        "workspace", "sessions", "cache", "memories", "pafs", "groups",
    ]  # fmt: skip
    assert any(line.split()[0] == second for line in out.splitlines()[1:])


def test_delete_asks_first_then_empties_only_that_workspace(
    redis_url: str, two_workspaces: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = two_workspaces
    # Not a terminal and no --yes: refused, nothing deleted.
    proc = subprocess.run(
        [sys.executable, "-m", "tta_memory.cli", "workspace", "delete", first, "--url", redis_url],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=dict(os.environ),
    )
    assert proc.returncode == 1 and "pass --yes" in proc.stderr
    assert "Traceback" not in proc.stderr
    code, out, _ = _run(capsys, "workspace", "stats", first, "--url", redis_url, "--json")
    assert json.loads(out)["deep_memories"] == 5

    code, _, err = _run(capsys, "workspace", "delete", first, "--url", redis_url, "--yes")
    assert code == 0 and f"deleted workspace {first!r}" in err
    code, out, _ = _run(capsys, "workspace", "stats", first, "--url", redis_url, "--json")
    empty = json.loads(out)
    assert {k: v for k, v in empty.items() if k != "workspace"} == {
        "sessions": 0, "messages": 0, "cache_entries": 0, "deep_memories": 0, "pafs": 0,
        "groups": 0,
    }  # fmt: skip
    code, out, _ = _run(capsys, "workspace", "list", "--url", redis_url, "--json")
    names = [row["workspace"] for row in json.loads(out)]
    assert first not in names and second in names

    # The neighbour, whose name starts with the deleted one's, is intact and still usable.
    neighbour = MemoryWorkflowPrimitive(redis_url, user_id="alice", workspace=second)
    assert [m.content for m in neighbour.sync.get_session_context("s1")] == ["a", "a"]
    found = neighbour.sync.search_deep_memory(f"{second} memory 1", limit=1)
    assert found and found[0].text == f"{second} memory 1"
    assert neighbour.sync.paf_primitive.get_paf("AUTH-001").description == "Use PyJWT"

    # The deleted workspace works again from scratch.
    again = MemoryWorkflowPrimitive(redis_url, user_id="alice", workspace=first)
    assert again.sync.add_session_message("s1", "user", "fresh").seq == 1


async def test_registration_never_fails_a_read_on_a_full_server(tmp_path: Path) -> None:
    import redis as redis_py
    from tta_memory import EmbeddedRedis
    from tta_memory import workspaces as registry

    with EmbeddedRedis(data_dir=tmp_path / "data") as server:
        writer = MemoryWorkflowPrimitive(server.url, user_id="u", workspace="before")
        await writer.add_session_message("s", "user", "written before the limit")
        admin = redis_py.Redis.from_url(server.url)
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", "1")
        try:
            registry._registered.clear()  # as in a new process
            reader = MemoryWorkflowPrimitive(server.url, user_id="u", workspace="before")
            assert [m.content for m in await reader.get_session_context("s")] == [
                "written before the limit"
            ]
        finally:
            admin.config_set("maxmemory", "0")
            admin.close()
