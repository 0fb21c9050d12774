"""Filter translation without Redis: what a deep search and a cache read send to RediSearch."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tta_memory.context import EngineContext
from tta_memory.errors import InvalidInputError
from tta_memory.stores.cache import CacheStore
from tta_memory.stores.deep import DeepStore

# No connection is made: building filters needs only the scope.
URL = "redis://127.0.0.1:1"


@pytest.fixture
def deep() -> DeepStore:
    return DeepStore(EngineContext(URL, "bob`", workspace="acme`"))


def test_every_filter_is_scoped_to_the_workspace_and_visibility(deep):
    f = str(deep.filter())
    assert "@workspace:{acme\\`}" in f
    assert "@visibility:{shared}" in f and "@author:{bob\\`}" in f


def test_tags_any_or_all(deep):
    assert "@tags:{a\\ b|c\\|d}" in str(deep.filter(["a b", "c|d"]))
    all_of = str(deep.filter(["x", "y"], match_all_tags=True))
    assert "@tags:{x}" in all_of and "@tags:{y}" in all_of


def test_narrowing_filters(deep):
    f = str(
        deep.filter(
            memory_type=["bug-resolution", "pattern"],
            author="a*",
            session_id="s:1",
            since=datetime(2026, 1, 1, tzinfo=UTC),
            until=0,
        )
    )
    assert "@memory_type:{bug\\-resolution|pattern}" in f
    assert "@author:{a\\*}" in f and "@session_id:{s\\:1}" in f
    assert "@created_at:[1767225600" in f and "@created_at:[-inf 0" in f


@pytest.mark.parametrize("bad", [{"tags": [" a"]}, {"author": ""}, {"memory_type": ["x\n"]}])
def test_bad_filter_values_are_refused(deep, bad):
    with pytest.raises(InvalidInputError):
        deep.filter(**bad)


def test_cache_filter_excludes_the_sessions_own_messages_but_not_its_notes():
    cache = CacheStore(EngineContext(URL, "u", workspace="w"))
    f = str(cache._filter(["s1", "s|2"], 1e9, exclude_messages_of="s1"))
    assert "@session_id:{s1|s\\|2}" in f
    assert "((-@session_id:{s1}) | @kind:{note})" in f
    assert "@user_id:{u}" in str(cache._filter(None, 1e9))
    for bad in (0, -1, float("nan"), True, "1"):
        with pytest.raises(InvalidInputError):
            cache._window_read(None, bad, 10, None)
