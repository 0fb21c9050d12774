"""Contextual indexing: which neighbours, date and vector a memory is indexed with (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from tta_memory.contextual import PLAIN, ContextualIndexing, Neighbour, chain_key, mix, plan

MAY8 = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
E = [np.eye(4, dtype=np.float32)[i] for i in range(4)]


def test_previous_and_next_of_the_same_session_and_the_date() -> None:
    p = plan(
        ["a1", "b1", "a2", "b2"],
        ["s1", "s2", "s1", "s2"],
        ["1", "2", "3", "4"],
        [MAY8, None, MAY8, None],
        E,
        ContextualIndexing(vector_mix=0),
    )
    assert p.contexts == ["8 May 2023\na2", "b2", "a1\n8 May 2023", "b1"]
    assert p.tails == {"s1": "3", "s2": "4"}


def test_a_stored_tail_is_continued_and_gets_its_next() -> None:
    tail = Neighbour("0", "key0", "a0", "older", E[3])
    p = plan(["a1"], ["s1"], ["1"], [None], [E[0]], ContextualIndexing(), {"s1": tail})
    assert p.contexts == ["a0"]
    assert p.tail_contexts == {"key0": "older\na1"}
    # own + 0.5 × the tail's vector, normalised
    assert np.allclose(p.vectors[0], (E[0] + 0.5 * E[3]) / np.linalg.norm(E[0] + 0.5 * E[3]))


def test_vectors_chain_within_a_batch() -> None:
    p = plan(["a", "b"], ["s", "s"], ["1", "2"], [None, None], [E[0], E[1]], ContextualIndexing())
    assert np.allclose(p.vectors[0], E[0])
    assert p.vectors[1] @ E[0] > 0.4 and p.vectors[1] @ E[1] > 0.8


def test_no_session_means_no_neighbours() -> None:
    p = plan(["a", "b"], [None, None], ["1", "2"], [None, None], E[:2], ContextualIndexing())
    assert p.contexts == ["", ""]
    assert p.tails == {}
    assert np.allclose(p.vectors[1], E[1])


def test_plain_indexing_adds_nothing() -> None:
    assert not PLAIN.enabled
    p = plan(["a", "b"], ["s", "s"], ["1", "2"], [MAY8, MAY8], E[:2], PLAIN)
    assert p.contexts == ["", ""]
    assert np.allclose(p.vectors[1], E[1])


def test_scopes_never_share_a_chain_and_long_neighbours_are_capped() -> None:
    assert chain_key("", "s") != chain_key("alice", "s")
    spec = ContextualIndexing(next=False, date=False, max_chars=3, vector_mix=0)
    p = plan(["abcdef", "g"], ["s", "s"], ["1", "2"], [None, None], E[:2], spec)
    assert p.contexts == ["", "abc"]


def test_mix_without_a_previous_vector_is_the_own_vector() -> None:
    assert mix(E[0], None, 0.5) is E[0]
    assert mix(E[0], np.zeros(3, dtype=np.float32), 0.5) is E[0]
