"""A throwaway embedded Redis (Query Engine included) in a temporary directory, for fixtures."""

from __future__ import annotations

import contextlib
import itertools
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tta_memory import EmbeddedRedis


@contextlib.contextmanager
def throwaway_server(prefix: str = "tta-test-") -> Iterator[EmbeddedRedis]:
    """Start a server whose data and socket live in a new temporary directory; stop it and
    remove the directory on exit."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        server = EmbeddedRedis(data_dir=Path(tmp) / "data", socket_dir=Path(tmp) / "run")
        server.start()
        try:
            yield server
        finally:
            server.stop()


def crash_report(log_file: Path) -> str:
    """What says why a server died: the head of its last crash report (the signal or failed
    assertion, the stacks) and the command it was running (its ``argv[..]`` lines; the client
    list before them names every client's last command, so it is left out), else the log's
    tail."""
    try:
        lines = log_file.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    starts = [i for i, line in enumerate(lines) if "BUG REPORT START" in line]
    if not starts:
        return "\n".join(lines[-60:])
    report = lines[starts[-1] :]
    first = next((i for i, line in enumerate(report) if line.startswith("argv[")), len(report))
    command = list(itertools.takewhile(lambda line: line.startswith("argv["), report[first:]))
    return "\n".join([*report[:40], "... the command it ran:", *command])
