"""A deep search's filter, split into its scope clauses and what narrows it.

Every search is scoped: this workspace, shared or this user's own memories, not superseded.
Those clauses are what make a shared index safe, but each one costs RediSearch a walk over a
posting list as long as the workspace. Where a clause cannot exclude anything (a dedicated
partition holds one workspace; no memory of the partition is private, or superseded), the
search leaves it out. Every row read back is still checked (``EngineContext.readable`` and the
superseded mark), and a search whose lean filter let through a row the full one would not have
is run again with the full filter, so leaving a clause out never returns a foreign or hidden
memory, nor fewer results.

Measured on 100k notes (one workspace, a two-tag filter, this 2-core machine under load):
BM25 with the full filter 3.8 ms, tags only 1.6 ms; the visibility union alone took BM25 from
2.4 to 10.9 ms in another sample.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from redisvl.query.filter import FilterExpression, Num

from tta_memory.names import Tag

# Below this many memories in the partition, a KNN filter that would be left empty keeps its
# workspace clause: KNN then brute-forces the matches (exact and cheap at this size) instead of
# walking HNSW with a small beam. LoCoMo vector R@10 (k=25): 54.1 exact, 53.6 without filter.
# BM25 does not get it back: a lone weight-0 workspace clause changed BM25STD's scores (on
# 100k notes the top score went from 21.8 to 17.5) and LoCoMo text R@10 fell from 72.8 to 68.4.
EXACT_KNN_ROWS = 10_000


@dataclass(frozen=True)
class Scope:
    """Which scope clauses a search's filter carries."""

    workspace: bool = True
    visibility: bool = True
    superseded: bool = True


FULL_SCOPE = Scope()


def needed_scope(
    *,
    dedicated: bool,
    workspace_count: int,
    partition_count: int,
    private_count: int,
    superseded_count: int,
) -> Scope:
    """The scope clauses that can exclude something, from the partition's counts.

    Args:
        dedicated: The partition belongs to this workspace alone.
        workspace_count: Deep memories of this workspace.
        partition_count: Deep memories of the whole partition (every workspace it holds).
        private_count: Private memories in the partition (any workspace, any author).
        superseded_count: Superseded memories in the partition.
    """
    alone = dedicated or (partition_count > 0 and workspace_count >= partition_count)
    return Scope(
        workspace=not alone,
        visibility=private_count > 0,
        superseded=superseded_count > 0,
    )


def knn_scope(scope: Scope, *, empty: bool, partition_count: int) -> Scope:
    """The KNN query's scope: ``scope``, with the workspace clause back when the filter would
    otherwise be empty in a small index (an exact brute force there, see EXACT_KNN_ROWS)."""
    if empty and partition_count < EXACT_KNN_ROWS:
        return replace(scope, workspace=True)
    return scope


@dataclass(frozen=True)
class DeepFilter:
    """A validated deep-search filter (see ``DeepSearch.where``): scope plus narrowing."""

    workspace: str
    user_id: str
    tags: tuple[str, ...] = ()
    match_all_tags: bool = False
    memory_types: tuple[str, ...] | None = None
    author: str | None = None
    session_id: str | None = None
    since: float | None = None
    until: float | None = None
    include_superseded: bool = False

    @property
    def narrowed(self) -> bool:
        """Whether it narrows by anything but workspace and tags (the KNN planner's input)."""
        return any(
            x is not None
            for x in (self.memory_types, self.author, self.session_id, self.since, self.until)
        )

    def expression(self, scope: Scope = FULL_SCOPE) -> FilterExpression | None:
        """The RediSearch filter with the given scope clauses (``None``: match everything)."""
        parts: list[FilterExpression] = []
        if scope.workspace:
            parts.append(Tag("workspace") == self.workspace)
        if scope.visibility:
            parts.append((Tag("visibility") == "shared") | (Tag("author") == self.user_id))
        if scope.superseded and not self.include_superseded:
            parts.append(Tag("superseded") != "1")  # hygiene.py: superseded memories are history
        if self.tags:
            if self.match_all_tags:
                parts.extend(Tag("tags") == tag for tag in self.tags)
            else:
                parts.append(Tag("tags") == list(self.tags))
        if self.memory_types is not None:
            parts.append(Tag("memory_type") == list(self.memory_types))
        if self.author is not None:
            parts.append(Tag("author") == self.author)
        if self.session_id is not None:
            parts.append(Tag("session_id") == self.session_id)
        if self.since is not None:
            parts.append(Num("created_at") >= self.since)
        if self.until is not None:
            parts.append(Num("created_at") <= self.until)
        if not parts:
            return None
        f = parts[0]
        for part in parts[1:]:
            f &= part
        return f
