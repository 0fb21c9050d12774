"""The embedded Redis server (tta_memory.server), against real redis-server processes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import tta_memory.server
from tta_memory.errors import BackendUnavailableError, ServerNotFoundError, TTAMemoryError
from tta_memory.server import EmbeddedRedis, ensure_server

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="embedded server: Linux only")

ServerFactory = Callable[..., EmbeddedRedis]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting to be reaped has exited
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """Build EmbeddedRedis instances; every one is stopped at teardown, whatever happened."""
    made: list[EmbeddedRedis] = []

    def factory(name: str = "data", **kwargs: Any) -> EmbeddedRedis:
        server = EmbeddedRedis(data_dir=tmp_path / name, **kwargs)
        made.append(server)
        return server

    yield factory
    for server in made:
        server.stop()


@pytest.fixture
def user_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the per-user server at a throwaway data dir; stop it afterwards."""
    data_dir = tmp_path / "user-data"
    monkeypatch.setenv("TTA_MEMORY_DATA_DIR", str(data_dir))
    yield data_dir
    EmbeddedRedis(data_dir=data_dir).stop()


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


def test_start_status_stop(make_server: ServerFactory) -> None:
    server = make_server()
    assert not server.is_running()
    assert server.status().running is False

    url = server.start()
    assert server.password is not None
    assert url == server.url == f"unix://{server.socket_path}?password={server.password}"
    assert server.is_running()
    status = server.status()
    assert status.running and status.url == f"unix://{server.socket_path}?password=***"
    assert server.password not in json.dumps(status.to_dict()) + repr(server)
    assert status.version is not None and int(status.version.split(".")[0]) >= 8
    assert {"search", "ReJSON"} <= set(status.modules)
    assert status.pid is not None and _pid_alive(status.pid)
    assert status.data_dir == server.data_dir
    assert json.loads(json.dumps(status.to_dict()))["pid"] == status.pid

    assert server.start() == url  # idempotent: no second process
    assert server.status().pid == status.pid

    server.stop()
    assert not server.is_running()
    assert not _pid_alive(status.pid)
    assert not server.socket_path.exists()
    server.stop()  # stopping a stopped server is a no-op


def test_modules_loaded(make_server: ServerFactory) -> None:
    client = _client(make_server().start())
    try:
        assert client.execute_command("FT._LIST") == []
        client.execute_command("JSON.SET", "doc:1", "$", json.dumps({"text": "héllo @{x}"}))
        assert json.loads(client.execute_command("JSON.GET", "doc:1")) == {"text": "héllo @{x}"}
        client.execute_command(
            "FT.CREATE", "idx", "ON", "JSON", "PREFIX", "1", "doc:",
            "SCHEMA", "$.text", "AS", "text", "TEXT",
        )  # fmt: skip
        assert client.execute_command("FT._LIST") == ["idx"]
    finally:
        client.close()


def test_data_persists_across_restart(make_server: ServerFactory) -> None:
    first = make_server()
    client = _client(first.start())
    client.set("plain", "value")
    client.execute_command("JSON.SET", "doc:1", "$", json.dumps({"n": 1}))
    client.execute_command(
        "FT.CREATE", "idx", "ON", "JSON", "PREFIX", "1", "doc:", "SCHEMA", "$.n", "AS", "n",
        "NUMERIC",
    )  # fmt: skip
    client.close()
    first.stop()
    assert (first.data_dir / "appendonlydir").is_dir()

    second = make_server()  # same data dir, new instance (as another process would)
    client = _client(second.start())
    try:
        assert client.get("plain") == "value"
        assert json.loads(client.execute_command("JSON.GET", "doc:1")) == {"n": 1}
        assert client.execute_command("FT._LIST") == ["idx"]
    finally:
        client.close()


def test_context_manager_and_adoption(tmp_path: Path) -> None:
    with EmbeddedRedis(data_dir=tmp_path / "cm") as server:
        assert server.is_running()
        pid = server.status().pid
        # A second handle on the same data dir adopts the running server and, not having
        # started it, leaves it running on exit.
        with EmbeddedRedis(data_dir=tmp_path / "cm") as other:
            assert other.url == server.url
            assert other.status().pid == pid
        assert server.is_running()
    assert not server.is_running()


def test_ensure_server_is_idempotent(user_data_dir: Path) -> None:
    url = ensure_server()
    pid = EmbeddedRedis(data_dir=user_data_dir).status().pid
    assert url.startswith("unix://")
    assert ensure_server() == url
    assert EmbeddedRedis(data_dir=user_data_dir).status().pid == pid
    assert (user_data_dir / "appendonlydir").is_dir()


def test_ensure_server_concurrent_processes_share_one_server(
    user_data_dir: Path, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    script = textwrap.dedent(
        f"""
        import json, os, time
        from pathlib import Path
        while not Path({str(go)!r}).exists():
            time.sleep(0.005)
        from tta_memory.server import EmbeddedRedis, ensure_server
        url = ensure_server()
        print(json.dumps({{"url": url, "pid": EmbeddedRedis().status().pid}}))
        """
    )
    env = dict(os.environ, PYTHONPATH=str(Path(tta_memory.server.__file__).parents[2]))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    time.sleep(0.3)  # let the interpreters reach the barrier
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert len({r["url"] for r in results}) == 1
    assert len({r["pid"] for r in results}) == 1
    pid = results[0]["pid"]
    assert _pid_alive(pid)
    # Exactly one redis-server process serves this data dir.
    servers = [
        p
        for p in Path("/proc").iterdir()
        if p.name.isdigit()
        and _pid_alive(int(p.name))
        and b"redis-server" in _read(p / "cmdline")
        and str(user_data_dir).encode() in _read_link(p / "cwd")
    ]
    assert [int(p.name) for p in servers] == [pid]
    log = (user_data_dir / "redis.log").read_text()
    assert log.count("Ready to accept connections") == 1


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _read_link(path: Path) -> bytes:
    try:
        return os.fsencode(os.readlink(path))
    except OSError:
        return b""


def test_private_directories(make_server: ServerFactory) -> None:
    server = make_server()
    server.start()
    assert stat.S_IMODE(server.socket_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(server.socket_dir.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(server.data_dir.stat().st_mode) == 0o700
    assert server.socket_dir.stat().st_uid == os.getuid()
    assert stat.S_IMODE(server.socket_path.stat().st_mode) & 0o077 == 0
    assert len(str(server.socket_path)) < 104


def test_missing_binary_says_what_to_install(
    make_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(binary="/nonexistent/redis-server")
    with pytest.raises(ServerNotFoundError) as info:
        server.start()
    message = str(info.value)
    assert "/nonexistent/redis-server" in message
    assert "pip install 'tta-memory[embedded]'" in message
    assert "TTA_MEMORY_REDIS_URL=redis://" in message
    assert not server.is_running()

    monkeypatch.setenv("TTA_MEMORY_REDIS_SERVER", "/nonexistent/env/redis-server")
    with pytest.raises(ServerNotFoundError, match="TTA_MEMORY_REDIS_SERVER"):
        make_server("env").start()


def test_missing_modules_say_what_to_install(make_server: ServerFactory, tmp_path: Path) -> None:
    empty = tmp_path / "no-modules"
    empty.mkdir()
    with pytest.raises(ServerNotFoundError) as info:
        make_server(modules_dir=str(empty)).start()
    assert "redisearch.so" in str(info.value)
    assert "pip install 'tta-memory[embedded]'" in str(info.value)


def test_failed_start_reports_the_log(make_server: ServerFactory, tmp_path: Path) -> None:
    broken = tmp_path / "broken-modules"
    broken.mkdir()
    for name in ("redisearch.so", "rejson.so"):
        (broken / name).write_bytes(b"not a shared object")
    server = make_server(modules_dir=str(broken))
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as info:
        server.start()
    assert time.monotonic() - started < 10
    assert "redis.log" in str(info.value)
    assert "redisearch.so" in str(info.value)  # the log line naming the module that failed
    assert not server.is_running()


def test_socket_path_too_long(tmp_path: Path) -> None:
    with pytest.raises(TTAMemoryError, match="too long"):
        EmbeddedRedis(data_dir=tmp_path, socket_dir=tmp_path / ("x" * 120))


def test_server_without_the_modules_is_refused_and_stopped(
    make_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "none": a binary with the modules built in is expected; the bare one has neither.
    monkeypatch.setenv("TTA_MEMORY_REDIS_MODULES", "none")
    server = make_server()
    with pytest.raises(ServerNotFoundError) as info:
        server.start()
    assert "Redis Query Engine" in str(info.value)
    assert "TTA_MEMORY_REDIS_MODULES" in str(info.value)
    assert not server.is_running()
    assert server.status().pid is None


def test_server_requires_the_generated_password(make_server: ServerFactory) -> None:
    server = make_server()
    url = server.start()
    password = (server.data_dir / "password").read_text().strip()
    assert len(password) >= 32 and server.password == password
    anonymous = redis.Redis(unix_socket_path=str(server.socket_path))
    wrong = redis.Redis(unix_socket_path=str(server.socket_path), password="guess")
    try:
        with pytest.raises(redis.AuthenticationError):
            anonymous.ping()
        with pytest.raises(redis.AuthenticationError):
            wrong.ping()
    finally:
        anonymous.close()
        wrong.close()
    client = _client(url)
    try:
        assert client.ping()
    finally:
        client.close()
    # The password is never on the command line that ps shows to every user.
    pid = server.status().pid
    assert pid is not None
    assert password.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
    # A restart keeps the same password: clients configured with the URL keep working.
    server.stop()
    assert make_server().start() == url


def test_the_engine_without_the_password_gets_a_typed_error(make_server: ServerFactory) -> None:
    # A URL without the password is refused by the server: the engine says so, at once and
    # typed (this hung before the failure bound: redis-py retried the refused handshake).
    from tta_memory import MemoryWorkflowPrimitive

    server = make_server()
    url = server.start()
    bare = MemoryWorkflowPrimitive(url.split("?", 1)[0], "u", workspace="pw")
    with pytest.raises(BackendUnavailableError, match="password"):
        bare.sync.get_session_context("s1")
    assert MemoryWorkflowPrimitive(url, "u", workspace="pw").sync.get_session_context("s1") == []


def test_every_data_file_is_owner_only(make_server: ServerFactory) -> None:
    server = make_server()
    # A file an older version left readable by others is tightened at the next start.
    server.data_dir.mkdir(mode=0o700)
    old_log = server.data_dir / "redis.log"
    old_log.write_text("an old log\n")
    old_log.chmod(0o644)
    client = _client(server.start())
    try:
        client.set("k", "v")
        client.execute_command("BGREWRITEAOF")
    finally:
        client.close()
    server.stop()
    entries = [server.data_dir, *server.data_dir.rglob("*")]
    names = {p.name for p in entries}
    assert {"password", "redis.log", "appendonlydir"} <= names
    for path in entries:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"
    assert stat.S_IMODE((server.data_dir / "password").stat().st_mode) == 0o600


def test_the_engine_uses_the_password_of_the_per_user_server(
    user_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tta_memory import MemoryWorkflowPrimitive

    monkeypatch.delenv("TTA_MEMORY_REDIS_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    memory = MemoryWorkflowPrimitive(redis_url=None, user_id="u", workspace="w")
    assert memory.sync.add_session_message("s", "user", "through the embedded server").seq == 1
    server = EmbeddedRedis(data_dir=user_data_dir)
    assert memory.redis_url == server.url and "password=" in memory.redis_url
    anonymous = redis.Redis(unix_socket_path=str(server.socket_path))
    try:
        with pytest.raises(redis.AuthenticationError):
            anonymous.ping()
    finally:
        anonymous.close()
