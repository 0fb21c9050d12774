"""The stage policy table, without Redis: the guide's statements, aliases and overrides."""

from __future__ import annotations

import pytest
from tta_memory.errors import InvalidInputError
from tta_memory.loading.policy import (
    DEFAULT_POLICY,
    StagePolicy,
    normalize_mode,
    normalize_stage,
    resolve_policy,
)
from tta_memory.models import WorkflowMode


def cell(stage: str, mode: str) -> StagePolicy:
    return resolve_policy(DEFAULT_POLICY, normalize_stage(stage), normalize_mode(mode))


def test_guide_statements_hold():
    understand = cell("understand", "AUGSTER_RIGOROUS")
    assert (understand.cache_hours, understand.deep_k, understand.pafs) == (24, 20, True)
    implement = cell("implement", "standard")
    assert (implement.cache_hours, implement.deep_k, implement.pafs) == (1, 5, True)
    rapid = cell("verify", WorkflowMode.RAPID)
    assert (rapid.messages, rapid.cache_hours, rapid.deep_k, rapid.pafs) == (10, 0, 0, False)
    ks = [cell("understand", m).deep_k for m in ("rapid", "standard", "augster_rigorous")]
    assert ks == sorted(ks) and len(set(ks)) == 3


def test_aliases_and_case():
    assert normalize_stage("validate") == "verify"
    assert normalize_stage("REFLECT") == "review"
    assert normalize_mode("augster_rigorous") is WorkflowMode.AUGSTER_RIGOROUS
    assert normalize_mode("Standard") is WorkflowMode.STANDARD


@pytest.mark.parametrize("bad", ["", "deploy", None, 3])
def test_unknown_stage_names_the_valid_ones(bad):
    with pytest.raises(InvalidInputError, match="understand"):
        normalize_stage(bad)


def test_overrides_apply_on_top_of_the_cell():
    got = resolve_policy(DEFAULT_POLICY, "plan", WorkflowMode.STANDARD, {"deep_k": 3})
    assert got.deep_k == 3 and got.messages == DEFAULT_POLICY[("standard", "plan")].messages
    own = StagePolicy(messages=1)
    assert resolve_policy(DEFAULT_POLICY, "plan", WorkflowMode.STANDARD, own) is own


@pytest.mark.parametrize(
    "bad",
    [
        {"deep_k": -1},
        {"messages": -5},
        {"cache_hours": float("nan")},
        {"cache_hours": float("inf")},
        {"deep_k": 10**30},
        {"unknown": 1},
        ["deep_k"],
        "deep_k=3",
    ],
)
def test_bad_overrides_are_typed_errors(bad):
    with pytest.raises(InvalidInputError):
        resolve_policy(DEFAULT_POLICY, "plan", WorkflowMode.STANDARD, bad)
