"""A throwaway embedded Redis (Query Engine included) in a temporary directory, for fixtures."""

from __future__ import annotations

import contextlib
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
