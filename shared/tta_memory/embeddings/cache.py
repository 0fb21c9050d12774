"""The Redis cache of query vectors: keyed by a hash, holding no text, bounded in size.

redisvl's ``EmbeddingsCache`` does not fit here: each entry is a hash holding the full text
(``content``) beside the vector as JSON (about 8 KB for 384 floats), one key per distinct text
with no bound but the TTL, and a hit costs a second round trip (HGETALL, then EXPIRE).

This cache is direct-mapped: a text's BLAKE2b digest (of model name and text) picks one of
``slots`` keys, ``<name>:<slot>``, whose hash holds the digest ``d`` and the float32 vector
``v`` (1,536 bytes for 384 dims). A read is one HMGET per text, a hit only when the stored
digest is the text's own; a write replaces whatever held the slot. So the cache never holds
more than ``slots`` keys (about 1.7 KB each at 384 dims: ~17 MB at the default 10,000), keys
expire after ``ttl`` seconds, and neither keys nor values contain the text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from tta_memory.errors import InvalidInputError

DEFAULT_SLOTS = 10_000


def digest(model_name: str, text: str) -> bytes:
    """The 16-byte digest that identifies ``text`` embedded by ``model_name``."""
    data = f"{model_name}\x00{text}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).digest()


class QueryVectorCache:
    """Query vectors in Redis, at most ``slots`` keys.

    Args:
        client: An async redis-py client (bytes responses).
        name: Key prefix of the cache (``<prefix>:embcache``).
        ttl: Seconds an entry lives, or ``None`` for no expiry.
        slots: How many keys the cache may hold.
    """

    def __init__(self, client: Any, name: str, ttl: int | None, slots: int = DEFAULT_SLOTS) -> None:
        if slots < 1:
            raise InvalidInputError(f"the embedding cache needs at least 1 slot, got {slots}")
        self.client = client
        self.name = name
        self.ttl = ttl
        self.slots = slots

    def _key(self, d: bytes) -> str:
        return f"{self.name}:{int.from_bytes(d[:8], 'big') % self.slots}"

    async def amget(self, texts: Sequence[str], model_name: str) -> list[bytes | None]:
        """The cached float32 buffer of each text, or ``None``."""
        digests = [digest(model_name, t) for t in texts]
        pipe = self.client.pipeline(transaction=False)
        for d in digests:
            pipe.hmget(self._key(d), ["d", "v"])
        rows = await pipe.execute()
        return [
            v if stored == d and v else None for d, (stored, v) in zip(digests, rows, strict=True)
        ]

    async def amset(self, items: Sequence[tuple[str, bytes]], model_name: str) -> None:
        """Store ``(text, float32 buffer)`` pairs, each replacing whatever held its slot."""
        pipe = self.client.pipeline(transaction=False)
        for text, vector in items:
            d = digest(model_name, text)
            key = self._key(d)
            pipe.hset(key, mapping={"d": d, "v": vector})
            if self.ttl:
                pipe.expire(key, self.ttl)
        await pipe.execute()
