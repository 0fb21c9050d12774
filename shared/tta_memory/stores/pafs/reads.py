"""Reading a workspace's PAFs: each stored PAF decoded once, and the whole list sent again only
when it changed.

A context load reads every PAF of the workspace. At the benchmark's 200 PAFs that is a 94 KB
``HGETALL`` reply (of ~200 KB per understand / AUGSTER load at 10k notes) and 0.6 ms of the
client's ~9 ms. Every PAF write sets the workspace's PAF version key to a new random token in
the same transaction as the hash (``PAFStore``), and the read is a script that returns the hash
only when the caller's token is not the current one: a process that read the PAFs before gets
a one-byte reply until somebody changes them.

Tokens are random, never counters: a deleted and re-created workspace, another server with the
same key names, or a restored backup can never present a token the process saw with other
contents. A workspace whose PAFs were written before versions existed gets a version when a
process first uses it (``workspaces.ensure_registered``). A PAF written around the engine (a
plain Redis client, an engine older than this module) sets no new token: it is seen once the
held list is :data:`MAX_AGE_S` old.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError

from tta_memory.context import ReadSpec
from tta_memory.errors import InvalidInputError
from tta_memory.models import PAF
from tta_memory.scripts import LuaScript

# Each PAF's fields, decoded from its stored JSON once. Validating 200 of them took 0.7-1.7 ms
# of a 14-18 ms load (10k notes, 2-core machine). Keyed by the exact bytes Redis returned, a
# PAF changed by any client or process is a new key and is decoded afresh. Callers get new
# PAFs built from the cached fields in one validation of the list (their own objects, history
# included): 200 PAFs 0.45 ms, against 1.0 ms for a model_copy of a cached PAF each
# (micro-benchmark, load ~5).
_DECODED: dict[Any, dict[str, Any]] = {}
MAX_DECODED = 10_000  # about 10 MB at the benchmark's 450-byte PAFs
PAF_LIST: TypeAdapter[list[PAF]] = TypeAdapter(list[PAF])

# The PAFs last read per hash key: (version token, when read, every PAF's fields sorted by id).
# The field dicts are _DECODED's, so a held list costs one list. Cleared when full.
_HELD: dict[str, tuple[bytes, float, list[dict[str, Any]]]] = {}
MAX_HELD = 1_000
# A held list is read whole again after this many seconds even if its token is current: a PAF
# written around the engine (a plain Redis client, an older engine) sets no new token, and is
# seen within this time instead of never. An agent that loads its context every turn (seconds
# to a minute apart) still gets the short reply for most loads.
MAX_AGE_S = 60.0

# KEYS: the PAF hash, its version key. ARGV: the token the caller holds ('' for none).
# Returns 1 when that token is current, else {token or '', the hash as a flat list}.
READ_IF_CHANGED = LuaScript(
    """
local v = redis.call('GET', KEYS[2])
if v and v == ARGV[1] then return 1 end
return {v or '', redis.call('HGETALL', KEYS[1])}
"""
)


def paf_fields(raw: Any) -> dict[str, Any]:
    """The fields of one stored PAF (the JSON of its hash field); the caller must not edit
    them (they are shared by every later read of the same JSON)."""
    fields = _DECODED.get(raw)
    if fields is None:
        fields = PAF.model_validate_json(raw).model_dump()
        if len(_DECODED) >= MAX_DECODED:
            _DECODED.clear()
        _DECODED[raw] = fields
    return fields


def _sorted_fields(values: Sequence[Any]) -> list[dict[str, Any]]:
    fields = [paf_fields(v) for v in values]
    fields.sort(key=lambda f: f["id"])
    return fields


def select(
    fields: Sequence[Mapping[str, Any]],
    categories: Sequence[str] | None = None,
    status: str | None = None,
) -> list[Mapping[str, Any]]:
    """The fields of the PAFs of these categories and status (``None``: any), in the order
    given (shared: see :func:`paf_fields`)."""
    return [
        f
        for f in fields
        if (categories is None or f["category"] in categories)
        and (status is None or f["status"] == status)
    ]


def to_pafs(fields: Sequence[Mapping[str, Any]]) -> list[PAF]:
    """New PAFs, the caller's own, from :func:`select`'s fields (one validation of the list:
    the dearest step of a PAF read, which the context loader runs while its next round trip
    is out)."""
    try:
        return PAF_LIST.validate_python(fields)
    except ValidationError as exc:
        raise InvalidInputError(f"not the fields of PAFs: {exc}") from exc


def read_spec(
    key: str, version_key: str, categories: Sequence[str] | None, status: str | None
) -> ReadSpec[list[Mapping[str, Any]]]:
    """The fields of ``key``'s PAFs of these categories and status, by id, as a batched read
    (:func:`to_pafs` makes them PAFs)."""
    held = _HELD.get(key)
    if held is not None and time.monotonic() - held[1] > MAX_AGE_S:
        held = None
    token = held[0] if held is not None else b""

    def queue(pipe: Any) -> None:
        pipe.execute_command("EVALSHA_RO", READ_IF_CHANGED.sha, 2, key, version_key, token)

    def decode(replies: Sequence[Any]) -> list[Mapping[str, Any]]:
        reply = replies[0]
        if not isinstance(reply, list):  # 1: the token sent is current
            return select(held[2] if held is not None else [], categories, status)
        version, flat = reply
        fields = _sorted_fields(flat[1::2])
        if version:
            if len(_HELD) >= MAX_HELD:
                _HELD.clear()
            current = version if isinstance(version, bytes) else version.encode()
            _HELD[key] = (current, time.monotonic(), fields)
        return select(fields, categories, status)

    return ReadSpec(queue, 1, decode, scripts=(READ_IF_CHANGED,))
