"""Key and index names. Everything of a workspace lives in its partition (one hash tag, see
:mod:`tta_memory.partitions`): its keys *and* the indexes covering them, so a partition is one
Redis Cluster slot and every multi-key operation stays inside it. User-given parts are escaped
so that no id can end a hash tag early or collide with another key."""

from __future__ import annotations

import uuid

from tta_memory.partitions import Partition, PartitionLayout, escape


class Keys:
    """Builds every key and index name of one prefix and workspace.

    Args:
        prefix: The engine's key prefix.
        workspace: The workspace.
        layout: Where workspaces live (default: 16 shared buckets, nothing dedicated).
    """

    def __init__(self, prefix: str, workspace: str, layout: PartitionLayout | None = None) -> None:
        self.prefix = prefix
        self.workspace = workspace
        self.partition: Partition = (layout or PartitionLayout()).partition_for(workspace)

    def index_name(self, kind: str) -> str:
        """Name of this workspace's partition's ``kind`` index (deep, cache, group)."""
        return self.partition.index_name(self.prefix, kind)

    def session_seq(self, session_id: str) -> str:
        return self.partition.key(self.prefix, "sess", self.workspace, session_id, "seq")

    def session_active(self, session_id: str) -> str:
        return self.partition.key(self.prefix, "sess", self.workspace, session_id, "active")

    def session_archived(self, session_id: str) -> str:
        return self.partition.key(self.prefix, "sess", self.workspace, session_id, "archived")

    def sessions_registry(self) -> str:
        return self.partition.key(self.prefix, "sessions", self.workspace)

    def cache_entry(self, entry_id: str, session_id: str | None = None) -> str:
        # The session is not part of the key: entry ids are unique and the partition holds
        # every session of the workspace.
        return self.partition.doc_key(self.prefix, "cache", self.workspace, entry_id)

    def deep(self, memory_id: str) -> str:
        return self.partition.doc_key(self.prefix, "deep", self.workspace, memory_id)

    def group(self, group_id: str) -> str:
        return self.partition.doc_key(self.prefix, "group", self.workspace, group_id)

    def deep_tails(self) -> str:
        """Hash of (scope, session) -> the session's newest deep memory (contextual.py)."""
        return self.partition.key(self.prefix, "deeptails", self.workspace)

    def deep_stats(self) -> str:
        return self.partition.key(self.prefix, "deepstats", self.workspace)

    def deep_total(self) -> str:
        """Memories in this partition's deep index (all its workspaces): the planner compares a
        filter's size with it."""
        return f"{self.prefix}:deeptotal:{self.partition.hashtag}"

    def pafs(self) -> str:
        return self.partition.key(self.prefix, "paf", self.workspace)

    def paf_version(self) -> str:
        """A token that changes with every write of the PAF hash (stores/pafs/reads.py)."""
        return self.partition.key(self.prefix, "pafver", self.workspace)

    @staticmethod
    def meta(prefix: str) -> str:
        return f"{prefix}:meta"

    @staticmethod
    def embedding_cache(prefix: str) -> str:
        return f"{prefix}:embcache"


__all__ = ["Keys", "escape"]


def new_version() -> str:
    """A fresh token for a version key such as :meth:`Keys.paf_version`: random, so that no
    re-created workspace, other server or restored backup repeats one with other contents."""
    return uuid.uuid4().hex
