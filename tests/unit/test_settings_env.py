"""Settings read from the environment are validated like arguments: a typo is refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from tta_memory import Settings


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", True), ("1", True), ("on", True), ("0", False), ("false", False), ("OFF", False)],
)
def test_coalesce_writes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: bool
) -> None:
    monkeypatch.setenv("TTA_MEMORY_COALESCE_WRITES", value)
    assert Settings().coalesce_writes is expected


@pytest.mark.parametrize(
    ("name", "value"),
    [("TTA_MEMORY_COALESCE_WRITES", "maybe"), ("TTA_MEMORY_DURABILITY", "bogus")],
)
def test_a_bad_value_in_the_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert isinstance(caught.value, ValueError)  # the builtin callers already catch
