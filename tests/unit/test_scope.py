"""Which scope clauses a deep search needs (pure: counts in, clauses out)."""

from __future__ import annotations

import pytest
from tta_memory.stores.deep.scope import (
    EXACT_KNN_ROWS,
    FULL_SCOPE,
    DeepFilter,
    Scope,
    knn_scope,
    needed_scope,
)


@pytest.mark.parametrize(
    ("dedicated", "ws", "partition", "private", "superseded", "expected"),
    [
        (True, 10, 10, 0, 0, Scope(False, False, False)),  # dedicated, nothing to hide
        (False, 10, 10, 0, 0, Scope(False, False, False)),  # alone in a shared bucket
        (False, 10, 11, 0, 0, Scope(True, False, False)),  # a neighbour in the bucket
        (False, 0, 0, 0, 0, Scope(True, False, False)),  # empty partition: keep the clause
        (True, 10, 10, 1, 0, Scope(False, True, False)),  # someone's private memory
        (True, 10, 10, 0, 2, Scope(False, False, True)),  # superseded memories
    ],
)
def test_needed_scope(dedicated, ws, partition, private, superseded, expected):
    got = needed_scope(
        dedicated=dedicated,
        workspace_count=ws,
        partition_count=partition,
        private_count=private,
        superseded_count=superseded,
    )
    assert got == expected


@pytest.mark.parametrize(
    ("empty", "count", "workspace_clause"),
    [
        (True, EXACT_KNN_ROWS - 1, True),  # small: an exact brute-force KNN over the workspace
        (True, EXACT_KNN_ROWS, False),  # large: HNSW over the whole index, nothing filtered
        (False, 10, False),  # other clauses filter already
    ],
)
def test_knn_keeps_the_workspace_clause_only_to_stay_exact(empty, count, workspace_clause):
    lean = Scope(False, False, False)
    got = knn_scope(lean, empty=empty, partition_count=count)
    assert got == Scope(workspace_clause, False, False)


def test_lean_expression_keeps_what_narrows():
    f = DeepFilter(workspace="w", user_id="u", tags=("a", "b"), author="x", since=5.0)
    full = str(f.expression(FULL_SCOPE))
    lean = str(f.expression(Scope(False, False, False)))
    assert "@workspace:{w}" in full and "@visibility:{shared}" in full and "superseded" in full
    assert "@workspace" not in lean and "visibility" not in lean and "superseded" not in lean
    assert "@tags:{a|b}" in lean and "@author:{x}" in lean and "@created_at:[5" in lean


def test_nothing_to_filter_is_no_filter():
    assert DeepFilter(workspace="w", user_id="u").expression(Scope(False, False, False)) is None
    history = DeepFilter(workspace="w", user_id="u", include_superseded=True)
    assert "superseded" not in str(history.expression(FULL_SCOPE))
