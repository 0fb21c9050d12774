"""Raw ``FT.SEARCH`` for redisvl queries: the arguments to send and the rows of the reply;
and the engine's one reading of raw replies (text, map replies, totals, ids, aggregate rows).

redisvl builds the queries; only their execution is ours where a call reads many rows (the
context loader's cache and deep-search reads). redis-py's generic search parser builds a
``Document`` per hit and redisvl then post-processes every row: in a profile of 60 context
loads at 100k memories that parsing was the largest CPU item after the event loop. Here the
reply (RESP2 or RESP3) is walked once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def search_args(index_name: str, query: Any) -> list[Any]:
    """The ``FT.SEARCH`` arguments of a redisvl query (what ``index.query`` would send)."""
    args: list[Any] = [index_name, *query.get_args()]
    params: Mapping[str, Any] = query.params or {}
    if params:
        args += ["PARAMS", 2 * len(params)]
        for key, value in params.items():
            args += [key, value]
    return args


def text(value: Any) -> str:
    """A reply value as text: the one byte-to-text helper of the engine (bytes that are not
    UTF-8, written by another client, come out with U+FFFD instead of failing the read)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def pairs(reply: Any) -> dict[str, Any]:
    """A map reply as a dict with text keys (values as they came): RESP3 sends a map, RESP2
    a flat ``[k1, v1, k2, v2, …]`` list (``MODULE LIST`` entries, ``FT.INFO``, rows)."""
    if isinstance(reply, Mapping):
        return {text(k): v for k, v in reply.items()}
    items = list(reply)
    return {text(items[i]): items[i + 1] for i in range(0, len(items) - 1, 2)}


def total(reply: Any) -> int:
    """The result count of an ``FT.SEARCH`` reply."""
    return int(get(reply, "total_results")) if isinstance(reply, Mapping) else int(reply[0])


def ids(reply: Any) -> list[str]:
    """The document keys of an ``FT.SEARCH … NOCONTENT`` reply."""
    if isinstance(reply, Mapping):
        return [text(get(hit, "id")) for hit in get(reply, "results") or []]
    return [text(key) for key in reply[1:]]


def ids_and_last_sort_key(reply: Any) -> tuple[list[str], float | None]:
    """The document keys of an ``FT.SEARCH … NOCONTENT WITHSORTKEYS`` reply sorted by a numeric
    field, and the last one's value of that field (``None``: no hit, or it has none)."""
    if isinstance(reply, Mapping):
        results = get(reply, "results") or []
        keys = [text(get(hit, "id")) for hit in results]
        last = get(results[-1], "sortkey") if results else None
    else:
        keys = [text(key) for key in reply[1::2]]
        last = reply[-1] if len(reply) > 1 else None
    try:
        # A numeric sort key comes as "#<value>" (17 significant digits: the stored double).
        return keys, float(text(last)[1:]) if last is not None else None
    except ValueError:
        return keys, None


def aggregate_rows(reply: Any) -> list[dict[str, str]]:
    """The rows of an ``FT.AGGREGATE`` reply, decoded to text."""
    if isinstance(reply, Mapping):
        rows = [get(row, "extra_attributes") or {} for row in get(reply, "results") or []]
    else:
        rows = list(reply[1:])
    return [{k: text(v) for k, v in pairs(row).items()} for row in rows]


def get(mapping: Mapping[Any, Any], name: str) -> Any:
    """``mapping[name]`` whether the reply's keys are bytes or text (``None`` if absent)."""
    value = mapping.get(name.encode())
    return mapping.get(name) if value is None else value


def hits(reply: Any, *, with_scores: bool = False) -> list[tuple[float | None, dict[str, Any]]]:
    """Each hit's score (``None`` without ``WITHSCORES``) and its returned fields (raw values).

    A hit whose document vanished while the query ran comes back without fields (empty dict).
    """
    out: list[tuple[float | None, dict[str, Any]]] = []
    if isinstance(reply, Mapping):  # RESP3
        for hit in get(reply, "results") or []:
            attrs = get(hit, "extra_attributes") or {}
            score = get(hit, "score")
            fields = {text(k): v for k, v in attrs.items()}
            out.append((None if score is None else float(score), fields))
        return out
    # RESP2: the total, then per hit its key, its score (WITHSCORES) and its field list.
    step = 3 if with_scores else 2
    rows: Sequence[Any] = reply[1:] if reply else []
    for i in range(0, len(rows) - step + 1, step):
        flat = rows[i + step - 1] or []
        fields = {text(flat[j]): flat[j + 1] for j in range(0, len(flat) - 1, 2)}
        out.append((float(rows[i + 1]) if with_scores else None, fields))
    return out


def raw_rows(reply: Any) -> list[tuple[tuple[Any, Any], ...]]:
    """The rows of a reply as returned: each hit's ``(name, value)`` pairs, not decoded
    (hashable, so a caller can reuse what it decoded from the same row before)."""
    if isinstance(reply, Mapping):  # RESP3
        return [
            tuple((get(hit, "extra_attributes") or {}).items())
            for hit in get(reply, "results") or []
        ]
    rows: Sequence[Any] = reply[1:] if reply else []
    return [
        tuple(zip(flat[0::2], flat[1::2], strict=False))
        for flat in (rows[i] or () for i in range(1, len(rows), 2))
    ]


def row_text(row: Sequence[tuple[Any, Any]]) -> dict[str, str]:
    """One raw row (see :func:`raw_rows`) with every name and value decoded to text, leniently
    like :func:`text`: bytes another client wrote that are not UTF-8 must not fail a read."""
    return {
        (k.decode("utf-8", "replace") if k.__class__ is bytes else str(k)): (
            v.decode("utf-8", "replace") if v.__class__ is bytes else str(v)
        )
        for k, v in row
    }


def documents(reply: Any) -> list[dict[str, str]]:
    """The rows of a reply, every field decoded to text.

    Names and values are decoded inline, without :func:`text` per field: for the context
    loader's 100 cache rows of 12 fields this took 1.2 ms through :func:`hits` and 0.4 ms so.
    """
    return [row_text(row) for row in raw_rows(reply)]
