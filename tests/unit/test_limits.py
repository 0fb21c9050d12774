"""Number checks refuse what Redis or datetime would choke on later; read-path decoding of
stored numbers and times never raises."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tta_memory.errors import InvalidInputError
from tta_memory.limits import (
    MAX_EPOCH,
    MAX_TTL_SECONDS,
    _parse_time,
    check_epoch,
    check_int,
    check_number,
    check_ttl,
    check_utf8,
    read_float,
    read_json,
    read_time,
)

BAD_NUMBERS = [math.nan, math.inf, -math.inf, 10**30, -(10**30), True, None, "5", [], 1e400]


@pytest.mark.parametrize("value", [*BAD_NUMBERS, 1.5, 0, -1, 2**63, MAX_TTL_SECONDS + 1])
def test_ttl_refuses_what_is_not_a_whole_positive_bounded_second_count(value: object) -> None:
    with pytest.raises(InvalidInputError, match="ttl"):
        check_ttl("ttl", value)


def test_ttl_accepts_its_documented_range() -> None:
    assert check_ttl("ttl", 1) == 1
    assert check_ttl("ttl", MAX_TTL_SECONDS) == MAX_TTL_SECONDS


@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_number_refuses_non_finite_and_non_numbers(value: object) -> None:
    with pytest.raises(InvalidInputError, match="importance"):
        check_number("importance", value, low=0, high=1)


def test_number_and_int_ranges() -> None:
    assert check_number("x", 1, low=0, high=1) == 1.0
    with pytest.raises(InvalidInputError, match="between 0 and 1"):
        check_number("x", 1.01, low=0, high=1)
    assert check_int("limit", 10) == 10
    with pytest.raises(InvalidInputError, match="limit"):
        check_int("limit", 0)
    with pytest.raises(InvalidInputError, match="limit"):
        check_int("limit", 2**64)


def test_epoch_is_within_datetime_range() -> None:
    assert datetime.fromtimestamp(check_epoch("t", MAX_EPOCH), UTC).year == 9999
    for bad in (1e20, -1, math.nan):
        with pytest.raises(InvalidInputError):
            check_epoch("t", bad)


def test_lone_surrogates_are_refused_with_their_position() -> None:
    assert check_utf8("text", "日本語 🙂") == "日本語 🙂"
    with pytest.raises(InvalidInputError, match="position 1"):
        check_utf8("text", "a\ud800b")


def test_read_path_never_raises() -> None:
    assert read_float(b"0.25", 0.5) == 0.25
    for junk in (None, "", "abc", b"nan", "inf", "1e400", object()):
        assert read_float(junk, 0.5) == 0.5
    assert read_time("1e20") == datetime.fromtimestamp(MAX_EPOCH, UTC)
    assert read_time("-5") == datetime.fromtimestamp(0, UTC)
    assert read_time("junk") is None
    assert read_time(None) is None
    assert read_time(b"86400") == datetime(1970, 1, 2, tzinfo=UTC)
    assert read_json("{bad", {}) == {}
    assert read_json(b'{"a": 1}', {}) == {"a": 1}


@given(
    st.one_of(
        st.text(max_size=30),
        st.binary(max_size=30),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-(10**20), max_value=10**20),
        st.sampled_from(["1796094690.5430827", b"1796094690.5430827", "1e400", "-1", "nan"]),
    )
)
def test_a_time_read_again_comes_back_as_read_the_first_time(value: object) -> None:
    # Times are remembered by their stored form; every reading equals a fresh parse.
    first, again = read_time(value), read_time(value)
    assert first == again == _parse_time(value)
    if isinstance(value, str) and value.strip():
        assert read_time(value.encode()) == first


def test_unhashable_stored_times_are_read_not_remembered() -> None:
    assert read_time([1.0]) is None
    assert read_time({"t": 1}) is None
