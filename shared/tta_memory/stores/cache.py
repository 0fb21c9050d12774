"""Layer 2 — the cache: recent session messages and short-lived notes, read by time window.

Entries are hashes that expire by themselves; a RediSearch index serves the window queries.
Session messages reach the cache through the session store's append script.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, NamedTuple

from pydantic import TypeAdapter
from redis.exceptions import ResponseError
from redisvl.query import FilterQuery
from redisvl.query.filter import FilterExpression, Num

from tta_memory import replies, scripts
from tta_memory.context import ReadSpec, Store
from tta_memory.errors import InvalidInputError
from tta_memory.limits import (
    MAX_TTL_SECONDS,
    check_number,
    read_float,
    read_json,
    read_time,
)
from tta_memory.models import CacheEntry
from tta_memory.names import Tag, check_name, check_tags
from tta_memory.schema import QUERY_DIALECT, TAG_SEPARATOR
from tta_memory.scripts import HMGET_MANY
from tta_memory.validation import check_metadata, check_positive, check_text, check_ttl

CACHE_FIELDS = [
    "entry_id",
    "kind",
    "content",
    "role",
    "session_id",
    "user_id",
    "tags",
    "importance",
    "metadata",
    "created",
    "expires_at",
    "workspace",
]
MAX_DROP = 10_000  # cache entries of one session deleted with it
# A window's filter leaves out its workspace clause, which costs RediSearch a walk of every
# cache entry of the workspace: 10k-memory understand / AUGSTER windows (20 sessions, 1,000 of
# 50k entries) took 0.82-0.99 ms of server time with it, 0.50-0.59 ms without (200 windows
# each way, 3 alternating rounds). The rows are checked anyway: if one of another workspace
# comes back (a partition several workspaces share, with the same session or user ids), the
# window is read again with the clause, and the partition's windows keep it for this long.
# Without such a row the lean window is the full one: every row it returned is this
# workspace's, and any of another workspace left out was older than all of them.
SHARED_TTL = 600.0
_SHARED: dict[str, float] = {}  # cache index name -> monotonic time its windows go lean again
MAX_SHARED = 10_000
# Dialect 2 sorts every match of a window (schema.QUERY_DIALECT: dialect 4's optimizer, which
# stopped early, can kill the server): 10k entries in a window cost 4.7 ms of server time and 50k
# 21 ms, against 0.7 ms with the optimizer (200 alternating reads each). So a window read starts
# where the previous full read of the same window ended: at the time of its last (oldest) entry,
# its horizon. If that newer part still holds `limit` entries, they are the newest `limit` of the
# whole window (everything left out is older than all of them); if it holds fewer (entries were
# deleted or expired), finish() reads the whole window. New entries only move a horizon forward.
_HORIZONS: dict[tuple[Any, ...], float] = {}
MAX_HORIZONS = 10_000
HORIZON_MARGIN = 1e-3  # s below the last entry's time: a sort key is its stored double anyway
# The session clause of a window, by its session ids: checking 20 ids and building the clause
# was ~100 us of a group load's client time (the ids are the group's, the same load after load).
_SESSION_CLAUSES: dict[tuple[str, ...], FilterExpression] = {}
MAX_SESSION_CLAUSES = 1_000


def entry_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`CacheEntry` fields of a search result (numbers, times and metadata that do
    not decode are read as their defaults: a stored value never breaks a read)."""
    tags = doc.get("tags") or ""
    created = read_time(doc.get("created") or doc.get("created_at"))
    return {
        "id": doc["entry_id"],
        "kind": doc["kind"],
        "content": doc.get("content", ""),
        "role": doc.get("role") or None,
        "session_id": doc.get("session_id") or None,
        "user_id": doc["user_id"],
        "tags": tags.split(TAG_SEPARATOR) if tags else [],
        "importance": min(max(read_float(doc.get("importance"), 0.5), 0.0), 1.0),
        # Most entries carry no metadata: json.loads("{}") was ~1 us of ~13 per entry.
        "metadata": {} if doc.get("metadata") == "{}" else read_json(doc.get("metadata"), {}),
        "created_at": created or datetime.fromtimestamp(0, UTC),
        "expires_at": read_time(doc.get("expires_at")),
    }


def decode_entry(doc: Mapping[str, Any]) -> CacheEntry:
    """Rebuild a :class:`CacheEntry` from a search result (see :func:`entry_fields`)."""
    return CacheEntry.model_validate(entry_fields(doc))


ENTRY_LIST: TypeAdapter[list[CacheEntry]] = TypeAdapter(list[CacheEntry])


class Known(NamedTuple):
    """A row read before: its workspace and entry fields (shared: validated anew by every
    read), or, for a row with metadata, its raw pairs, decoded at every read so that no caller
    shares another's nested values."""

    workspace: str | None
    fields: dict[str, Any] | None
    raw: tuple[tuple[Any, Any], ...] | None = None

    def decoded(self) -> tuple[str | None, dict[str, Any] | None]:
        if self.raw is None:
            return self.workspace, self.fields
        doc = replies.row_text(self.raw)
        return doc.get("workspace"), entry_fields(doc)


# Every row read, by key. Cache entries are never rewritten in place: a message's entry key is
# its message id (a new uuid per append; a retried append writes the same fields again) and a
# note's a new uuid per add. So a window read asks for keys only (NOCONTENT) and fetches just the
# rows it has not seen (one HMGET script): the 100 full rows of a 10k understand / AUGSTER load
# were a 59 KB reply and 29 % of its client instructions (callgrind: 29.7 M per load with them,
# 21.1 M without); validating the list from known fields in one call costs ~0.12 ms
# (micro-benchmark, load ~5). An entry whose time ran out is left out by its own expires_at
# (CacheStore._entries).
_KNOWN: dict[str, Known] = {}
# ~4 KB a row (tracemalloc, 12-field rows of ~150-character messages): at most ~16 MB, the
# rows of 40 full loads (a load reads at most 100).
MAX_KNOWN = 4_000


def _known(row: tuple[tuple[Any, Any], ...]) -> Known | None:
    """A fetched row as :data:`_KNOWN` holds it (``None``: its entry expired meanwhile)."""
    doc = replies.row_text(row)
    if "entry_id" not in doc:
        return None
    if doc.get("metadata") in (None, "", "{}"):
        return Known(doc.get("workspace"), entry_fields(doc))
    return Known(None, None, row)


@dataclass(frozen=True)
class Window:
    """A window read's keys, newest first (see :meth:`CacheStore.finish`).

    ``full`` is set when the read left out the workspace clause (see :data:`SHARED_TTL`) or
    started at its horizon (see :data:`_HORIZONS`): it gives the ``FT.SEARCH`` arguments of the
    whole window with the clause, for :meth:`CacheStore.finish` to read the window again if a
    row of another workspace came back or a narrowed read came back short.
    """

    keys: list[str]
    full: Reread | None = None
    # Set when the read started at its horizon (see _HORIZONS): fewer keys than ``limit`` then
    # make :meth:`CacheStore.finish` read the whole window through ``full``.
    narrowed: bool = False
    limit: int = 0


@dataclass(frozen=True)
class Reread:
    """How to read a window whole, with the workspace clause: the ``FT.SEARCH`` arguments and
    what turns the reply into its :class:`Window`."""

    args: Callable[[], list[Any]]
    window: Callable[[Any], Window]


def _sessions_clause(session_ids: Sequence[str]) -> FilterExpression:
    """The clause matching these sessions (checked), from :data:`_SESSION_CLAUSES` when built
    before for the same ids."""
    if isinstance(session_ids, str | bytes):  # would be read as one id per character
        raise InvalidInputError(f"session_ids must be a list of session ids, got {session_ids!r}")
    key = tuple(session_ids)
    exact = all(type(s) is str for s in key)  # only exact str ids: hashing is their equality
    clause = _SESSION_CLAUSES.get(key) if exact else None
    if clause is None:
        if not key:
            raise InvalidInputError("session_ids must not be empty")
        clause = Tag("session_id") == [check_name("session_id", s) for s in key]
        if exact:
            if len(_SESSION_CLAUSES) >= MAX_SESSION_CLAUSES:
                _SESSION_CLAUSES.clear()
            _SESSION_CLAUSES[key] = clause
    return clause


def check_window(time_window_hours: Any) -> float:
    """A positive, finite number of hours (at most the longest TTL: nothing is older)."""
    hours = check_number("time_window_hours", time_window_hours, low=0, high=MAX_TTL_SECONDS / 3600)
    if hours <= 0:
        raise InvalidInputError(f"time_window_hours must be positive, got {time_window_hours!r}")
    return hours


class CacheStore(Store):
    """The cache layer of one workspace (``memory.cache``)."""

    def _decode(self, docs: list[dict[str, Any]]) -> list[CacheEntry]:
        # An entry whose TTL ran out between the index match and the read comes back as a
        # bare key without fields: it is gone. A row of another workspace is never returned.
        ws = self._ctx.workspace
        return [decode_entry(d) for d in docs if "entry_id" in d and d.get("workspace") == ws]

    def _entries(self, rows: Sequence[Known]) -> tuple[list[CacheEntry], bool]:
        """The entries of known rows (the rule of :meth:`_decode`), leaving out rows whose time
        ran out: a keys-only query does not touch its keys, so an expired entry stays in the
        index until Redis's active expiry reaches it (seconds on a server with many expiring
        keys: seen in CI), while its row is still known here. Also whether a row of another
        workspace was among them."""
        ws = self._ctx.workspace
        now = datetime.now(UTC)
        kept = []
        foreign = False
        for row in rows:
            workspace, fields = row.decoded()
            if fields is None:
                continue
            if workspace != ws:
                foreign = True
                continue
            expires = fields["expires_at"]
            if expires is None or expires > now:
                kept.append(fields)
        return ENTRY_LIST.validate_python(kept), foreign

    async def finish(self, window: Window) -> list[CacheEntry]:
        """The entries of a window read: rows seen before from memory, the others in one
        round trip (none when every row is known)."""
        if not isinstance(window, Window):
            raise InvalidInputError(f"expected a Window from window(), got {window!r}")
        # Taken before the round trip: a concurrent read may empty _KNOWN meanwhile.
        rows = {k: _KNOWN.get(k) for k in window.keys}
        missing = [k for k, row in rows.items() if row is None]
        if missing:
            client = await self._ctx.client()
            fetched = await scripts.run(client, HMGET_MANY, missing, CACHE_FIELDS, read_only=True)
            if len(_KNOWN) + len(missing) > MAX_KNOWN:
                _KNOWN.clear()
            for key, values in zip(missing, fetched, strict=True):
                known = _known(
                    tuple((n, v) for n, v in zip(CACHE_FIELDS, values, strict=True) if v)
                )
                if known is not None:
                    rows[key] = _KNOWN[key] = known
        entries, foreign = self._entries([row for row in rows.values() if row is not None])
        short = window.narrowed and len(window.keys) < window.limit
        if (foreign or short) and window.full is not None:
            if foreign:
                # A lean window met another workspace's row: read it again with the clause.
                if len(_SHARED) >= MAX_SHARED:
                    _SHARED.clear()
                _SHARED[self._ctx.keys.index_name("cache")] = time.monotonic() + SHARED_TTL
            client = await self._ctx.client()
            reply = await client.execute_command("FT.SEARCH", *window.full.args())
            return await self.finish(window.full.window(reply))
        return entries

    def _filter(
        self,
        session_ids: Sequence[str] | None,
        since: float,
        *,
        exclude_messages_of: str | None = None,
        workspace: bool = True,
    ) -> FilterExpression:
        f = Num("created_at") >= since
        if workspace:
            f = (Tag("workspace") == self._ctx.workspace) & f
        if session_ids is not None:
            f &= _sessions_clause(session_ids)
        else:
            f &= Tag("user_id") == self._ctx.user_id
        if exclude_messages_of is not None:
            # The session's own messages are loaded by the session layer already.
            f &= (Tag("session_id") != exclude_messages_of) | (Tag("kind") == "note")
        return f

    def _window_read(
        self,
        session_ids: Sequence[str] | None,
        time_window_hours: float,
        limit: int,
        exclude_messages_of: str | None,
    ) -> tuple[list[Any], Callable[[Any], Window]]:
        """The checked, keys-only ``FT.SEARCH`` arguments of a window read, and what turns its
        reply into a :class:`Window` (noting the window's horizon). The read leaves out the
        workspace clause (see :data:`SHARED_TTL`) and starts at the window's horizon (see
        :data:`_HORIZONS`) when it can; the window then says how to read it whole."""
        check_positive("limit", limit)
        since = time.time() - check_window(time_window_hours) * 3600
        if session_ids is not None:
            _sessions_clause(session_ids)  # checks the ids before they key _HORIZONS
        index_name = self._ctx.keys.index_name("cache")
        shape = (
            index_name,
            None if session_ids is None else tuple(session_ids),
            self._ctx.workspace,
            self._ctx.user_id,
            exclude_messages_of,
            limit,
        )

        def args(workspace: bool, start: float) -> list[Any]:
            f = self._filter(
                session_ids, start, exclude_messages_of=exclude_messages_of, workspace=workspace
            )
            found = replies.search_args(index_name, self._query(f, limit, keys_only=True))
            return [*found[:2], "WITHSORTKEYS", *found[2:]]

        lean = _SHARED.get(index_name, 0.0) <= time.monotonic()
        horizon = _HORIZONS.get(shape, since)
        narrowed = horizon > since

        def window(reply: Any, *, whole: bool, final: bool) -> Window:
            """``whole``: the reply covers the whole window; ``final``: with the clause too."""
            keys, last = replies.ids_and_last_sort_key(reply)
            if len(keys) >= limit and last is not None:
                if len(_HORIZONS) >= MAX_HORIZONS:
                    _HORIZONS.clear()
                _HORIZONS[shape] = last - HORIZON_MARGIN
            elif whole:
                _HORIZONS.pop(shape, None)  # the whole window holds fewer: nothing to skip
            return Window(keys) if final else Window(keys, reread, narrowed, limit)

        reread = Reread(partial(args, True, since), partial(window, whole=True, final=True))
        first = args(not lean, horizon if narrowed else since)
        return first, partial(window, whole=not narrowed, final=not (narrowed or lean))

    @staticmethod
    def _query(f: FilterExpression, limit: int, *, keys_only: bool = False) -> FilterQuery:
        fields = [] if keys_only else CACHE_FIELDS
        q = FilterQuery(filter_expression=f, return_fields=fields, num_results=limit)
        if keys_only:
            q.no_content()
        q.sort_by("created_at", asc=False)
        q.dialect(QUERY_DIALECT)
        return q

    async def add_note(
        self,
        content: str,
        *,
        session_id: str | None = None,
        tags: list[str] | None = None,
        importance: float = 0.5,
        ttl_seconds: int = 86400,
        metadata: dict[str, Any] | None = None,
    ) -> CacheEntry:
        """Add a short-lived note (see ``MemoryWorkflowPrimitive.add_cache_entry``)."""
        check_text("content", content)
        if session_id is not None:
            check_name("session_id", session_id)
        tag_list = check_tags(tags)
        importance = check_number("importance", importance, low=0, high=1)
        check_ttl(ttl_seconds)
        meta = check_metadata(metadata)
        now = time.time()
        entry_id = uuid.uuid4().hex
        doc = {
            "entry_id": entry_id,
            "kind": "note",
            "workspace": self._ctx.workspace,
            "user_id": self._ctx.user_id,
            "session_id": session_id or "",
            "role": "",
            "content": content,
            "metadata": json.dumps(meta, ensure_ascii=False),
            "tags": TAG_SEPARATOR.join(tag_list),
            "importance": repr(float(importance)),
            "created_at": repr(now),
            "created": repr(now),
            "expires_at": repr(now + ttl_seconds),
        }
        index = await self._ctx.backend.cache_index(self._ctx.keys.partition)
        key = self._ctx.keys.cache_entry(entry_id, session_id)
        await index.load([doc], keys=[key], ttl=ttl_seconds)
        return decode_entry(doc)

    async def recent(
        self,
        session_ids: Sequence[str] | None = None,
        time_window_hours: float = 24,
        *,
        limit: int = 100,
        exclude_messages_of: str | None = None,
    ) -> list[CacheEntry]:
        """Entries of the window, newest first.

        Args:
            session_ids: These sessions (any user); ``None``: the caller's entries.
            time_window_hours: How far back.
            limit: At most this many.
            exclude_messages_of: Leave out the messages (not the notes) of this session.
        """
        window = await self.window(
            session_ids, time_window_hours, limit=limit, exclude_messages_of=exclude_messages_of
        )
        return await self.finish(window)

    async def window(
        self,
        session_ids: Sequence[str] | None = None,
        time_window_hours: float = 24,
        *,
        limit: int = 100,
        exclude_messages_of: str | None = None,
    ) -> Window:
        """The keys of :meth:`recent`'s entries (:meth:`finish` reads them), creating the
        index if the server has none."""
        args, window = self._window_read(session_ids, time_window_hours, limit, exclude_messages_of)
        index = await self._ctx.backend.cache_index(self._ctx.keys.partition)
        client = await self._ctx.client()
        try:
            reply = await client.execute_command("FT.SEARCH", *args)
        except ResponseError as exc:
            if not await self._ctx.backend.recover(index, exc):
                raise
            reply = await client.execute_command("FT.SEARCH", *args)
        return window(reply)

    def recent_spec(
        self,
        session_ids: Sequence[str] | None = None,
        time_window_hours: float = 24,
        *,
        limit: int = 100,
        exclude_messages_of: str | None = None,
    ) -> ReadSpec[Window]:
        """:meth:`recent` as a batched read, so the context loader sends it in a pipeline with
        its other reads; :meth:`finish` turns its window into entries. A server without the
        index (it lost it, or nothing created it yet) fails the pipeline: the caller then reads
        through :meth:`recent`, which creates it."""
        args, window = self._window_read(session_ids, time_window_hours, limit, exclude_messages_of)
        return ReadSpec(
            lambda pipe: pipe.execute_command("FT.SEARCH", *args), 1, lambda reply: window(reply[0])
        )

    async def get(self, entry_id: str) -> CacheEntry | None:
        """One entry of this workspace by id (``None`` if absent or expired)."""
        check_name("entry_id", entry_id)
        f = (Tag("workspace") == self._ctx.workspace) & (Tag("entry_id") == entry_id)
        index = await self._ctx.backend.cache_index(self._ctx.keys.partition)
        entries = self._decode(await index.query(self._query(f, 1)))
        return entries[0] if entries else None

    async def delete_messages(self, session_id: str, message_ids: Sequence[str]) -> None:
        """Delete the cache mirrors of these session messages."""
        check_name("session_id", session_id)
        if isinstance(message_ids, str) or not isinstance(message_ids, Sequence):
            raise InvalidInputError(f"message_ids must be a list, got {message_ids!r}")
        if message_ids:
            ids = [check_name("message_id", m) for m in message_ids]
            keys = [self._ctx.keys.cache_entry(m, session_id) for m in ids]
            await (await self._ctx.client()).delete(*keys)

    async def drop_session(self, session_id: str) -> None:
        """Delete every entry (messages and notes) of a session."""
        check_name("session_id", session_id)
        f = (Tag("workspace") == self._ctx.workspace) & (Tag("session_id") == session_id)
        fields = ["entry_id", "workspace", "session_id"]
        q = FilterQuery(filter_expression=f, return_fields=fields, num_results=MAX_DROP)
        index = await self._ctx.backend.cache_index(self._ctx.keys.partition)
        # Rows of a shared partition are compared exactly before anything is deleted.
        ws = self._ctx.workspace
        docs = [
            d
            for d in await index.query(q)
            if d.get("workspace") == ws and d.get("session_id") == session_id
        ]
        if docs:
            await (await self._ctx.client()).delete(*[d["id"] for d in docs])
