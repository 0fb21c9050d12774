"""Settings read from the environment are validated like arguments: a typo is refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from tta_memory import Settings
from tta_memory.errors import InvalidSettingError


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
    [
        ("TTA_MEMORY_COALESCE_WRITES", "maybe"),
        ("TTA_MEMORY_DURABILITY", "bogus"),
        ("TTA_MEMORY_SOCKET_TIMEOUT", "soon"),
        ("TTA_MEMORY_WAIT_REPLICAS", "-1"),
        ("TTA_MEMORY_VECTOR_DTYPE", "int8"),
    ],
)
def test_a_bad_value_in_the_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidSettingError, match=f"invalid setting {name}={value!r}") as caught:
        Settings()
    assert isinstance(caught.value, ValueError)  # the builtin callers already catch


def test_an_argument_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTA_MEMORY_DURABILITY", "bogus")
    assert Settings(durability="strict").durability == "strict"
    with pytest.raises(ValidationError):  # a bad argument is pydantic's error, as before
        Settings(durability="bogus2")  # type: ignore[arg-type]


def test_every_setting_reads_its_variable_and_empty_means_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = {
        "TTA_MEMORY_PREFIX": "p1",
        "TTA_MEMORY_SOCKET_TIMEOUT": "2.5",
        "TTA_MEMORY_CONNECT_TIMEOUT": "1",
        "TTA_MEMORY_DURABILITY": "strict",
        "TTA_MEMORY_PARTITION_BUCKETS": "8",
        "TTA_MEMORY_WAIT_REPLICAS": "2",
        "TTA_MEMORY_WAIT_TIMEOUT_MS": "300",
        "TTA_MEMORY_DEDICATED_WORKSPACES": " big, huge ,",
        "TTA_MEMORY_COALESCE_WRITES": "off",
        "TTA_MEMORY_VECTOR_DTYPE": "float16",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    s = Settings()
    assert (s.prefix, s.socket_timeout, s.connect_timeout, s.durability) == ("p1", 2.5, 1, "strict")
    assert (s.partition_buckets, s.wait_replicas, s.wait_timeout_ms) == (8, 2, 300)
    assert s.dedicated_workspaces == {"big", "huge"}
    assert s.coalesce_writes is False
    assert s.vector_dtype == "float16"
    for name in values:
        monkeypatch.setenv(name, "")
    assert Settings() == Settings.model_construct()
