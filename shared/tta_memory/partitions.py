"""Partitions: where a workspace's keys and indexes live, and the check of every shared row.

A *partition* is one Redis hash tag. Everything of the workspaces it holds sits under that tag:
session lists, cache entries, deep memories, groups, PAFs, counters **and** the three search
indexes (deep, cache, group) that cover them. On Redis Cluster a partition is therefore one
slot on one node, and an index only ever covers keys of its own slot: the Query Engine modules
have no search coordinator, so this is the only layout in which an index sees all its rows.

Two kinds of partition:

* **Shared buckets** ``{b.<n>}``: a workspace hashes (SHA-256 of its UTF-8 name) into one of
  ``buckets`` partitions. Small workspaces share one set of indexes: an index with this
  schema costs ~55 KB empty and ~2 MB once it holds its first vector (the vector block), so one
  index set per tiny tenant would cost ~2 GB per 1,000 tenants; 16 buckets cost ~35 MB however
  many tenants they hold. Every query filters on the workspace, and every row read back is
  checked again here (:func:`admits`) before it is returned.
* **Dedicated partitions** ``{w.<escaped name>}``: a workspace named in ``dedicated`` gets its
  own partition, hence its own indexes and its own BM25 statistics (term frequencies of other
  tenants no longer weigh on its ranking), and can sit on a node of its own.

The bucket count is fixed for the life of a deployment: changing it moves every shared
workspace to another partition (the engine records it and refuses a different value).
Promoting a workspace to a dedicated partition is an export, a settings change and an import.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote

from pydantic import BaseModel, ConfigDict, Field

from tta_memory.replies import text

# Index kinds a partition holds.
INDEX_KINDS = ("deep", "cache", "group")
MAX_BUCKETS = 16384  # one per cluster slot at most: more buckets would only share slots
DEFAULT_BUCKETS = 16


def escape(part: str) -> str:
    """A key part that cannot end a hash tag, hold a separator or collide with another name.

    ``quote`` leaves letters, digits and ``_.-~`` alone and escapes ``{ } :`` ``%`` and the
    rest, so two different names never give the same part.
    """
    return quote(part, safe="")


def unescape(part: str) -> str:
    """The name :func:`escape` turned into ``part`` (a part without ``%`` is the name)."""
    return unquote(part) if "%" in part else part


class Partition(BaseModel):
    """One partition: a hash tag and whether one workspace owns it alone."""

    model_config = ConfigDict(frozen=True)

    tag: str = Field(description="Hash-tag contents, e.g. 'b.7' or 'w.acme'.")
    dedicated: bool = Field(description="True when one workspace owns the partition alone.")

    @property
    def hashtag(self) -> str:
        """``{tag}``: the part of every key and index name that picks the cluster slot."""
        return f"{{{self.tag}}}"

    def index_name(self, prefix: str, kind: str) -> str:
        """Name of this partition's ``kind`` index (same slot as the keys it covers)."""
        _check_kind(kind)
        return f"{prefix}:idx:{self.hashtag}:{kind}"

    def doc_prefix(self, prefix: str, kind: str) -> str:
        """Key prefix of this partition's ``kind`` documents (the index's ``PREFIX``).

        It ends with ``:`` so that partition ``b.1`` never covers the keys of ``b.10``.
        """
        _check_kind(kind)
        return f"{prefix}:{kind}:{self.hashtag}:"

    def doc_key(self, prefix: str, kind: str, workspace: str, doc_id: str) -> str:
        """Key of one document of ``workspace`` (the workspace is part of it in every
        partition, so two workspaces never share a key, shared bucket or not)."""
        return f"{self.doc_prefix(prefix, kind)}{escape(workspace)}:{escape(doc_id)}"

    def key(self, prefix: str, kind: str, workspace: str, *parts: str) -> str:
        """Key of a non-indexed structure of ``workspace`` (session list, PAF hash, counters).

        ``kind`` may not be an index kind: the key would fall under that index's prefix.
        """
        if kind in INDEX_KINDS:
            raise ValueError(f"{kind!r} is an indexed kind; use doc_key for its documents")
        tail = "".join(f":{escape(p)}" for p in parts)
        return f"{prefix}:{kind}:{self.hashtag}:{escape(workspace)}{tail}"


class PartitionLayout(BaseModel):
    """Which partition each workspace lives in.

    Args:
        buckets: Number of shared partitions (fixed for a deployment's life).
        dedicated: Workspaces that get a partition of their own.
    """

    model_config = ConfigDict(frozen=True)

    buckets: int = Field(default=DEFAULT_BUCKETS, ge=1, le=MAX_BUCKETS)
    dedicated: frozenset[str] = frozenset()

    def partition_for(self, workspace: str) -> Partition:
        """The partition holding ``workspace``."""
        if workspace in self.dedicated:
            return Partition(tag=f"w.{escape(workspace)}", dedicated=True)
        return Partition(tag=f"b.{bucket_of(workspace, self.buckets)}", dedicated=False)

    def shared_partitions(self) -> list[Partition]:
        """Every shared bucket (for whole-deployment tools: doctor, stats, migrations)."""
        return [Partition(tag=f"b.{n}", dedicated=False) for n in range(self.buckets)]


def bucket_of(workspace: str, buckets: int) -> int:
    """The shared bucket of ``workspace``: SHA-256 of its UTF-8 name, modulo ``buckets``.

    A cryptographic hash, so nobody can pick names that pile onto one bucket by accident
    (Python's ``hash`` also changes per process), and stable across versions and languages.
    """
    if buckets < 1:
        raise ValueError("buckets must be at least 1")
    digest = hashlib.sha256(workspace.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % buckets


def parse_dedicated(value: str | Iterable[str] | None) -> frozenset[str]:
    """Dedicated workspaces from a setting: a comma-separated string or an iterable."""
    if value is None:
        return frozenset()
    items = value.split(",") if isinstance(value, str) else list(value)
    return frozenset(item.strip() for item in items if item.strip())


def admits(
    row: Mapping[str, Any],
    *,
    workspace: str,
    user_id: str,
    author_field: str = "author",
    private_only_to_author: bool = True,
) -> bool:
    """Whether a row read back from an index may be returned to this caller.

    Rows of several workspaces share a shared bucket's index. The query already filters on
    the workspace, but the check here compares the *stored* value exactly: RediSearch trims
    spaces around TAG values and drops characters a query forgot to escape, so a filter alone
    once let workspace ``"acme "`` read ``"acme"``. A private row is returned to its author
    only.

    Args:
        row: The row's stored fields (``workspace``, ``visibility``, the author field).
        workspace: The caller's workspace.
        user_id: The caller.
        author_field: Field naming the row's author (``author`` for deep memories,
            ``user_id`` for cache entries).
        private_only_to_author: Apply the private-visibility rule (rows without a
            ``visibility`` field are never private).
    """
    if _field(row, "workspace") != workspace:
        return False
    if private_only_to_author and _field(row, "visibility") == "private":
        return _field(row, author_field) == user_id
    return True


def admitted(
    rows: Iterable[Mapping[str, Any]],
    *,
    workspace: str,
    user_id: str,
    author_field: str = "author",
) -> list[Mapping[str, Any]]:
    """The rows :func:`admits` lets through, in their order."""
    return [
        r
        for r in rows
        if admits(r, workspace=workspace, user_id=user_id, author_field=author_field)
    ]


def dedup_hash(workspace: str, text: str) -> str:
    """Content hash used to find a duplicate memory: scoped by the workspace, so that the same
    text stored by two workspaces never matches across them even in a shared bucket."""
    h = hashlib.sha256()
    h.update(workspace.encode("utf-8"))
    h.update(b"\x00")
    h.update(text.encode("utf-8"))
    return h.hexdigest()


def _check_kind(kind: str) -> None:
    if kind not in INDEX_KINDS:
        raise ValueError(f"unknown index kind {kind!r}; expected one of {INDEX_KINDS}")


def _field(row: Mapping[str, Any], name: str) -> str | None:
    """A stored field as text; ``None`` when the row has no such field (never ``"None"``)."""
    value = row.get(name)
    return None if value is None else text(value)
