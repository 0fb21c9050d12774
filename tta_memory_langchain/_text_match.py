"""Keyword matching of chat messages, for ``TTAChatMessageHistory.search_messages``.

A session is read whole anyway (it is one sorted set), so the match runs here rather than in
a second index: case-insensitive words, with the common English endings folded (``learning``
matches ``learn`` and ``learned``) as a full-text index with stemming would, and any query word
is enough (OR), best matches first.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

_WORD = re.compile(r"\w+")
# Longest first; the stem keeps at least three characters ("uses" → "use", not "us").
_SUFFIXES = ("ing", "ed", "es", "s")
_MIN_STEM = 3


def stem(word: str) -> str:
    """Fold a lower-case word's common English ending (``networks`` → ``network``)."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
            return word[: -len(suffix)]
    return word


def terms(text: str) -> list[str]:
    """The stemmed, lower-case words of ``text``."""
    return [stem(w) for w in _WORD.findall(text.lower())]


def rank(query: str, texts: Sequence[str], limit: int) -> list[int]:
    """Indexes of the ``texts`` that share a word with ``query``, best first.

    Best: most distinct query words present, then most occurrences; ties keep the order of
    ``texts``.

    Args:
        query: The search words.
        texts: The candidate texts.
        limit: At most this many indexes.

    Returns:
        Indexes into ``texts``.
    """
    wanted = set(terms(query))
    if not wanted or limit <= 0:
        return []
    scored: list[tuple[int, int, int]] = []
    for i, text in enumerate(texts):
        counts = Counter(t for t in terms(text) if t in wanted)
        if counts:
            scored.append((-len(counts), -sum(counts.values()), i))
    return [i for _, _, i in sorted(scored)[:limit]]
