"""Optional recency weighting of deep-search results (pure).

A result's score is multiplied by ``2 ** (-age / half_life)``, age from its event time (else
its creation time) to the newest candidate's. Multiplicative decay is shift-invariant: only the
age *difference* between two candidates changes their order, so the clock does not matter.

Off by default (the guide's stage table): on LoCoMo's tuning split it lowers hybrid R@10 on
temporal questions (76.3 without; 75.4 at a 180-day half-life, 72.2 at 90 days) and overall,
because a question about an old event wants the old memory. It suits agents whose facts go stale.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

DAY = 86_400.0


def reweight(
    scores: Sequence[float], times: Sequence[datetime], half_life_days: float
) -> list[float]:
    """Scores decayed by age relative to the newest time.

    Args:
        scores: Fused scores (higher is better, non-negative).
        times: Each result's event (else creation) time.
        half_life_days: Age at which a score halves (> 0).

    Returns:
        The decayed scores, in input order.
    """
    if not scores:
        return []
    newest = max(t.timestamp() for t in times)
    half = half_life_days * DAY
    return [
        s * 0.5 ** ((newest - t.timestamp()) / half) for s, t in zip(scores, times, strict=True)
    ]
