"""The ``tta-memory`` command line, run in-process (``main([...])``) and as a subprocess against
the tests' throwaway server."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from tta_memory import GroupStatus, MemoryWorkflowPrimitive, SessionGroupPrimitive
from tta_memory.cli import main
from tta_memory.cli.scenarios import LAYERS, MODES, STAGES, run_demo
from tta_memory.server import EmbeddedRedis, find_redis_server, redact_url
from tta_memory.sync import run_sync


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --------------------------------------------------------------------------- basics


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys)
    assert code == 2
    assert "server" in out and "doctor" in out and "demo" in out
    code, _, err = _run(capsys, "paf")
    assert code == 2 and "import" in err and "export" in err


def test_module_entry_point_runs_as_a_subprocess(redis_url: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tta_memory.cli", "doctor", "--url", redis_url, "--no-model"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "query engine" in proc.stdout
    script = Path(sys.executable).parent / "tta-memory"  # the installed console script
    if script.exists():
        proc = subprocess.run(
            [str(script), "server", "status", "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0 and "--data-dir" in proc.stdout


# --------------------------------------------------------------------------- server


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "server-data"
    yield path
    EmbeddedRedis(data_dir=path).stop()


def test_server_start_status_stop(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "server", "status", "--data-dir", str(data_dir))
    assert code == 1 and "running:  no" in out

    code, out, _ = _run(capsys, "server", "start", "--data-dir", str(data_dir))
    assert code == 0 and out.startswith("started: unix://")
    password = EmbeddedRedis(data_dir=data_dir).password
    assert password and password not in out and "?password=***" in out
    code, out, _ = _run(capsys, "server", "start", "--data-dir", str(data_dir))
    assert code == 0 and out.startswith("already running: unix://")

    code, out, _ = _run(capsys, "server", "status", "--data-dir", str(data_dir))
    assert code == 0
    for label in ("running:  yes", "url:", "pid:", "version:  8.", "search", "ReJSON"):
        assert label in out
    assert f"data dir: {data_dir}" in out
    assert f"password: {data_dir / 'password'}" in out and password not in out
    code, out, _ = _run(capsys, "server", "status", "--data-dir", str(data_dir), "--json")
    status = json.loads(out)
    assert code == 0 and status["running"] is True and status["pid"] > 0
    assert {"search", "ReJSON"} <= set(status["modules"])

    code, out, _ = _run(capsys, "server", "stop", "--data-dir", str(data_dir))
    assert code == 0 and out.startswith("stopped")
    assert not EmbeddedRedis(data_dir=data_dir).is_running()
    code, out, _ = _run(capsys, "server", "stop", "--data-dir", str(data_dir))
    assert code == 0 and out.startswith("not running")


# --------------------------------------------------------------------------- doctor


def test_doctor_reports_modules_indexes_and_model(
    redis_url: str,
    memory: MemoryWorkflowPrimitive,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    memory.sync.create_deep_memory("doctor counts this memory", tags=["doctor"])
    monkeypatch.setenv("TTA_MEMORY_WORKSPACE", memory.workspace)  # its partition's indexes
    code, out, _ = _run(capsys, "doctor", "--url", redis_url)
    assert code == 0, out
    assert f"{redact_url(redis_url)}  (from --url)" in out
    assert "password=***" in out and redis_url not in out  # the password is never printed
    assert "Redis 8." in out
    assert "search 2." in out and "ReJSON 2." in out
    assert "deep (tta:idx:{b." in out and "docs" in out
    assert "all-MiniLM-L6-v2 (384 dims) loads offline" in out
    assert "(384 dims, float32 vectors)" in out
    assert "[FAIL]" not in out and out.rstrip().endswith("all good")

    code, out, _ = _run(capsys, "doctor", "--url", redis_url, "--json", "--no-model")
    report = json.loads(out)
    assert code == 0 and report["ok"] is True
    assert [c["name"] for c in report["checks"]][:4] == [
        "redis url", "server", "query engine", "json",
    ]  # fmt: skip


def test_doctor_fails_a_vector_type_the_prefix_did_not_record(
    redis_url: str,
    memory: MemoryWorkflowPrimitive,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    memory.sync.create_deep_memory("the prefix records float32 vectors")
    monkeypatch.setenv("TTA_MEMORY_VECTOR_DTYPE", "float16")
    code, out, _ = _run(capsys, "doctor", "--url", redis_url, "--no-model")
    assert code == 1, out
    assert "[FAIL]" in out and "TTA_MEMORY_VECTOR_DTYPE asks for float16" in out


def test_doctor_explains_the_url_source(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TTA_MEMORY_REDIS_URL", redis_url)
    code, out, _ = _run(capsys, "doctor", "--no-model")
    assert code == 0 and "(from TTA_MEMORY_REDIS_URL)" in out
    monkeypatch.delenv("TTA_MEMORY_REDIS_URL")
    monkeypatch.setenv("REDIS_URL", redis_url)
    code, out, _ = _run(capsys, "doctor", "--no-model")
    assert code == 0 and "(from REDIS_URL)" in out


@pytest.fixture
def plain_redis(tmp_path: Path) -> Iterator[str]:
    """A Redis without the Query Engine and JSON modules (the bare redis-server)."""
    run = tmp_path / "plain"
    run.mkdir()
    sock = run / "r.sock"
    subprocess.run(
        [
            find_redis_server(), "--port", "0", "--unixsocket", str(sock), "--dir", str(run),
            "--save", "", "--daemonize", "yes", "--pidfile", str(run / "r.pid"),
            "--logfile", str(run / "r.log"),
        ],
        check=True,
        timeout=10,
    )  # fmt: skip
    # No retries: redis-py would retry the dropped connection that acknowledges SHUTDOWN.
    client = redis.Redis(unix_socket_path=str(sock), retry=Retry(NoBackoff(), 0))
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.01)
    yield f"unix://{sock}"
    with contextlib.suppress(redis.RedisError):
        client.shutdown(nosave=True)


def test_doctor_fails_clearly_without_the_query_engine(
    plain_redis: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "doctor", "--url", plain_redis, "--no-model")
    assert code == 1
    line = next(x for x in out.splitlines() if "query engine" in x)
    assert line.startswith("[FAIL]")
    assert "Redis 8+" in line and "pip install 'tta-memory[embedded]'" in line
    assert "unknown command" not in out.lower()


def test_doctor_fails_on_unreachable_or_http_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "doctor", "--url", f"unix://{tmp_path}/nobody.sock", "--no-model")
    assert code == 1 and "[FAIL] server" in out and "cannot reach" in out
    code, out, _ = _run(capsys, "doctor", "--url", "http://localhost:8000", "--no-model")
    assert code == 1 and "not a Redis URL" in out


# --------------------------------------------------------------------------- demo


def test_demo_command_prints_every_stage_mode_and_layer_and_resets_its_workspace(
    redis_url: str, workspace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "demo", "--url", redis_url, "--workspace", workspace)
    assert code == 0, out
    for heading in ("Scenario 1", "Scenario 2", "Scenario 3", "total:"):
        assert heading in out
    assert "password=***" in out and redis_url not in out
    header = next(line for line in out.splitlines() if line.strip().startswith("stage"))
    for layer in LAYERS:
        assert layer in header
    rows = [line.split() for line in out.splitlines() if line.strip().split()[:1] == ["verify"]]
    assert {row[1] for row in rows} == {m.value for m in MODES}
    for stage in STAGES:
        for mode in MODES:
            assert any(line.split()[:2] == [stage, mode.value] for line in out.splitlines()), (
                stage,
                mode,
            )
    assert "Constraint: Use PyJWT for token generation and validation" in out
    assert "Pattern: Refresh token rotation pattern" in out
    assert "Feature 'Authentication Feature' completed!" in out
    code, out, _ = _run(capsys, "workspace", "stats", workspace, "--url", redis_url, "--json")
    first = json.loads(out)
    assert first["deep_memories"] > 20 and first["pafs"] == 1 and first["groups"] == 1

    # A second run starts from an empty workspace: the same data, not twice the data.
    code, out, _ = _run(capsys, "demo", "--url", redis_url, "--workspace", workspace)
    assert code == 0 and "old records deleted" in out.splitlines()[0]
    code, out, _ = _run(capsys, "workspace", "stats", workspace, "--url", redis_url, "--json")
    assert json.loads(out) == first

    # --remove leaves nothing behind.
    code, out, _ = _run(capsys, "demo", "--url", redis_url, "--workspace", workspace, "--remove")
    assert code == 0 and f"removed workspace {workspace!r}" in out
    code, out, _ = _run(capsys, "workspace", "list", "--url", redis_url, "--json")
    assert workspace not in [row["workspace"] for row in json.loads(out)]


async def test_run_demo_follows_the_guide(redis_url: str, workspace: str) -> None:
    lines: list[str] = []
    result = await run_demo(redis_url, workspace, out=lines.append)
    assert result.workspace == workspace and result.seconds > 0
    assert len(result.loads) == 1 + len(STAGES) * len(MODES) + 1
    table = {(load.stage, load.mode): load for load in result.loads[1:-1]}
    # The guide's statements (DESIGN §4).
    understand = [table["understand", m.value].counts["deep"] for m in MODES]
    assert understand[0] < understand[1] < understand[2]
    assert table["understand", "augster_rigorous"].counts["deep"] == 20
    assert table["implement", "standard"].counts["deep"] == 5
    assert table["implement", "standard"].counts["paf"] == 1
    verify_rapid = table["verify", "rapid"]
    assert verify_rapid.counts == {"session": 1, "cache": 0, "deep": 0, "paf": 0, "groups": 0}
    for load in result.loads:
        assert load.total_ms >= 0
    # Day 2 sees the group's cache, its PAF and the group itself.
    day2 = result.loads[0]
    assert day2.counts["paf"] == 1 and day2.counts["groups"] == 1 and day2.counts["cache"] >= 1
    # Scenario 3: the reviewer finds what alice and bob wrote.
    assert result.found["constraints"] == ["Use PyJWT for token generation and validation"]
    assert any("Refresh token rotation" in t for t in result.found["review_patterns"])
    groups = SessionGroupPrimitive(redis_url, user_id="someone", workspace=workspace)
    [group] = await groups.list_groups(tags=["auth"])
    assert group.status == GroupStatus.CLOSED and len(group.session_ids) == 3
    assert lines[-1].startswith("total:")


# --------------------------------------------------------------------------- paf


PAF_MARKDOWN = (
    "- **API-001**: Errors are RFC 9457 problem+json; never leak stack traces\n"
    "- **AUTH-001**: Use PyJWT for token generation and validation\n"
    '- **AUTH-002**: Tokens carry `aud` and `iss`: check both (@{x} | -y * "z")\n'
    "- **DATA-010**: Timestamps are UTC — ünïcödé survives 🚀\n"
)


def test_paf_import_export_round_trip(
    redis_url: str, workspace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "pafs.md"
    source.write_text("# Architecture facts\n\n" + PAF_MARKDOWN, encoding="utf-8")
    scope = ["--url", redis_url, "--workspace", workspace, "--user", "cli-test"]
    code, _, err = _run(capsys, "paf", "import", str(source), *scope)
    assert code == 0 and "PAFs: 4 created, 0 updated, 0 unchanged" in err

    code, out, _ = _run(capsys, "paf", "export", *scope)
    assert code == 0 and out == PAF_MARKDOWN
    exported = tmp_path / "out.md"
    code, _, _ = _run(capsys, "paf", "export", "-o", str(exported), "--status", "all", *scope)
    assert exported.read_text(encoding="utf-8") == PAF_MARKDOWN

    # Re-importing changes nothing and says so; another workspace gets the same list.
    code, _, err = _run(capsys, "paf", "import", str(exported), *scope)
    assert code == 0 and "PAFs: 0 created, 0 updated, 4 unchanged" in err
    other = [*scope[:2], "--workspace", f"{workspace}-copy"]
    _run(capsys, "paf", "import", str(exported), *other)
    code, out, _ = _run(capsys, "paf", "export", *other)
    assert out == PAF_MARKDOWN

    memory = MemoryWorkflowPrimitive(redis_url, user_id="x", workspace=workspace)
    assert memory.sync.paf_primitive.get_paf("AUTH-001").author == "cli-test"
    memory.sync.paf_primitive.deprecate_paf("API-001", "superseded")
    code, out, _ = _run(capsys, "paf", "export", "--status", "deprecated", *scope)
    assert out.splitlines() == [
        PAF_MARKDOWN.splitlines()[0],
        "  - status: deprecated",
        "  - reason: superseded",
    ]
    code, out, _ = _run(capsys, "paf", "export", "--status", "deprecated", "--simple", *scope)
    assert out.splitlines() == [PAF_MARKDOWN.splitlines()[0]]


def test_paf_full_export_round_trips_rationale_status_and_replacement(
    redis_url: str, workspace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    memory = MemoryWorkflowPrimitive(redis_url, user_id="dev", workspace=workspace)
    pafs = memory.sync.paf_primitive
    pafs.add_paf("AUTH", "001", "Use PyJWT", rationale="Small.\nReviewed in 2024.")
    pafs.add_paf("AUTH", "002", "Use authlib", rationale="OAuth support")
    pafs.deprecate_paf("AUTH-001", "moved to authlib", replaced_by="AUTH-002")
    pafs.add_paf("DB", "001", "Maybe Postgres 17", status="proposed")
    exported = tmp_path / "pafs.md"
    scope = ["--url", redis_url, "--workspace", workspace]
    code, _, _ = _run(capsys, "paf", "export", "--status", "all", "-o", str(exported), *scope)
    assert code == 0

    copy = [*scope[:2], "--workspace", f"{workspace}-copy"]
    code, _, err = _run(capsys, "paf", "import", str(exported), *copy)
    assert code == 0 and "3 created, 0 updated, 0 unchanged" in err
    copied = MemoryWorkflowPrimitive(redis_url, user_id="dev", workspace=f"{workspace}-copy")
    for original in pafs.list_pafs(status=None):
        twin = copied.sync.paf_primitive.get_paf(original.id)
        fields = ("description", "rationale", "status", "replaced_by", "deprecation_reason")
        assert [getattr(twin, f) for f in fields] == [getattr(original, f) for f in fields]

    # Editing the file updates exactly the PAF that changed, keeping its history.
    text = exported.read_text(encoding="utf-8").replace("OAuth support", "OAuth 2.1 support")
    exported.write_text(text, encoding="utf-8")
    code, _, err = _run(capsys, "paf", "import", str(exported), *copy)
    assert code == 0 and "0 created, 1 updated, 2 unchanged" in err
    updated = copied.sync.paf_primitive.get_paf("AUTH-002")
    assert updated.rationale == "OAuth 2.1 support" and updated.version == 2


def test_paf_import_lists_every_bad_line_and_imports_nothing(
    redis_url: str, workspace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text(
        "- **AUTH-001**: fine\n"
        "* **DB-002**: star lists are fine too\n"
        "- **auth-1**: lower case is not a PAF id\n"
        "1. **API-003** no colon\n",
        encoding="utf-8",
    )
    scope = ["--url", redis_url, "-w", workspace]
    code, _, err = _run(capsys, "paf", "import", str(bad), *scope)
    assert code == 3 and "Traceback" not in err
    assert "line 3: malformed PAF id 'auth-1'" in err and "line 4: " in err
    assert "Nothing was imported" in err
    memory = MemoryWorkflowPrimitive(redis_url, user_id="x", workspace=workspace)
    assert memory.sync.paf_primitive.list_pafs(status=None) == []

    code, _, err = _run(capsys, "paf", "import", str(bad), "--skip-invalid", *scope)
    assert code == 0 and "2 created" in err
    assert err.count("skipped") == 2 and "line 3" in err
    ids = [p.id for p in memory.sync.paf_primitive.list_pafs(status=None)]
    assert ids == ["AUTH-001", "DB-002"]


# --------------------------------------------------------------------------- export/import


async def _populate(memory: MemoryWorkflowPrimitive, groups: SessionGroupPrimitive) -> None:
    await memory.add_session_messages(
        "s-1",
        [
            {"role": "user", "content": "first ✓", "metadata": {"n": 1, "nested": {"a": [1]}}},
            {"role": "assistant", "content": 'second @{x} | "y"'},
            {"role": "tool", "content": "third"},
        ],
    )
    await memory.archive_session_messages("s-1", 1)
    await memory.add_session_message("s-2", "user", "another session")
    await memory.create_deep_memory(
        "Refresh tokens rotate on every use", tags=["jwt", "pattern"], memory_type="pattern",
        metadata={"k": "v"}, session_id="s-1",
    )  # fmt: skip
    await memory.create_deep_memory("A private note", private=True)
    await memory.paf_primitive.add_paf("AUTH", "001", "Use PyJWT", rationale="small")
    await memory.paf_primitive.update_paf("AUTH-001", description="Use PyJWT 2.x")
    group_id = await groups.create_group("Auth", description="d", tags=["auth"])
    await groups.add_session_to_group(group_id, "s-1")
    await groups.update_group_status(group_id, GroupStatus.CLOSED)


def _strip_workspace(lines: list[str]) -> list[dict[str, object]]:
    records = [json.loads(line) for line in lines]
    for record in records:
        record.pop("workspace", None)
    return records


def test_export_import_round_trip(
    redis_url: str,
    workspace: str,
    memory: MemoryWorkflowPrimitive,
    groups: SessionGroupPrimitive,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_sync(_populate(memory, groups))
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    copy = f"{workspace}-copy"

    code, _, err = _run(capsys, "export", "--url", redis_url, "-w", workspace, "-o", str(first))
    assert code == 0
    lines = first.read_text(encoding="utf-8").splitlines()
    types = [json.loads(line)["type"] for line in lines]
    assert types.count("session_message") == 4 and types.count("deep_memory") == 2
    assert types.count("paf") == 1 and types.count("group") == 1
    assert f"exported {len(lines)} record(s)" in err

    code, _, err = _run(capsys, "import", str(first), "--url", redis_url, "-w", copy)
    assert code == 0 and f"imported {len(lines)} record(s)" in err
    _run(capsys, "export", "--url", redis_url, "-w", copy, "-o", str(second))
    copied_lines = second.read_text(encoding="utf-8").splitlines()
    assert _strip_workspace(copied_lines) == _strip_workspace(lines)

    # The copy is usable through the engine, not only re-exportable.
    copied = MemoryWorkflowPrimitive(redis_url, user_id="test-user", workspace=copy)
    active = copied.sync.get_session_context("s-1")
    assert [m.content for m in active] == ['second @{x} | "y"', "third"]
    assert [m.seq for m in active] == [2, 3]
    assert copied.sync.add_session_message("s-1", "user", "after import").seq == 4
    found = copied.sync.search_deep_memory("refresh token rotation", limit=1)
    assert found and found[0].text == "Refresh tokens rotate on every use"
    assert copied.sync.paf_primitive.get_paf("AUTH-001").version == 2
    copied_groups = SessionGroupPrimitive(redis_url, user_id="u", workspace=copy)
    [group] = copied_groups.sync.list_groups(tags=["auth"])
    assert group.status == GroupStatus.CLOSED and group.session_ids == ["s-1"]


def test_export_to_stdout_and_import_from_stdin(
    redis_url: str, workspace: str, memory: MemoryWorkflowPrimitive
) -> None:
    memory.sync.add_session_message("s", "user", "through a pipe")
    base = [sys.executable, "-m", "tta_memory.cli"]
    exported = subprocess.run(
        [*base, "export", "--url", redis_url, "-w", workspace],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    subprocess.run(
        [*base, "import", "-", "--url", redis_url, "-w", f"{workspace}-piped"],
        input=exported.stdout, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    piped = MemoryWorkflowPrimitive(redis_url, user_id="u", workspace=f"{workspace}-piped")
    assert [m.content for m in piped.sync.get_session_context("s")] == ["through a pipe"]


def test_import_rejects_a_bad_file(
    redis_url: str, workspace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "paf"\n', encoding="utf-8")
    code, _, err = _run(capsys, "import", str(bad), "--url", redis_url, "-w", workspace)
    assert code == 3 and "bad.jsonl:1" in err
    code, _, err = _run(
        capsys, "import", str(tmp_path / "missing.jsonl"), "--url", redis_url, "-w", workspace
    )
    assert code == 3 and "cannot read" in err
