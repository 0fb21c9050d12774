"""The no-LLM duplicate/update rule (pure: cosine similarities are given)."""

from __future__ import annotations

import pytest
from tta_memory.hygiene import HygieneThresholds, content_words, overlap, relate


def test_paraphrase_with_close_vectors_restates() -> None:
    old = "Pull requests need two approvals before merging."
    new = "Before a pull request is merged it needs two approvals."
    assert relate(new, old, 0.95) == "restates"


def test_changed_number_is_an_update() -> None:
    old = "The CI pipeline times out after 45 minutes."
    new = "The CI pipeline times out after 60 minutes."
    assert relate(new, old, 0.97) == "updates"


def test_changed_weekday_is_an_update_not_a_new_name() -> None:
    old = "The staging environment is reset every Sunday night."
    new = "The staging environment is reset every Friday night."
    assert relate(new, old, 0.96) == "updates"


def test_different_names_are_distinct_even_when_vectors_are_close() -> None:
    old = "The flaky test in test_cache.py was caused by a race between two writers."
    new = "The flaky test in test_session.py was caused by a race between two writers."
    assert relate(new, old, 0.97) == "distinct"


def test_different_code_qualifier_is_distinct() -> None:
    old = "The project budget for Q3 is 40,000 euros."
    new = "The project budget for Q4 is 40,000 euros."
    assert relate(new, old, 0.86) == "distinct"


def test_low_cosine_is_distinct_whatever_the_words() -> None:
    text = "The worker pool has 8 processes by default."
    assert relate(text, text, 0.5) == "distinct"


def test_low_word_overlap_needs_a_strong_cosine() -> None:
    old = "The search service caches query embeddings in Redis for 24 hours."
    new = "The search service stores document embeddings in Redis without expiry."
    assert overlap(new, old) < 0.6
    assert relate(new, old, 0.85) == "distinct"
    assert relate(new, old, 0.95) != "distinct"


def test_thresholds_are_configurable_and_validated() -> None:
    old, new = "Bob is allergic to peanuts.", "Bob has a peanut allergy."
    assert relate(new, old, 0.93) == "restates"
    assert relate(new, old, 0.93, HygieneThresholds(min_cosine=0.95)) == "distinct"
    with pytest.raises(ValueError):
        HygieneThresholds(min_cosine=1.5)


def test_content_words_drop_stop_words_and_fold_plurals() -> None:
    assert content_words("The logs are kept for 30 days.") == {"log", "kept", "30", "day"}
