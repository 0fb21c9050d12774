"""Every user error of ``tta-memory`` gives one line and its documented exit code, never a
traceback (issue 11); ``--debug`` shows the traceback. Subprocesses where the terminal's view
matters (a traceback, a closed pipe), ``main([...])`` in-process elsewhere."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import types
from pathlib import Path

import pytest
from tta_memory import MemoryWorkflowPrimitive
from tta_memory import progress as cli_progress
from tta_memory.cli import main
from tta_memory.cli.common import Target
from tta_memory.cli.errors import describe
from tta_memory.errors import BackendUnavailableError

CLI = [sys.executable, "-m", "tta_memory.cli"]


def _free_port() -> int:
    """A local TCP port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_clean_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("tta-memory: ")
    return lines[0]


def test_nothing_listening_at_an_external_url() -> None:
    url = f"redis://127.0.0.1:{_free_port()}"
    for argv in (["export", "--url", url], ["workspace", "list", "--url", url]):
        proc = _cli(*argv)
        assert proc.returncode == 5, proc.stderr
        line = _one_clean_line(proc.stderr)
        assert f"cannot reach Redis at {url} (from --url)" in line
        assert "omit --url" in line
        assert "server status" not in line  # that hint is for the embedded server only


def test_import_to_an_unreachable_url_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    records = tmp_path / "r.jsonl"
    records.write_text(
        '{"type": "paf", "id": "AUTH-001", "category": "AUTH", "fact_id": "001", '
        '"description": "ok", "author": "a", "created_at": "2026-01-01T00:00:00Z", '
        '"updated_at": "2026-01-01T00:00:00Z"}\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("TTA_MEMORY_REDIS_URL", f"redis://127.0.0.1:{_free_port()}")
    code, _, err = _run(capsys, "import", str(records))
    assert code == 5
    line = _one_clean_line(err)
    assert "(from TTA_MEMORY_REDIS_URL)" in line and "unset TTA_MEMORY_REDIS_URL" in line


def test_import_of_an_empty_file_still_reaches_the_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    url = f"redis://127.0.0.1:{_free_port()}"
    code, _, err = _run(capsys, "import", str(empty), "--url", url)
    assert code == 5, err
    assert f"cannot reach Redis at {url}" in _one_clean_line(err)


def test_unknown_host(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "export", "--url", "redis://no-such-host.invalid:6379")
    assert code == 5
    line = _one_clean_line(err)
    assert "cannot reach Redis at redis://no-such-host.invalid:6379" in line
    assert "unknown host" in line


def test_the_embedded_server_hint_is_only_for_the_embedded_server() -> None:
    exc = BackendUnavailableError("connection refused")
    exc.__cause__ = ConnectionRefusedError(111, "Connection refused")
    embedded = Target("unix:///run/x/redis.sock?password=secret", "embedded", "data dir /d")
    message, code = describe(exc, embedded)
    assert code == 5 and "tta-memory server status" in message
    assert "secret" not in message and "password=***" in message
    external = Target("redis://:secret@db.example:6379", "REDIS_URL")
    message, _ = describe(exc, external)
    assert "server status" not in message and "unset REDIS_URL" in message
    assert "secret" not in message


def test_paf_import_of_a_file_that_is_not_utf8(
    redis_url: str, workspace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    latin1 = tmp_path / "pafs.md"
    latin1.write_bytes("- **AUTH-001**: café\n".encode("latin-1"))
    code, _, err = _run(capsys, "paf", "import", str(latin1), "--url", redis_url, "-w", workspace)
    assert code == 3
    line = _one_clean_line(err)
    assert f"{latin1}: not UTF-8 text (byte 0xe9 at offset 19)" in line


def test_import_of_valid_json_with_wrong_field_types(
    redis_url: str, workspace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"type": "paf", "id": "AUTH-001", "category": "AUTH", "fact_id": "001", '
        '"description": "ok", "author": "a", "created_at": "2026-01-01T00:00:00Z", '
        '"updated_at": "2026-01-01T00:00:00Z"}\n'
        '{"type": "session_message", "id": 5, "seq": "first", "session_id": ["s"]}\n',
        encoding="utf-8",
    )
    code, _, err = _run(capsys, "import", str(bad), "--url", redis_url, "-w", workspace)
    assert code == 3
    line = _one_clean_line(err)
    assert f"{bad}:2: session_message." in line and "more)" in line
    # Every record is checked first: the valid line 1 was not written either.
    memory = MemoryWorkflowPrimitive(redis_url, user_id="u", workspace=workspace)
    assert memory.sync.paf_primitive.list_pafs(status=None) == []


def test_export_into_a_missing_directory(
    redis_url: str, workspace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(
        capsys, "export", "--url", redis_url, "-w", workspace, "-o", "/nonexistent/dir/x.jsonl"
    )
    assert code == 4
    line = _one_clean_line(err)
    assert "cannot write /nonexistent/dir/x.jsonl: No such file or directory" in line


def test_export_into_a_pipe_closed_early(
    redis_url: str, workspace: str, memory: MemoryWorkflowPrimitive
) -> None:
    # Well over the 64 KiB a pipe buffers, so the writer meets the closed pipe.
    memory.sync.add_session_messages(
        "s", [{"role": "user", "content": f"message {i} " + "x" * 400} for i in range(600)]
    )
    proc = subprocess.Popen(
        [*CLI, "export", "--url", redis_url, "-w", workspace],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()  # what `| head -1` does
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141
    assert first.startswith('{"type": "session_message"')
    line = _one_clean_line(err)
    assert "output closed by the reader" in line


def test_debug_shows_the_traceback() -> None:
    url = f"redis://127.0.0.1:{_free_port()}"
    proc = _cli("--debug", "export", "--url", url)
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr


def test_an_http_url_is_a_usage_error_of_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "export", "--url", "http://localhost:8000")
    assert code == 3
    assert "not a Redis URL" in _one_clean_line(err)


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [
        ("TTA_MEMORY_DURABILITY", "bogus", ["'everysec'", "'strict'", "'replicated'"]),
        ("TTA_MEMORY_COALESCE_WRITES", "maybe", ["true/false", "on/off"]),
        ("TTA_MEMORY_SOCKET_TIMEOUT", "soon", ["a valid number"]),
        ("TTA_MEMORY_PARTITION_BUCKETS", "0", ["greater than or equal to 1"]),
    ],
)
def test_a_bad_setting_in_the_environment_names_its_variable(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    name: str,
    value: str,
    accepted: list[str],
) -> None:
    monkeypatch.setenv(name, value)
    code, _, err = _run(capsys, "workspace", "list", "--url", redis_url)
    line = _one_clean_line(err)
    assert code == 3
    assert f"invalid setting {name}={value!r}" in line
    assert all(a in line for a in accepted), line
    assert "record" not in line and "internal error" not in line


def test_version_and_help() -> None:
    proc = _cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("tta-memory ")
    proc = _cli("--help")
    assert proc.returncode == 0
    for command in ("server", "doctor", "demo", "paf", "export", "import", "workspace", "mcp"):
        assert command in proc.stdout
    assert "Exit codes" in proc.stdout


def test_help_does_not_import_the_engine() -> None:
    # --help is instant because nothing heavy is imported (timed in the report, not here).
    probe = (
        "import sys\n"
        "from tta_memory.cli import build_parser\n"
        "build_parser().format_help()\n"
        "heavy = {'redis', 'redisvl', 'numpy', 'pydantic', 'rich'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == "[]"


def test_mcp_without_the_extra(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mcp" else real(name, *a)
    )
    code, _, err = _run(capsys, "mcp", "--transport", "stdio")
    assert code == 5
    assert "pip install 'tta-memory[mcp]'" in _one_clean_line(err)


def test_mcp_hands_its_arguments_to_the_mcp_server(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[str]] = []
    fake = types.ModuleType("tta_memory.mcp")
    fake.main = lambda argv: seen.append(argv) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tta_memory.mcp", fake)
    code, _, _ = _run(capsys, "--debug", "mcp", "--transport", "http", "--port", "0")
    assert code == 0 and seen == [["--transport", "http", "--port", "0"]]


def test_progress_is_silent_when_not_a_terminal(
    redis_url: str, workspace: str, tmp_path: Path, memory: MemoryWorkflowPrimitive
) -> None:
    memory.sync.add_session_message("s", "user", "one")
    out = tmp_path / "x.jsonl"
    proc = _cli("export", "--url", redis_url, "-w", workspace, "-o", str(out))
    assert proc.returncode == 0
    assert proc.stderr == f"exported 1 record(s) from workspace {workspace!r}\n"

    class Tty:
        def isatty(self) -> bool:
            return True

    with open(os.devnull, "w") as devnull:
        assert cli_progress.enabled(Tty()) and not cli_progress.enabled(devnull)


def test_progress_draws_a_bar_on_a_terminal_and_clears_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class TtyBuffer(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = TtyBuffer()
    monkeypatch.setattr(sys, "stderr", screen)
    monkeypatch.delenv("TTA_MEMORY_PROGRESS", raising=False)
    with cli_progress.bar("importing into w", total=3) as advance:
        for _ in range(3):
            advance()
        drawn = screen.getvalue()
    assert "importing into w" in drawn and "0/3" in drawn
    cleared = screen.getvalue()[len(drawn) :]  # transient: the line is blanked when done
    assert cleared.strip() == "" and cleared.endswith("\r")
    monkeypatch.setenv("TTA_MEMORY_PROGRESS", "0")
    quiet = TtyBuffer()
    monkeypatch.setattr(sys, "stderr", quiet)
    with cli_progress.bar("importing", total=3) as advance:
        advance(3)
    assert quiet.getvalue() == ""
