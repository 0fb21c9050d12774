"""A LangGraph ``BaseStore`` over tta-memory's item store.

How LangGraph's model maps onto the engine's scopes:

- **workspace**: one store serves one engine workspace (the tenant). The workspace is never
  part of a namespace, so no namespace, key, query or filter reaches another workspace's
  items: they live under other Redis keys, and every row read back is re-checked.
- **namespace**: a free path inside the workspace, stored exactly (any label LangGraph allows,
  percent-encoded in Redis). By convention its first label is the **kind** of item
  (``"memories"``, ``"profile"``, ``"instructions"``) and the next one the **user** the items
  are about, as in LangMem's ``("memories", "{langgraph_user_id}")``;
  ``store.search(("memories",))`` then spans every user, ``("memories", "alice")`` one user.
- **author**: the engine's ``user_id`` (the acting user) is recorded on every item written.

Semantic search is on by default, with the engine's embedding model (offline MiniLM) over the
whole value (``fields=["$"]``); ``index={"embed": ..., "dims": ..., "fields": [...]}`` chooses
another LangChain ``Embeddings`` (or embedding function) and the fields, and ``put(...,
index=False | [paths])`` overrides them per item. A query runs the engine's hybrid search
(BM25 and vector KNN over the indexed texts, fused by reciprocal rank; an item is as good as
its best text); ``search_mode="vector"`` ranks by cosine similarity only, like LangGraph's
``InMemoryStore``. ``filter`` applies to the value's fields (``$eq``, ``$ne``, ``$gt``, ``$gte``,
``$lt``, ``$lte``, nested objects, lists). Without a query, items come most recently updated
first. TTL (minutes, per item or ``TTLConfig.default_ttl``) is Redis's own expiry; reads
restart it unless ``refresh_ttl=False`` (or ``TTLConfig.refresh_on_read=False``).

In one ``batch``, reads (get, search, list) see the store as it was before the batch's writes,
and the last write of a ``(namespace, key)`` wins, as in ``InMemoryStore``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    ensure_embeddings,
    get_text_at_path,
    tokenize_path,
    validate_op_namespace,
)
from tta_memory import (
    ItemSearchMode,
    ItemStore,
    ItemWrite,
    MemoryWorkflowPrimitive,
    StoredItem,
    check_namespace,
)
from tta_memory.embeddings import make_embedder
from tta_memory.errors import InvalidInputError
from tta_memory.limits import MAX_COUNT, MAX_TTL_SECONDS, check_int, check_number
from tta_memory.sync import run_sync

DEFAULT_FIELDS = ["$"]


class TTAStore(BaseStore):
    """LangGraph store (``BaseStore``) on Redis through tta-memory: namespaces, keyed JSON
    items, hybrid semantic search, value filters, namespace listing and TTL.

    Args:
        memory: An engine instance (its server, workspace and user), or ``None`` to build one
            from ``redis_url``, ``user_id`` and ``workspace``.
        redis_url: Redis URL when no ``memory`` is given.
        user_id: Acting user when no ``memory`` is given (recorded as author).
        workspace: Workspace when no ``memory`` is given.
        index: LangGraph ``IndexConfig``: ``embed`` (LangChain ``Embeddings``, a function, or
            a ``"provider:model"`` string; default: the engine's model), ``dims`` (checked
            against the model) and ``fields`` (default ``["$"]``).
        ttl: LangGraph ``TTLConfig``: ``default_ttl`` (minutes) and ``refresh_on_read``.
        search_mode: ``"hybrid"`` (default), ``"vector"`` or ``"text"``.

    Example:
        ```python
        store = TTAStore(memory=memory)
        agent = create_agent(model, tools=[...], store=store)
        store.put(("memories", "alice"), "editor", {"content": "Alice uses Neovim"})
        store.search(("memories", "alice"), query="which editor?")
        ```
    """

    supports_ttl = True

    def __init__(
        self,
        memory: MemoryWorkflowPrimitive | None = None,
        *,
        redis_url: str | None = None,
        user_id: str | None = None,
        workspace: str | None = None,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        search_mode: ItemSearchMode = "hybrid",
    ) -> None:
        engine = MemoryWorkflowPrimitive.resolve(
            memory, redis_url=redis_url, user_id=user_id, workspace=workspace
        )
        config: dict[str, Any] = dict(index or {})
        embed = config.get("embed")
        self.embeddings = ensure_embeddings(embed) if embed is not None else None
        embedder = make_embedder(self.embeddings) if self.embeddings is not None else None
        self.items = ItemStore(engine.context, embedder=embedder)
        dims = config.get("dims")
        if dims is not None and dims != self.items.embedder.dims:
            raise InvalidInputError(
                f"index dims={dims} but the embedding model {self.items.embedder.model_name} "
                f"returns {self.items.embedder.dims}-dimension vectors"
            )
        fields = list(config.get("fields") or DEFAULT_FIELDS)
        self.index_config = {**config, "fields": fields}
        self._fields = [(p, p if p == "$" else tokenize_path(p)) for p in fields]
        self.ttl_config = ttl
        if search_mode not in ("hybrid", "vector", "text"):
            raise InvalidInputError(
                f"unknown search_mode {search_mode!r}; valid: hybrid, vector, text"
            )
        self.search_mode: ItemSearchMode = search_mode

    @property
    def memory_scope(self) -> tuple[str, str]:
        """The ``(workspace, user_id)`` this store reads and writes as."""
        return self.items.workspace, self.items.user_id

    # --- BaseStore ------------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run operations (blocking; works inside a running event loop too)."""
        return run_sync(self.abatch(list(ops)))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run operations: reads together, then the writes in one transaction."""
        ops = list(ops)
        for op in ops:
            if not isinstance(op, GetOp | SearchOp | PutOp | ListNamespacesOp):
                raise InvalidInputError(f"unknown store operation {type(op).__name__}")
            _check_op(op)
            validate_op_namespace(op)
        results: list[Result] = [None] * len(ops)
        gets = [(i, op) for i, op in enumerate(ops) if isinstance(op, GetOp)]
        others = [
            (i, self._search(op) if isinstance(op, SearchOp) else self._list(op))
            for i, op in enumerate(ops)
            if isinstance(op, SearchOp | ListNamespacesOp)
        ]
        gathered: list[Any] = await asyncio.gather(
            self._get([op for _, op in gets]), *(read for _, read in others)
        )
        found, answers = gathered[0], gathered[1:]
        for (i, _), item in zip(gets, found, strict=True):
            results[i] = item
        for (i, _), answer in zip(others, answers, strict=True):
            results[i] = answer
        puts = [op for op in ops if isinstance(op, PutOp)]
        if puts:
            await self.items.put_items([self._write(op) for op in puts])
        return results

    # --- translation ----------------------------------------------------------------------

    async def _get(self, ops: list[GetOp]) -> list[Item | None]:
        # One round trip for the items; refresh per op as each asked.
        refresh = [op for op in ops if op.refresh_ttl]
        keep = [op for op in ops if not op.refresh_ttl]
        found: dict[tuple[tuple[str, ...], str], StoredItem | None] = {}
        for group, flag in ((refresh, True), (keep, False)):
            if group:
                refs = [(op.namespace, op.key) for op in group]
                for ref, item in zip(
                    refs, await self.items.get_items(refs, refresh_ttl=flag), strict=True
                ):
                    found[(tuple(ref[0]), ref[1])] = item
        out: list[Item | None] = []
        for op in ops:
            item = found[(tuple(op.namespace), op.key)]
            out.append(None if item is None else _item(item))
        return out

    async def _search(self, op: SearchOp) -> list[SearchItem]:
        limit, offset = _window(op.limit, op.offset)
        if limit <= 0:
            return []
        found = await self.items.search_items(
            op.namespace_prefix,
            query=op.query,
            filter=op.filter,
            limit=limit,
            offset=offset,
            refresh_ttl=op.refresh_ttl,
            mode=self.search_mode,
        )
        return [_search_item(item) for item in found]

    async def _list(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        prefix = suffix = None
        for condition in op.match_conditions or ():
            if condition.match_type == "prefix":
                prefix = condition.path
            elif condition.match_type == "suffix":
                suffix = condition.path
            else:
                raise InvalidInputError(f"unknown match type {condition.match_type!r}")
        limit, offset = _window(op.limit, op.offset)
        if limit <= 0:
            return []
        return await self.items.list_item_namespaces(
            prefix=prefix,
            suffix=suffix,
            max_depth=op.max_depth,
            limit=limit,
            offset=offset,
        )

    def _write(self, op: PutOp) -> ItemWrite:
        if op.value is not None and not isinstance(op.value, Mapping):
            raise InvalidInputError(f"an item value is a dict, got {type(op.value).__name__}")
        ttl = None if op.ttl is None else check_number("ttl", op.ttl, low=0, high=_MAX_TTL_MIN)
        texts: list[str] = []
        if op.value is not None and op.index is not False:
            paths = self._fields if op.index is None else _paths(op.index)
            for _, path in paths:
                texts += [t for t in get_text_at_path(op.value, path) if t.strip()]
        return ItemWrite(
            namespace=check_namespace(op.namespace),
            key=op.key,
            value=None if op.value is None else dict(op.value),
            texts=texts,
            ttl_seconds=None if ttl is None else ttl * 60,
        )


# LangGraph TTLs are in minutes; the engine's maximum is in seconds.
_MAX_TTL_MIN = MAX_TTL_SECONDS / 60


def _check_op(op: Op) -> None:
    """Check the namespace of an operation before LangGraph's label rules
    (which assume a tuple of strings), so a wrong type is an ``InvalidInputError``."""
    if isinstance(op, GetOp | PutOp):
        check_namespace(op.namespace)
    elif isinstance(op, SearchOp):
        check_namespace(op.namespace_prefix, allow_empty=True)


def _window(limit: Any, offset: Any) -> tuple[int, int]:
    """``limit`` and ``offset`` as integers (LangGraph's semantics: a limit of 0 or less
    returns nothing, a negative offset is 0)."""
    limit = check_int("limit", limit, low=-MAX_COUNT, high=MAX_COUNT)
    offset = check_int("offset", offset, low=-MAX_COUNT, high=MAX_COUNT)
    return limit, max(offset, 0)


def _paths(index: Any) -> list[tuple[str, Any]]:
    """The per-item ``index`` paths, tokenized (a malformed path is an ``InvalidInputError``)."""
    if isinstance(index, str) or not isinstance(index, list | tuple):
        raise InvalidInputError(f"index is False or a list of field paths, got {index!r:.80}")
    paths = []
    for p in index:
        if not isinstance(p, str):
            raise InvalidInputError(f"an index path is a string, got {p!r:.80}")
        try:
            paths.append((p, p if p == "$" else tokenize_path(p)))
        except (ValueError, IndexError) as exc:
            raise InvalidInputError(f"malformed index path {p!r:.80}: {exc}") from exc
    return paths


def _item(item: StoredItem) -> Item:
    return Item(
        value=item.value,
        key=item.key,
        namespace=item.namespace,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def _search_item(item: StoredItem) -> SearchItem:
    return SearchItem(
        namespace=item.namespace,
        key=item.key,
        value=item.value,
        created_at=item.created_at,
        updated_at=item.updated_at,
        score=item.score,
    )
