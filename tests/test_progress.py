"""Progress bars of long work: drawn on a terminal (a pseudo-terminal here), silent elsewhere."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tta_memory import MemoryWorkflowPrimitive

SCRIPT = """
import sys
from redisvl.utils.vectorize import CustomVectorizer
from tta_memory import MemoryWorkflowPrimitive, Settings

# A tiny deterministic model under its own key prefix: the bar is under test, not the model.
def embed(text, **_):
    return [float((hash(text) >> i) & 1) + 0.5 for i in range(8)]

model = CustomVectorizer(embed=embed, embed_many=lambda texts, **_: [embed(t) for t in texts])
m = MemoryWorkflowPrimitive(
    sys.argv[1], "u", workspace=sys.argv[2], vectorizer=model, settings=Settings(prefix="tta-pg")
)
texts = [{"text": f"bulk note {i}"} for i in range(6)]
print(len(m.sync.create_deep_memories(texts, batch_size=2)), file=sys.stderr)
"""


def _run(argv: list[str], *, terminal: bool, env: dict[str, str]) -> bytes:
    """stderr of ``argv``, on a pseudo-terminal or a pipe."""
    if not terminal:
        proc = subprocess.run(argv, capture_output=True, timeout=300, check=True, env=env)
        return proc.stderr
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(argv, stderr=secondary, stdout=subprocess.DEVNULL, env=env)
    os.close(secondary)
    out = b""
    while True:  # read while it runs: a full terminal buffer would block the writer
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(primary)
    assert proc.wait(timeout=300) == 0, out[-2000:]
    return out


def test_bulk_create_shows_a_bar_on_a_terminal_only(redis_url: str, workspace: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TTA_MEMORY_PROGRESS"}
    script = [sys.executable, "-c", SCRIPT, redis_url]
    drawn = _run([*script, workspace], terminal=True, env=env)
    assert b"creating deep memories" in drawn and b"6" in drawn
    piped = _run([*script, f"{workspace}-piped"], terminal=False, env=env)
    assert piped.decode().strip() == "6"


def test_export_shows_a_bar_on_a_terminal(
    redis_url: str, workspace: str, memory: MemoryWorkflowPrimitive, tmp_path: Path
) -> None:
    memory.sync.add_session_messages("s", [{"role": "user", "content": "m"}] * 50)
    env = {k: v for k, v in os.environ.items() if k != "TTA_MEMORY_PROGRESS"}
    argv = [sys.executable, "-m", "tta_memory.cli", "export", "--url", redis_url, "-w", workspace]
    drawn = _run([*argv, "-o", str(tmp_path / "x.jsonl")], terminal=True, env=env)
    assert f"exporting {workspace}".encode() in drawn
    assert b"exported 50 record(s)" in drawn
    quiet = _run(
        [*argv, "-o", str(tmp_path / "y.jsonl")],
        terminal=True,
        env={**env, "TTA_MEMORY_PROGRESS": "0"},
    )
    assert b"exporting" not in quiet and b"exported 50 record(s)" in quiet
