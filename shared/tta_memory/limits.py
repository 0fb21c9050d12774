"""Numbers the engine accepts, and tolerant decoding of the numbers and times it stored.

Every number an argument carries is checked here before anything is written: no NaN, no
infinity, no value Redis or ``datetime`` would refuse later (Redis keeps TTLs in signed 64-bit
milliseconds and ranks in signed 64-bit integers; ``datetime`` ends in year 9999). A failed
check is an :class:`~tta_memory.errors.InvalidInputError` naming the argument and the range.

The read-path helpers never raise: a stored value that does not decode (written by an older
version, or by hand) is read as missing instead of breaking every later read.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from tta_memory.errors import InvalidInputError

# Ten years: a longer TTL is a mistake (Redis would take ~292 million years, but 10**20 s once
# stored a cache note whose expiry time broke every later read of its user).
MAX_TTL_SECONDS = 10 * 365 * 24 * 3600
# Results, messages or items one call may ask for.
MAX_COUNT = 1_000_000
# Times an argument may name: the Unix epoch up to the end of year 9999 (datetime's range).
MIN_EPOCH = 0.0
MAX_EPOCH = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()


def check_int(name: str, value: Any, *, low: int = 1, high: int = MAX_COUNT) -> int:
    """Return ``value`` if it is an ``int`` (not a bool) in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise InvalidInputError(f"{name} must be between {low:,} and {high:,}, got {value:,}")
    return value


def check_number(name: str, value: Any, *, low: float, high: float) -> float:
    """Return ``value`` as a float if it is a finite real number (not a bool) in range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond the float range
        number = math.copysign(math.inf, value)
    if not math.isfinite(number):
        raise InvalidInputError(f"{name} must be a finite number, got {value!r}")
    if not low <= number <= high:
        raise InvalidInputError(f"{name} must be between {low:g} and {high:g}, got {value!r}")
    return number


def check_ttl(name: str, value: Any) -> int:
    """Return a TTL in whole seconds, ``1 <= ttl <= MAX_TTL_SECONDS``."""
    return check_int(name, value, low=1, high=MAX_TTL_SECONDS)


def check_epoch(name: str, value: Any) -> float:
    """Return a Unix time in seconds that :class:`datetime` can represent."""
    return check_number(name, value, low=MIN_EPOCH, high=MAX_EPOCH)


def check_utf8(name: str, value: str) -> str:
    """Return ``value`` if it can be stored as UTF-8 (no lone surrogate such as ``"\\ud800"``)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{name} contains a character that is not valid Unicode text "
            f"({value[exc.start : exc.end]!r} at position {exc.start}: a lone surrogate)"
        ) from None
    return value


# ---- read path: never raise -------------------------------------------------------------------


def read_float(value: Any, default: float) -> float:
    """A stored number, or ``default`` when it is missing, malformed or not finite."""
    try:
        number = float(value.decode() if isinstance(value, bytes) else value)
    except (TypeError, ValueError, OverflowError):
        return default
    return number if math.isfinite(number) else default


# Stored times read before, by their stored form (datetimes are immutable, so shared): the
# same memories, messages and cache entries come back load after load, ~150 times a 10k
# understand / AUGSTER load, each ~2 us parsed against ~0.1 us looked up.
_TIMES: dict[str | bytes | float | int, datetime | None] = {}
MAX_TIMES = 50_000  # ~5 MB; cleared when full
_HASHABLE_TIMES = (str, bytes, float, int)


def read_time(value: Any) -> datetime | None:
    """A stored Unix time as an aware UTC datetime, clamped to datetime's range; ``None``
    when it is missing or malformed."""
    if value in (None, "", b""):
        return None
    if value.__class__ not in _HASHABLE_TIMES:
        return _parse_time(value)
    try:
        return _TIMES[value]
    except KeyError:
        pass
    if len(_TIMES) >= MAX_TIMES:
        _TIMES.clear()
    parsed = _TIMES[value] = _parse_time(value)
    return parsed


def _parse_time(value: Any) -> datetime | None:
    seconds = read_float(value, math.nan)
    if math.isnan(seconds):
        return None
    return datetime.fromtimestamp(min(max(seconds, MIN_EPOCH), MAX_EPOCH), UTC)


def read_json(value: Any, default: Any) -> Any:
    """Stored JSON, or ``default`` when it is missing or malformed."""
    if value in (None, "", b""):
        return default
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return default
