"""The Redis URL of an existing redis-py client, so an adapter can open the same server.

``RedisChatMessageHistory(redis_client=...)`` callers hand over a client; the engine keeps its
own connection pools (one per event loop), so it takes the client's connection settings.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tta_memory.errors import InvalidInputError


def client_url(client: Any) -> str:
    """Return the ``redis://``, ``rediss://`` or ``unix://`` URL of a redis-py client.

    Host, port, database, user name, password and TLS (``rediss``) carry over; further TLS
    options (certificates) and credential providers do not: pass ``redis_url`` for those.

    Args:
        client: A ``redis.Redis`` or ``redis.asyncio.Redis`` instance.

    Returns:
        The URL (with the password, if any: keep it out of logs).

    Raises:
        InvalidInputError: ``client`` is not a single-node redis-py client.
    """
    pool = getattr(client, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None)
    if not isinstance(kwargs, dict):
        raise InvalidInputError(
            f"redis_client must be a redis.Redis (or redis.asyncio.Redis) client, got "
            f"{type(client).__name__}; pass redis_url for other deployments"
        )
    if kwargs.get("credential_provider") is not None:
        raise InvalidInputError(
            "redis_client uses a credential provider, which cannot be shared: pass redis_url"
        )
    user, password = kwargs.get("username"), kwargs.get("password")
    auth = ""
    if user or password:
        auth = f"{quote(str(user or ''), safe='')}:{quote(str(password or ''), safe='')}@"
    db = int(kwargs.get("db") or 0)
    path = kwargs.get("path")
    if path:
        return f"unix://{auth}{path}" + (f"?db={db}" if db else "")
    tls = "SSL" in getattr(pool, "connection_class", type(None)).__name__
    host, port = kwargs.get("host", "localhost"), int(kwargs.get("port") or 6379)
    if ":" in str(host):  # IPv6 literal
        host = f"[{host}]"
    return f"{'rediss' if tls else 'redis'}://{auth}{host}:{port}/{db}"
