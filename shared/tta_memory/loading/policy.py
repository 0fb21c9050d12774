"""The stage/mode policy: what :meth:`load_workflow_context` loads, in one declarative table.

Every cell can be overridden per call (``policy={...}``) or for a primitive
(``memory.policy[(mode, stage)] = ...``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tta_memory.errors import InvalidInputError
from tta_memory.models import WorkflowMode
from tta_memory.validation import check_choice

STAGES = ("understand", "decompose", "plan", "implement", "verify", "review")
STAGE_ALIASES = {"validate": "verify", "reflect": "review"}
# Bounds of a policy cell (a cell beyond them is refused): what one load may ask of Redis.
MAX_MESSAGES = 10_000
MAX_CACHE_HOURS = 24 * 365
MAX_DEEP_K = 1000
MODES = tuple(m.value for m in WorkflowMode)


class StagePolicy(BaseModel):
    """What one (mode, stage) cell loads.

    Args:
        messages: Latest session messages to load (0 = none).
        cache_hours: Cache window in hours (0 = no cache layer).
        deep_k: Deep memories to retrieve (0 = no deep layer).
        pafs: Load PAFs (always in full).
        paf_categories: Restrict PAFs to these categories (``None`` = all).
        groups: Load the session's groups, read the cache across their sessions and focus deep
            search on their tags (falling back to unfiltered results when tags find fewer than k).
        recency_half_life_days: Weigh deep results down by age (a score halves per this many
            days; ``recency.py``). ``None`` (every cell of the default table) = no recency.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    messages: int = Field(ge=0, le=MAX_MESSAGES)
    cache_hours: float = Field(default=0, ge=0, le=MAX_CACHE_HOURS, allow_inf_nan=False)
    deep_k: int = Field(default=0, ge=0, le=MAX_DEEP_K)
    pafs: bool = False
    paf_categories: list[str] | None = None
    groups: bool = False
    recency_half_life_days: float | None = Field(default=None, gt=0)


AUGSTER_MESSAGES = 200  # "all messages", capped

# (messages, cache window hours, deep k) per stage, STANDARD and AUGSTER_RIGOROUS.
_STANDARD = {
    "understand": (50, 24, 10),
    "decompose": (30, 12, 10),
    "plan": (30, 6, 10),
    "implement": (30, 1, 5),
    "verify": (20, 1, 3),
    "review": (50, 24, 10),
}
_RIGOROUS_K = {
    "understand": 20,
    "decompose": 20,
    "plan": 20,
    "implement": 10,
    "verify": 6,
    "review": 20,
}

DEFAULT_POLICY: dict[tuple[str, str], StagePolicy] = {
    **{("rapid", s): StagePolicy(messages=10) for s in STAGES},
    **{
        ("standard", s): StagePolicy(messages=m, cache_hours=h, deep_k=k, pafs=True)
        for s, (m, h, k) in _STANDARD.items()
    },
    **{
        ("augster_rigorous", s): StagePolicy(
            messages=AUGSTER_MESSAGES, cache_hours=24, deep_k=k, pafs=True, groups=True
        )
        for s, k in _RIGOROUS_K.items()
    },
}


def normalize_stage(stage: Any) -> str:
    """Return the canonical stage name (``validate`` -> ``verify``, ``reflect`` -> ``review``)."""
    raw = getattr(stage, "value", stage)
    if isinstance(raw, str) and raw.lower() in STAGE_ALIASES:
        return STAGE_ALIASES[raw.lower()]
    return check_choice("stage", stage, (*STAGES, *STAGE_ALIASES))


def normalize_mode(mode: Any) -> WorkflowMode:
    """Return the :class:`WorkflowMode` for an enum member or its name/value."""
    raw = getattr(mode, "value", mode)
    if isinstance(raw, str) and raw.upper() in WorkflowMode.__members__:
        return WorkflowMode[raw.upper()]
    return WorkflowMode(check_choice("mode", mode, MODES))


def resolve_policy(
    table: Mapping[tuple[str, str], StagePolicy],
    stage: str,
    mode: WorkflowMode,
    overrides: StagePolicy | Mapping[str, Any] | None = None,
) -> StagePolicy:
    """The cell for (mode, stage), with ``overrides`` applied on top."""
    cell = table[(mode.value, stage)]
    if overrides is None:
        return cell
    if isinstance(overrides, StagePolicy):
        return overrides
    if not isinstance(overrides, Mapping):
        raise InvalidInputError(
            f"policy must be a StagePolicy or a dict of its fields, got {type(overrides).__name__}"
        )
    try:
        return StagePolicy.model_validate({**cell.model_dump(), **dict(overrides)})
    except ValidationError as exc:
        raise InvalidInputError(f"invalid policy override: {exc}") from exc
