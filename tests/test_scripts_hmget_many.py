"""HMGET_MANY (scripts.py), the deep search's read of its winners: one row per key in the
order given, missing keys and fields as None, loaded again after the server forgot it."""

from __future__ import annotations

import uuid

from tta_memory.config import Settings
from tta_memory.connection import make_client
from tta_memory.scripts import HMGET_MANY, run


async def test_rows_in_key_order_with_missing_keys_and_fields_as_none(redis_url):
    client = make_client(redis_url, Settings())
    tag = f"{{t-{uuid.uuid4().hex[:8]}}}"
    full, missing, partial = f"{tag}:a", f"{tag}:b", f"{tag}:c"
    try:
        await client.hset(full, mapping={"text": "é 1", "tags": "x|y"})
        await client.hset(partial, mapping={"text": "third"})
        rows = await run(
            client, HMGET_MANY, [partial, missing, full], ["text", "tags"], read_only=True
        )
        assert rows == [[b"third", None], [None, None], ["é 1".encode(), b"x|y"]]

        await client.script_flush()  # a restarted or flushed server: NOSCRIPT, loaded again
        again = await run(client, HMGET_MANY, [full], ["tags"], read_only=True)
        assert again == [[b"x|y"]]
    finally:
        await client.delete(full, partial)
        await client.aclose()
