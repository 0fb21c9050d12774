"""Input checks shared by every public call; each failure is an :class:`InvalidInputError`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from tta_memory import limits
from tta_memory.errors import InvalidInputError
from tta_memory.limits import MAX_COUNT, MAX_TTL_SECONDS, check_epoch  # noqa: F401 (re-exported)
from tta_memory.names import check_name, check_tags  # noqa: F401 (re-exported)

MAX_CONTENT_CHARS = 1_000_000
# The name rule (ids, scopes, tags) lives in tta_memory.names; these names keep old imports.
check_id = check_name


def check_text(name: str, value: Any, *, allow_empty: bool = False) -> str:
    """Return ``value`` if it is a string within the size limit (and non-blank unless allowed)."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise InvalidInputError(f"{name} must not be empty")
    if len(value) > MAX_CONTENT_CHARS:
        raise InvalidInputError(
            f"{name} is {len(value):,} characters; the limit is {MAX_CONTENT_CHARS:,}"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"{name} is not valid Unicode text (lone surrogate)") from exc
    return value


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` (an enum member's value or a string) if it is one of ``choices``."""
    options = list(choices)
    raw = getattr(value, "value", value)
    if not isinstance(raw, str) or raw.lower() not in options:
        raise InvalidInputError(f"unknown {name} {value!r}; valid: {', '.join(options)}")
    return raw.lower()


def check_metadata(value: Any) -> dict[str, Any]:
    """Return a JSON-serialisable dict (``None`` -> ``{}``)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"metadata must be a dict, got {type(value).__name__}")
    try:
        encoded = json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:  # UnicodeEncodeError: a ValueError
        raise InvalidInputError(f"metadata must be JSON-serialisable text: {exc}") from exc
    if len(encoded) > MAX_CONTENT_CHARS:
        raise InvalidInputError(f"metadata is larger than {MAX_CONTENT_CHARS:,} bytes as JSON")
    return dict(value)


def check_positive(
    name: str, value: Any, *, allow_zero: bool = False, high: int = MAX_COUNT
) -> int:
    """Return ``value`` if it is a positive integer (or zero when allowed) up to ``high``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        raise InvalidInputError(
            f"{name} must be a {'non-negative' if allow_zero else 'positive'} "
            f"integer, got {value!r}"
        )
    if value > high:  # beyond it Redis refuses the range (or a call asks for far too much)
        raise InvalidInputError(f"{name} must be at most {high:,}, got {value:,}")
    return value


def check_ttl(value: Any) -> int:
    """Return ``value`` if it is a TTL in seconds between 1 and :data:`MAX_TTL_SECONDS`."""
    return limits.check_ttl("ttl_seconds", value)


def check_datetime(name: str, value: Any) -> datetime | None:
    """Return an aware UTC datetime (naive values are taken as UTC); ``None`` passes."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(check_epoch(name, value), UTC)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidInputError(f"{name} is not an ISO-8601 datetime: {value!r}") from exc
    if not isinstance(value, datetime):
        raise InvalidInputError(f"{name} must be a datetime, got {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
