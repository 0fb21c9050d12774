"""A watch that stops a server when the process that started it dies without stopping it.

``with EmbeddedRedis(tmp) as server`` stops its server on exit; a process killed outright (a
benchmark or notebook kernel ended with SIGKILL) never gets there, and the daemonized server
kept running with nobody to use it (seen once in session 6). The watch is a tiny shell loop in
a session of its own, so it outlives its parent: once a second it checks that both the parent
and the server are alive; when the parent is gone it sends the server SIGTERM (Redis then
flushes its AOF and exits), after checking that the pid is still that server (its command line
names its socket), so a reused pid is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

_SCRIPT = r"""
parent=$1 server=$2 socket=$3
while kill -0 "$parent" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 1; done
if kill -0 "$server" 2>/dev/null \
    && tr '\0' ' ' < "/proc/$server/cmdline" 2>/dev/null | grep -qF -- "$socket"; then
    kill -TERM "$server"
fi
"""


def watch_parent(server_pid: int, socket_path: Path) -> subprocess.Popen[bytes] | None:
    """Start the watch for ``server_pid`` on behalf of this process (``None`` where there is no
    ``/proc`` or no ``sh``: the server is then only stopped by :meth:`EmbeddedRedis.stop`)."""
    sh = shutil.which("sh")
    if sh is None or not Path("/proc/self/cmdline").exists():
        return None
    return subprocess.Popen(
        [
            sh,
            "-c",
            _SCRIPT,
            "tta-memory-watch",
            str(os.getpid()),
            str(server_pid),
            str(socket_path),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def end_watch(watch: subprocess.Popen[bytes] | None) -> None:
    """Stop a watch whose server was stopped the ordinary way."""
    if watch is None:
        return
    with contextlib.suppress(ProcessLookupError):
        watch.kill()
    watch.wait()
