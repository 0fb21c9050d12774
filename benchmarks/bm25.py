"""A pure-Python Okapi BM25, used to re-derive the README's BM25 reference row.

Kept deliberately plain (no stemming, no stop words) so the reference is reproducible.
"""

from __future__ import annotations

import math
import re
from collections import Counter

_TOKEN = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens.

    Args:
        text: Any text.

    Returns:
        The tokens, in order.
    """
    return _TOKEN.findall(text.lower())


class BM25:
    """Okapi BM25 over a fixed list of documents.

    Args:
        docs: Document texts.
        k1: Term-frequency saturation.
        b: Length normalisation.
    """

    def __init__(self, docs: list[str], *, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._tfs = [Counter(tokenize(d)) for d in docs]
        self._lens = [sum(tf.values()) for tf in self._tfs]
        self._avg = (sum(self._lens) / len(self._lens)) if self._lens else 0.0
        df: Counter[str] = Counter()
        for tf in self._tfs:
            df.update(tf.keys())
        n = len(docs)
        self._idf = {t: math.log(1.0 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def top_k(self, query: str, k: int) -> list[int]:
        """Indices of the k best documents for a query.

        Args:
            query: The query text.
            k: How many to return.

        Returns:
            Document indices, best first (ties by index).
        """
        # Repeated query terms count repeatedly, and zero-score documents keep their place in
        # index order: both are needed to reproduce the README's reference figures exactly.
        terms = [t for t in tokenize(query) if t in self._idf]
        scores: list[tuple[float, int]] = []
        for i, tf in enumerate(self._tfs):
            score = 0.0
            norm = self.k1 * (1.0 - self.b + self.b * self._lens[i] / self._avg)
            for t in terms:
                f = tf.get(t)
                if f:
                    score += self._idf[t] * f * (self.k1 + 1.0) / (f + norm)
            scores.append((-score, i))
        scores.sort()
        return [i for _, i in scores[:k]]
